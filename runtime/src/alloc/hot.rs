//! HOT allocator path. Budget: no alloc, no lock, no format, no I/O, no panic; per
//! allocation a thread-local subtract and increment before a tail call to the inner
//! allocator, per free the same plus one bit of the sampled-address filter.

use std::cell::Cell;

use super::{cold, live};
use crate::rng::XorShift;

/// Per-thread allocator state. Const-initialized and without a destructor, so it is
/// usable at any point of a thread's life, including while it exits.
///
/// Bytes are counted down: an allocation subtracts its size from `alloc_left` and
/// goes to the cold path when that borrows, so the hot path is one subtract to
/// memory and a branch on its carry. The bytes since the last flush are
/// `alloc_budget - alloc_left` (wrapping), and `FLUSH_BYTES - free_left` for frees.
pub(super) struct Local {
    /// Bytes this thread may still allocate before its cold path runs: the nearer of
    /// the next sampling point and the flush interval. 0 sends the next allocation
    /// there.
    pub(super) alloc_left: Cell<u64>,
    /// What `alloc_left` was set to at the last flush.
    pub(super) alloc_budget: Cell<u64>,
    /// Objects allocated since the last flush.
    pub(super) allocs: Cell<u64>,
    /// Bytes this thread may still free before its counters are flushed; counts
    /// down from `cold::FLUSH_BYTES`.
    pub(super) free_left: Cell<u64>,
    /// Objects freed since the last flush.
    pub(super) frees: Cell<u64>,
    /// Bytes to go before the next sample, as of the last flush.
    pub(super) sample_left: Cell<i64>,
    /// The rate `sample_left` was drawn with.
    pub(super) rate_seen: Cell<usize>,
    /// Reentrancy guard: set while the sampler runs on this thread, so allocations it
    /// makes are forwarded and counted but never sampled.
    pub(super) busy: Cell<bool>,
    /// Generator of the exponential draws between samples.
    pub(super) rng: XorShift,
    /// Installation probe state (see `super::installed`).
    pub(super) probe: Cell<u8>,
}

impl Local {
    pub(super) const fn new() -> Local {
        Local {
            alloc_left: Cell::new(0),
            alloc_budget: Cell::new(0),
            allocs: Cell::new(0),
            free_left: Cell::new(cold::FLUSH_BYTES),
            frees: Cell::new(0),
            sample_left: Cell::new(0),
            rate_seen: Cell::new(0),
            busy: Cell::new(false),
            rng: XorShift::new(),
            probe: Cell::new(0),
        }
    }
}

thread_local! {
    pub(super) static LOCAL: Local = const { Local::new() };
}

/// Counts an allocation of `size` bytes that is about to be made, and says whether
/// it must go to the cold path instead ([`cold::alloc_cold`]): the countdown ran
/// out, so it may be sampled and the counters flushed.
///
/// Counting first lets the caller end in a tail call to the inner allocator, with
/// no frame of its own. The price: an allocation that fails (null) on this path is
/// counted anyway. Only allocations within the countdown, at most `FLUSH_BYTES`
/// (256 KiB), take it; larger ones always go cold, where failures are not counted.
#[inline(always)]
#[must_use]
pub(super) fn take(size: usize) -> bool {
    // `try_with` never fails for a const, destructor-less key; it keeps this panic-free.
    LOCAL
        .try_with(|local| {
            local.allocs.set(local.allocs.get().wrapping_add(1));
            let (left, crossed) = local.alloc_left.get().overflowing_sub(size as u64);
            local.alloc_left.set(left);
            crossed
        })
        .unwrap_or(false)
}

/// Counts a free of `size` bytes at `ptr`, and forgets `ptr` if it was sampled.
/// Must run before the inner allocator frees `ptr`.
#[inline(always)]
pub(super) fn freeing(ptr: *mut u8, size: usize) {
    if live::maybe_sampled(ptr) {
        cold::free_slow(ptr);
    }
    let _ = LOCAL.try_with(|local| {
        local.frees.set(local.frees.get().wrapping_add(1));
        let (left, crossed) = local.free_left.get().overflowing_sub(size as u64);
        local.free_left.set(left);
        if crossed {
            cold::flush(local);
        }
    });
}

/// Sends this thread's next allocation to the cold path (e.g. after a rate change).
pub(super) fn resample_soon() {
    let _ = LOCAL.try_with(cold::cold_next);
}
