use profiled::profiled;

#[profiled]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[profiled]
fn early_return(x: i32) -> &'static str {
    if x < 0 {
        return "negative";
    }
    "non-negative"
}

fn main() {
    profiled::set_function_profiling(true);
    assert_eq!(add(2, 3), 5);
    assert_eq!(early_return(-1), "negative");
    let add_stats = profiled::functions()
        .into_iter()
        .find(|f| f.name.ends_with("::add"))
        .unwrap();
    assert_eq!(add_stats.calls, 1);
}
