//! A bounded, lock-free table of distinct stacks.
//!
//! Open addressing over a fixed array of slots; frames live in a fixed arena. A stack
//! is interned once and then named by its slot index. Nothing grows: when the slots
//! or the arena are full, interning fails and the caller counts the event as dropped.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Slot states besides a published hash (which always has the top bit set).
const EMPTY: u64 = 0;
const WRITING: u64 = 1;
/// A slot claimed when the arena was already full; skipped by lookups and readers.
const ABANDONED: u64 = 2;
const PUBLISHED_BIT: u64 = 1 << 63;

/// Linear-probe distance before giving up.
const MAX_PROBES: usize = 64;

// SAFETY: atomic integers; all zero is EMPTY with no frames.
unsafe impl crate::zeroed::Zeroed for Slot {}

struct Slot {
    /// EMPTY, WRITING, ABANDONED, or the stack's hash with PUBLISHED_BIT set.
    state: AtomicU64,
    start: AtomicU32,
    len: AtomicU32,
}

/// Identifier of an interned stack: its slot index.
pub(crate) type StackId = usize;

pub(crate) struct StackTable {
    slots: crate::zeroed::Table<Slot>,
    arena: crate::zeroed::Table<AtomicUsize>,
    arena_used: AtomicUsize,
    interned: AtomicUsize,
    dropped: AtomicU64,
}

impl StackTable {
    /// A table for up to `capacity` stacks averaging `avg_depth` frames.
    pub(crate) fn new(capacity: usize, avg_depth: usize) -> StackTable {
        let capacity = capacity.max(16).next_power_of_two();
        StackTable {
            // Zero pages: resident as slots and frames are written.
            slots: crate::zeroed::slice(capacity),
            arena: crate::zeroed::slice(capacity * avg_depth.max(1)),
            arena_used: AtomicUsize::new(0),
            interned: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Heap bytes of the table (fixed at creation).
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<[Slot]>(&self.slots)
            + std::mem::size_of_val::<[AtomicUsize]>(&self.arena)
    }

    /// Number of slots; every [`StackId`] is below this.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Distinct stacks interned so far; never above [`capacity`](Self::capacity).
    pub(crate) fn len(&self) -> usize {
        self.interned.load(Ordering::Relaxed)
    }

    /// Stacks that could not be interned because the table was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Returns the id of `frames`, interning it first if needed; `None` when full.
    pub(crate) fn intern(&self, frames: &[usize]) -> Option<StackId> {
        let hash = hash(frames) | PUBLISHED_BIT;
        let mask = self.slots.len() - 1;
        let mut index = (hash as usize) & mask;
        for _ in 0..MAX_PROBES.min(self.slots.len()) {
            let slot = &self.slots[index];
            let mut state = slot.state.load(Ordering::Acquire);
            if state == EMPTY {
                match slot.state.compare_exchange(
                    EMPTY,
                    WRITING,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return self.publish(index, hash, frames),
                    Err(current) => state = current,
                }
            }
            while state == WRITING {
                // Another thread is copying a stack into this slot: a few word stores.
                std::hint::spin_loop();
                std::thread::yield_now();
                state = slot.state.load(Ordering::Acquire);
            }
            if state == hash && self.frames_equal(index, frames) {
                return Some(index);
            }
            index = (index + 1) & mask;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn publish(&self, index: StackId, hash: u64, frames: &[usize]) -> Option<StackId> {
        let slot = &self.slots[index];
        let start = self.arena_used.fetch_add(frames.len(), Ordering::Relaxed);
        let fits = start
            .checked_add(frames.len())
            .is_some_and(|end| end <= self.arena.len() && end <= u32::MAX as usize);
        if !fits {
            // Keep the arena counter from wrapping on repeated failures.
            self.arena_used.fetch_sub(frames.len(), Ordering::Relaxed);
            slot.state.store(ABANDONED, Ordering::Release);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        for (cell, &frame) in self.arena[start..start + frames.len()].iter().zip(frames) {
            cell.store(frame, Ordering::Relaxed);
        }
        slot.start.store(start as u32, Ordering::Relaxed);
        slot.len.store(frames.len() as u32, Ordering::Relaxed);
        // Release: publishes the frames, start and len stored above to Acquire readers.
        slot.state.store(hash, Ordering::Release);
        self.interned.fetch_add(1, Ordering::Relaxed);
        Some(index)
    }

    fn frames_equal(&self, index: StackId, frames: &[usize]) -> bool {
        self.with_frames(index, |stored| stored.eq(frames.iter().copied()))
            .unwrap_or(false)
    }

    /// Calls `f` with the frames of a published stack; `None` if `id` is not published.
    pub(crate) fn with_frames<R>(
        &self,
        id: StackId,
        f: impl FnOnce(&mut dyn Iterator<Item = usize>) -> R,
    ) -> Option<R> {
        let slot = self.slots.get(id)?;
        // Acquire: pairs with the Release in `publish`, making the frames visible.
        if slot.state.load(Ordering::Acquire) & PUBLISHED_BIT == 0 {
            return None;
        }
        let start = slot.start.load(Ordering::Relaxed) as usize;
        let len = slot.len.load(Ordering::Relaxed) as usize;
        let mut frames = self
            .arena
            .get(start..start + len)?
            .iter()
            .map(|cell| cell.load(Ordering::Relaxed));
        Some(f(&mut frames))
    }

    /// The frames of a published stack, copied.
    pub(crate) fn frames(&self, id: StackId) -> Option<Vec<usize>> {
        self.with_frames(id, |frames| frames.collect())
    }
}

/// Multiply-rotate over whole words (as FxHash) and a final avalanche (MurmurHash3's
/// fmix64): one multiply per frame instead of eight for byte-wise FNV-1a, which was
/// most of the cost of interning a 20-frame stack on the allocation sampler's path.
fn hash(frames: &[usize]) -> u64 {
    let mut h = frames.len() as u64;
    for &frame in frames {
        h = (h.rotate_left(5) ^ frame as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_reads_back() {
        let table = StackTable::new(16, 4);
        let a = table.intern(&[1, 2, 3]).unwrap();
        let b = table.intern(&[4, 5]).unwrap();
        assert_ne!(a, b);
        assert_eq!(table.intern(&[1, 2, 3]), Some(a));
        assert_eq!(table.frames(a).unwrap(), vec![1, 2, 3]);
        assert_eq!(table.frames(b).unwrap(), vec![4, 5]);
        assert_eq!(table.dropped(), 0);
    }

    #[test]
    fn full_table_drops_and_counts() {
        let table = StackTable::new(16, 1);
        let mut ok = 0;
        for i in 0..100usize {
            if table.intern(&[i + 1]).is_some() {
                ok += 1;
            }
        }
        assert_eq!(ok, 16);
        assert_eq!(table.dropped(), 84);
        // Already-interned stacks are still found when the table is full.
        assert!(table.intern(&[1]).is_some());
    }

    #[test]
    fn full_arena_drops_and_counts() {
        let table = StackTable::new(16, 2); // 32 frames of arena
        assert!(table.intern(&[7; 30]).is_some());
        assert!(table.intern(&[8; 5]).is_none());
        assert_eq!(table.dropped(), 1);
        assert!(table.intern(&[9; 2]).is_some());
    }

    #[test]
    fn concurrent_interning_agrees_on_ids() {
        let table = std::sync::Arc::new(StackTable::new(1024, 8));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let table = table.clone();
                std::thread::spawn(move || {
                    (0..500usize)
                        .map(|i| table.intern(&[i, i + 1, i + 2]).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }
}
