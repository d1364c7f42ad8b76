//! Memory statistics and Go's GC-style controls, as Rust has them.
//!
//! Rust has no garbage collector. [`trigger_gc`] (and `/debug/gc`) runs the reclaim
//! hooks the program registered with [`register_reclaim_hook`] (drop caches, shrink
//! pools); [`free_os_memory`] (and `/debug/freeOSMemory`) does that and then asks the
//! system allocator to return free memory to the OS (`malloc_trim(0)` on glibc).
//! Both report the process's resident set size before and after.

use std::sync::Mutex;

use serde::Serialize;

use crate::alloc::{self, mem_profile_rate};

/// Memory statistics, named after Go's `runtime.MemStats` where the meaning carries
/// over. Allocator counters are zero unless [`ProfiledAllocator`](crate::ProfiledAllocator)
/// is the global allocator (see `allocator_installed`).
///
/// ```
/// let stats = profiled::mem_stats();
/// assert!(stats.rss > 0);
/// assert_eq!(stats.heap_objects, stats.mallocs.saturating_sub(stats.frees));
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct MemStats {
    /// Bytes allocated and not yet freed through the profiled allocator (Go's `Alloc`).
    pub alloc: u64,
    /// Bytes allocated in total, freed or not (Go's `TotalAlloc`).
    pub total_alloc: u64,
    /// Virtual size of the process in bytes (`/proc/self/statm`). Go's `Sys` counts
    /// what its runtime mapped; the closest real figure for a Rust process is this.
    pub sys: u64,
    /// Resident set size in bytes (`/proc/self/statm`).
    pub rss: u64,
    /// Peak resident set size in bytes (`VmHWM` in `/proc/self/status`), as the
    /// `MaxRSS` line Go prints under a heap profile.
    pub max_rss: u64,
    /// Allocations in total (Go's `Mallocs`).
    pub mallocs: u64,
    /// Frees in total (Go's `Frees`).
    pub frees: u64,
    /// Live allocations: `mallocs - frees` (Go's `HeapObjects`).
    pub heap_objects: u64,
    /// Whether the global allocator is a `ProfiledAllocator` (otherwise the allocator
    /// counters above are zero and the heap profiles are not served).
    pub allocator_installed: bool,
    /// Current heap sampling rate in bytes (0 = off).
    pub mem_profile_rate: usize,
    /// Allocations sampled for the heap profiles.
    pub sampled_allocs: u64,
    /// Samples lost because the allocation-stack table was full.
    pub dropped_samples: u64,
    /// Sampled blocks whose frees cannot be tracked (live table full); the heap
    /// profile counts them as in use.
    pub untracked_frees: u64,
}

/// Reads the allocator counters and the process's memory figures.
///
/// Counters are exact for the calling thread and within 256 KiB per other thread
/// (threads add to the totals every 256 KiB they allocate or free).
///
/// ```
/// let stats = profiled::mem_stats();
/// assert!(stats.rss > 0 && stats.max_rss >= stats.rss);
/// // Without ProfiledAllocator as the global allocator, its counters stay zero.
/// assert!(!stats.allocator_installed);
/// assert_eq!(stats.mallocs, 0);
/// ```
pub fn mem_stats() -> MemStats {
    let totals = alloc::totals();
    let (vsize, rss) = statm();
    MemStats {
        alloc: totals.alloc_bytes.saturating_sub(totals.free_bytes),
        total_alloc: totals.alloc_bytes,
        sys: vsize,
        rss,
        max_rss: crate::procfs::proc_status_field("VmHWM").saturating_mul(1024),
        mallocs: totals.allocs,
        frees: totals.frees,
        heap_objects: totals.allocs.saturating_sub(totals.frees),
        allocator_installed: alloc::installed(),
        mem_profile_rate: mem_profile_rate(),
        sampled_allocs: totals.samples,
        dropped_samples: totals.dropped_samples,
        untracked_frees: totals.untracked_frees,
    }
}

/// (virtual size, resident size) in bytes from `/proc/self/statm`; zeros elsewhere.
fn statm() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return (0, 0);
    };
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let page = page_size();
    let vsize = fields.next().unwrap_or(0).saturating_mul(page);
    let rss = fields.next().unwrap_or(0).saturating_mul(page);
    (vsize, rss)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

type Hook = Box<dyn Fn() + Send + Sync>;

fn hooks() -> &'static Mutex<Vec<(String, Hook)>> {
    static HOOKS: Mutex<Vec<(String, Hook)>> = Mutex::new(Vec::new());
    &HOOKS
}

/// Registers a function that [`trigger_gc`], [`free_os_memory`], `/debug/gc`,
/// `/debug/freeOSMemory` and `/debug/pprof/heap?gc=1` call to release memory the
/// program can do without: clear a cache, shrink a pool, drop idle buffers.
///
/// Hooks run in registration order on the caller's thread, one reclaim pass at a
/// time; a hook that panics is skipped (and reported) without stopping the others.
/// A hook must not call `register_reclaim_hook`, `trigger_gc` or `free_os_memory`
/// itself (it would wait for its own pass to end).
///
/// ```
/// use std::sync::Mutex;
/// static CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
///
/// profiled::register_reclaim_hook("cache", || CACHE.lock().unwrap().clear());
/// CACHE.lock().unwrap().push(vec![0; 1024]);
/// let report = profiled::trigger_gc();
/// assert!(report.hooks_run >= 1);
/// assert!(CACHE.lock().unwrap().is_empty());
/// ```
pub fn register_reclaim_hook(name: &str, hook: impl Fn() + Send + Sync + 'static) {
    hooks()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.to_owned(), Box::new(hook)));
}

/// What a reclaim pass did.
///
/// ```
/// let report = profiled::trigger_gc();
/// assert!(report.hooks_failed.is_empty());
/// assert!(!report.trimmed); // trigger_gc never trims; free_os_memory does
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ReclaimReport {
    /// Hooks that ran to completion.
    pub hooks_run: usize,
    /// Names of hooks that panicked.
    pub hooks_failed: Vec<String>,
    /// Whether the system allocator was asked to return free memory (`malloc_trim`).
    pub trimmed: bool,
    /// Resident set size before, in bytes.
    pub rss_before: u64,
    /// Resident set size after, in bytes.
    pub rss_after: u64,
    /// Bytes allocated through the profiled allocator and not freed, before.
    pub alloc_before: u64,
    /// The same, after.
    pub alloc_after: u64,
}

impl ReclaimReport {
    /// Resident bytes released: `rss_before - rss_after`, or 0 if RSS grew.
    ///
    /// ```
    /// let report = profiled::free_os_memory();
    /// assert_eq!(report.rss_released(), report.rss_before.saturating_sub(report.rss_after));
    /// ```
    pub fn rss_released(&self) -> u64 {
        self.rss_before.saturating_sub(self.rss_after)
    }
}

/// Go's `runtime.GC`, as far as Rust has one: runs every registered reclaim hook.
/// There is no collector to run; memory the program still references stays.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// profiled::register_reclaim_hook("counter", || {
///     RUNS.fetch_add(1, Ordering::Relaxed);
/// });
/// let report = profiled::trigger_gc();
/// assert_eq!(report.hooks_run, 1);
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// ```
pub fn trigger_gc() -> ReclaimReport {
    let before = mem_stats();
    let (hooks_run, hooks_failed) = run_hooks();
    let after = mem_stats();
    ReclaimReport {
        hooks_run,
        hooks_failed,
        trimmed: false,
        rss_before: before.rss,
        rss_after: after.rss,
        alloc_before: before.alloc,
        alloc_after: after.alloc,
    }
}

/// Go's `debug.FreeOSMemory`: runs the reclaim hooks, drops the symbolizer's caches
/// (its address cache, and its DWARF index if a profile loaded it in the last
/// second; both are rebuilt on demand), then returns free heap memory to the operating system
/// with `malloc_trim(0)` (glibc; a no-op elsewhere, reported as `trimmed: false`).
/// With a custom inner allocator, only the system allocator's free memory is
/// trimmed.
///
/// ```
/// let report = profiled::free_os_memory();
/// assert_eq!(report.trimmed, cfg!(target_env = "gnu"));
/// ```
pub fn free_os_memory() -> ReclaimReport {
    let before = mem_stats();
    let (hooks_run, hooks_failed) = run_hooks();
    crate::stack::symbolize::clear();
    let trimmed = trim();
    let after = mem_stats();
    ReclaimReport {
        hooks_run,
        hooks_failed,
        trimmed,
        rss_before: before.rss,
        rss_after: after.rss,
        alloc_before: before.alloc,
        alloc_after: after.alloc,
    }
}

fn run_hooks() -> (usize, Vec<String>) {
    let hooks = hooks().lock().unwrap_or_else(|e| e.into_inner());
    let mut run = 0;
    let mut failed = Vec::new();
    for (name, hook) in hooks.iter() {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
            Ok(()) => run += 1,
            Err(_) => failed.push(name.clone()),
        }
    }
    (run, failed)
}

/// `malloc_trim(0)` where glibc has it; whether it ran.
#[cfg(target_env = "gnu")]
pub(crate) fn trim() -> bool {
    // SAFETY: malloc_trim has no preconditions; it only releases free heap pages.
    unsafe { libc::malloc_trim(0) };
    true
}

#[cfg(not(target_env = "gnu"))]
pub(crate) fn trim() -> bool {
    false
}
