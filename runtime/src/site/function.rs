//! Static records for `#[profiled]` functions, listed through `inventory`.
//!
//! Counters are relaxed atomics: statistics, ordered against nothing else. Times are
//! kept in clock ticks (`clock::ticks`, the TSC on x86_64) and converted to
//! nanoseconds when read.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;

/// Whether a site times a plain call or an instrumented future.
///
/// ```
/// use profiled::{profiled, FnKind};
/// #[profiled]
/// async fn fetch() -> u32 {
///     7
/// }
/// # drop(fetch());
/// let site = profiled::functions().into_iter().find(|f| f.name.ends_with("::fetch")).unwrap();
/// assert_eq!(site.kind, FnKind::Async);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FnKind {
    /// A plain function: calls and wall time.
    Sync,
    /// An `async fn` or a function returning a future: polls, busy and idle time.
    Async,
}

/// The static record behind a `#[profiled]` function. Created by the macro; not
/// meant to be built by hand (public only so that macro output can name it).
#[derive(Debug)]
pub struct FnSite {
    name: &'static str,
    file: &'static str,
    line: u32,
    kind: FnKind,
    total_ticks: AtomicU64,
    max_ticks: AtomicU64,
    polls: AtomicU64,
    busy_ticks: AtomicU64,
    idle_ticks: AtomicU64,
    /// Calls per duration bucket, bucket `k` holding durations under `16^k` ticks
    /// (not cumulative; the last bucket also holds everything longer). Their sum
    /// is the number of calls.
    duration_buckets: [AtomicU64; DURATION_BUCKETS],
}

/// Duration histogram buckets: powers of 16 ticks (with a 2.5 GHz counter: 6 ns,
/// 100 ns, 1.6 us, 26 us, 0.4 ms, 6.7 ms, 0.1 s, 1.7 s, 27 s, 7 min).
const DURATION_BUCKETS: usize = 10;

impl FnSite {
    #[doc(hidden)]
    pub const fn new(name: &'static str, file: &'static str, line: u32, kind: FnKind) -> Self {
        FnSite {
            name,
            file,
            line,
            kind,
            total_ticks: AtomicU64::new(0),
            max_ticks: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            busy_ticks: AtomicU64::new(0),
            idle_ticks: AtomicU64::new(0),
            duration_buckets: [const { AtomicU64::new(0) }; DURATION_BUCKETS],
        }
    }

    /// The function's name (default: module path and fn name).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Source file of the function.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Source line of the function's attribute.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// A finished call (sync) or a completed future (async) that took `ticks`.
    #[inline(always)]
    pub(crate) fn record_call(&self, ticks: u64) {
        // No separate call counter: the buckets add up to the calls (one atomic add
        // fewer per call).
        self.total_ticks.fetch_add(ticks, Ordering::Relaxed);
        // ceil(bits / 4): the smallest k with ticks < 16^k.
        let bucket = (u64::BITS - ticks.leading_zeros()).div_ceil(4) as usize;
        self.duration_buckets[bucket.min(DURATION_BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        // A load first: the common case (not a new maximum) writes nothing.
        if ticks > self.max_ticks.load(Ordering::Relaxed) {
            self.max_ticks.fetch_max(ticks, Ordering::Relaxed);
        }
    }

    /// One poll of an instrumented future that ran for `ticks`.
    #[inline(always)]
    pub(crate) fn record_poll(&self, ticks: u64) {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.busy_ticks.fetch_add(ticks, Ordering::Relaxed);
    }

    /// Time an instrumented future spent `Pending` before its next poll (or drop).
    #[inline(always)]
    pub(crate) fn record_idle(&self, ticks: u64) {
        self.idle_ticks.fetch_add(ticks, Ordering::Relaxed);
    }

    /// The call-duration histogram as (upper bound in seconds, cumulative count)
    /// pairs; calls longer than the last bound count only in the total.
    pub fn duration_histogram(&self) -> Vec<(f64, u64)> {
        let seconds_per_tick = clock::ticks_to_ns(1 << 40) as f64 / (1u64 << 40) as f64 / 1e9;
        let mut total = 0;
        self.duration_buckets[..DURATION_BUCKETS - 1]
            .iter()
            .enumerate()
            .map(|(k, count)| {
                total += count.load(Ordering::Relaxed);
                ((1u64 << (4 * k)) as f64 * seconds_per_tick, total)
            })
            .collect()
    }

    /// Sync or async.
    pub fn kind(&self) -> FnKind {
        self.kind
    }

    /// A copy of this site's counters, times in nanoseconds.
    pub fn stats(&self) -> FunctionStats {
        let ns = |ticks: &AtomicU64| clock::ticks_to_ns(ticks.load(Ordering::Relaxed));
        FunctionStats {
            name: self.name,
            file: self.file,
            line: self.line,
            kind: self.kind,
            calls: self
                .duration_buckets
                .iter()
                .map(|bucket| bucket.load(Ordering::Relaxed))
                .sum(),
            total_ns: ns(&self.total_ticks),
            max_ns: ns(&self.max_ticks),
            polls: self.polls.load(Ordering::Relaxed),
            busy_ns: ns(&self.busy_ticks),
            idle_ns: ns(&self.idle_ticks),
        }
    }
}

/// `inventory` entry pointing at a [`FnSite`]; emitted by `#[profiled]`.
#[doc(hidden)]
pub struct FnSiteRef(pub &'static FnSite);

inventory::collect!(FnSiteRef);

/// Aggregates for one `#[profiled]` function, counted while function profiling is on.
///
/// ```
/// use profiled::profiled;
/// #[profiled]
/// fn parse(line: &str) -> usize {
///     line.split(',').count()
/// }
/// profiled::set_function_profiling(true);
/// parse("a,b");
/// let stats = profiled::functions().into_iter().find(|f| f.name.ends_with("::parse")).unwrap();
/// assert_eq!(stats.calls, 1);
/// assert!(stats.max_ns <= stats.total_ns);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FunctionStats {
    /// The function's name (default: module path and fn name).
    pub name: &'static str,
    /// Source file.
    pub file: &'static str,
    /// Source line of the attribute.
    pub line: u32,
    /// Sync or async.
    pub kind: FnKind,
    /// Finished calls: sync calls that returned or panicked; futures that completed,
    /// panicked, or were dropped (cancelled) after their first poll.
    pub calls: u64,
    /// Total wall time of finished calls or futures, from the call or first poll to
    /// its return, panic, completion or drop.
    pub total_ns: u64,
    /// Longest single call or future.
    pub max_ns: u64,
    /// Polls of the future (async only).
    pub polls: u64,
    /// Time spent inside `poll` (async only).
    pub busy_ns: u64,
    /// Time spent `Pending` between polls (async only): the future's waiting.
    pub idle_ns: u64,
}

/// Every `#[profiled]` function linked into the program, sorted by name then location.
///
/// ```
/// use profiled::profiled;
/// #[profiled(name = "doc::never_called")]
/// fn never_called() {}
/// // Listed before its first call, with zero calls.
/// let site = profiled::functions().into_iter().find(|f| f.name == "doc::never_called").unwrap();
/// assert_eq!(site.calls, 0);
/// # never_called();
/// ```
pub fn functions() -> Vec<FunctionStats> {
    let mut sites: Vec<FunctionStats> = inventory::iter::<FnSiteRef>
        .into_iter()
        .map(|site| site.0.stats())
        .collect();
    sites.sort_by(|a, b| (a.name, a.file, a.line).cmp(&(b.name, b.file, b.line)));
    sites
}
