//! `ProfiledAllocator` against the system allocator in the same run.
//!
//! Run: `cargo bench -p profiled --bench alloc`, then `python3 scripts/bench_report.py`.
//! Both allocators are called through `GlobalAlloc` directly (this binary's global
//! allocator stays `System`), so one process compares them under the same noise.
//! The workload is allocation churn: a working set of 256 blocks of random sizes
//! 16..4096 bytes, one block replaced per step (free + allocate + touch).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "common/churn.rs"]
mod churn;
use churn::churn;
use criterion::{Criterion, criterion_group, criterion_main};
use profiled::ProfiledAllocator;

const STEPS: usize = 100_000;

static PROFILED: ProfiledAllocator = ProfiledAllocator::system();

fn run_threads<A: GlobalAlloc + Sync>(alloc: &A, threads: usize, iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        std::thread::scope(|scope| {
            for t in 0..threads {
                scope.spawn(move || churn(alloc, STEPS, i * 31 + t as u64 + 1));
            }
        });
    }
    start.elapsed()
}

fn churn_group(c: &mut Criterion, threads: usize) {
    let mut group = c.benchmark_group(format!("alloc_churn_{threads}thread_100k"));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("system", |b| {
        b.iter_custom(|iters| run_threads(&System, threads, iters))
    });
    for (name, rate) in [
        ("profiled_512k", 512 * 1024),
        ("profiled_64k", 64 * 1024),
        ("profiled_rate1", 1),
    ] {
        profiled::set_mem_profile_rate(rate);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| run_threads(&PROFILED, threads, iters))
        });
    }
    profiled::set_mem_profile_rate(profiled::DEFAULT_MEM_PROFILE_RATE);
    group.finish();
}

/// One 64-byte allocation and its free: the per-call cost of the hot path.
fn alloc_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_64b");
    let layout = Layout::from_size_align(64, 8).unwrap();
    group.bench_function("system", |b| {
        b.iter(|| {
            // SAFETY: valid layout; the block is freed with the same layout.
            unsafe {
                let p = System.alloc(layout);
                System.dealloc(black_box(p), layout);
            }
        })
    });
    profiled::set_mem_profile_rate(512 * 1024);
    group.bench_function("profiled_512k", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe {
                let p = PROFILED.alloc(layout);
                PROFILED.dealloc(black_box(p), layout);
            }
        })
    });
    group.finish();
}

fn churn_1(c: &mut Criterion) {
    churn_group(c, 1);
}

fn churn_2(c: &mut Criterion) {
    churn_group(c, 2);
}

criterion_group!(benches, alloc_free, churn_1, churn_2);
criterion_main!(benches);
