//! The function pair the call benches measure: a plain fn (the baseline) and the same
//! body under `#[profiled]`.

use profiled::profiled;

/// A few cycles of work, never inlined.
#[inline(never)]
pub fn plain(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

/// [`plain`]'s body, instrumented.
#[profiled]
#[inline(never)]
pub fn instrumented(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}
