use profiled::profiled;

/// # Safety
/// `p` must point to a valid, initialised `u32`.
#[profiled]
unsafe fn read(p: *const u32) -> u32 {
    unsafe { *p }
}

fn main() {
    let x = 7;
    assert_eq!(unsafe { read(&x) }, 7);
}
