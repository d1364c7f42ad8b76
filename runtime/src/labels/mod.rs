//! Profile labels: Go's `pprof.Do` for Rust, on every profile.
//!
//! Code that runs inside a scope carries its labels, and every sample taken there
//! carries them too: CPU and wall-clock samples, goroutine (threads and tasks), block
//! (the waiter's labels), mutex (the holder's labels at unlock), heap and allocs
//! (the allocating code's labels). `go tool pprof -tagfocus route=/checkout`,
//! `-tagignore`, `-tags` and `-tagroot` then slice any of those profiles by request
//! type, tenant or job.
//!
//! ```
//! use profiled::labels;
//!
//! fn render(page: &str) -> usize {
//!     page.len()
//! }
//!
//! // Sync code: the labels hold for the closure.
//! let n = labels::with(&[("route", "/checkout")], || render("cart"));
//! assert_eq!(n, 4);
//!
//! // Nested scopes add to the outer labels and override the same keys.
//! labels::with(&[("route", "/checkout"), ("tier", "gold")], || {
//!     labels::with(&[("route", "/browse")], || {
//!         assert_eq!(
//!             labels::current().pairs(),
//!             [("route", "/browse".to_string()), ("tier", "gold".to_string())]
//!         );
//!     })
//! });
//! assert!(labels::current().pairs().is_empty());
//! ```
//!
//! Futures carry their labels on every poll, whichever thread polls them:
//!
//! ```
//! use profiled::labels::{self, LabelSet};
//!
//! # async fn checkout() {}
//! async fn handle(tenant: &str) {
//!     // Values known only at run time: interned once into the bounded table.
//!     let tenant = LabelSet::new(&[("tenant", tenant)]);
//!     tenant.scope(labels::scope(&[("route", "/checkout")], checkout())).await
//! }
//! # drop(handle("acme"));
//! ```
//!
//! Spawns inherit the spawner's labels, as goroutines do: [`crate::thread::spawn`]
//! and (feature `tokio`) [`crate::task::spawn`]. `#[profiled(labels(route =
//! "/checkout"))]` puts a scope around a function's body.
//!
//! # Cost and bounds
//!
//! The current set is one `u32` in a thread local: the signal handlers read it with
//! a plain load, and code outside every scope pays nothing. Entering a scope of
//! `'static` pairs is a lookup in a small per-thread cache keyed by (outer set,
//! pairs); the first entry of each combination interns the merged set into a
//! bounded, append-only table ([`crate::Config::max_label_sets`], default
//! [`DEFAULT_MAX_LABEL_SETS`]). When the table is full, new sets become the single
//! set `profiled_labels=overflow`, counted in `/debug/stats` (`labels.overflowed`)
//! and `/metrics` (`profiled_label_overflow_total`); the table never grows beyond
//! its capacity. A set keeps at most 32 pairs and values of at most 256 bytes.
//!
//! The keys `span_id` and `trace_id` (set by `SpanLabels`, feature `tracing`) are
//! unique per span: they are kept on CPU, wall-clock,
//! goroutine and block samples, and left off heap, allocs and mutex samples, whose
//! tables live as long as the process (those profiles say so in a comment;
//! [`keep_ids_on_every_profile`] keeps them there too).

mod current;
mod scope;
mod table;
#[cfg(feature = "tracing")]
mod tracing;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use scope::Scoped;
pub use table::{DEFAULT_MAX_LABEL_SETS, MAX_LABEL_SETS_LIMIT};
#[cfg(feature = "tracing")]
pub use tracing::{SpanLabels, SpanLabelsBuilder};

#[doc(hidden)]
pub use current::Restore as LabelScope;
pub(crate) use current::Restore;
pub(crate) use current::id as current_id;
#[cfg(feature = "tokio")]
pub(crate) use current::{reset_pending, take_pending};
pub(crate) use table::{HIGH_CARDINALITY, NONE, set_capacity};

/// Runs `f` with `pairs` added to the current thread's labels (overriding the
/// outer scope's values of the same keys), as Go's `pprof.Do`.
///
/// ```
/// let route = profiled::labels::with(&[("route", "/browse")], || {
///     profiled::labels::current().get("route")
/// });
/// assert_eq!(route.as_deref(), Some("/browse"));
/// ```
#[inline]
pub fn with<R>(pairs: &'static [(&'static str, &'static str)], f: impl FnOnce() -> R) -> R {
    let _restore = enter(pairs);
    f()
}

/// The future `future` with `pairs` added to the labels of whatever thread polls
/// it, on every poll (across `.await` points, executors and threads).
///
/// ```
/// # async fn render() -> usize { 3 }
/// async fn checkout() -> usize {
///     profiled::labels::scope(&[("route", "/checkout")], render()).await
/// }
/// # drop(checkout());
/// ```
pub fn scope<F: Future>(pairs: &'static [(&'static str, &'static str)], future: F) -> Scoped<F> {
    Scoped::new(scope::Source::Static(pairs), future)
}

/// Enters a scope of `pairs` until the guard drops (`#[profiled(labels(..))]`).
#[inline]
pub(crate) fn enter(pairs: &'static [(&'static str, &'static str)]) -> Restore {
    let parent = current::id();
    Restore::enter(current::merged_static(parent, pairs))
}

/// The labels of the current thread (or task, while it is polled).
///
/// Hand it to work that runs elsewhere to carry the labels along, as
/// `profiled::thread::spawn` and `profiled::task::spawn` do.
pub fn current() -> LabelSet {
    LabelSet { id: current::id() }
}

/// An interned label set: cheap to copy, entered with [`LabelSet::with`] and
/// [`LabelSet::scope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct LabelSet {
    id: u32,
}

impl LabelSet {
    /// Interns `pairs`, whose values may be owned (a tenant, a job name), into the
    /// bounded table; a later duplicate key wins. When the table is full this is
    /// the `profiled_labels=overflow` set, counted.
    ///
    /// ```
    /// let job = String::from("nightly-report");
    /// let labels = profiled::labels::LabelSet::new(&[("job", &job)]);
    /// assert_eq!(labels.get("job").as_deref(), Some("nightly-report"));
    /// ```
    pub fn new(pairs: &[(&'static str, &str)]) -> LabelSet {
        LabelSet {
            id: table::merge(table::NONE, pairs.iter().copied()),
        }
    }

    /// The empty set: entering it changes nothing.
    pub const fn empty() -> LabelSet {
        LabelSet { id: table::NONE }
    }

    /// Runs `f` with these labels added to the current thread's.
    pub fn with<R>(self, f: impl FnOnce() -> R) -> R {
        let _restore = self.enter();
        f()
    }

    /// The future `future` with these labels added on every poll.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped::new(scope::Source::Set(self.id), future)
    }

    /// The pairs, sorted by key.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        table::pairs(self.id)
            .iter()
            .map(|(key, value)| (*key, value.to_string()))
            .collect()
    }

    /// The value of `key`, as Go's `pprof.Label`.
    pub fn get(&self, key: &str) -> Option<String> {
        table::pairs(self.id)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value.to_string())
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.id == table::NONE
    }

    #[inline]
    pub(crate) fn enter(self) -> Restore {
        let parent = current::id();
        Restore::enter(current::merged_set(parent, self.id))
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn id(self) -> u32 {
        self.id
    }
}

/// Distinct label sets held, the table's capacity, and scope entries that found it
/// full, for `/debug/stats` and `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LabelStats {
    /// Distinct label sets interned.
    pub sets: usize,
    /// The most the table holds ([`crate::Config::max_label_sets`]).
    pub capacity: usize,
    /// Scope entries whose set did not fit (they carry `profiled_labels=overflow`).
    pub overflowed: u64,
}

/// The label table's use.
///
/// ```
/// let stats = profiled::labels::stats();
/// assert!(stats.sets <= stats.capacity);
/// ```
pub fn stats() -> LabelStats {
    let (sets, capacity, overflowed) = table::usage();
    LabelStats {
        sets,
        capacity,
        overflowed,
    }
}

/// Whether heap, allocs and mutex samples keep `span_id` and `trace_id`.
static IDS_EVERYWHERE: AtomicBool = AtomicBool::new(false);

/// Keeps the high-cardinality keys `span_id` and `trace_id` on heap, allocs and
/// mutex samples too (default false: they are left off, and those profiles say
/// so). Their stack tables ([`crate::Config::max_stacks`]) then hold one row per
/// span and fill sooner; rows that do not fit are counted as dropped.
///
/// ```
/// profiled::labels::keep_ids_on_every_profile(true);
/// # profiled::labels::keep_ids_on_every_profile(false);
/// ```
pub fn keep_ids_on_every_profile(keep: bool) {
    IDS_EVERYWHERE.store(keep, Ordering::Relaxed);
}

/// The pairs of set `id` as a profile's sample labels; `bounded` leaves the
/// high-cardinality keys off (unless [`keep_ids_on_every_profile`]).
pub(crate) fn sample_labels(id: u32, bounded: bool) -> Arc<[(&'static str, Arc<str>)]> {
    let bounded = bounded && !IDS_EVERYWHERE.load(Ordering::Relaxed);
    let id = if bounded { table::bounded(id) } else { id };
    table::pairs(id)
}
