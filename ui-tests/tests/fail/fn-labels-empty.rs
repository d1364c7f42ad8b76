use profiled::profiled;

#[profiled(labels())]
fn handler() {}

fn main() {
    handler();
}
