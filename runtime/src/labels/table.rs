//! COLD: the bounded, append-only table of interned label sets.
//!
//! A label set is a list of (key, value) pairs sorted by key, each key once. It is
//! interned here once and named by a `u32` id from then on: [`NONE`] (no labels),
//! [`OVERFLOW`] (the table was full), or an index into the table plus
//! [`FIRST_ID`]. Ids are never reused or freed, so a sample can carry a bare id
//! anywhere (a signal handler's ring, a stack table) and be resolved to its pairs
//! when a profile is encoded. Only scope entry on a cache miss and profile building
//! come here; both take the table's lock, the hot paths never do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use rustc_hash::{FxBuildHasher, FxHashMap};

/// The id of the empty label set: code outside every scope.
pub(crate) const NONE: u32 = 0;
/// The id a scope gets when its set did not fit in the table.
pub(crate) const OVERFLOW: u32 = 1;
/// The id of the first interned set.
const FIRST_ID: u32 = 2;

/// Default number of distinct label sets the table holds.
pub const DEFAULT_MAX_LABEL_SETS: usize = 4096;
/// Largest accepted [`crate::Config::max_label_sets`].
pub const MAX_LABEL_SETS_LIMIT: usize = 1 << 20;
/// Pairs kept per set; more are dropped (counted with the overflow).
pub(crate) const MAX_PAIRS: usize = 32;
/// Bytes kept of an owned value; longer values are cut at a character boundary.
pub(crate) const MAX_VALUE_BYTES: usize = 256;

/// The pairs of the set that stands for "table full", so a profile says so.
pub(crate) const OVERFLOW_PAIRS: [(&str, &str); 1] = [("profiled_labels", "overflow")];

/// Keys whose values are unique per request or span (ids): kept off the samples of
/// profiles whose tables live as long as the process (heap, allocs, mutex).
pub(crate) const HIGH_CARDINALITY: [&str; 2] = ["span_id", "trace_id"];

/// A label set's pairs, sorted by key.
pub(crate) type Pairs = Arc<[(&'static str, Arc<str>)]>;

struct Entry {
    pairs: Pairs,
    /// The id of this set without its [`HIGH_CARDINALITY`] keys (itself when it has none).
    bounded: u32,
}

struct Inner {
    sets: Vec<Entry>,
    index: FxHashMap<Pairs, u32>,
}

static TABLE: Mutex<Inner> = Mutex::new(Inner {
    sets: Vec::new(),
    index: FxHashMap::with_hasher(FxBuildHasher),
});

/// Distinct sets the table may hold (`Config::max_label_sets`).
static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_LABEL_SETS);
/// Scope entries that found the table full (or a set cut to [`MAX_PAIRS`]).
static OVERFLOWED: AtomicU64 = AtomicU64::new(0);

/// Sets how many distinct label sets the table holds from now on (a smaller value
/// than the sets already held keeps those; new ones overflow).
pub(crate) fn set_capacity(capacity: usize) {
    CAPACITY.store(capacity.clamp(1, MAX_LABEL_SETS_LIMIT), Ordering::Relaxed);
}

/// (distinct sets held, capacity, scope entries that overflowed).
pub(crate) fn usage() -> (usize, usize, u64) {
    (
        TABLE.lock().sets.len(),
        CAPACITY.load(Ordering::Relaxed),
        OVERFLOWED.load(Ordering::Relaxed),
    )
}

/// The pairs of set `id`; empty for [`NONE`] or an unknown id.
pub(crate) fn pairs(id: u32) -> Pairs {
    match id {
        NONE => Arc::new([]),
        OVERFLOW => OVERFLOW_PAIRS
            .iter()
            .map(|&(key, value)| (key, Arc::from(value)))
            .collect(),
        _ => TABLE
            .lock()
            .sets
            .get((id - FIRST_ID) as usize)
            .map(|entry| Arc::clone(&entry.pairs))
            .unwrap_or_else(|| Arc::new([])),
    }
}

/// The id of set `id` without its high-cardinality keys.
pub(crate) fn bounded(id: u32) -> u32 {
    if id < FIRST_ID {
        return id;
    }
    TABLE
        .lock()
        .sets
        .get((id - FIRST_ID) as usize)
        .map_or(NONE, |entry| entry.bounded)
}

/// The id of `parent`'s pairs overridden and extended by `pairs` (keys of `pairs`
/// win; a later duplicate key in `pairs` wins over an earlier one), interning the
/// result if it is new; [`OVERFLOW`] when the table is full.
pub(crate) fn merge<'a>(
    parent: u32,
    extra: impl IntoIterator<Item = (&'static str, &'a str)>,
) -> u32 {
    // The table is the profiler's own memory, not the user's heap.
    let _own = crate::alloc::own::scope(crate::alloc::own::Component::Other);
    let mut merged: Vec<(&'static str, Arc<str>)> = pairs(parent).to_vec();
    for (key, value) in extra {
        let value = cut(value);
        match merged.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => {
                if *pair.1 != *value {
                    pair.1 = Arc::from(value);
                }
            }
            None => merged.push((key, Arc::from(value))),
        }
    }
    intern(merged)
}

/// The id of the union of `parent` and set `child` (keys of `child` win).
pub(crate) fn merge_set(parent: u32, child: u32) -> u32 {
    if parent == NONE || child == OVERFLOW {
        return child;
    }
    let child = pairs(child);
    merge(parent, child.iter().map(|(key, value)| (*key, &**value)))
}

fn cut(value: &str) -> &str {
    if value.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn intern(mut pairs: Vec<(&'static str, Arc<str>)>) -> u32 {
    if pairs.is_empty() {
        return NONE;
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    if pairs.len() > MAX_PAIRS {
        pairs.truncate(MAX_PAIRS);
        OVERFLOWED.fetch_add(1, Ordering::Relaxed);
    }
    let bounded_pairs: Vec<_> = pairs
        .iter()
        .filter(|(key, _)| !HIGH_CARDINALITY.contains(key))
        .cloned()
        .collect();
    let mut table = TABLE.lock();
    let bounded = if bounded_pairs.len() == pairs.len() {
        None
    } else {
        Some(insert(&mut table, bounded_pairs.into(), None))
    };
    insert(&mut table, pairs.into(), bounded)
}

/// Finds or adds `pairs`; `bounded` is its id without high-cardinality keys, `None`
/// when it has none.
fn insert(table: &mut Inner, pairs: Pairs, bounded: Option<u32>) -> u32 {
    if pairs.is_empty() {
        return NONE;
    }
    if let Some(&id) = table.index.get(&pairs) {
        return id;
    }
    if table.sets.len() >= CAPACITY.load(Ordering::Relaxed) {
        OVERFLOWED.fetch_add(1, Ordering::Relaxed);
        return OVERFLOW;
    }
    let Ok(id) = u32::try_from(table.sets.len()).map(|n| n + FIRST_ID) else {
        OVERFLOWED.fetch_add(1, Ordering::Relaxed);
        return OVERFLOW;
    };
    table.sets.push(Entry {
        pairs: Arc::clone(&pairs),
        bounded: bounded.unwrap_or(id),
    });
    table.index.insert(pairs, id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(id: u32) -> Vec<(&'static str, String)> {
        pairs(id).iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn merging_overrides_sorts_and_interns_once() {
        let outer = merge(NONE, [("tier", "gold"), ("route", "/checkout")]);
        assert_eq!(
            strings(outer),
            [("route", "/checkout".into()), ("tier", "gold".into())]
        );
        let inner = merge(outer, [("route", "/browse"), ("route", "/search")]);
        assert_eq!(
            strings(inner),
            [("route", "/search".into()), ("tier", "gold".into())]
        );
        // The same set, however reached, is one id.
        assert_eq!(merge(NONE, [("route", "/search"), ("tier", "gold")]), inner);
        assert_eq!(merge_set(NONE, inner), inner);
        assert_eq!(merge_set(outer, inner), inner);
        assert_eq!(merge(outer, std::iter::empty()), outer);
        assert_eq!(merge(NONE, std::iter::empty()), NONE);
    }

    #[test]
    fn ids_come_off_the_bounded_set_and_long_values_are_cut() {
        let span = merge(NONE, [("span_name", "checkout"), ("span_id", "00ab")]);
        assert_eq!(strings(bounded(span)), [("span_name", "checkout".into())]);
        let name_only = merge(NONE, [("span_name", "checkout")]);
        assert_eq!(bounded(span), name_only);
        assert_eq!(bounded(name_only), name_only);
        assert_eq!(bounded(merge(NONE, [("trace_id", "01")])), NONE);

        let long = "é".repeat(MAX_VALUE_BYTES); // 2 bytes each
        let cut = merge(NONE, [("job", long.as_str())]);
        let value = &strings(cut)[0].1;
        assert!(value.len() <= MAX_VALUE_BYTES && long.starts_with(value.as_str()));
        assert_eq!(strings(OVERFLOW), [("profiled_labels", "overflow".into())]);
    }
}
