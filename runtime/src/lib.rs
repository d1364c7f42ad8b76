//! Go's `net/http/pprof` for Rust services: every Go profile (CPU, heap, allocs,
//! goroutine, threadcreate, block, mutex, trace, symbol, cmdline) served by the
//! process itself and readable by `go tool pprof`, plus profiled locks, `#[profiled]`
//! functions with async wait profiles, thread and task dumps, flame graphs,
//! `/debug/stats` and Prometheus `/metrics`.
//!
//! # Recipe
//!
//! ```no_run
//! use profiled::{profiled_mutex, Config, Profiler, ProfiledMutex};
//!
//! static ACCOUNTS: ProfiledMutex<Vec<u64>> = profiled_mutex!("accounts", Vec::new());
//!
//! fn main() -> Result<(), profiled::StartError> {
//!     let _profiler = Profiler::start(Config::default())?; // serves 127.0.0.1:6060
//!     // ... threads contend on ACCOUNTS ...
//!     ACCOUNTS.lock().push(42);
//!     Ok(())
//! }
//! ```
//!
//! Then, from a shell:
//!
//! ```text
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/mutex   # who held the lock others waited for
//! go tool pprof -top http://127.0.0.1:6060/debug/pprof/block   # where the waiters waited
//! curl 'http://127.0.0.1:6060/debug/pprof/mutex?debug=1'         # Go's legacy text
//! ```
//!
//! # Functions: `#[profiled]`
//!
//! Put `#[profiled]` on any function or method (sync, `async`, generic, `unsafe`,
//! returning `impl Future`, or an `async-trait` method) to count its calls and time
//! in `/debug/stats` and [`functions`]. For async functions it counts polls, time
//! inside `poll` (busy) and time `Pending` (idle): idle time is waiting, and goes to
//! the block profile under the *logical* async stack, outermost `#[profiled]` frame
//! first, whatever executor runs it.
//!
//! ```
//! use profiled::profiled;
//!
//! #[profiled]
//! fn checksum(data: &[u8]) -> u32 {
//!     data.iter().map(|&b| u32::from(b)).sum()
//! }
//!
//! #[profiled]
//! async fn fetch(id: u64) -> Result<u64, Box<dyn std::error::Error>> {
//!     let parsed: u64 = id.to_string().parse()?; // `?` and coercions work as written
//!     Ok(parsed)
//! }
//!
//! profiled::set_function_profiling(true); // Profiler::start does this
//! assert_eq!(checksum(&[1, 2, 3]), 6);
//! let stats = profiled::functions();
//! let site = stats.iter().find(|f| f.name.ends_with("::checksum")).unwrap();
//! assert_eq!(site.calls, 1);
//! # drop(fetch(1));
//! ```
//!
//! With function profiling off (the default until a [`Profiler`] starts), a call
//! costs one relaxed load and a branch; on, about 26 ns on the CI machine, most of it
//! two time-stamp-counter reads (see BENCHMARKS.md).
//!
//! ## Argument `name = "..."`
//!
//! The name shown in profiles and stats; the default is the module path and the
//! function's name (for methods, without the type: name them when that is ambiguous).
//!
//! ```
//! use profiled::profiled;
//!
//! struct Cart;
//! impl Cart {
//!     #[profiled(name = "Cart::checkout")]
//!     fn checkout(&self) -> Vec<&'static str> {
//!         profiled::current_logical_stack()
//!     }
//! }
//!
//! profiled::set_function_profiling(true);
//! assert_eq!(Cart.checkout(), ["Cart::checkout"]);
//! ```
//!
//! ## Mistakes are compile errors
//!
//! ```compile_fail
//! #[profiled::profiled]
//! const fn answer() -> u32 { 42 } // error: cannot instrument a `const fn`
//! ```
//!
//! ```compile_fail
//! #[profiled::profiled(level = "debug")] // error: unknown argument `level`
//! fn handler() {}
//! ```
//!
//! ```compile_fail
//! #[profiled::profiled]
//! struct NotAFunction; // error: applies to functions and methods
//! ```
//!
//! # What is recorded
//!
//! * **block**: each wait for a [`ProfiledMutex`], [`ProfiledRwLock`] or
//!   [`ProfiledCondvar`], under the waiter's stack at the blocking call, sampled by
//!   [`set_block_rate`] exactly as Go 1.17+ samples.
//! * **mutex**: at each unlock that others waited on, the holder's stack is charged
//!   the waiting done during its hold (3 waiters for 100 ms charge 300 ms, as Go
//!   1.22+), 1 in [`mutex_fraction`] kept and scaled, as Go 1.20+.
//!
//! Both are gzip'd `profile.proto` by default (`go tool pprof` reads them) and Go's
//! legacy text with `?debug=1`. Stacks are symbolized in-process.
//!
//! # CPU and heap profiles
//!
//! `/debug/pprof/profile?seconds=N` is a CPU profile (100 Hz by default). The heap
//! profiles (`/debug/pprof/heap`, `/debug/pprof/allocs`) need the sampling allocator:
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: profiled::ProfiledAllocator = profiled::ProfiledAllocator::system();
//! # fn main() {}
//! ```
//!
//! ```text
//! go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//! go tool pprof -top -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap
//! ```
//!
//! [`mem_stats`], [`trigger_gc`] and [`free_os_memory`] are Go's memory statistics
//! and GC controls as far as Rust has them (see their docs).
//!
//! # Costs
//!
//! The uncontended lock and unlock are parking_lot's plus one relaxed load and, for an
//! exclusive hold, one relaxed store each of the owner's id (for dumps and deadlock
//! detection, [`deadlock`]); they read no clock. Stack capture walks frame pointers when the build keeps them, which this
//! workspace does in `.cargo/config.toml`; do the same in your service:
//!
//! ```toml
//! # .cargo/config.toml
//! [build]
//! rustflags = ["-C", "force-frame-pointers=yes"]
//! ```
//!
//! Without it, capture falls back to DWARF unwinding (tens of times slower, see the
//! `stack_capture` rows of BENCHMARKS.md; still only on contended paths).

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod alloc;
#[cfg(feature = "axum")]
pub mod axum;
mod clock;
mod config;
mod control;
mod cpu;
pub mod deadlock;
mod hooks;
pub(crate) mod http;
mod instrument;
pub mod labels;
mod memory;
pub mod metrics;
mod named;
mod procfs;
mod profile;
mod profiler;
pub mod push;
mod registry;
mod rng;
mod site;
mod stack;
pub mod stats;
mod sync;
pub mod task;
pub mod thread;
#[cfg(feature = "tokio")]
pub mod tokio;
mod trace;
mod zeroed;

pub use alloc::{
    DEFAULT_MEM_PROFILE_RATE, ProfiledAllocator, mem_profile_rate, set_mem_profile_rate,
};
pub use config::{Config, ConfigError, DEFAULT_MAX_CONNECTIONS, ENV_VARS, MAX_STACKS_LIMIT};
pub use control::{block_rate, mutex_fraction, set_block_rate, set_mutex_fraction};
pub use cpu::{DEFAULT_CPU_PROFILE_HZ, MAX_CPU_PROFILE_HZ};
pub use http::ProfiledService;
pub use instrument::{current_logical_stack, function_profiling, set_function_profiling};
pub use memory::{
    MemStats, ReclaimReport, free_os_memory, mem_stats, register_reclaim_hook, trigger_gc,
};
pub use named::{NamedProfile, lookup, profiles};
pub use profiled_macros::{profiled, profiled_mutex, profiled_rwlock};
pub use profiler::{Profiler, StartError};
pub use site::{FnKind, FunctionStats, LockKind, LockSiteStats, functions, lock_sites};
pub use stats::{
    ProcessStats, RegistryStats, SYMBOLIZER_CACHE_CAP_BYTES, SelfStats, Settings, Stats, TaskStats,
    stats,
};
pub use sync::{
    MappedProfiledMutexGuard, MappedProfiledRwLockReadGuard, MappedProfiledRwLockWriteGuard,
    ProfiledCondvar, ProfiledMutex, ProfiledMutexGuard, ProfiledRwLock, ProfiledRwLockReadGuard,
    ProfiledRwLockUpgradableReadGuard, ProfiledRwLockWriteGuard, RawProfiledCondvar,
    RawProfiledMutex, RawProfiledRwLock,
};
pub use task::task_count;
pub use thread::thread_count;

/// The unwinder stack capture uses in this build: `"frame-pointer"` or `"dwarf"`.
///
/// ```
/// assert!(["frame-pointer", "dwarf"].contains(&profiled::STACK_UNWINDER));
/// assert_eq!(profiled::stats().settings.stack_unwinder, profiled::STACK_UNWINDER);
/// ```
pub const STACK_UNWINDER: &str = stack::UNWINDER;

/// Support for macro output. Not public API: may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::instrument::{Instrumented, SyncCall, enter, instrument};
    pub use crate::labels::{LabelScope, scope as labels_scope};
    pub use crate::site::{FnKind, FnSite, FnSiteRef, LockKind, LockSite, LockSiteRef};
    pub use crate::sync::{mutex_with_site, rwlock_with_site};
    pub use inventory;

    /// Enters the scope of `#[profiled(labels(...))]` until the guard drops.
    #[inline]
    pub fn labels_enter(pairs: &'static [(&'static str, &'static str)]) -> LabelScope {
        crate::labels::enter(pairs)
    }
}

#[doc(hidden)]
pub use hooks::__bench;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use hooks::__fuzz;
