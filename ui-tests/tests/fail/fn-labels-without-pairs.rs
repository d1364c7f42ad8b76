use profiled::profiled;

#[profiled(labels = "route")]
fn handler() {}

fn main() {
    handler();
}
