//! The heap profile's table: distinct allocation stacks and per-stack sampled totals
//! (allocations and frees, objects and bytes), as Go's `memRecord`s.
//!
//! Written from the allocator's cold path (`alloc/cold.rs`), so nothing here may
//! allocate through the profiled allocator while recording: the table is built
//! once, by a thread whose reentrancy guard is set (its allocations are plain
//! forwards), and published with one compare-and-swap; threads that lose the race
//! get `None` and skip their sample instead of waiting. No lock is taken.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::{AVERAGE_DEPTH, StackId, StackTable};

/// Sampled totals of one stack, as Go's `memRecord`: every value is of sampled
/// events only; profiles scale them with `scaleHeapSample`.
// SAFETY: atomic integers; all zero is nothing counted.
unsafe impl crate::zeroed::Zeroed for Counts {}

struct Counts {
    allocs: AtomicU64,
    alloc_bytes: AtomicU64,
    frees: AtomicU64,
    free_bytes: AtomicU64,
}

/// Allocation stacks and their sampled totals, indexed by stack id.
pub(crate) struct HeapRegistry {
    stacks: StackTable,
    counts: crate::zeroed::Table<Counts>,
}

/// Published once; `BUILDING` while one thread allocates it.
static REGISTRY: AtomicPtr<HeapRegistry> = AtomicPtr::new(ptr::null_mut());
const BUILDING: *mut HeapRegistry = ptr::dangling_mut();

/// The heap registry if published.
pub(crate) fn get() -> Option<&'static HeapRegistry> {
    // Acquire: pairs with the Release publication below, making its contents visible.
    let current = REGISTRY.load(Ordering::Acquire);
    if current.is_null() || current == BUILDING {
        return None;
    }
    // SAFETY: a published pointer came from `Box::into_raw` and is never freed.
    Some(unsafe { &*current })
}

/// The registry, building it on first use with the capacity of
/// [`Config::max_stacks`](crate::Config::max_stacks) at that time. Call it with the
/// allocator's reentrancy guard set, so its allocations are forwarded unsampled.
/// `None` while another thread builds it.
pub(crate) fn get_or_build() -> Option<&'static HeapRegistry> {
    if let Some(registry) = get() {
        return Some(registry);
    }
    if REGISTRY
        .compare_exchange(
            ptr::null_mut(),
            BUILDING,
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return None;
    }
    let stacks = StackTable::new(super::capacity(), AVERAGE_DEPTH);
    let counts = crate::zeroed::slice(stacks.capacity());
    let built = Box::into_raw(Box::new(HeapRegistry { stacks, counts }));
    // Release: publishes the fully built registry to Acquire loads in `get`.
    REGISTRY.store(built, Ordering::Release);
    get()
}

impl HeapRegistry {
    /// Counts one sampled allocation of `size` bytes under `frames`; the stack's id,
    /// or `None` (nothing counted) when it did not fit.
    pub(crate) fn record_alloc(&self, frames: &[usize], size: usize) -> Option<StackId> {
        let id = self.stacks.intern(frames)?;
        let counts = self.counts.get(id)?;
        counts.allocs.fetch_add(1, Ordering::Relaxed);
        counts.alloc_bytes.fetch_add(size as u64, Ordering::Relaxed);
        Some(id)
    }

    /// Counts the free of a sampled block of `size` bytes allocated under `id`.
    pub(crate) fn record_free(&self, id: StackId, size: u64) {
        if let Some(counts) = self.counts.get(id) {
            counts.frees.fetch_add(1, Ordering::Relaxed);
            counts.free_bytes.fetch_add(size, Ordering::Relaxed);
        }
    }
}

/// Sampled totals of one allocation stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeapRow {
    pub frames: Vec<usize>,
    pub allocs: u64,
    pub alloc_bytes: u64,
    pub frees: u64,
    pub free_bytes: u64,
}

/// Every stack with sampled allocations, in stack-id order. The reader allocates
/// normally: it is not on an allocation path.
pub(crate) fn heap_rows() -> Vec<HeapRow> {
    let Some(registry) = get() else {
        return Vec::new();
    };
    registry
        .counts
        .iter()
        .enumerate()
        .filter_map(|(id, counts)| {
            let allocs = counts.allocs.load(Ordering::Relaxed);
            if allocs == 0 {
                return None;
            }
            Some(HeapRow {
                frames: registry.stacks.frames(id)?,
                allocs,
                alloc_bytes: counts.alloc_bytes.load(Ordering::Relaxed),
                // A free is counted after its allocation; clamp a racing read.
                frees: counts.frees.load(Ordering::Relaxed).min(allocs),
                free_bytes: counts.free_bytes.load(Ordering::Relaxed),
            })
        })
        .collect()
}

/// Distinct allocation stacks the heap registry can hold, and how many did not fit.
pub(crate) fn stack_usage() -> (usize, u64) {
    get().map_or((0, 0), |r| (r.stacks.capacity(), r.stacks.dropped()))
}
