//! COLD allocator paths: counter flushes, sampling decisions, stack capture of
//! sampled allocations, the bounded table of live sampled blocks, and the snapshot
//! the `heap` and `allocs` profiles are built from.
//!
//! Nothing here allocates through the profiled allocator while sampling: the
//! thread's reentrancy guard is set first, so the one-time allocation of the stack
//! table is forwarded to the inner allocator unsampled. No lock is taken: the tables
//! are atomics, the registry is published with one compare-and-swap, and threads
//! that lose the race skip their sample (counted as dropped) instead of waiting.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use super::hot::{LOCAL, Local};
use crate::registry::{DEFAULT_MAX_STACKS, StackId, StackTable};
use crate::stack::Stack;

/// Per-thread counters are added to the process totals at least every this many bytes.
pub(super) const FLUSH_BYTES: u64 = 256 * 1024;

/// Process totals of flushed counters. Relaxed: independent statistics.
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static FREE_BYTES: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

/// Samples taken, and samples lost (stack table full or not yet published).
static SAMPLES: AtomicU64 = AtomicU64::new(0);
static DROPPED_SAMPLES: AtomicU64 = AtomicU64::new(0);
/// Sampled blocks whose free cannot be tracked because the live table was full.
static UNTRACKED: AtomicU64 = AtomicU64::new(0);

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
        alloc_slow(local, block, block_size);
    });
    ptr
}

/// The allocation at `ptr` used up this thread's `alloc_left`: flush, and sample it
/// if the sampling point was reached (never a null `ptr`).
#[cold]
#[inline(never)]
pub(super) fn alloc_slow(local: &Local, ptr: *mut u8, size: usize) {
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
            record_alloc(ptr, size);
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
            // Uniform in (0, 1]: 53 random bits, never 0 so the log is finite.
            let u = ((random(local) >> 11) + 1) as f64 / (1u64 << 53) as f64;
            let draw = -u.ln() * rate as f64;
            // `as` saturates; cap far beyond any real allocation size.
            (draw as i64).clamp(0, i64::MAX / 2)
        }
    }
}

/// xorshift64*, seeded per thread from a global sequence and the thread's address.
fn random(local: &Local) -> u64 {
    static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = local.rng.get();
    if x == 0 {
        let sequence = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        x = (sequence ^ (local as *const Local as u64).rotate_left(29)) | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    local.rng.set(x);
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

// ---- heap registry: distinct stacks and per-stack sampled totals -----------------

/// Sampled totals of one stack, as Go's `memRecord`: every value is of sampled
/// events only; profiles scale them with `scaleHeapSample`.
#[derive(Default)]
struct Counts {
    allocs: AtomicU64,
    alloc_bytes: AtomicU64,
    frees: AtomicU64,
    free_bytes: AtomicU64,
}

struct HeapRegistry {
    stacks: StackTable,
    counts: Box<[Counts]>,
}

/// Published once; `BUILDING` while one thread allocates it.
static REGISTRY: AtomicPtr<HeapRegistry> = AtomicPtr::new(ptr::null_mut());
const BUILDING: *mut HeapRegistry = ptr::dangling_mut();
const STACK_CAPACITY: usize = DEFAULT_MAX_STACKS;
const AVERAGE_DEPTH: usize = 32;

/// The heap registry if published.
fn registry() -> Option<&'static HeapRegistry> {
    // Acquire: pairs with the Release publication below, making its contents visible.
    let current = REGISTRY.load(Ordering::Acquire);
    if current.is_null() || current == BUILDING {
        return None;
    }
    // SAFETY: a published pointer came from `Box::into_raw` and is never freed.
    Some(unsafe { &*current })
}

/// The registry, building it on first use. Called with the reentrancy guard set,
/// so its allocations are forwarded unsampled. `None` while another thread builds it.
fn registry_or_build() -> Option<&'static HeapRegistry> {
    if let Some(registry) = registry() {
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
    let stacks = StackTable::new(STACK_CAPACITY, AVERAGE_DEPTH);
    let counts = (0..stacks.capacity()).map(|_| Counts::default()).collect();
    let built = Box::into_raw(Box::new(HeapRegistry { stacks, counts }));
    // Release: publishes the fully built registry to Acquire loads in `registry`.
    REGISTRY.store(built, Ordering::Release);
    registry()
}

/// Builds the heap registry now, on the calling thread, when the profiled allocator
/// is installed. Built lazily instead, by the first sampled allocation, it takes
/// milliseconds in a debug build, and every sample other threads take meanwhile is
/// dropped: at rate 1, thousands of allocations missing from the profile.
pub(crate) fn prepare() {
    if registry().is_some() || !installed() {
        return;
    }
    let _ = LOCAL.try_with(|local| {
        // The guard makes the build's own allocations plain forwards.
        if !local.busy.replace(true) {
            let _ = registry_or_build();
            local.busy.set(false);
        }
    });
}

fn record_alloc(ptr: *mut u8, size: usize) {
    // The live table is 1 MiB of random homes: its slot is nearly always a cache miss.
    // Start loading it now, so the miss overlaps the stack walk and the intern.
    prefetch_live(ptr as usize);
    let Some(registry) = registry_or_build() else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let stack = Stack::capture();
    let Some(id) = registry.stacks.intern(stack.frames()) else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(counts) = registry.counts.get(id) else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
        return;
    };
    SAMPLES.fetch_add(1, Ordering::Relaxed);
    counts.allocs.fetch_add(1, Ordering::Relaxed);
    counts.alloc_bytes.fetch_add(size as u64, Ordering::Relaxed);
    if !live_insert(ptr as usize, id, size) {
        UNTRACKED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A block that may have been sampled is being freed: if it was, charge its free to
/// its allocation stack.
#[cold]
#[inline(never)]
pub(super) fn free_slow(ptr: *mut u8) {
    let Some((id, size)) = live_remove(ptr as usize) else {
        return;
    };
    if let Some(counts) = registry().and_then(|r| r.counts.get(id)) {
        counts.frees.fetch_add(1, Ordering::Relaxed);
        counts.free_bytes.fetch_add(size, Ordering::Relaxed);
    }
}

// ---- live sampled blocks: address -> (stack id, size) ----------------------------
//
// Open addressing over a static array (in .bss: no allocation, pages touched only
// when used), with tombstones and a bounded probe, at a hashed home slot.
//
// Every free asks first whether its block may be sampled, from a filter indexed by
// the address itself rather than its hash (see `filter_slot`): `FILTER` counts live
// entries per filter slot, and `PRESENT` has one bit per filter slot, set while its
// count is not 0. A free of an unsampled block (nearly all of them) reads one bit
// of an 8 KiB bitset; as neighbouring blocks share its words and lines, it mostly
// stays in L1.

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
/// Bit `f` is set while `FILTER[f]` is not 0 (see `live_insert`, `live_remove`).
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
/// [`live_insert`] of `addr` is about to touch. Only a hint: no effect on what any
/// load returns.
#[inline(always)]
fn prefetch_live(addr: usize) {
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

fn live_insert(addr: usize, id: StackId, size: usize) -> bool {
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

fn live_remove(addr: usize) -> Option<(StackId, u64)> {
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

// ---- readers ---------------------------------------------------------------------

const PROBING: u8 = 1;
const PROBE_SEEN: u8 = 2;

/// True when the process's global allocator is a [`super::ProfiledAllocator`]:
/// makes one allocation through the global allocator and checks that it reached
/// this module's cold path on this thread.
pub(crate) fn installed() -> bool {
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    if KNOWN.load(Ordering::Relaxed) == 1 {
        return true;
    }
    let armed = LOCAL
        .try_with(|local| {
            local.probe.set(PROBING);
            cold_next(local);
        })
        .is_ok();
    drop(std::hint::black_box(Box::new(0u64)));
    let seen = armed
        && LOCAL
            .try_with(|local| local.probe.replace(0) == PROBE_SEEN)
            .unwrap_or(false);
    if seen {
        KNOWN.store(1, Ordering::Relaxed);
    }
    seen
}

/// Process-wide allocator counters (flushed parts plus the calling thread's own).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub alloc_bytes: u64,
    pub allocs: u64,
    pub free_bytes: u64,
    pub frees: u64,
    pub samples: u64,
    pub dropped_samples: u64,
    pub untracked_frees: u64,
}

pub(crate) fn totals() -> Totals {
    let _ = LOCAL.try_with(flush);
    Totals {
        alloc_bytes: ALLOC_BYTES.load(Ordering::Relaxed),
        allocs: ALLOCS.load(Ordering::Relaxed),
        free_bytes: FREE_BYTES.load(Ordering::Relaxed),
        frees: FREES.load(Ordering::Relaxed),
        samples: SAMPLES.load(Ordering::Relaxed),
        dropped_samples: DROPPED_SAMPLES.load(Ordering::Relaxed),
        untracked_frees: UNTRACKED.load(Ordering::Relaxed),
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
    let Some(registry) = registry() else {
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
    registry().map_or((0, 0), |r| (r.stacks.capacity(), r.stacks.dropped()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_table_round_trips_and_filters() {
        let addr = 0x7f00_dead_bee0;
        assert!(!maybe_sampled(addr as *mut u8));
        assert!(live_insert(addr, 42, 4096));
        assert!(maybe_sampled(addr as *mut u8));
        assert_eq!(live_remove(addr), Some((42, 4096)));
        assert_eq!(live_remove(addr), None);
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
        assert!(live_insert(base, 1, 10));
        for (i, &a) in colliding.iter().enumerate() {
            assert!(live_insert(a, i + 2, 20));
        }
        for (i, &a) in colliding.iter().enumerate().rev() {
            assert_eq!(live_remove(a), Some((i + 2, 20)));
        }
        assert_eq!(live_remove(base), Some((1, 10)));
        assert!(!maybe_sampled(base as *mut u8));
    }

    #[test]
    fn blocks_a_mebibyte_apart_share_a_filter_bit_but_not_an_entry() {
        let a = 0x7e00_0010_0040;
        let b = a + (1 << 20);
        assert_eq!(filter_slot(a), filter_slot(b));
        assert!(live_insert(a, 7, 64));
        // A false positive: `b` is looked up in the live table and not found.
        assert!(maybe_sampled(b as *mut u8));
        assert_eq!(live_remove(b), None);
        assert!(live_insert(b, 8, 128));
        assert_eq!(live_remove(a), Some((7, 64)));
        assert!(maybe_sampled(b as *mut u8), "b is still live");
        assert_eq!(live_remove(b), Some((8, 128)));
        assert!(!maybe_sampled(a as *mut u8));
    }

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
