use profiled::profiled;

#[profiled(labels(route = "/checkout", route = "/browse"))]
fn handler() {}

fn main() {
    handler();
}
