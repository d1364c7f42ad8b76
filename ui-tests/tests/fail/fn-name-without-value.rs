use profiled::profiled;

#[profiled(name)]
fn handler() {}

fn main() {
    handler();
}
