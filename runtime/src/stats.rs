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
}

/// Counts of tracked tasks.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct TaskStats {
    /// Live tracked tasks.
    pub live: usize,
    /// Tasks spawned while the registry was full, so not tracked.
    pub dropped: u64,
}

/// Current profiling switches and limits.
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
}

/// Usage of the bounded registries; all zero before the first recorded event.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Distinct stacks the registry can hold.
    pub stack_capacity: usize,
    /// Stacks that did not fit.
    pub dropped_stacks: u64,
    /// Mutex-profile events lost because their stack did not fit.
    pub dropped_mutex_events: u64,
    /// Block-profile events lost because their stack did not fit.
    pub dropped_block_events: u64,
}

/// Takes a snapshot of the profiler's settings and aggregates.
pub fn stats() -> Stats {
    Stats {
        settings: Settings {
            block_rate: control::block_rate(),
            mutex_fraction: control::mutex_fraction(),
            function_profiling: crate::instrument::function_profiling(),
            max_stack_depth: control::max_stack_depth(),
            stack_unwinder: stack::UNWINDER,
        },
        registry: registry::existing()
            .map(|r| RegistryStats {
                stack_capacity: r.stacks.capacity(),
                dropped_stacks: r.stacks.dropped(),
                dropped_mutex_events: r.mutex.dropped(),
                dropped_block_events: r.block.dropped(),
            })
            .unwrap_or_default(),
        locks: lock_sites(),
        functions: functions(),
        tasks: TaskStats {
            live: crate::task::task_count(),
            dropped: crate::task::dropped(),
        },
    }
}

/// `stats()` as pretty-printed JSON.
pub(crate) fn json() -> String {
    serde_json::to_string_pretty(&stats()).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
