//! Who holds what right now, and deadlocks: lock owners, the waits in progress, and
//! the threads and tasks that can never wake.
//!
//! Every exclusive profiled lock (`ProfiledMutex`, a `ProfiledRwLock` writer or
//! upgradable reader, `profiled::tokio::Mutex`, a `profiled::tokio::RwLock` writer)
//! knows its owner, and every thread or task blocked on one is in a table of waits.
//! Thread and task dumps (`goroutine?debug=2`) say what each waiter waits for and who
//! holds it; [`check`] walks the wait-for graph (waiter → lock → owner → the lock that
//! owner waits for ...) and reports cycles, and waiters on a lock whose owner exited
//! holding it. The same findings are Go's `goroutineleak` profile
//! (`/debug/pprof/goroutineleak`), `profiled_deadlocked_threads` in `/metrics` and
//! `deadlocked` in `/debug/stats`. Nothing here runs on the lock fast paths but the
//! owner store (`owner.rs`).
//!
//! ```
//! use profiled::profiled_mutex;
//! use std::sync::Arc;
//! let (a, b) = (Arc::new(profiled_mutex!("a", 0)), Arc::new(profiled_mutex!("b", 0)));
//! let _held = a.lock();
//! let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
//! // A thread that holds `b` and waits for `a` does not deadlock alone: we run.
//! let waiter = std::thread::spawn(move || {
//!     let _b = b2.lock();
//!     *a2.lock() += 1;
//! });
//! while profiled::deadlock::waits_in_progress() == 0 {
//!     std::thread::yield_now();
//! }
//! assert!(profiled::deadlock::check().is_empty());
//! drop(_held);
//! waiter.join().unwrap();
//! ```
//!
//! Layout: `owner.rs` is the owner word of each lock (hot); `waits.rs` the table of
//! waits in progress; `graph.rs` the wait-for graph and its findings; `report.rs`
//! turns findings into [`Deadlock`]s and dump lines; `watch.rs` is the optional
//! background check ([`on_deadlock`]).

pub(crate) mod graph;
pub(crate) mod owner;
mod report;
pub(crate) mod waits;
mod watch;

pub use report::{Deadlock, DeadlockCause, LockRef, Stuck};
pub(crate) use report::{Names, describe_waits};
pub(crate) use watch::Watch;
pub use watch::on_deadlock;

/// Every set of threads and tasks that can never wake, now: the members of each
/// wait-for cycle and the waiters on locks whose owner exited holding them, with
/// whoever waits behind them. Runs on request only; costs two readings of the wait
/// table (microseconds) and a read of `/proc/self/task`.
pub fn check() -> Vec<Deadlock> {
    let findings = graph::detect();
    if findings.is_empty() {
        return Vec::new();
    }
    let names = Names::read();
    findings
        .iter()
        .map(|finding| report::deadlock(finding, &names))
        .collect()
}

/// A finding as a public report (for the `goroutineleak` profile).
pub(crate) fn report_of(finding: &graph::Finding, names: &Names) -> Deadlock {
    report::deadlock(finding, names)
}

/// How many threads and tasks can never wake (every member of [`check`]'s findings
/// and every waiter behind them).
pub fn stuck_count() -> usize {
    graph::detect()
        .iter()
        .map(|finding| finding.waits().count())
        .sum()
}

/// The `deadlock` section of `/debug/stats`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
#[non_exhaustive]
pub struct DeadlockStats {
    /// Threads and tasks blocked on a profiled lock now.
    pub waiting: usize,
    /// Of those, how many can never wake (as [`stuck_count`]).
    pub deadlocked: usize,
    /// Wait-for cycles among them.
    pub cycles: usize,
    /// Waits not tracked because the wait table was full.
    pub waits_dropped: u64,
}

/// The `deadlock` section of `/debug/stats` now.
pub(crate) fn stats() -> DeadlockStats {
    let findings = graph::detect();
    DeadlockStats {
        waiting: waits_in_progress(),
        deadlocked: findings.iter().map(|f| f.waits().count()).sum(),
        cycles: findings
            .iter()
            .filter(|f| f.cause == graph::Cause::Cycle)
            .count(),
        waits_dropped: waits_dropped(),
    }
}

/// Threads and tasks blocked on a profiled lock right now.
pub fn waits_in_progress() -> usize {
    waits::snapshot().len()
}

/// Waits that were not tracked because the wait table was full (more than
/// [`WAIT_SLOTS`] at once).
pub fn waits_dropped() -> u64 {
    waits::dropped()
}

/// Waits tracked at once.
pub const WAIT_SLOTS: usize = waits::WAIT_SLOTS;
