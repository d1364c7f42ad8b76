//! Rate 1 records every allocation exactly (no scaling), including `realloc`
//! growth and frees; rate 0 records nothing; the counters see everything.

// One allocation per box is the point: the test counts them.
#![allow(clippy::vec_box)]

use std::hint::black_box;

use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, total_for};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

#[inline(never)]
fn exact(n: usize) -> Vec<Box<[u8; 100]>> {
    (0..n).map(|_| black_box(Box::new([7u8; 100]))).collect()
}

#[inline(never)]
fn unseen(n: usize) -> Vec<Box<[u8; 100]>> {
    (0..n).map(|_| black_box(Box::new([7u8; 100]))).collect()
}

#[inline(never)]
fn grows() -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..10_000u64 {
        v.push(black_box(i));
    }
    v
}

#[test]
fn rate_one_is_exact_and_rate_zero_records_nothing() {
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: 1,
        ..Config::default()
    });

    let kept = exact(1000);
    let freed = exact(500);
    drop(freed);
    let grown = grows();
    profiled::set_mem_profile_rate(0);
    let before = profiled::mem_stats();
    let hidden = unseen(1000);
    let after = profiled::mem_stats();
    profiled::set_mem_profile_rate(1);

    let heap = decode(&get(addr, "/debug/pprof/heap").body);
    assert_eq!(heap.period, 1);
    // `exact` allocates 100-byte boxes and one Vec of pointers per call (`collect`
    // knows the length): 1000 boxes + 1 Vec kept, 500 + 1 freed.
    assert_eq!(
        total_for(&heap, "exact", 2),
        1000 + 1,
        "1000 boxes + the Vec kept"
    );
    assert_eq!(
        total_for(&heap, "exact", 3),
        1000 * 100 + 1000 * 8,
        "boxes + the Vec of 1000 pointers"
    );
    assert_eq!(total_for(&heap, "exact", 0), 1500 + 2);
    // Vec growth by realloc: only the final block is in use, with its capacity.
    assert_eq!(total_for(&heap, "grows", 3), grown.capacity() as i64 * 8);
    assert_eq!(total_for(&heap, "grows", 2), 1);
    // Nothing sampled at rate 0, but counted.
    assert_eq!(total_for(&heap, "unseen", 0), 0);
    assert!(
        after.mallocs - before.mallocs >= 1000,
        "{before:?} {after:?}"
    );
    assert!(after.total_alloc - before.total_alloc >= 100_000);
    black_box((kept, hidden));
}
