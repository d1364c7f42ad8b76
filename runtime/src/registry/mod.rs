//! Bounded, lock-free registries: one shared stack table and one event table per
//! contention profile, indexed by stack id.
//!
//! The registry is allocated on the first recorded event, with the capacity set by
//! [`crate::Config::max_stacks`] at that time, and never grows. Events whose stack
//! does not fit are counted as dropped and reported in every encoded profile.

mod contention;
mod stacks;

pub(crate) use contention::{COUNT_SCALE, EventRow, EventTable, Sampler};
pub(crate) use stacks::{StackId, StackTable};

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default number of distinct stacks the registry holds.
pub const DEFAULT_MAX_STACKS: usize = 16_384;
/// Average frames per stack the arena is sized for.
const AVERAGE_DEPTH: usize = 32;

static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_STACKS);
static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// All profiling data recorded by the contended paths.
pub(crate) struct Registry {
    pub(crate) stacks: StackTable,
    pub(crate) mutex: EventTable,
    pub(crate) block: EventTable,
}

impl Registry {
    /// Heap bytes of its tables (fixed at creation).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.stacks.heap_bytes() + self.mutex.heap_bytes() + self.block.heap_bytes()
    }
}

/// Sets the capacity used if the registry has not been allocated yet.
/// Returns false when it already exists with its own capacity.
pub(crate) fn set_capacity(max_stacks: usize) -> bool {
    CAPACITY.store(max_stacks, Ordering::Relaxed);
    REGISTRY.get().is_none()
}

/// The registry, allocating it on first use (cold: only recording paths call this).
pub(crate) fn get() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let stacks = StackTable::new(CAPACITY.load(Ordering::Relaxed), AVERAGE_DEPTH);
        let capacity = stacks.capacity();
        Registry {
            stacks,
            mutex: EventTable::new(capacity),
            block: EventTable::new(capacity),
        }
    })
}

/// The registry if anything was ever recorded; readers use this to avoid allocating it.
pub(crate) fn existing() -> Option<&'static Registry> {
    REGISTRY.get()
}
