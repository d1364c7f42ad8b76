//! Paired allocator comparison, robust to a noisy machine: `System` and a
//! `ProfiledAllocator` run the same churn back to back, 301 times, alternating
//! which goes first; the median of the per-pair ratios is reported. A plain
//! forwarding wrapper is measured the same way, to show what the method itself
//! reads as overhead (it should be 1.00x).
//!
//! Run: `cargo bench -p profiled --bench alloc_paired` (prints a markdown table).

use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

#[path = "common/churn.rs"]
mod churn;

use profiled::ProfiledAllocator;

const STEPS: usize = 100_000;
const PAIRS: u64 = 301;

/// Forwards to `System` and does nothing else.
struct Forward;

// SAFETY: forwards every call to `System` unchanged.
unsafe impl GlobalAlloc for Forward {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

static PROFILED: ProfiledAllocator = ProfiledAllocator::system();

fn time(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Median, 25th and 75th percentile of `candidate / System` over `PAIRS` pairs.
fn paired<A: GlobalAlloc>(candidate: &A) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = (0..PAIRS)
        .map(|i| {
            let (system, other) = if i % 2 == 0 {
                let s = time(|| churn::churn(&System, STEPS, i));
                (s, time(|| churn::churn(candidate, STEPS, i)))
            } else {
                let o = time(|| churn::churn(candidate, STEPS, i));
                (time(|| churn::churn(&System, STEPS, i)), o)
            };
            other / system
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    println!("| candidate | median ratio vs System | p25 | p75 |");
    println!("|---|---|---|---|");
    let (m, lo, hi) = paired(&Forward);
    println!("| forwarding wrapper (method check) | {m:.3}x | {lo:.3}x | {hi:.3}x |");
    for (name, rate) in [
        ("profiled, rate 0 (counters only)", 0),
        ("profiled, 512 KiB", 512 * 1024),
        ("profiled, 64 KiB", 64 * 1024),
        ("profiled, rate 1", 1),
    ] {
        profiled::set_mem_profile_rate(rate);
        let (m, lo, hi) = paired(&PROFILED);
        println!("| {name} | {m:.3}x | {lo:.3}x | {hi:.3}x |");
    }
}
