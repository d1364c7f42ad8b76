//! CPU profiling at 100 Hz against no profiling, in the same run.
//!
//! Run: `cargo bench -p profiled --bench cpu`, then `python3 scripts/bench_report.py`.
//! The workload is pure computation (about 2 ms per iteration); the profiled row
//! runs it while the same sampler `/debug/pprof/profile` uses takes 100 samples per
//! CPU-second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// About 2 ms of integer work that stays in registers and L1.
fn work() -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut i = 0u32;
    while i < 2_000_000 {
        x = black_box(x.rotate_left(7) ^ x.wrapping_mul(0x2545_f491_4f6c_dd1d));
        i += 1;
    }
    x
}

fn cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_busy_2ms");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("plain", |b| b.iter(work));
    let session = profiled::__bench::start_cpu_profile(100).expect("no other CPU profile");
    group.bench_function("profiled_100hz", |b| b.iter(work));
    drop(session);
    group.finish();
}

criterion_group!(benches, cpu);
criterion_main!(benches);
