//! Cost of an instrumented call, in one run: a plain fn (the baseline),
//! `#[profiled]` with function profiling off and on, and `tracing::instrument`
//! with a registry subscriber as a reference.
//!
//! Run: `cargo bench -p profiled --bench functions && python3 scripts/bench_report.py`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/calls.rs"]
mod calls;
use calls::{instrumented, plain};

#[tracing::instrument(level = "info", skip_all)]
#[inline(never)]
fn traced(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

fn calls(c: &mut Criterion) {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("no other subscriber in this process");
    let mut group = c.benchmark_group("function_call");
    group.bench_function("plain", |b| b.iter(|| plain(black_box(7))));
    profiled::set_function_profiling(false);
    group.bench_function("profiled_disabled", |b| {
        b.iter(|| instrumented(black_box(7)))
    });
    profiled::set_function_profiling(true);
    group.bench_function("profiled_enabled", |b| {
        b.iter(|| instrumented(black_box(7)))
    });
    profiled::set_function_profiling(false);
    group.bench_function("tracing_instrument_registry", |b| {
        b.iter(|| traced(black_box(7)))
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
