use profiled::profiled;

#[profiled(name = "a", name = "b")]
fn handler() {}

fn main() {
    handler();
}
