//! HOT allocator path. Budget: no alloc, no lock, no format, no I/O, no panic; a
//! thread-local add and compare per allocation, plus one filter byte per free.

use std::cell::Cell;

use super::sampler;

/// Per-thread allocator state. Const-initialized and without a destructor, so it is
/// usable at any point of a thread's life, including while it exits.
pub(super) struct Local {
    /// Bytes and objects allocated since the last flush into the process totals.
    pub(super) alloc_bytes: Cell<u64>,
    pub(super) allocs: Cell<u64>,
    /// Bytes and objects freed since the last flush.
    pub(super) free_bytes: Cell<u64>,
    pub(super) frees: Cell<u64>,
    /// The cold path runs when `alloc_bytes` reaches this: the next sampling point
    /// or the flush interval, whichever is nearer. 0 sends the next allocation there.
    pub(super) threshold: Cell<u64>,
    /// Bytes to go before the next sample, as of the last cold-path visit.
    pub(super) sample_left: Cell<i64>,
    /// The rate `sample_left` was drawn with.
    pub(super) rate_seen: Cell<usize>,
    /// Reentrancy guard: set while the sampler runs on this thread, so allocations it
    /// makes are forwarded and counted but never sampled.
    pub(super) busy: Cell<bool>,
    /// xorshift state for exponential draws; 0 until seeded.
    pub(super) rng: Cell<u64>,
    /// Installation probe state (see `sampler::installed`).
    pub(super) probe: Cell<u8>,
}

impl Local {
    pub(super) const fn new() -> Local {
        Local {
            alloc_bytes: Cell::new(0),
            allocs: Cell::new(0),
            free_bytes: Cell::new(0),
            frees: Cell::new(0),
            threshold: Cell::new(0),
            sample_left: Cell::new(0),
            rate_seen: Cell::new(0),
            busy: Cell::new(false),
            rng: Cell::new(0),
            probe: Cell::new(0),
        }
    }
}

thread_local! {
    pub(super) static LOCAL: Local = const { Local::new() };
}

/// Counts an allocation of `size` bytes at `ptr`; samples it when this thread's
/// countdown runs out.
#[inline(always)]
pub(super) fn allocated(ptr: *mut u8, size: usize) {
    // `try_with` never fails for a const, destructor-less key; it keeps this panic-free.
    let _ = LOCAL.try_with(|local| {
        let bytes = local.alloc_bytes.get().wrapping_add(size as u64);
        local.alloc_bytes.set(bytes);
        local.allocs.set(local.allocs.get().wrapping_add(1));
        if bytes >= local.threshold.get() {
            sampler::alloc_slow(local, ptr, size);
        }
    });
}

/// Counts a free of `size` bytes at `ptr`, and forgets `ptr` if it was sampled.
/// Must run before the inner allocator frees `ptr`.
#[inline(always)]
pub(super) fn freeing(ptr: *mut u8, size: usize) {
    if sampler::maybe_sampled(ptr) {
        sampler::free_slow(ptr);
    }
    let _ = LOCAL.try_with(|local| {
        let bytes = local.free_bytes.get().wrapping_add(size as u64);
        local.free_bytes.set(bytes);
        local.frees.set(local.frees.get().wrapping_add(1));
        if bytes >= sampler::FLUSH_BYTES {
            sampler::flush(local);
        }
    });
}

/// Sends this thread's next allocation to the cold path (e.g. after a rate change).
pub(super) fn resample_soon() {
    let _ = LOCAL.try_with(|local| local.threshold.set(0));
}
