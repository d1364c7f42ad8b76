//! Encoding a mutex profile of 10,000 distinct stacks (gzip'd proto), against
//! encoding the same profile's legacy text in the same run. Symbolization of the
//! 10,000 addresses happens on the first encode and is cached after.
//!
//! Also prints the fastest of 40 encodes of each format and the peak memory one
//! encode allocates, through a counting global allocator.
//!
//! Run: `cargo bench -p profiled --bench encode`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

const STACKS: usize = 10_000;

/// `System`, counting the bytes live now and the most live since the last reset, to
/// report what an encode holds at its peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated at the peak of `work` beyond what was live before it.
fn peak_extra(work: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    work();
    PEAK.load(Ordering::Relaxed) - before
}

#[inline(never)]
fn symbol_rich_function(x: u64) -> u64 {
    // A long function, so 10,000 consecutive addresses fall inside real code.
    let mut acc = x;
    for i in 0..64u64 {
        acc = black_box(acc.wrapping_mul(0x9e37_79b9).rotate_left((i % 31) as u32) ^ i);
    }
    acc
}

fn encode(c: &mut Criterion) {
    black_box(symbol_rich_function(3));
    let base = symbol_rich_function as *const () as usize;
    let recorded = profiled::__bench::fill_mutex_profile(STACKS, base);
    assert_eq!(recorded, STACKS);
    let profile = profiled::lookup("mutex").unwrap();

    let start = Instant::now();
    let mut first = Vec::new();
    profile.write_to(&mut first, 0).unwrap();
    eprintln!(
        "first encode of {STACKS} stacks (symbolizing every address): {:?}, {} bytes gzip'd",
        start.elapsed(),
        first.len()
    );

    // The fastest of 40 encodes: a figure that other processes on the machine can
    // only make slower, to read next to criterion's mean.
    for (debug, format) in [(0, "proto_gzip"), (1, "legacy_text")] {
        let mut best = std::time::Duration::MAX;
        for _ in 0..40 {
            let started = Instant::now();
            let mut out = Vec::with_capacity(4 << 20);
            profile.write_to(&mut out, debug).unwrap();
            best = best.min(started.elapsed());
        }
        let mut size = 0;
        let peak = peak_extra(|| {
            let mut out = Vec::new();
            profile.write_to(&mut out, debug).unwrap();
            size = out.len();
        });
        eprintln!(
            "{format}: fastest of 40 encodes {best:?}; peak memory of one encode {:.1} MiB \
             for {size} bytes of output",
            peak as f64 / (1 << 20) as f64
        );
    }
    let mut group = c.benchmark_group("encode_mutex_10k_stacks");
    group.sample_size(20);
    group.bench_function("legacy_text", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(4 << 20);
            profile.write_to(&mut out, 1).unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("proto_gzip", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(1 << 20);
            profile.write_to(&mut out, 0).unwrap();
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
