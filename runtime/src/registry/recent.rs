//! HOT (for the recording paths): a per-thread memo of the last stacks this thread
//! interned, so that a stack recorded again and again (a convoy on one lock: every
//! wait and every release from the same code) is one compare of its frames, not a
//! hash and a probe of the shared table.
//!
//! Stack ids never change meaning (the table only grows), so a memo can never be
//! stale; it only holds ids of the one registry ([`super::get`]).

use std::cell::UnsafeCell;

use super::{StackId, StackTable};

/// Memo entries per thread, in sets of [`WAYS`]: the waiter's and the releaser's
/// stacks of a few locks (the same code reached through a runtime's different
/// polling paths is several stacks).
const ENTRIES: usize = 8;
const WAYS: usize = 2;
const SETS: usize = ENTRIES / WAYS;
const _: () = assert!(SETS.is_power_of_two());
/// Frames a memoised stack may have; deeper ones go to the table every time.
const MAX_FRAMES: usize = 48;

#[derive(Clone, Copy)]
struct Entry {
    /// Frames in use; 0 for an empty entry (an empty stack is never memoised).
    len: usize,
    id: StackId,
    frames: [usize; MAX_FRAMES],
}

struct Memo {
    entries: [Entry; ENTRIES],
    /// Per set, the way the next miss replaces (the one not used last).
    victim: [u8; SETS],
}

thread_local! {
    static RECENT: UnsafeCell<Memo> = const {
        UnsafeCell::new(Memo {
            entries: [Entry { len: 0, id: 0, frames: [0; MAX_FRAMES] }; ENTRIES],
            victim: [0; SETS],
        })
    };
}

/// The set `frames` belongs to: a fold of every frame, one rotate and one xor each,
/// mixed by one multiply (a fraction of the table's hash).
fn set_of(frames: &[usize]) -> usize {
    let h = frames
        .iter()
        .fold(frames.len() as u64, |h, &f| h.rotate_left(7) ^ f as u64);
    // The top bits of one multiply: every frame's bits reach them.
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SETS.trailing_zeros())) as usize
}

/// `table.intern(frames)`, answered from this thread's memo when it interned the
/// same frames lately. `table` must be the registry's stack table.
pub(super) fn intern(table: &StackTable, frames: &[usize]) -> Option<StackId> {
    if frames.is_empty() || frames.len() > MAX_FRAMES {
        return table.intern(frames);
    }
    let set = set_of(frames);
    let memo = RECENT.try_with(|memo| {
        // SAFETY: the cell is this thread's own and no reference into it outlives
        // this closure (nothing here re-enters `intern`).
        let memo = unsafe { &mut *memo.get() };
        (0..WAYS).find_map(|way| {
            let entry = &memo.entries[set * WAYS + way];
            let hit = entry.len == frames.len() && entry.frames[..entry.len] == *frames;
            hit.then(|| {
                memo.victim[set] = (way as u8 + 1) % WAYS as u8;
                entry.id
            })
        })
    });
    if let Ok(Some(id)) = memo {
        return Some(id);
    }
    let id = table.intern(frames)?;
    let _ = RECENT.try_with(|memo| {
        // SAFETY: as above.
        let memo = unsafe { &mut *memo.get() };
        let way = usize::from(memo.victim[set]);
        memo.victim[set] = (memo.victim[set] + 1) % WAYS as u8;
        let entry = &mut memo.entries[set * WAYS + way];
        entry.len = frames.len();
        entry.id = id;
        entry.frames[..frames.len()].copy_from_slice(frames);
    });
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memoised_stack_has_the_tables_id_and_others_are_not_confused() {
        let table = StackTable::new(64, 8);
        let a = intern(&table, &[0x1000, 0x2000, 0x3000]).unwrap();
        let b = intern(&table, &[0x1000, 0x2000, 0x3001]).unwrap();
        let c = intern(&table, &[0x1000, 0x2000]).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(intern(&table, &[0x1000, 0x2000, 0x3000]), Some(a));
        assert_eq!(intern(&table, &[0x1000, 0x2000, 0x3001]), Some(b));
        assert_eq!(table.intern(&[0x1000, 0x2000, 0x3000]), Some(a));
        assert_eq!(table.len(), 3, "a memo hit interns nothing new");
        let deep: Vec<usize> = (1..=MAX_FRAMES + 1).collect();
        let d = intern(&table, &deep).unwrap();
        assert_eq!(intern(&table, &deep), Some(d));
        assert_eq!(table.frames(d).unwrap(), deep);
    }
}
