//! Switching the block and mutex profiles on and off around the `profiled` rows of
//! the lock benches.

/// Every wait and every contended release recorded.
pub fn profiles_on() {
    profiled::set_block_rate(1);
    profiled::set_mutex_fraction(1);
}

/// Back to nothing recorded.
pub fn profiles_off() {
    profiled::set_block_rate(0);
    profiled::set_mutex_fraction(0);
}

/// The README's production settings: waits of 100 us and more kept, shorter ones
/// sampled in proportion; 1 in 5 contended releases.
#[allow(dead_code)] // not every bench that includes this file uses it
pub fn profiles_sampled() {
    profiled::set_block_rate(100_000);
    profiled::set_mutex_fraction(5);
}
