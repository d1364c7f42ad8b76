use profiled::profiled;

#[profiled(name = handler)]
fn handler() {}

fn main() {
    handler();
}
