//! The one random-number generator of the crate: xorshift64*, for the sampling
//! decisions of the allocator (`alloc/cold.rs`) and of the contention profiles
//! (`registry/sampling.rs`). Fast and statistically fine for sampling; not for
//! anything that needs unpredictability.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Weyl sequence step (the golden ratio in 64 bits) between seeds.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// A xorshift64* state. Const-constructible and without a destructor, so it can
/// live in a thread-local that is usable at any point of a thread's life (the
/// allocator's). Seeded on first use; the state is never 0.
pub(crate) struct XorShift(Cell<u64>);

impl XorShift {
    /// An unseeded generator: its first draw seeds it.
    pub(crate) const fn new() -> XorShift {
        XorShift(Cell::new(0))
    }

    /// A generator seeded with `seed` (made non-zero).
    pub(crate) fn seeded(seed: u64) -> XorShift {
        XorShift(Cell::new(seed | 1))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        let mut x = self.0.get();
        if x == 0 {
            x = seed(self as *const XorShift as u64);
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform-enough value in `0..bound` (0 when `bound` is 0).
    pub(crate) fn below(&self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `(0, 1]`: 53 random bits, never 0 (so its logarithm is finite).
    pub(crate) fn unit_open_closed(&self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// A first state: the next value of a process-wide sequence mixed with the state's
/// address (distinct per thread), never 0.
fn seed(address: u64) -> u64 {
    static SEQUENCE: AtomicU64 = AtomicU64::new(GOLDEN);
    let sequence = SEQUENCE.fetch_add(GOLDEN, Ordering::Relaxed);
    (sequence ^ address.rotate_left(29)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_spread_over_the_bound() {
        let rng = XorShift::new();
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            buckets[rng.below(10) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (9_000..11_000).contains(&n)),
            "{buckets:?}"
        );
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn unit_draws_are_in_the_half_open_interval() {
        let rng = XorShift::seeded(7);
        for _ in 0..10_000 {
            let u = rng.unit_open_closed();
            assert!(u > 0.0 && u <= 1.0, "{u}");
        }
    }
}
