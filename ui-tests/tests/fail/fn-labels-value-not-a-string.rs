use profiled::profiled;

const ROUTE: &str = "/checkout";

#[profiled(labels(route = ROUTE))]
fn handler() {}

fn main() {
    handler();
}
