//! `/debug/stats`: one JSON document of the profiler's settings, registry usage and
//! per-site aggregates. [`stats`] returns the same as a value.

use serde::Serialize;

use crate::site::{FunctionStats, LockSiteStats, functions, lock_sites};
use crate::{control, registry, stack};

/// A snapshot of everything `/debug/stats` reports.
///
/// ```
/// let stats = profiled::stats();
/// assert_eq!(stats.settings.stack_unwinder, profiled::STACK_UNWINDER);
/// let json = serde_json::to_string(&stats).unwrap();
/// assert!(json.contains("\"locks\""));
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Current profiling switches and limits.
    pub settings: Settings,
    /// Usage of the bounded registries.
    pub registry: RegistryStats,
    /// Every named lock site, sorted by name.
    pub locks: Vec<LockSiteStats>,
    /// Every `#[profiled]` function, sorted by name.
    pub functions: Vec<FunctionStats>,
    /// Tracked tasks (`profiled::task::spawn`).
    pub tasks: TaskStats,
    /// The label table: sets held, capacity, scopes that overflowed.
    pub labels: crate::labels::LabelStats,
    /// Allocator counters and process memory, as [`mem_stats`](crate::mem_stats).
    pub memory: crate::MemStats,
    /// Threads, uptime and CPU time of the process.
    pub process: ProcessStats,
    /// The profiler's own memory, kept out of the `heap` and `allocs` profiles.
    #[serde(rename = "self")]
    pub own: SelfStats,
    /// Pushing to Pyroscope: pushes, failures, bytes, drops, the last error.
    pub push: crate::push::PushStats,
    /// Waits in progress on profiled locks, and the threads and tasks that can
    /// never wake (deadlocks, owners that exited holding a lock).
    pub deadlock: crate::deadlock::DeadlockStats,
}

/// The profiler's own memory: what the tool costs. Allocations made by its threads
/// (every thread named `profiled-*`) and by profiler work on other threads (a mounted
/// `ProfiledService`, symbolization) are never sampled into the `heap` and `allocs`
/// profiles; they are counted here instead. `*_bytes` of a component are bytes it
/// allocated minus bytes it freed (exact, not sampled; 0 without the
/// [`ProfiledAllocator`](crate::ProfiledAllocator)).
///
/// ```
/// let own = profiled::stats().own;
/// assert!(own.symbolizer_cache_bytes <= profiled::SYMBOLIZER_CACHE_CAP_BYTES);
/// assert!(own.total_bytes >= own.registry_bytes);
/// assert!(!own.symbolizer_index_loaded || own.symbolizer_bytes > 0);
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct SelfStats {
    /// Bytes held by the symbolizer: its address cache, and its DWARF index while
    /// loaded (from a profile's first new address until 20 s after its last).
    pub symbolizer_bytes: u64,
    /// Estimated bytes of the symbolizer's address cache (at most
    /// [`SYMBOLIZER_CACHE_CAP_BYTES`] in practice).
    pub symbolizer_cache_bytes: u64,
    /// Addresses the symbolizer's cache holds.
    pub symbolizer_cached_addresses: usize,
    /// Whether the DWARF index is loaded now (or its memory is still being freed).
    pub symbolizer_index_loaded: bool,
    /// Bytes of the bounded registries (stack and event tables), by their capacity.
    pub registry_bytes: u64,
    /// Live bytes of the HTTP server, its blocking pool and profile encoding.
    pub server_bytes: u64,
    /// Live bytes of the CPU profiler's threads.
    pub cpu_bytes: u64,
    /// Live bytes of the signal thread.
    pub signals_bytes: u64,
    /// Live bytes of other `profiled-*` threads.
    pub other_bytes: u64,
    /// Everything above: registries plus the live bytes of all components together
    /// (exact in sum; a block one component allocates and another frees, such as a
    /// CPU profile built on `profiled-cpu` and encoded by the server, is counted
    /// against the first and credited to the second, so the per-component figures
    /// can lean one way and the other).
    pub total_bytes: u64,
}

/// The address cache's size bound: two generations of addresses at a generous
/// 512 bytes each (lines, inlined frames, names). Measured use is far below it
/// (BENCHMARKS.md, "Symbolizer").
///
/// ```
/// assert_eq!(profiled::SYMBOLIZER_CACHE_CAP_BYTES, 16 * 1024 * 1024);
/// ```
pub const SYMBOLIZER_CACHE_CAP_BYTES: u64 = (2 * crate::stack::symbolize::GENERATION * 512) as u64;

pub(crate) fn self_stats() -> SelfStats {
    use crate::alloc::own::{Component, live_bytes};
    let usage = crate::stack::symbolize::usage();
    let registry_bytes = registry::existing().map_or(0, |r| r.heap_bytes()) as u64;
    let mut stats = SelfStats {
        symbolizer_bytes: live_bytes(Component::Symbolizer),
        symbolizer_cache_bytes: usage.cache_bytes as u64,
        symbolizer_cached_addresses: usage.addresses,
        symbolizer_index_loaded: usage.index_loaded,
        registry_bytes,
        server_bytes: live_bytes(Component::Server),
        cpu_bytes: live_bytes(Component::Cpu),
        signals_bytes: live_bytes(Component::Signals),
        other_bytes: live_bytes(Component::Other),
        total_bytes: 0,
    };
    stats.total_bytes = crate::alloc::own::total_live_bytes() + stats.registry_bytes;
    stats
}

/// Counts of tracked tasks.
///
/// ```
/// let tasks = profiled::stats().tasks;
/// assert_eq!((tasks.live, tasks.dropped), (0, 0)); // nothing spawned through profiled::task
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct TaskStats {
    /// Live tracked tasks.
    pub live: usize,
    /// Tasks spawned while the registry was full, so not tracked.
    pub dropped: u64,
}

/// Process-wide figures from `/proc/self` and `getrusage`.
///
/// ```
/// let process = profiled::stats().process;
/// assert!(process.threads >= 1);
/// assert!(!process.cpu_profile_running);
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ProcessStats {
    /// OS threads in the process.
    pub threads: u64,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// CPU time spent in user mode, seconds.
    pub cpu_user_seconds: f64,
    /// CPU time spent in the kernel, seconds.
    pub cpu_system_seconds: f64,
    /// Whether a CPU profile is being taken now.
    pub cpu_profile_running: bool,
    /// Milliseconds the last CPU profile request took to start its sampler.
    pub cpu_profile_last_start_ms: f64,
    /// How the last CPU or wall-clock profile was sampled: `"timer_create"`
    /// (per-thread timers), `"setitimer"` (the fallback when timers cannot be
    /// created), or `""` before the first.
    pub cpu_profile_timer: &'static str,
    /// CPU and wall-clock samples lost (sample ring or table full) since start.
    pub cpu_profile_samples_lost: u64,
    /// `SIGPROF`s ignored because no timer of a running profile sent them.
    pub cpu_profile_stray_signals: u64,
}

/// Current profiling switches and limits.
///
/// ```
/// profiled::set_mutex_fraction(5);
/// let settings = profiled::stats().settings;
/// assert_eq!(settings.mutex_fraction, 5);
/// assert_eq!(settings.max_stack_depth, 64);
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Settings {
    /// Block profile rate in nanoseconds; 0 when off.
    pub block_rate: i64,
    /// Mutex profile fraction; 0 when off.
    pub mutex_fraction: i64,
    /// Whether `#[profiled]` functions are recording.
    pub function_profiling: bool,
    /// Frames kept per stack.
    pub max_stack_depth: usize,
    /// `"frame-pointer"` or `"dwarf"`.
    pub stack_unwinder: &'static str,
    /// Heap sampling rate in bytes; 0 when off.
    pub mem_profile_rate: usize,
    /// CPU profile sampling frequency.
    pub cpu_profile_hz: i32,
}

/// Usage of the bounded registries; all zero before the first recorded event.
///
/// ```
/// let registry = profiled::stats().registry;
/// assert_eq!((registry.dropped_stacks, registry.dropped_mutex_events), (0, 0));
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Distinct stacks the registry can hold.
    pub stack_capacity: usize,
    /// Distinct stacks held now (at most `stack_capacity`).
    pub stacks: usize,
    /// Stacks that did not fit.
    pub dropped_stacks: u64,
    /// Mutex-profile events lost because their stack did not fit.
    pub dropped_mutex_events: u64,
    /// Block-profile events lost because their stack did not fit.
    pub dropped_block_events: u64,
    /// Distinct allocation stacks the heap table can hold (0 before the first sample).
    pub heap_stack_capacity: usize,
    /// Allocation stacks that did not fit.
    pub heap_dropped_stacks: u64,
}

/// Takes a snapshot of the profiler's settings and aggregates.
///
/// ```
/// let stats = profiled::stats();
/// assert!(stats.memory.rss > 0);
/// assert!(stats.process.uptime_seconds >= 0.0);
/// println!("{}", serde_json::to_string_pretty(&stats).unwrap()); // what /debug/stats serves
/// ```
pub fn stats() -> Stats {
    Stats {
        settings: Settings {
            block_rate: control::block_rate(),
            mutex_fraction: control::mutex_fraction(),
            function_profiling: crate::instrument::function_profiling(),
            max_stack_depth: control::max_stack_depth(),
            stack_unwinder: stack::UNWINDER,
            mem_profile_rate: crate::mem_profile_rate(),
            cpu_profile_hz: crate::cpu::configured_hz(),
        },
        registry: registry::existing()
            .map(|r| RegistryStats {
                stack_capacity: r.stacks.capacity(),
                stacks: r.stacks.len(),
                dropped_stacks: r.stacks.dropped(),
                dropped_mutex_events: r.mutex.dropped(),
                dropped_block_events: r.block.dropped(),
                ..RegistryStats::default()
            })
            .map(|mut registry| {
                (registry.heap_stack_capacity, registry.heap_dropped_stacks) =
                    crate::alloc::stack_usage();
                registry
            })
            .unwrap_or_else(|| {
                let (heap_stack_capacity, heap_dropped_stacks) = crate::alloc::stack_usage();
                RegistryStats {
                    heap_stack_capacity,
                    heap_dropped_stacks,
                    ..RegistryStats::default()
                }
            }),
        locks: lock_sites(),
        functions: functions(),
        tasks: TaskStats {
            live: crate::task::task_count(),
            dropped: crate::task::dropped(),
        },
        labels: crate::labels::stats(),
        memory: crate::mem_stats(),
        process: process_stats(),
        own: self_stats(),
        deadlock: crate::deadlock::stats(),
        push: crate::push::stats(),
    }
}

fn process_stats() -> ProcessStats {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    ProcessStats {
        threads: crate::procfs::proc_status_field("Threads"),
        uptime_seconds: uptime_seconds(),
        cpu_user_seconds: seconds(usage.ru_utime),
        cpu_system_seconds: seconds(usage.ru_stime),
        cpu_profile_running: crate::cpu::running(),
        cpu_profile_last_start_ms: crate::cpu::last_start_ms(),
        cpu_profile_timer: crate::cpu::last_source(),
        cpu_profile_samples_lost: crate::cpu::samples_lost(),
        cpu_profile_stray_signals: crate::cpu::stray_signals(),
    }
}

/// Process age: `/proc/uptime` minus the start time in `/proc/self/stat` (field 22,
/// clock ticks after boot).
fn uptime_seconds() -> f64 {
    let system_uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok());
    let start_ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            // The command name (field 2) may hold spaces: count fields after its ')'.
            let rest = &t[t.rfind(')')? + 1..];
            rest.split_whitespace().nth(19)?.parse::<f64>().ok()
        });
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    match (system_uptime, start_ticks) {
        (Some(up), Some(start)) => (up - start / ticks_per_second).max(0.0),
        _ => 0.0,
    }
}

/// `stats()` as pretty-printed JSON.
pub(crate) fn json() -> String {
    serde_json::to_string_pretty(&stats()).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
