//! Cost of label scopes, in one run: a plain fn (the baseline); the same inside
//! `labels::with` of `'static` pairs (entering and leaving the scope, a cache hit),
//! nested in an outer scope, and through an interned `LabelSet`;
//! `#[profiled(labels(...))]`; and `#[profiled]` outside any scope and inside one,
//! which must cost the same (code outside any scope pays nothing).
//!
//! Run: `cargo bench -p profiled --bench labels && python3 scripts/bench_report.py`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use profiled::labels::{self, LabelSet};
use profiled::profiled;

#[path = "common/calls.rs"]
mod calls;
use calls::{instrumented, plain};

#[profiled(labels(route = "/checkout"))]
#[inline(never)]
fn labelled(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

fn scopes(c: &mut Criterion) {
    let mut group = c.benchmark_group("label_scope");
    group.bench_function("plain", |b| b.iter(|| plain(black_box(7))));
    group.bench_function("with_static", |b| {
        b.iter(|| labels::with(&[("route", "/checkout")], || plain(black_box(7))))
    });
    group.bench_function("with_static_nested", |b| {
        labels::with(&[("tenant", "acme")], || {
            b.iter(|| labels::with(&[("route", "/checkout")], || plain(black_box(7))))
        })
    });
    let tenant = String::from("acme");
    let set = LabelSet::new(&[("tenant", &tenant)]);
    group.bench_function("with_label_set", |b| {
        b.iter(|| set.with(|| plain(black_box(7))))
    });
    group.finish();

    let mut group = c.benchmark_group("label_profiled_call");
    group.bench_function("plain", |b| b.iter(|| plain(black_box(7))));
    profiled::set_function_profiling(true);
    group.bench_function("profiled_outside_scope", |b| {
        b.iter(|| instrumented(black_box(7)))
    });
    group.bench_function("profiled_inside_scope", |b| {
        labels::with(&[("route", "/checkout")], || {
            b.iter(|| instrumented(black_box(7)))
        })
    });
    group.bench_function("profiled_with_labels", |b| {
        b.iter(|| labelled(black_box(7)))
    });
    profiled::set_function_profiling(false);
    group.finish();
}

criterion_group!(benches, scopes);
criterion_main!(benches);
