use profiled::profiled;

#[profiled(labels(http::route = "/checkout"))]
fn handler() {}

fn main() {
    handler();
}
