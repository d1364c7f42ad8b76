//! Paired allocator comparison, robust to a noisy machine: `System` and a
//! `ProfiledAllocator` run the same churn back to back, 301 times, alternating
//! which goes first; the median of the per-pair ratios is reported. Each candidate
//! runs on 1 thread, then on 2 threads at once (each its own churn; the wall time
//! of both is compared).
//!
//! The churn runs two ways:
//! - **global**: as a service runs it. The bench's `#[global_allocator]` switches
//!   between `System` and `PROFILED` (one relaxed load and a branch, paid by both),
//!   and the churn replaces `Vec<u8>`s, so each allocation goes through
//!   `__rust_alloc` into the allocator's own code.
//! - **inlined**: the churn calls `GlobalAlloc` methods of a concrete allocator, so
//!   the wrapper's bookkeeping is inlined into the benchmark loop itself, where it
//!   also costs registers. A stricter test than any real program puts it to.
//!
//! A forwarding wrapper is measured too: it should read 1.00x (the method check).
//! So is a wrapper that only adds one to a thread-local count per call: the least
//! any always-on counter costs on this churn, the floor for the counters-only row.
//!
//! Run: `cargo bench -p profiled --bench alloc_paired` (prints a markdown table);
//! add `-- 512` to measure only the rows whose name contains `512`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};
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

thread_local! {
    static COUNTED: Cell<u64> = const { Cell::new(0) };
}

/// Adds one to a thread-local count per allocation and per free, then forwards to
/// `System`: the least an always-on counter can cost, a floor for the counters row.
struct Counting;

// SAFETY: forwards every call to `System` unchanged.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNTED.with(|c| c.set(c.get().wrapping_add(1)));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        COUNTED.with(|c| c.set(c.get().wrapping_add(1)));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

static PROFILED: ProfiledAllocator = ProfiledAllocator::system();

/// Which allocator the global allocator forwards to. Switched only while no block of
/// another one is live (see `time`), so every block is freed by the allocator that
/// allocated it.
static MODE: AtomicU8 = AtomicU8::new(SYSTEM);
const SYSTEM: u8 = 0;
const VIA_PROFILED: u8 = 1;
const VIA_COUNTING: u8 = 2;

struct Switch;

// SAFETY: forwards every call unchanged to `System`, `Counting` or `PROFILED`;
// `MODE` only changes while no block is live, so each block is freed by its own
// allocator.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is both allocators'.
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                VIA_PROFILED => PROFILED.alloc(layout),
                VIA_COUNTING => Counting.alloc(layout),
                _ => System.alloc(layout),
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                VIA_PROFILED => PROFILED.dealloc(ptr, layout),
                VIA_COUNTING => Counting.dealloc(ptr, layout),
                _ => System.dealloc(ptr, layout),
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        unsafe {
            match MODE.load(Ordering::Relaxed) {
                VIA_PROFILED => PROFILED.realloc(ptr, layout, new_size),
                VIA_COUNTING => Counting.realloc(ptr, layout, new_size),
                _ => System.realloc(ptr, layout, new_size),
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Switch = Switch;

/// The churn of `common/churn.rs` through the global allocator: replace random
/// `Vec<u8>`s of a working set, sizes uniform in 16..4096 bytes, touching one byte.
fn vec_churn(steps: usize, seed: u64) {
    let mut live: Vec<Vec<u8>> = (0..churn::SLOTS).map(|_| Vec::new()).collect();
    let mut x = seed | 1;
    for _ in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = (x as usize >> 8) % churn::SLOTS;
        let size = 16 + (x as usize >> 20) % (4096 - 16);
        let mut block = Vec::with_capacity(size);
        block.push(x as u8);
        live[slot] = black_box(block);
    }
    drop(black_box(live));
}

#[derive(Clone, Copy)]
enum Candidate {
    System,
    Forward,
    Counting,
    Profiled,
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Global,
    Inlined,
}

/// One churn of `STEPS` through `candidate`.
fn run(candidate: Candidate, way: Way, seed: u64) {
    match (way, candidate) {
        // `time` has pointed the global allocator at the candidate.
        (Way::Global, _) => vec_churn(STEPS, seed),
        (Way::Inlined, Candidate::System) => churn::churn(&System, STEPS, seed),
        (Way::Inlined, Candidate::Forward) => churn::churn(&Forward, STEPS, seed),
        (Way::Inlined, Candidate::Counting) => churn::churn(&Counting, STEPS, seed),
        (Way::Inlined, Candidate::Profiled) => churn::churn(&PROFILED, STEPS, seed),
    }
}

/// Seconds `threads` threads take to each run one churn through `candidate`.
fn time(candidate: Candidate, way: Way, threads: u64, seed: u64) -> f64 {
    // Every block the churn allocates is freed before it returns (threads are
    // joined), so the switch back to `System` leaves no profiled block live.
    if way == Way::Global {
        match candidate {
            Candidate::Profiled => MODE.store(VIA_PROFILED, Ordering::Relaxed),
            Candidate::Counting => MODE.store(VIA_COUNTING, Ordering::Relaxed),
            Candidate::System | Candidate::Forward => {}
        }
    }
    let start = Instant::now();
    if threads == 1 {
        run(candidate, way, seed);
    } else {
        std::thread::scope(|scope| {
            for t in 0..threads {
                scope.spawn(move || run(candidate, way, seed * 31 + t));
            }
        });
    }
    let took = start.elapsed().as_secs_f64();
    MODE.store(SYSTEM, Ordering::Relaxed);
    took
}

/// Median, 25th and 75th percentile of `candidate / System` over `PAIRS` pairs.
fn paired(candidate: Candidate, way: Way, threads: u64) -> (f64, f64, f64) {
    let mut ratios = Vec::with_capacity(PAIRS as usize);
    for i in 0..PAIRS {
        let (system, other) = if i % 2 == 0 {
            let s = time(Candidate::System, way, threads, i);
            (s, time(candidate, way, threads, i))
        } else {
            let o = time(candidate, way, threads, i);
            (time(Candidate::System, way, threads, i), o)
        };
        ratios.push(other / system);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument (e.g. `512`) keeps only the
    // profiled rows whose name contains it.
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    println!("| churn | candidate | threads | median ratio vs System | p25 | p75 |");
    println!("|---|---|---|---|---|---|");
    for (way, way_name) in [(Way::Global, "global"), (Way::Inlined, "inlined")] {
        for threads in [1, 2] {
            let row = |name: &str, (m, lo, hi): (f64, f64, f64)| {
                println!("| {way_name} | {name} | {threads} | {m:.3}x | {lo:.3}x | {hi:.3}x |");
            };
            if way == Way::Inlined {
                // Under `global`, the forwarding wrapper would be `System` itself.
                row(
                    "forwarding wrapper (method check)",
                    paired(Candidate::Forward, way, threads),
                );
            }
            row(
                "one thread-local count per call (floor)",
                paired(Candidate::Counting, way, threads),
            );
            for (name, rate) in [
                ("profiled, rate 0 (counters only)", 0),
                ("profiled, 512 KiB", 512 * 1024),
                ("profiled, 64 KiB", 64 * 1024),
                ("profiled, rate 1", 1),
            ] {
                if only.as_deref().is_some_and(|o| !name.contains(o)) {
                    continue;
                }
                profiled::set_mem_profile_rate(rate);
                row(name, paired(Candidate::Profiled, way, threads));
            }
        }
    }
    // Keep the floor's counts observable, so its increments are not optimized away.
    black_box(COUNTED.with(Cell::get));
}
