//! Static records for named locks, listed through `inventory`.
//!
//! `profiled_mutex!` and `profiled_rwlock!` declare one [`LockSite`] per invocation and
//! submit it to `inventory`, so every named lock is known before its first use. The
//! contended paths add to a site's counters with relaxed atomics: they are statistics,
//! read without ordering against anything else.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which kind of lock a site belongs to.
///
/// ```
/// use profiled::{profiled_rwlock, LockKind, ProfiledRwLock};
/// static ROUTES: ProfiledRwLock<Vec<&str>> = profiled_rwlock!("doc-routes", Vec::new());
/// ROUTES.write().push("/");
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-routes").unwrap();
/// assert_eq!(site.kind, LockKind::RwLock);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// A [`ProfiledMutex`](crate::ProfiledMutex).
    Mutex,
    /// A [`ProfiledRwLock`](crate::ProfiledRwLock).
    RwLock,
    /// A `profiled::tokio::Mutex` (feature `tokio`).
    #[serde(rename = "async_mutex")]
    AsyncMutex,
    /// A `profiled::tokio::RwLock` (feature `tokio`).
    #[serde(rename = "async_rwlock")]
    AsyncRwLock,
    /// A `profiled::tokio::Semaphore` (feature `tokio`).
    Semaphore,
    /// A `profiled::tokio::Notify` (feature `tokio`).
    Notify,
    /// A `profiled::tokio::mpsc` channel (feature `tokio`).
    Channel,
}

impl LockKind {
    /// Lower-case name, as shown in `/debug/stats` and metrics.
    ///
    /// ```
    /// assert_eq!(profiled::LockKind::RwLock.as_str(), "rwlock"); // the `kind` label in /metrics
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::RwLock => "rwlock",
            LockKind::AsyncMutex => "async_mutex",
            LockKind::AsyncRwLock => "async_rwlock",
            LockKind::Semaphore => "semaphore",
            LockKind::Notify => "notify",
            LockKind::Channel => "channel",
        }
    }
}

/// The static record behind a named lock. Created by the lock macros; not meant to be
/// built by hand (it is public only so that macro output can name it).
#[derive(Debug)]
pub struct LockSite {
    name: &'static str,
    file: &'static str,
    line: u32,
    kind: LockKind,
    contentions: AtomicU64,
    wait_ns: AtomicU64,
    max_wait_ns: AtomicU64,
    contended_hold_ns: AtomicU64,
    /// Waits per bucket of [`WAIT_BUCKETS_NS`] (not cumulative); longer ones only
    /// in `contentions`.
    wait_buckets: [AtomicU64; WAIT_BUCKETS_NS.len()],
}

/// Upper bounds of the wait histogram: 1 us to 10 s by decades.
pub const WAIT_BUCKETS_NS: [u64; 8] = [
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
];

impl LockSite {
    #[doc(hidden)]
    pub const fn new(name: &'static str, file: &'static str, line: u32, kind: LockKind) -> Self {
        LockSite {
            name,
            file,
            line,
            kind,
            contentions: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
            max_wait_ns: AtomicU64::new(0),
            contended_hold_ns: AtomicU64::new(0),
            wait_buckets: [const { AtomicU64::new(0) }; WAIT_BUCKETS_NS.len()],
        }
    }

    /// Records one thread's wait for this lock.
    pub(crate) fn record_wait(&self, wait_ns: u64) {
        self.contentions.fetch_add(1, Ordering::Relaxed);
        self.wait_ns.fetch_add(wait_ns, Ordering::Relaxed);
        self.max_wait_ns.fetch_max(wait_ns, Ordering::Relaxed);
        if let Some(bucket) = WAIT_BUCKETS_NS.iter().position(|&le| wait_ns <= le) {
            self.wait_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The wait histogram as (upper bound in seconds, cumulative count) pairs.
    pub fn wait_histogram(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        WAIT_BUCKETS_NS
            .iter()
            .zip(&self.wait_buckets)
            .map(|(&le, count)| {
                total += count.load(Ordering::Relaxed);
                (le as f64 / 1e9, total)
            })
            .collect()
    }

    /// The site's kind.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// The site's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Source file and line of the macro invocation.
    pub(crate) fn location(&self) -> (&'static str, u32) {
        (self.file, self.line)
    }

    /// Records time the lock was held while at least one thread waited for it.
    pub(crate) fn record_contended_hold(&self, hold_ns: u64) {
        self.contended_hold_ns.fetch_add(hold_ns, Ordering::Relaxed);
    }

    /// A copy of this site's counters.
    pub fn stats(&self) -> LockSiteStats {
        LockSiteStats {
            name: self.name,
            file: self.file,
            line: self.line,
            kind: self.kind,
            contentions: self.contentions.load(Ordering::Relaxed),
            wait_ns: self.wait_ns.load(Ordering::Relaxed),
            max_wait_ns: self.max_wait_ns.load(Ordering::Relaxed),
            contended_hold_ns: self.contended_hold_ns.load(Ordering::Relaxed),
        }
    }
}

/// `inventory` entry pointing at a [`LockSite`]; emitted by the lock macros.
#[doc(hidden)]
pub struct LockSiteRef(pub &'static LockSite);

inventory::collect!(LockSiteRef);

/// Aggregates for one named lock, whatever the profile sampling settings.
///
/// Counted while contention profiling is on (block or mutex profile enabled).
///
/// ```
/// use profiled::{profiled_mutex, ProfiledMutex};
/// static LEDGER: ProfiledMutex<u64> = profiled_mutex!("doc-ledger", 0);
/// *LEDGER.lock() += 1;
/// for lock in profiled::lock_sites() {
///     println!(
///         "{} ({}:{}): {} waits, {} ns in total, longest {} ns",
///         lock.name, lock.file, lock.line, lock.contentions, lock.wait_ns, lock.max_wait_ns
///     );
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LockSiteStats {
    /// The name given to `profiled_mutex!`, or `file:line` of the invocation.
    pub name: &'static str,
    /// Source file of the macro invocation.
    pub file: &'static str,
    /// Source line of the macro invocation.
    pub line: u32,
    /// Mutex or read-write lock.
    pub kind: LockKind,
    /// Number of acquisitions that had to wait.
    pub contentions: u64,
    /// Total nanoseconds spent waiting to acquire.
    pub wait_ns: u64,
    /// Longest single wait, in nanoseconds.
    pub max_wait_ns: u64,
    /// Nanoseconds the lock was held while at least one thread waited for it,
    /// counted while the mutex profile is on (it keeps the waiter books this needs).
    pub contended_hold_ns: u64,
}

/// Every named lock site linked into the program, sorted by name then location.
///
/// ```
/// use profiled::{profiled_mutex, ProfiledMutex};
/// static QUEUE: ProfiledMutex<Vec<u32>> = profiled_mutex!("doc-queue", Vec::new());
/// QUEUE.lock().push(1);
/// let sites = profiled::lock_sites();
/// let queue = sites.iter().find(|s| s.name == "doc-queue").unwrap();
/// assert_eq!(queue.contentions, 0);
/// ```
pub fn lock_sites() -> Vec<LockSiteStats> {
    let mut sites: Vec<LockSiteStats> = inventory::iter::<LockSiteRef>
        .into_iter()
        .map(|site| site.0.stats())
        .collect();
    sites.sort_by(|a, b| (a.name, a.file, a.line).cmp(&(b.name, b.file, b.line)));
    sites
}
