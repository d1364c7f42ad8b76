//! COLD allocator paths, entered through `#[cold] #[inline(never)]` functions only:
//! counter flushes, the allocation that used up its thread's countdown
//! ([`alloc_cold`], then [`after_countdown`]), sampling decisions (Go's
//! `nextSample`), and recording a sampled block: its stack into the heap registry
//! (`registry/heap.rs`), its address into the live table (`live.rs`), and its free.
//!
//! Nothing here allocates through the profiled allocator while sampling: the
//! thread's reentrancy guard is set first, so the one-time allocation of the heap
//! registry is forwarded to the inner allocator unsampled. No lock is taken.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

use super::hot::{LOCAL, Local};
use super::live;
use crate::registry::heap;
use crate::stack::Stack;

/// Per-thread counters are added to the process totals at least every this many bytes.
pub(super) const FLUSH_BYTES: u64 = 256 * 1024;

/// Process totals of flushed counters. Relaxed: independent statistics.
pub(super) static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
pub(super) static ALLOCS: AtomicU64 = AtomicU64::new(0);
pub(super) static FREE_BYTES: AtomicU64 = AtomicU64::new(0);
pub(super) static FREES: AtomicU64 = AtomicU64::new(0);

/// Samples taken, and samples lost (stack table full or not yet published).
pub(super) static SAMPLES: AtomicU64 = AtomicU64::new(0);
pub(super) static DROPPED_SAMPLES: AtomicU64 = AtomicU64::new(0);
/// Sampled blocks whose free cannot be tracked because the live table was full.
pub(super) static UNTRACKED: AtomicU64 = AtomicU64::new(0);

/// Installation probe states of `Local::probe` (see [`super::installed`]).
pub(super) const PROBING: u8 = 1;
pub(super) const PROBE_SEEN: u8 = 2;

/// Adds this thread's pending counters to the process totals. The bytes allocated
/// since the last flush also move this thread's sampling countdown on, so flushing
/// from the free path or a reader never loses sampling progress; the distance to the
/// next cold-path visit is kept.
#[cold]
#[inline(never)]
pub(super) fn flush(local: &Local) {
    let left = local.alloc_left.get();
    let allocated = local.alloc_budget.replace(left).wrapping_sub(left);
    let consumed = i64::try_from(allocated).unwrap_or(i64::MAX);
    local
        .sample_left
        .set(local.sample_left.get().saturating_sub(consumed));
    let freed = FLUSH_BYTES.wrapping_sub(local.free_left.replace(FLUSH_BYTES));
    ALLOC_BYTES.fetch_add(allocated, Ordering::Relaxed);
    ALLOCS.fetch_add(local.allocs.replace(0), Ordering::Relaxed);
    FREE_BYTES.fetch_add(freed, Ordering::Relaxed);
    FREES.fetch_add(local.frees.replace(0), Ordering::Relaxed);
    super::own::account(allocated, freed);
}

/// Flushes, and sends this thread's next allocation to the cold path.
pub(super) fn cold_next(local: &Local) {
    flush(local);
    set_alloc_left(local, 0);
}

/// The cold path runs again once more than `bytes` have been allocated.
fn set_alloc_left(local: &Local, bytes: u64) {
    local.alloc_left.set(bytes);
    local.alloc_budget.set(bytes);
}

/// How [`alloc_cold`] allocates.
#[derive(Clone, Copy)]
pub(super) enum Request {
    Alloc,
    Zeroed,
    /// Reallocates the block at the pointer, allocated with the layout.
    Realloc(*mut u8, Layout),
}

/// An allocation that [`take`](super::hot::take) sent here (it used up this
/// thread's countdown): make it, then flush and maybe sample it. A failed one is
/// uncounted; a failed `realloc` leaves the old block allocated, counted again.
#[cold]
#[inline(never)]
pub(super) fn alloc_cold<A: GlobalAlloc>(inner: &A, layout: Layout, request: Request) -> *mut u8 {
    let size = layout.size();
    // SAFETY: the caller (a `GlobalAlloc` method of `ProfiledAllocator`) passes its
    // own caller's arguments, whose contracts are `inner`'s.
    let ptr = unsafe {
        match request {
            Request::Alloc => inner.alloc(layout),
            Request::Zeroed => inner.alloc_zeroed(layout),
            Request::Realloc(old, old_layout) => inner.realloc(old, old_layout, size),
        }
    };
    let _ = LOCAL.try_with(|local| {
        // What `take` counted was `size` bytes at `ptr`; correct it to what exists.
        let (block, block_size) = match request {
            _ if !ptr.is_null() => (ptr, size),
            // The old block stays, and its free was counted: count it again.
            Request::Realloc(old, old_layout) => (old, old_layout.size()),
            _ => {
                local.allocs.set(local.allocs.get().wrapping_sub(1));
                (ptr, 0)
            }
        };
        let uncounted = (size as u64).wrapping_sub(block_size as u64);
        local
            .alloc_left
            .set(local.alloc_left.get().wrapping_add(uncounted));
        after_countdown(local, block, block_size);
    });
    ptr
}

/// The allocation at `ptr` (already made) used up this thread's countdown,
/// `alloc_left`: flush, sample it if the sampling point was reached (never a null
/// `ptr`), and set the countdown to the next visit.
#[cold]
#[inline(never)]
pub(super) fn after_countdown(local: &Local, ptr: *mut u8, size: usize) {
    flush(local);
    if local.busy.get() {
        // An allocation made by the sampler itself: counted, never sampled. The
        // next one comes back here (the sampler finishes first).
        set_alloc_left(local, 0);
        return;
    }
    local.busy.set(true);
    if local.probe.get() == PROBING {
        local.probe.set(PROBE_SEEN);
    }
    let rate = super::mem_profile_rate();
    if rate != local.rate_seen.get() {
        local.rate_seen.set(rate);
        local.sample_left.set(next_sample(local, rate));
    }
    if rate > 0 && local.sample_left.get() <= 0 && !ptr.is_null() {
        // The profiler's own allocations are counted (`own`), never sampled.
        if !super::own::active() {
            sample(ptr, size);
        }
        local.sample_left.set(next_sample(local, rate));
    }
    let to_sample = u64::try_from(local.sample_left.get()).unwrap_or(0);
    let next_visit = if rate == 0 {
        FLUSH_BYTES
    } else {
        to_sample.min(FLUSH_BYTES)
    };
    // The allocation that reaches `next_visit` bytes is the one that crosses.
    // Allocations the sampler itself made since the flush above (building the
    // registry, once) took the fast path: keep them for the next flush.
    let pending = local
        .alloc_budget
        .get()
        .wrapping_sub(local.alloc_left.get());
    let next = next_visit.saturating_sub(1);
    local.alloc_left.set(next);
    local.alloc_budget.set(next.wrapping_add(pending));
    local.busy.set(false);
}

/// Bytes until the next sample: exponentially distributed with mean `rate`, as Go's
/// `nextSample`, so that sampling is a Poisson process over allocated bytes.
fn next_sample(local: &Local, rate: usize) -> i64 {
    match rate {
        0 => i64::MAX,
        1 => 0,
        _ => {
            // Uniform in (0, 1], so the log is finite.
            let u = local.rng.unit_open_closed();
            let draw = -u.ln() * rate as f64;
            // `as` saturates; cap far beyond any real allocation size.
            (draw as i64).clamp(0, i64::MAX / 2)
        }
    }
}

/// Records the sampled block `ptr` of `size` bytes: its stack in the heap registry,
/// its address in the live table, so that its free is charged to that stack.
fn sample(ptr: *mut u8, size: usize) {
    // The live table is 1 MiB of random homes: its slot is nearly always a cache miss.
    // Start loading it now, so the miss overlaps the stack walk and the intern.
    live::prefetch(ptr as usize);
    let Some(registry) = heap::get_or_build() else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let recorded = Stack::capture(|stack| {
        stack.push_labels();
        registry.record_alloc(stack.frames(), size)
    });
    let Some(id) = recorded else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    SAMPLES.fetch_add(1, Ordering::Relaxed);
    if !live::insert(ptr as usize, id, size) {
        UNTRACKED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A block that may have been sampled is being freed: if it was, charge its free to
/// its allocation stack.
#[cold]
#[inline(never)]
pub(super) fn free_slow(ptr: *mut u8) {
    let Some((id, size)) = live::remove(ptr as usize) else {
        return;
    };
    if let Some(registry) = heap::get() {
        registry.record_free(id, size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_draws_have_the_rate_as_mean() {
        let local = Local::new();
        let n = 20_000;
        let mean = (0..n)
            .map(|_| next_sample(&local, 1000) as f64)
            .sum::<f64>()
            / n as f64;
        assert!((900.0..1100.0).contains(&mean), "mean {mean}");
        assert_eq!(next_sample(&local, 1), 0);
        assert_eq!(next_sample(&local, 0), i64::MAX);
    }
}
