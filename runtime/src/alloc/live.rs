//! The bounded table of live sampled blocks (address -> stack id and size), and the
//! filter every free asks first whether its block may be one of them.
//!
//! Open addressing over a static array (in .bss: no allocation, pages touched only
//! when used), with tombstones and a bounded probe, at a hashed home slot.
//!
//! Every free asks first whether its block may be sampled, from a filter indexed by
//! the address itself rather than its hash (see `filter_slot`): `FILTER` counts live
//! entries per filter slot, and `PRESENT` has one bit per filter slot, set while its
//! count is not 0. A free of an unsampled block (nearly all of them) reads one bit
//! of an 8 KiB bitset; as neighbouring blocks share its words and lines, it mostly
//! stays in L1.

use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use crate::registry::StackId;

const LIVE_BITS: u32 = 16;
const LIVE_SLOTS: usize = 1 << LIVE_BITS;
const MAX_PROBES: usize = 32;
const EMPTY: usize = 0;
const TOMBSTONE: usize = 1;
/// Sizes are packed with the stack id: 40 bits of size (1 TiB), 24 bits of id.
const SIZE_BITS: u32 = 40;

struct LiveSlot {
    addr: AtomicUsize,
    /// `stack_id << SIZE_BITS | size`, 0 while not (yet) valid.
    meta: AtomicU64,
}

static LIVE: [LiveSlot; LIVE_SLOTS] = [const {
    LiveSlot {
        addr: AtomicUsize::new(EMPTY),
        meta: AtomicU64::new(0),
    }
}; LIVE_SLOTS];
/// Live entries per filter slot, saturating at 255 (then never decremented).
static FILTER: [AtomicU8; FILTER_SLOTS] = [const { AtomicU8::new(0) }; FILTER_SLOTS];
/// Bit `f` is set while `FILTER[f]` is not 0 (see `insert`, `remove`).
static PRESENT: [AtomicU64; FILTER_SLOTS / 64] = [const { AtomicU64::new(0) }; FILTER_SLOTS / 64];
const FILTER_SLOTS: usize = 1 << 16;

/// The filter slot of `addr`: its 16 bits above the 16-byte alignment of every
/// `malloc` block. Blocks within 1 MiB of each other never share a slot, and
/// neighbours share `PRESENT` words; blocks 1 MiB apart do, which costs only a
/// needless look into the live table when one of them was sampled.
#[inline(always)]
fn filter_slot(addr: usize) -> usize {
    (addr >> 4) % FILTER_SLOTS
}

/// The word of `PRESENT` holding filter slot `f`'s bit, and the bit.
#[inline(always)]
fn present(f: usize) -> Option<(&'static AtomicU64, u64)> {
    PRESENT.get(f / 64).map(|word| (word, 1 << (f % 64)))
}

#[inline(always)]
fn home(addr: usize) -> usize {
    ((addr as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - LIVE_BITS)) as usize
}

/// Asks the CPU to start loading the lines of `LIVE`, `FILTER` and `PRESENT` that
/// [`insert`] of `addr` is about to touch. Only a hint: no effect on what any
/// load returns.
#[inline(always)]
pub(super) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let (h, f) = (home(addr) % LIVE_SLOTS, filter_slot(addr));
        // SAFETY: a prefetch never faults and has no architectural effect (and these
        // addresses are in bounds anyway).
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(ptr::from_ref(&LIVE[h]).cast());
            _mm_prefetch::<_MM_HINT_T0>(ptr::from_ref(&FILTER[f]).cast());
            _mm_prefetch::<_MM_HINT_T0>(ptr::from_ref(&PRESENT[f / 64]).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// False when `ptr` is certainly not a live sampled block. One relaxed bit load:
/// an allocation is inserted before its pointer is returned, and a free happens after
/// the program passed the pointer along, so that ordering is the program's own.
#[inline(always)]
pub(super) fn maybe_sampled(ptr: *mut u8) -> bool {
    // `filter_slot` is in bounds by construction; `get` keeps this panic-free anyway.
    present(filter_slot(ptr as usize))
        .is_some_and(|(word, bit)| word.load(Ordering::Relaxed) & bit != 0)
}

pub(super) fn insert(addr: usize, id: StackId, size: usize) -> bool {
    if addr <= TOMBSTONE || id >= 1 << (64 - SIZE_BITS) || size as u64 >= 1 << SIZE_BITS {
        return false;
    }
    let start = home(addr);
    for probe in 0..MAX_PROBES {
        let slot = &LIVE[(start + probe) % LIVE_SLOTS];
        let current = slot.addr.load(Ordering::Relaxed);
        if current != EMPTY && current != TOMBSTONE {
            continue;
        }
        if slot
            .addr
            .compare_exchange(current, addr, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            // Release: a snapshot that Acquire-loads a non-zero meta also sees `addr`.
            slot.meta
                .store(((id as u64) << SIZE_BITS) | size as u64, Ordering::Release);
            let f = filter_slot(addr);
            let count = &FILTER[f];
            let _ = count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c < u8::MAX).then_some(c + 1)
            });
            if let Some((word, bit)) = present(f) {
                word.fetch_or(bit, Ordering::SeqCst);
            }
            return true;
        }
    }
    false
}

pub(super) fn remove(addr: usize) -> Option<(StackId, u64)> {
    let start = home(addr);
    for probe in 0..MAX_PROBES {
        let slot = &LIVE[(start + probe) % LIVE_SLOTS];
        match slot.addr.load(Ordering::Relaxed) {
            EMPTY => return None,
            current if current == addr => {
                let meta = slot.meta.swap(0, Ordering::Relaxed);
                slot.addr.store(TOMBSTONE, Ordering::Relaxed);
                let f = filter_slot(addr);
                let count = &FILTER[f];
                let emptied = count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                    (c > 0 && c < u8::MAX).then(|| c - 1)
                }) == Ok(1);
                if emptied && let Some((word, bit)) = present(f) {
                    // An insert for the same home may have counted and set the bit
                    // between our decrement and this clear: look at the count again.
                    word.fetch_and(!bit, Ordering::SeqCst);
                    if count.load(Ordering::SeqCst) != 0 {
                        word.fetch_or(bit, Ordering::SeqCst);
                    }
                }
                let id = (meta >> SIZE_BITS) as StackId;
                return Some((id, meta & ((1 << SIZE_BITS) - 1)));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_table_round_trips_and_filters() {
        let addr = 0x7f00_dead_bee0;
        assert!(!maybe_sampled(addr as *mut u8));
        assert!(insert(addr, 42, 4096));
        assert!(maybe_sampled(addr as *mut u8));
        assert_eq!(remove(addr), Some((42, 4096)));
        assert_eq!(remove(addr), None);
        assert!(!maybe_sampled(addr as *mut u8));
    }

    #[test]
    fn colliding_addresses_probe_past_each_other() {
        // Same home slot: addresses that differ only above the hashed bits collide
        // rarely, so build collisions by searching.
        let base = 0x5500_0000_0000usize;
        let target = home(base);
        let colliding: Vec<usize> = (1..2_000_000usize)
            .map(|i| base + i * 16)
            .filter(|&a| home(a) == target)
            .take(3)
            .collect();
        assert!(insert(base, 1, 10));
        for (i, &a) in colliding.iter().enumerate() {
            assert!(insert(a, i + 2, 20));
        }
        for (i, &a) in colliding.iter().enumerate().rev() {
            assert_eq!(remove(a), Some((i + 2, 20)));
        }
        assert_eq!(remove(base), Some((1, 10)));
        assert!(!maybe_sampled(base as *mut u8));
    }

    #[test]
    fn blocks_a_mebibyte_apart_share_a_filter_bit_but_not_an_entry() {
        let a = 0x7e00_0010_0040;
        let b = a + (1 << 20);
        assert_eq!(filter_slot(a), filter_slot(b));
        assert!(insert(a, 7, 64));
        // A false positive: `b` is looked up in the live table and not found.
        assert!(maybe_sampled(b as *mut u8));
        assert_eq!(remove(b), None);
        assert!(insert(b, 8, 128));
        assert_eq!(remove(a), Some((7, 64)));
        assert!(maybe_sampled(b as *mut u8), "b is still live");
        assert_eq!(remove(b), Some((8, 128)));
        assert!(!maybe_sampled(a as *mut u8));
    }
}
