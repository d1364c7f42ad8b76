use profiled::profiled;

#[profiled(level = "debug")]
fn handler() {}

fn main() {
    handler();
}
