//! Pushing profiles to Grafana Pyroscope, for processes nothing can scrape.
//!
//! Every [`PushConfig::interval`] the push thread (`profiled-push`) collects a CPU
//! profile of the interval minus 1 s, the differences since the previous push of
//! `allocs` (as godeltaprof's `memory`: allocations counted since then, in-use
//! values absolute), `block` and `mutex`, and a `goroutine` profile, and queues them
//! as one `PushRequest`. A second thread (`profiled-push-send`) sends the queue
//! oldest first and retries with exponential backoff on transport errors, 408, 429
//! and 5xx; the queue holds [`MAX_QUEUED_BATCHES`], and when a new batch finds it
//! full the oldest is dropped and counted, so a dead server costs bounded memory.
//! Nothing here runs on the application's threads.
//!
//! The CPU profile is one at a time: while a push round's CPU profile runs, a
//! scrape of `/debug/pprof/profile` gets Go's 500 (`cpu profiling already in
//! use`), and a round that finds a scrape's CPU profile running pushes no CPU
//! profile (counted as `cpu_skipped`).
//!
//! Set it up through [`Config::push`](crate::Config::push) or the `PROFILED_PUSH_*`
//! variables ([`PushConfig::from_lookup`]); it needs the `push` feature.

mod config;
#[cfg(feature = "push")]
mod wire;

#[cfg(feature = "push")]
mod client;
#[cfg(feature = "push")]
mod collect;
#[cfg(feature = "push")]
mod pusher;

#[cfg(feature = "push")]
pub(crate) use collect::Collector;
pub use config::{
    DEFAULT_PUSH_INTERVAL_SECONDS, DEFAULT_PUSH_TIMEOUT_SECONDS, MIN_PUSH_INTERVAL_SECONDS,
    PushAuth, PushConfig, PushConfigError,
};
#[cfg(feature = "push")]
pub(crate) use pusher::Pusher;

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Batches waiting to be sent at most; a newer batch pushes out the oldest.
pub const MAX_QUEUED_BATCHES: usize = 4;

/// What pushing has done since the process started, for `/debug/stats` and
/// `/metrics`.
///
/// ```
/// let stats = profiled::push::stats();
/// assert_eq!(stats.pushes, 0); // nothing pushes in this doctest
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushStats {
    /// Whether a push thread is running.
    pub running: bool,
    /// Batches the server accepted.
    pub pushes: u64,
    /// Send attempts that failed (each retry counts).
    pub failures: u64,
    /// Bytes of accepted request bodies.
    pub bytes: u64,
    /// Batches given up: pushed out of a full queue, or rejected by the server with
    /// a status that retrying cannot fix.
    pub dropped_batches: u64,
    /// Rounds that found the CPU profiler busy (a scrape) and pushed no CPU profile.
    pub cpu_skipped: u64,
    /// Batches waiting to be sent.
    pub queued: u64,
    /// Unix time in nanoseconds of the last accepted push; 0 if none.
    pub last_push_unix_nanos: i64,
    /// The last failure's message, if any push failed.
    pub last_error: Option<String>,
}

/// Counters behind [`stats`]. Relaxed: independent counters, read for reporting.
struct Counters {
    running: AtomicU64,
    pushes: AtomicU64,
    failures: AtomicU64,
    bytes: AtomicU64,
    dropped_batches: AtomicU64,
    cpu_skipped: AtomicU64,
    queued: AtomicU64,
    last_push_unix_nanos: AtomicI64,
    last_error: Mutex<Option<String>>,
}

static COUNTERS: Counters = Counters {
    running: AtomicU64::new(0),
    pushes: AtomicU64::new(0),
    failures: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    dropped_batches: AtomicU64::new(0),
    cpu_skipped: AtomicU64::new(0),
    queued: AtomicU64::new(0),
    last_push_unix_nanos: AtomicI64::new(0),
    last_error: Mutex::new(None),
};

/// What pushing has done so far (all zero when no push was configured).
pub fn stats() -> PushStats {
    let c = &COUNTERS;
    PushStats {
        running: c.running.load(Ordering::Relaxed) > 0,
        pushes: c.pushes.load(Ordering::Relaxed),
        failures: c.failures.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
        dropped_batches: c.dropped_batches.load(Ordering::Relaxed),
        cpu_skipped: c.cpu_skipped.load(Ordering::Relaxed),
        queued: c.queued.load(Ordering::Relaxed),
        last_push_unix_nanos: c.last_push_unix_nanos.load(Ordering::Relaxed),
        last_error: c
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone(),
    }
}

#[cfg(feature = "push")]
fn set_last_error(message: String) {
    *COUNTERS
        .last_error
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message);
}
