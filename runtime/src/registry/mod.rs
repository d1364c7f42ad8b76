//! Bounded, lock-free registries of recorded stacks: one shared stack table and one
//! event table per contention profile (`events.rs`, filled by Go's sampling rules in
//! `sampling.rs`), and the heap profile's table (`heap.rs`), indexed by stack id.
//! (The threadcreate table is `thread/spawned.rs`, the task table `task/slots.rs`.)
//!
//! Each table is allocated on its first recorded event, with the capacity set by
//! [`crate::Config::max_stacks`] at that time, and never grows. Events whose stack
//! does not fit are counted as dropped and reported in every encoded profile.

mod events;
pub(crate) mod heap;
mod recent;
pub(crate) mod sampling;
mod stacks;

pub(crate) use events::{COUNT_SCALE, EventRow, EventTable};
pub(crate) use stacks::{StackId, StackTable};

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default number of distinct stacks the registry holds.
pub const DEFAULT_MAX_STACKS: usize = 16_384;
/// Average frames per stack every stack table's arena is sized for.
pub(crate) const AVERAGE_DEPTH: usize = 32;

static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_STACKS);
static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// All profiling data recorded by the contended paths.
pub(crate) struct Registry {
    pub(crate) stacks: StackTable,
    pub(crate) mutex: EventTable,
    pub(crate) block: EventTable,
}

impl Registry {
    /// Interns `frames` in [`Registry::stacks`], through this thread's memo of the
    /// stacks it recorded last (`recent.rs`): the recording paths' way in.
    #[inline]
    pub(crate) fn intern(&self, frames: &[usize]) -> Option<StackId> {
        recent::intern(&self.stacks, frames)
    }

    /// Heap bytes of its tables (fixed at creation).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.stacks.heap_bytes() + self.mutex.heap_bytes() + self.block.heap_bytes()
    }
}

/// Sets the capacity of the tables not allocated yet (the contention registry and
/// the heap registry); a table that already exists keeps its own, which
/// `/debug/stats` reports.
pub(crate) fn set_capacity(max_stacks: usize) {
    CAPACITY.store(max_stacks, Ordering::Relaxed);
}

/// The capacity a table allocated now gets.
fn capacity() -> usize {
    CAPACITY.load(Ordering::Relaxed)
}

/// The registry, allocating it on first use (cold: only recording paths call this).
pub(crate) fn get() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        // The profiler's own memory, whichever thread builds it first.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Other);
        let stacks = StackTable::new(capacity(), AVERAGE_DEPTH);
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
