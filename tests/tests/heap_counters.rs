//! The allocator's always-on counters are exact for the calling thread: what a
//! piece of code allocates and frees between two `mem_stats()` calls shows up as
//! exactly that many objects and bytes, whether the counts cross the per-thread
//! flush interval many times, in one huge allocation, or at every allocation
//! (sampling at rate 1); failed allocations are not counted.

use std::hint::black_box;

use profiled::{MemStats, ProfiledAllocator};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

/// Counter deltas: (mallocs, frees, total_alloc bytes, bytes freed).
type Delta = (u64, u64, u64, u64);

fn delta(before: &MemStats, after: &MemStats) -> Delta {
    let freed = |s: &MemStats| s.total_alloc - s.alloc;
    (
        after.mallocs - before.mallocs,
        after.frees - before.frees,
        after.total_alloc - before.total_alloc,
        freed(after) - freed(before),
    )
}

/// What `work` adds to the counters, less what `mem_stats()` itself allocates
/// (measured around an empty closure, the same way).
fn counted(work: impl Fn()) -> Delta {
    let measure = |f: &dyn Fn()| {
        let before = profiled::mem_stats();
        f();
        let after = profiled::mem_stats();
        delta(&before, &after)
    };
    // Warm-up: first uses (thread-local state, the sampler's tables) are not `work`.
    measure(&work);
    let idle = measure(&|| {});
    let busy = measure(&work);
    (
        busy.0 - idle.0,
        busy.1 - idle.1,
        busy.2 - idle.2,
        busy.3 - idle.3,
    )
}

/// Allocates `n` boxes of `size` bytes, then frees them.
fn boxes(n: usize, size: usize) {
    let mut kept: Vec<Box<[u8]>> = Vec::with_capacity(n);
    for i in 0..n {
        kept.push(black_box(vec![i as u8; size].into_boxed_slice()));
    }
    drop(black_box(kept));
}

#[test]
fn counters_are_exact_for_the_calling_thread() {
    for rate in [0, 512 * 1024, 1] {
        profiled::set_mem_profile_rate(rate);
        // 3,000 boxes of 1,000 bytes cross the 256 KiB flush interval a dozen
        // times; the Vec holding them is one more object of 3,000 boxed-slice
        // pointers (address and length, 16 bytes each).
        let many = counted(|| boxes(3_000, 1_000));
        let bytes = 3_000 * 1_000 + 3_000 * 16;
        assert_eq!(many, (3_001, 3_001, bytes, bytes), "rate {rate}");

        // One allocation far over any countdown (never touched, so only reserved).
        let huge = counted(|| drop(black_box(Vec::<u8>::with_capacity(3 << 30))));
        assert_eq!(huge, (1, 1, 3 << 30, 3 << 30), "rate {rate}");

        // Allocations that fail are not counted (too big for the fast path: it
        // counts before allocating). A failed realloc leaves the old block, counted
        // as freed and allocated again.
        let failed = counted(|| {
            let mut v: Vec<u8> = Vec::new();
            assert!(v.try_reserve_exact(1 << 62).is_err());
        });
        assert_eq!(failed, (0, 0, 0, 0), "rate {rate}");
        let failed_realloc = counted(|| {
            let mut v: Vec<u8> = Vec::with_capacity(1_000);
            assert!(v.try_reserve_exact(1 << 62).is_err());
            drop(black_box(v));
        });
        assert_eq!(failed_realloc, (2, 2, 2_000, 2_000), "rate {rate}");

        // Growth by realloc: each move counts as a free and an allocation.
        let grown = counted(|| {
            let mut v: Vec<u64> = Vec::new();
            for i in 0..1_000 {
                v.push(black_box(i));
            }
            drop(black_box(v));
        });
        assert_eq!(grown.0, grown.1, "rate {rate}: {grown:?}");
        assert_eq!(grown.2, grown.3, "rate {rate}: {grown:?}");
        assert!(grown.2 >= 8_000, "rate {rate}: {grown:?}");
    }
    profiled::set_mem_profile_rate(profiled::DEFAULT_MEM_PROFILE_RATE);
}
