use profiled::profiled;

#[profiled(labels(route = "/checkout"))]
fn checkout(items: u32) -> u32 {
    items * 2
}

#[profiled(name = "browse", labels(route = "/browse", r#type = "page",))]
async fn browse() -> Result<u32, std::num::ParseIntError> {
    let n: u32 = "7".parse()?;
    Ok(n)
}

#[profiled(labels(job = "refresh"))]
fn refresh() -> impl std::future::Future<Output = u32> {
    async { 3 }
}

fn main() {
    assert_eq!(checkout(2), 4);
    drop(browse());
    drop(refresh());
}
