#![deny(dead_code)]

use profiled::profiled;

#[profiled]
fn never_called() -> u32 {
    1
}

fn main() {}
