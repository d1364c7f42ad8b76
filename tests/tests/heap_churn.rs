//! 1 GiB of short-lived allocations through `churn` shows as 1 GiB ± 15% of
//! alloc_space on `churn` and next to nothing in use.

use std::hint::black_box;

use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, total_for};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

const CHURN: usize = 1 << 30;

/// Allocates and frees `CHURN` bytes in blocks of 16 B .. 4 KiB.
#[inline(never)]
fn churn() -> u64 {
    let mut total = 0;
    let mut checksum = 0u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    while total < CHURN {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let size = 16 + (seed % 4081) as usize;
        let block = black_box(vec![1u8; size]);
        checksum = checksum.wrapping_add(block[size - 1] as u64);
        total += size;
    }
    checksum
}

#[test]
fn churn_shows_as_alloc_space_and_nothing_in_use() {
    let (_profiler, addr) = serve(Config::default());
    let before = profiled::mem_stats();
    black_box(churn());
    let after = profiled::mem_stats();
    assert!(after.total_alloc - before.total_alloc >= CHURN as u64);
    assert!(after.mallocs - before.mallocs >= (CHURN / 4096) as u64);

    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    let alloc_space = total_for(&allocs, "churn", 1);
    let expected = CHURN as f64;
    assert!(
        (alloc_space as f64 - expected).abs() <= expected * 0.15,
        "alloc_space on churn: {alloc_space}, expected {CHURN} ± 15%"
    );
    let inuse = total_for(&allocs, "churn", 3);
    assert!(inuse < 4 << 20, "inuse_space on churn: {inuse} bytes");
}
