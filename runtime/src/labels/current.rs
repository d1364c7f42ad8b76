//! HOT: budget per scope entry and exit: no alloc, no lock, no clock, no format, no
//! I/O, no panic (a cache miss goes to the COLD table through one call).
//!
//! The current thread's label set: one `u32` in a const-initialized, drop-free
//! thread local, so the `SIGPROF` and dump signal handlers read it with a plain
//! load. Entering a scope looks its merged set up in a small per-thread cache keyed
//! by (parent set, where the scope's pairs come from); only a miss interns.

use std::cell::Cell;

use super::table;

/// Cache entries per thread (direct-mapped).
const CACHE_SLOTS: usize = 64;

/// Where a scope's pairs come from: a `'static` slice (by address and length) or
/// an interned set (by id, with a length no slice has).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Source {
    address: usize,
    len: usize,
}

#[derive(Clone, Copy)]
struct Cached {
    parent: u32,
    merged: u32,
    source: Source,
}

const EMPTY: Cached = Cached {
    parent: 0,
    merged: 0,
    source: Source { address: 0, len: 0 },
};

/// [`PENDING`] before any scope's future returned `Pending` in the current poll.
const NOT_NOTED: u32 = u32::MAX;

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(table::NONE) };
    /// The set of the innermost scoped future that returned `Pending` in the
    /// current task poll (`NOT_NOTED` before one did): what a task dump shows as
    /// the task's labels while it waits.
    static PENDING: Cell<u32> = const { Cell::new(NOT_NOTED) };
    static CACHE: [Cell<Cached>; CACHE_SLOTS] = const { [const { Cell::new(EMPTY) }; CACHE_SLOTS] };
}

/// The current thread's label set id ([`table::NONE`] outside every scope). A plain
/// load: safe in a signal handler.
#[inline(always)]
pub(crate) fn id() -> u32 {
    CURRENT.try_with(Cell::get).unwrap_or(table::NONE)
}

/// Makes `id` the current set; returns the previous one.
#[inline(always)]
pub(crate) fn replace(id: u32) -> u32 {
    CURRENT
        .try_with(|current| current.replace(id))
        .unwrap_or(table::NONE)
}

/// The set of the current one with `pairs` on top.
#[inline]
pub(crate) fn merged_static(parent: u32, pairs: &'static [(&'static str, &'static str)]) -> u32 {
    if pairs.is_empty() {
        return parent;
    }
    let source = Source {
        address: pairs.as_ptr() as usize,
        len: pairs.len(),
    };
    cached(parent, source, || {
        table::merge(parent, pairs.iter().copied())
    })
}

/// The set of `parent` with interned set `child` on top.
#[inline]
pub(crate) fn merged_set(parent: u32, child: u32) -> u32 {
    if child == table::NONE {
        return parent;
    }
    let source = Source {
        address: child as usize,
        len: usize::MAX,
    };
    cached(parent, source, || table::merge_set(parent, child))
}

#[inline(always)]
fn cached(parent: u32, source: Source, miss: impl FnOnce() -> u32) -> u32 {
    // Addresses of distinct slices differ in their low bits above the alignment;
    // mixing in the parent spreads nested scopes of one slice over the slots.
    let hash = (source.address >> 3) ^ (source.address >> 9) ^ (parent as usize).wrapping_mul(31);
    let hit = CACHE.try_with(|cache| {
        let slot = &cache[hash % CACHE_SLOTS];
        let entry = slot.get();
        (entry.parent == parent && entry.source == source && entry.merged != table::NONE)
            .then_some(entry.merged)
    });
    match hit {
        Ok(Some(merged)) => merged,
        _ => fill(parent, source, hash, miss),
    }
}

#[cold]
#[inline(never)]
fn fill(parent: u32, source: Source, hash: usize, miss: impl FnOnce() -> u32) -> u32 {
    let merged = miss();
    let _ = CACHE.try_with(|cache| {
        cache[hash % CACHE_SLOTS].set(Cached {
            parent,
            merged,
            source,
        })
    });
    merged
}

/// Notes `id` as the waiting task's labels unless a scope inside it did first.
#[inline(always)]
pub(crate) fn note_pending(id: u32) {
    let _ = PENDING.try_with(|pending| {
        if pending.get() == NOT_NOTED {
            pending.set(id);
        }
    });
}

/// Forgets the noted labels, before polling a task from its root.
#[cfg(feature = "tokio")]
#[inline(always)]
pub(crate) fn reset_pending() {
    let _ = PENDING.try_with(|pending| pending.set(NOT_NOTED));
}

/// The labels noted since [`reset_pending`]: `None` when no scope returned `Pending`.
#[cfg(feature = "tokio")]
#[inline(always)]
pub(crate) fn take_pending() -> Option<u32> {
    PENDING
        .try_with(|pending| pending.replace(NOT_NOTED))
        .ok()
        .filter(|&id| id != NOT_NOTED)
}

/// Restores the previous label set when dropped (also when unwinding).
#[must_use = "the scope ends when the guard drops"]
pub struct Restore {
    previous: u32,
    /// Thread-bound: the set it restores is this thread's.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Restore {
    /// Makes `id` current until the returned guard drops.
    #[inline(always)]
    pub(crate) fn enter(id: u32) -> Restore {
        Restore {
            previous: replace(id),
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for Restore {
    #[inline(always)]
    fn drop(&mut self) {
        replace(self.previous);
    }
}
