use std::fmt::Display;

use profiled::profiled;

#[profiled]
fn boxed() -> Box<dyn Display> {
    Box::new(42)
}

#[profiled]
fn parse(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let n: u32 = s.parse()?;
    Ok(n * 2)
}

fn main() {
    assert_eq!(boxed().to_string(), "42");
    assert_eq!(parse("21").unwrap(), 42);
    assert!(parse("x").is_err());
}
