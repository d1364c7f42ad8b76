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
//! The uncontended lock and unlock are parking_lot's plus one relaxed load; they read
//! no clock. Stack capture walks frame pointers when the build keeps them, which this
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
pub(crate) mod http;
mod instrument;
mod memory;
pub mod metrics;
mod profile;
mod profiler;
mod profiles;
pub mod push;
mod registry;
mod site;
mod stack;
mod stats;
mod sync;
pub mod task;
pub mod thread;
mod threads;
mod trace;

pub use alloc::{
    DEFAULT_MEM_PROFILE_RATE, ProfiledAllocator, mem_profile_rate, set_mem_profile_rate,
};
pub use config::{Config, ConfigError, MAX_STACKS_LIMIT};
pub use control::{block_rate, mutex_fraction, set_block_rate, set_mutex_fraction};
pub use cpu::{DEFAULT_CPU_PROFILE_HZ, MAX_CPU_PROFILE_HZ};
pub use http::ProfiledService;
pub use instrument::{current_logical_stack, function_profiling, set_function_profiling};
pub use memory::{
    MemStats, ReclaimReport, free_os_memory, mem_stats, register_reclaim_hook, trigger_gc,
};
pub use profiled_macros::{profiled, profiled_mutex, profiled_rwlock};
pub use profiler::{Profiler, StartError};
pub use profiles::{NamedProfile, lookup, profiles};
pub use site::{FnKind, FunctionStats, LockKind, LockSiteStats, functions, lock_sites};
pub use stats::{ProcessStats, RegistryStats, Settings, Stats, TaskStats, stats};
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
    pub use crate::site::{FnKind, FnSite, FnSiteRef, LockKind, LockSite, LockSiteRef};
    pub use crate::sync::{mutex_with_site, rwlock_with_site};
    pub use inventory;

    /// Records one mutex-profile event for each of `n` distinct stacks, made from
    /// the caller's real stack with its innermost frame replaced by successive code
    /// addresses of `base`, so that encoding has `n` real addresses to symbolize.
    /// Returns how many were recorded. For the `encode` bench.
    pub fn fill_mutex_profile(n: usize, base: usize) -> usize {
        let registry = crate::registry::get();
        let mut frames = crate::stack::Stack::capture().frames().to_vec();
        if frames.is_empty() {
            return 0;
        }
        (0..n)
            .filter(|i| {
                frames[0] = base + i;
                let id = registry.stacks.intern(&frames);
                registry.mutex.add(id, crate::registry::COUNT_SCALE, 1_000);
                id.is_some()
            })
            .count()
    }

    /// Captures the caller's stack with this build's unwinder; returns its depth.
    /// For the `locks` bench.
    pub fn capture_stack_depth() -> usize {
        crate::stack::Stack::capture().frames().len()
    }

    /// Takes a thread dump and returns (threads listed, threads with a stack, time the
    /// capture took). For the dump stress test and its latency numbers.
    pub fn thread_dump_summary() -> (usize, usize, std::time::Duration) {
        let dump = crate::threads::dump();
        let with_stack = dump.threads.iter().filter(|t| !t.frames.is_empty()).count();
        (dump.threads.len(), with_stack, dump.elapsed)
    }

    /// Starts a CPU profile at `hz` through the same sampler `/debug/pprof/profile`
    /// uses; dropping the result stops it. `None` when one is already running.
    /// For the `cpu` bench.
    pub fn start_cpu_profile(hz: i32) -> Option<Box<dyn std::any::Any + Send>> {
        crate::cpu::CpuSession::start(hz)
            .ok()
            .map(|session| Box::new(session) as Box<dyn std::any::Any + Send>)
    }

    /// Captures the caller's stack with DWARF unwinding; returns its depth.
    /// For the `locks` bench.
    pub fn capture_stack_depth_dwarf() -> usize {
        crate::stack::Stack::capture_dwarf().frames().len()
    }
}

/// Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`, off by
/// default). Not public API: thin wrappers over crate internals that may change in
/// any release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::site::FnSite;

    /// `Query::parse(raw)`'s decoded pairs, in order.
    pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
        crate::http::Query::parse(raw).pairs().to_vec()
    }

    /// `Query::parse(raw).value(key)`: Go's `FormValue`.
    pub fn query_value(raw: Option<&str>, key: &str) -> String {
        crate::http::Query::parse(raw).value(key).to_owned()
    }

    /// `Query::parse(raw).atoi(key)`: `strconv.Atoi(FormValue(key))`, error ignored.
    pub fn query_atoi(raw: Option<&str>, key: &str) -> i64 {
        crate::http::Query::parse(raw).atoi(key)
    }

    /// Go's `strconv.Atoi` with the error ignored, as the handlers use it.
    pub fn atoi(s: &str) -> i64 {
        crate::http::atoi(s)
    }

    /// Go's `strconv.ParseInt(s, 10, 64)`.
    pub fn parse_int(s: &str) -> Option<i64> {
        crate::http::parse_int(s)
    }

    /// Go's `strconv.ParseUint(s, 0, 64)`, as `/debug/pprof/symbol` parses addresses.
    pub fn parse_uint(s: &str) -> Option<u64> {
        crate::http::parse_uint(s)
    }

    /// The `/debug/pprof/symbol` response body for a `+`-separated list of addresses.
    pub fn symbol_lookup(words: &[u8]) -> String {
        crate::http::symbol_lookup(words)
    }

    /// In a row's frames, separates the real stack from its logical chain.
    pub const SEPARATOR: usize = crate::instrument::logical::SEPARATOR;

    /// The frame that stands for `site` in a logical chain (after [`SEPARATOR`]).
    pub fn logical_frame(site: &'static FnSite) -> usize {
        crate::instrument::logical::encode(site)
    }

    /// Which text encoder [`encode_rows`] runs for `debug=1`.
    #[derive(Clone, Copy, Debug)]
    pub enum TextFormat {
        /// Go's contention text with a header (`mutex` prints its sampling period).
        Contention {
            /// `mutex` or `contention`.
            header: &'static str,
            /// Printed as `sampling period=N` when present.
            sampling_period: Option<i64>,
        },
        /// Go's count-profile text (`goroutine`, `threadcreate`).
        Count {
            /// The profile's name in the header.
            name: &'static str,
        },
    }

    /// What [`encode_rows`] wrote for one profile.
    #[derive(Debug)]
    pub struct Encoded {
        /// gzip'd `profile.proto`.
        pub proto: Vec<u8>,
        /// `debug=1` text.
        pub text: Vec<u8>,
        /// Folded stacks.
        pub folded: Vec<u8>,
        /// The flame graph, when asked for.
        pub svg: Option<Vec<u8>>,
    }

    /// Builds a profile from rows of (frames innermost first, values) exactly as
    /// the contention profiles are built (symbolized, trimmed, merged, ordered),
    /// sets its sample types, and writes it with every encoder.
    ///
    /// Real frames must be code addresses (or any value without the top bit set);
    /// frames after [`SEPARATOR`] must come from [`logical_frame`].
    pub fn encode_rows(
        rows: &[(Vec<usize>, Vec<i64>)],
        sample_types: &[(&'static str, &'static str)],
        default_sample_type: Option<&'static str>,
        comments: Vec<String>,
        text_format: TextFormat,
        svg: bool,
    ) -> std::io::Result<Encoded> {
        use crate::profile::{ValueType, build, folded, goroutine, proto, text};
        let mut profile = build::from_rows(
            rows.iter()
                .map(|(frames, values)| (frames.as_slice(), values.clone())),
            comments,
        );
        profile.sample_types = sample_types
            .iter()
            .map(|&(ty, unit)| ValueType { ty, unit })
            .collect();
        profile.default_sample_type = default_sample_type;
        if let Some(&first) = profile.sample_types.first() {
            profile.period_type = first;
        }
        profile.period = 1;
        let mut encoded = Encoded {
            proto: Vec::new(),
            text: Vec::new(),
            folded: Vec::new(),
            svg: None,
        };
        proto::write(&profile, &mut encoded.proto)?;
        match text_format {
            TextFormat::Contention {
                header,
                sampling_period,
            } => text::write_contention(&profile, header, sampling_period, &mut encoded.text)?,
            TextFormat::Count { name } => {
                goroutine::write_count_text(&profile, name, &mut encoded.text)?
            }
        }
        folded::write(&profile, &mut encoded.folded)?;
        if svg {
            let mut out = Vec::new();
            folded::write_svg(&profile, "fuzz", &mut out)?;
            encoded.svg = Some(out);
        }
        Ok(encoded)
    }
}
