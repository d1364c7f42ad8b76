//! Paired allocator comparison, robust to a noisy machine: `System` and a
//! `ProfiledAllocator` run the same churn back to back, 301 times, alternating
//! which goes first; the median of the per-pair ratios is reported. A plain
//! forwarding wrapper is measured the same way, to show what the method itself
//! reads as overhead (it should be 1.00x).
//!
//! Run: `cargo bench -p profiled --bench alloc_paired` (prints a markdown table).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

use profiled::ProfiledAllocator;

const SLOTS: usize = 256;
const STEPS: usize = 100_000;
const PAIRS: u64 = 301;

/// Same workload as `benches/alloc.rs`: replace random blocks of 16..4096 bytes.
fn churn<A: GlobalAlloc>(alloc: &A, seed: u64) {
    let mut live: [(*mut u8, usize); SLOTS] = [(std::ptr::null_mut(), 0); SLOTS];
    let mut x = seed | 1;
    for _ in 0..STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = (x as usize >> 8) % SLOTS;
        let size = 16 + (x as usize >> 20) % (4096 - 16);
        let (old, old_size) = live[slot];
        if !old.is_null() {
            // SAFETY: `old` came from `alloc` with this layout.
            unsafe { alloc.dealloc(old, Layout::from_size_align(old_size, 8).unwrap()) };
        }
        // SAFETY: size is non-zero; the layout is valid.
        let new = unsafe { alloc.alloc(Layout::from_size_align(size, 8).unwrap()) };
        assert!(!new.is_null());
        // SAFETY: `new` is a fresh block of `size >= 16` bytes.
        unsafe { new.write(x as u8) };
        live[slot] = (black_box(new), size);
    }
    for (ptr, size) in live {
        if !ptr.is_null() {
            // SAFETY: as above.
            unsafe { alloc.dealloc(ptr, Layout::from_size_align(size, 8).unwrap()) };
        }
    }
}

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
                let s = time(|| churn(&System, i));
                (s, time(|| churn(candidate, i)))
            } else {
                let o = time(|| churn(candidate, i));
                (time(|| churn(&System, i)), o)
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
