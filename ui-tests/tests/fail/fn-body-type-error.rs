use profiled::profiled;

// The error points at the user's expression inside the body, not at the macro.
#[profiled]
fn count() -> u32 {
    let total: u32 = "many";
    total
}

fn main() {
    let _ = count();
}
