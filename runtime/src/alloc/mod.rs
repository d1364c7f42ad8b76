//! [`ProfiledAllocator`]: a `#[global_allocator]` wrapper that counts every
//! allocation and samples some of them, with their stacks, for the `heap` and
//! `allocs` profiles.
//!
//! `hot.rs` is what every allocation pays: the forward to the inner allocator, a
//! thread-local byte countdown and object count. `cold.rs` is everything else on an
//! allocation path, entered through `#[cold] #[inline(never)]` functions: flushing
//! the per-thread counters into the process totals, drawing the next sampling
//! point, capturing the stack of a sampled allocation and tracking its free.
//! `live.rs` is the table of live sampled blocks and the filter frees ask first.
//! The per-stack totals are the heap registry, `registry/heap.rs`. The readers
//! (installation probe, totals, rows) are at the end of this file.

mod cold;
mod hot;
mod live;
pub(crate) mod own;

pub(crate) use crate::registry::heap::{HeapRow, heap_rows, stack_usage};

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::registry::heap;
use hot::LOCAL;

/// Default [`mem_profile_rate`]: one sample per 512 KiB allocated on average, as Go's
/// `runtime.MemProfileRate`.
///
/// ```
/// assert_eq!(profiled::DEFAULT_MEM_PROFILE_RATE, 512 * 1024);
/// assert_eq!(profiled::Config::default().mem_profile_rate, profiled::DEFAULT_MEM_PROFILE_RATE);
/// ```
pub const DEFAULT_MEM_PROFILE_RATE: usize = 512 * 1024;

/// Mean bytes between samples; 0 = off, 1 = every allocation. Relaxed: a setting read
/// on the cold path only, ordering nothing else.
static MEM_PROFILE_RATE: AtomicUsize = AtomicUsize::new(DEFAULT_MEM_PROFILE_RATE);

/// Sets the heap sampling rate, as Go's `runtime.MemProfileRate`, and returns the
/// previous one.
///
/// On average one allocation per `rate` bytes allocated is sampled (a Poisson process
/// over bytes, so big allocations are almost always sampled and small ones rarely);
/// the `heap` and `allocs` profiles scale samples back up. `1` samples every
/// allocation, `0` switches sampling off. The calling thread uses the new rate from
/// its next allocation; other threads within 256 KiB of their own allocations.
///
/// ```
/// let previous = profiled::set_mem_profile_rate(64 * 1024);
/// assert_eq!(profiled::mem_profile_rate(), 64 * 1024);
/// profiled::set_mem_profile_rate(previous);
/// ```
pub fn set_mem_profile_rate(rate: usize) -> usize {
    if rate > 0 {
        // Before sampling starts: samples taken while another thread builds the
        // registry would be dropped.
        prepare();
    }
    let previous = MEM_PROFILE_RATE.swap(rate, Ordering::Relaxed);
    // The calling thread's next allocation redraws its countdown at the new rate.
    hot::resample_soon();
    previous
}

/// The current heap sampling rate in bytes (0 when off).
///
/// ```
/// // Go's default until a Profiler applies its Config (or set_mem_profile_rate changes it).
/// assert_eq!(profiled::mem_profile_rate(), profiled::DEFAULT_MEM_PROFILE_RATE);
/// ```
pub fn mem_profile_rate() -> usize {
    MEM_PROFILE_RATE.load(Ordering::Relaxed)
}

/// A global allocator that forwards to `A` (the system allocator by default), keeps
/// always-on counters of bytes and objects allocated and freed, and samples
/// allocations with their stacks for `/debug/pprof/heap` and `/debug/pprof/allocs`.
///
/// Install it once, in the binary:
///
/// ```
/// use profiled::ProfiledAllocator;
///
/// #[global_allocator]
/// static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();
///
/// fn main() {
///     let v = vec![0u8; 1 << 20];
///     assert!(profiled::mem_stats().total_alloc >= v.len() as u64);
/// }
/// ```
///
/// Wrapping another allocator works the same way:
/// `ProfiledAllocator::new(MyAllocator)` is `const` too.
///
/// # Costs and guarantees
///
/// Every allocation and free pays a thread-local subtract and increment (counters
/// are flushed into the process totals every 256 KiB per thread); frees also read
/// one bit of an 8 KiB filter of sampled addresses. Allocations are counted before
/// they are made, so an allocation of at most 256 KiB that fails (returns null) is
/// counted all the same; larger ones are counted only when they succeed. A sampled allocation (about one
/// per [`mem_profile_rate`] bytes) captures its stack (a frame-pointer walk) and
/// records it in bounded lock-free tables. The allocator never allocates through
/// itself (a thread-local reentrancy guard), takes no lock and cannot panic.
/// Counters of a thread that exits keep what it flushed; up to 256 KiB of its last
/// allocations may be missing from [`mem_stats`](crate::mem_stats).
#[derive(Debug, Default)]
pub struct ProfiledAllocator<A = System> {
    inner: A,
}

impl ProfiledAllocator<System> {
    /// Wraps the system allocator (`malloc`).
    ///
    /// ```
    /// #[global_allocator]
    /// static GLOBAL: profiled::ProfiledAllocator = profiled::ProfiledAllocator::system();
    ///
    /// fn main() {
    ///     let buffer = vec![0u8; 4096];
    ///     assert!(profiled::mem_stats().allocator_installed);
    ///     drop(buffer);
    /// }
    /// ```
    pub const fn system() -> Self {
        ProfiledAllocator { inner: System }
    }
}

impl<A> ProfiledAllocator<A> {
    /// Wraps `inner`.
    ///
    /// ```
    /// use std::alloc::System;
    ///
    /// // Any `GlobalAlloc` can be the inner allocator (jemalloc, mimalloc, ...).
    /// #[global_allocator]
    /// static GLOBAL: profiled::ProfiledAllocator<System> = profiled::ProfiledAllocator::new(System);
    ///
    /// fn main() {
    ///     let before = profiled::mem_stats().mallocs;
    ///     let boxed = Box::new([0u64; 64]);
    ///     assert!(profiled::mem_stats().mallocs > before); // exact for the calling thread
    ///     drop(boxed);
    /// }
    /// ```
    pub const fn new(inner: A) -> Self {
        ProfiledAllocator { inner }
    }

    /// The wrapped allocator.
    ///
    /// ```
    /// use std::alloc::System;
    /// static GLOBAL: profiled::ProfiledAllocator<System> = profiled::ProfiledAllocator::new(System);
    /// let _system: &System = GLOBAL.inner();
    /// ```
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged and
// returns its result, so `inner`'s guarantees are ours. The bookkeeping around the
// forward never allocates through `self`, touches no memory it was not given, and
// cannot unwind.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ProfiledAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Counted before it is made, so this ends in a tail call (see `hot::take`).
        if hot::take(layout.size()) {
            return cold::alloc_cold(&self.inner, layout, cold::Request::Alloc);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { self.inner.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if hot::take(layout.size()) {
            return cold::alloc_cold(&self.inner, layout, cold::Request::Zeroed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Forget a sampled block before its address can be handed out again.
        hot::freeing(ptr, layout.size());
        // SAFETY: the caller guarantees `ptr` came from this allocator with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Accounted as a free of the old block and an allocation of the new one, which
        // is what it is when the block moves. The old address is forgotten first: once
        // the inner realloc returns, another thread may already have been given it.
        hot::freeing(ptr, layout.size());
        if hot::take(new_size) {
            // SAFETY: `new_size` with `layout.align()` is a valid layout: the caller
            // upholds `GlobalAlloc::realloc`'s contract.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let request = cold::Request::Realloc(ptr, layout);
            return cold::alloc_cold(&self.inner, new_layout, request);
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

// ---- readers ---------------------------------------------------------------------

/// Builds the heap registry now, on the calling thread, when the profiled allocator
/// is installed. Built lazily instead, by the first sampled allocation, it takes
/// milliseconds in a debug build, and every sample other threads take meanwhile is
/// dropped: at rate 1, thousands of allocations missing from the profile.
pub(crate) fn prepare() {
    if heap::get().is_some() || !installed() {
        return;
    }
    let _ = LOCAL.try_with(|local| {
        // The guard makes the build's own allocations plain forwards.
        if !local.busy.replace(true) {
            let _ = heap::get_or_build();
            local.busy.set(false);
        }
    });
}

/// True when the process's global allocator is a [`ProfiledAllocator`]:
/// makes one allocation through the global allocator and checks that it reached
/// this module's cold path on this thread.
pub(crate) fn installed() -> bool {
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    if KNOWN.load(Ordering::Relaxed) == 1 {
        return true;
    }
    let armed = LOCAL
        .try_with(|local| {
            local.probe.set(cold::PROBING);
            cold::cold_next(local);
        })
        .is_ok();
    drop(std::hint::black_box(Box::new(0u64)));
    let seen = armed
        && LOCAL
            .try_with(|local| local.probe.replace(0) == cold::PROBE_SEEN)
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
    let _ = LOCAL.try_with(cold::flush);
    Totals {
        alloc_bytes: cold::ALLOC_BYTES.load(Ordering::Relaxed),
        allocs: cold::ALLOCS.load(Ordering::Relaxed),
        free_bytes: cold::FREE_BYTES.load(Ordering::Relaxed),
        frees: cold::FREES.load(Ordering::Relaxed),
        samples: cold::SAMPLES.load(Ordering::Relaxed),
        dropped_samples: cold::DROPPED_SAMPLES.load(Ordering::Relaxed),
        untracked_frees: cold::UNTRACKED.load(Ordering::Relaxed),
    }
}
