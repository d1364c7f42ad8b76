use profiled::profiled;

#[profiled]
async fn count() -> u32 {
    "many"
}

fn main() {
    let _ = count();
}
