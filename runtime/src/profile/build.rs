//! Building symbolized, deterministically ordered profiles from registry snapshots.

use rustc_hash::FxHashMap as HashMap;

use super::{Location, Profile, Sample, ValueType};
use crate::clock::unix_nanos;
use crate::instrument::logical;
use crate::registry::{self, COUNT_SCALE, EventRow, EventTable, Registry};
use crate::stack::maps;
use crate::stack::symbolize::{self, Lines};

/// Which contention profile to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contention {
    /// Holders charged for others' waiting (`/debug/pprof/mutex`).
    Mutex,
    /// Waiters' own waits (`/debug/pprof/block`).
    Block,
}

impl Contention {
    fn table(self, registry: &Registry) -> &EventTable {
        match self {
            Contention::Mutex => &registry.mutex,
            Contention::Block => &registry.block,
        }
    }
}

/// A point-in-time copy of one contention table with each row's stack frames.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub rows: Vec<(Vec<usize>, EventRow)>,
    pub dropped_events: u64,
    pub dropped_stacks: u64,
    pub time_nanos: i64,
}

impl Snapshot {
    pub(crate) fn take(kind: Contention) -> Snapshot {
        let time_nanos = unix_nanos();
        let Some(registry) = registry::existing() else {
            return Snapshot {
                time_nanos,
                ..Snapshot::default()
            };
        };
        let table = kind.table(registry);
        Snapshot {
            rows: table
                .snapshot()
                .into_iter()
                .filter_map(|row| Some((registry.stacks.frames(row.stack)?, row)))
                .collect(),
            dropped_events: table.dropped(),
            dropped_stacks: registry.stacks.dropped(),
            time_nanos,
        }
    }

    /// Number of distinct stacks, as the index page counts them.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Builds the contention profile of a snapshot, as Go's `printCountCycleProfile`:
/// sample types contentions/count and delay/nanoseconds, period 1.
pub(crate) fn contention(snapshot: &Snapshot) -> Profile {
    let rows = snapshot.rows.iter().map(|(frames, row)| {
        let count = (row.count_milli + COUNT_SCALE / 2) / COUNT_SCALE;
        (
            frames.as_slice(),
            vec![
                i64::try_from(count).unwrap_or(i64::MAX),
                i64::try_from(row.delay_ns).unwrap_or(i64::MAX),
            ],
        )
    });
    let mut comments = Vec::new();
    if snapshot.dropped_events > 0 {
        comments.push(format!(
            "profiled: {} events dropped: stack table full ({} stacks did not fit); raise Config::max_stacks",
            snapshot.dropped_events, snapshot.dropped_stacks
        ));
    }
    let mut profile = from_rows(rows, comments);
    profile.sample_types = vec![
        ValueType {
            ty: "contentions",
            unit: "count",
        },
        ValueType {
            ty: "delay",
            unit: "nanoseconds",
        },
    ];
    profile.period_type = ValueType {
        ty: "contentions",
        unit: "count",
    };
    profile.period = 1;
    profile.time_nanos = snapshot.time_nanos;
    profile
}

/// Symbolizes rows of (return addresses, values) into a profile with deterministic
/// order: samples by values descending (last value first), then by their symbolized
/// stacks; locations numbered in order of first use. Leading frames of the profiler
/// itself are trimmed; rows whose trimmed stacks are equal are merged. A logical
/// chain after a separator in a row becomes the sample's `logical_stack` label.
///
/// Callers fill in sample types, period and times on the returned profile.
pub(crate) fn from_rows<'a>(
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>)>,
    comments: Vec<String>,
) -> Profile {
    from_labeled_rows(
        rows.map(|(frames, values)| (frames, values, None)),
        comments,
    )
}

/// [`from_rows`] where each row may carry one more label (key, value), such as the
/// CPU profile's `thread`; rows that differ in it stay distinct samples.
pub(crate) fn from_labeled_rows<'a>(
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>, Option<(&'static str, String)>)>,
    comments: Vec<String>,
) -> Profile {
    let mut resolved: HashMap<usize, (Lines, bool)> = HashMap::default();
    // Same stacks after trimming (e.g. two internal call paths) merge into one sample.
    let mut merged: HashMap<SampleKey, Vec<i64>> = HashMap::default();
    for (frames, values, extra) in rows {
        let (real, chain) = match frames.iter().position(|&f| f == logical::SEPARATOR) {
            Some(at) => (&frames[..at], Some(&frames[at + 1..])),
            None => (frames, None),
        };
        let mut kept: Vec<usize> = Vec::with_capacity(real.len());
        for &frame in real {
            let (_, internal) = resolved
                .entry(frame)
                .or_insert_with(|| symbolize::resolve_user(frame));
            if kept.is_empty() && *internal {
                continue;
            }
            kept.push(frame);
        }
        if kept.is_empty() {
            // Only profiler frames: keep the outermost so the sample is not lost.
            kept.extend(real.last());
        }
        let label = chain.map(|chain| {
            chain
                .iter()
                .filter_map(|&frame| logical::decode(frame).map(|site| site.name()))
                .collect::<Vec<_>>()
                .join(" > ")
        });
        let entry = merged
            .entry((kept, label, extra))
            .or_insert_with(|| vec![0; values.len()]);
        for (total, value) in entry.iter_mut().zip(values) {
            *total = total.saturating_add(value);
        }
    }
    // Order: values descending (last first), then the leaf's function name, then
    // the addresses and label, which make every key distinct. Naming only the leaf
    // keeps sorting cheap for profiles of many deep stacks.
    let leaf_name = |stack: &[usize]| -> std::sync::Arc<str> {
        stack
            .first()
            .and_then(|frame| resolved.get(frame))
            .and_then(|(lines, _)| lines.first())
            .map(|line| std::sync::Arc::clone(&line.function))
            .unwrap_or_else(|| "".into())
    };
    let mut ordered: Vec<(SampleKey, Vec<i64>)> = merged.into_iter().collect();
    ordered.sort_by_cached_key(|((stack, label, extra), values)| {
        let descending: Vec<std::cmp::Reverse<i64>> =
            values.iter().rev().map(|&v| std::cmp::Reverse(v)).collect();
        (
            descending,
            leaf_name(stack),
            stack.clone(),
            label.clone(),
            extra.clone(),
        )
    });

    let mut location_index: HashMap<usize, usize> = HashMap::default();
    let mut locations: Vec<Location> = Vec::new();
    let samples = ordered
        .into_iter()
        .map(|((stack, label, extra), values)| Sample {
            locations: stack
                .iter()
                .map(|&frame| {
                    *location_index.entry(frame).or_insert_with(|| {
                        let address = if logical::decode(frame).is_some() {
                            0
                        } else {
                            frame.saturating_sub(1) as u64
                        };
                        locations.push(Location {
                            address,
                            lines: resolved
                                .get(&frame)
                                .map(|(lines, _)| std::sync::Arc::clone(lines))
                                .unwrap_or_default(),
                        });
                        locations.len() - 1
                    })
                })
                .collect(),
            values,
            labels: label
                .map(|chain| (LOGICAL_STACK_LABEL, chain))
                .into_iter()
                .chain(extra)
                .collect(),
        })
        .collect();
    Profile {
        sample_types: Vec::new(),
        default_sample_type: None,
        period_type: super::ValueType { ty: "", unit: "" },
        period: 0,
        time_nanos: 0,
        duration_nanos: 0,
        samples,
        locations,
        mappings: maps::executable_mappings(),
        comments,
    }
}

/// What makes a sample distinct: its trimmed frames, its logical-chain label and the
/// row's extra label.
type SampleKey = (Vec<usize>, Option<String>, Option<(&'static str, String)>);

/// Label on samples recorded inside `#[profiled]` code: the logical chain, root
/// first, joined with " > ".
pub(crate) const LOGICAL_STACK_LABEL: &str = "logical_stack";

/// `after - before` per stack, dropping stacks whose values are all zero, as Go's
/// delta profiles (`?seconds=N`) do.
pub(crate) fn subtract(after: &Snapshot, before: &Snapshot) -> Snapshot {
    let earlier: HashMap<usize, &EventRow> = before
        .rows
        .iter()
        .map(|(_, row)| (row.stack, row))
        .collect();
    let rows = after
        .rows
        .iter()
        .filter_map(|(frames, row)| {
            let (count, delay) = earlier
                .get(&row.stack)
                .map_or((0, 0), |old| (old.count_milli, old.delay_ns));
            let delta = EventRow {
                stack: row.stack,
                count_milli: row.count_milli.saturating_sub(count),
                delay_ns: row.delay_ns.saturating_sub(delay),
            };
            (delta.count_milli != 0 || delta.delay_ns != 0).then(|| (frames.clone(), delta))
        })
        .collect();
    Snapshot {
        rows,
        dropped_events: after.dropped_events.saturating_sub(before.dropped_events),
        dropped_stacks: after.dropped_stacks,
        time_nanos: after.time_nanos,
    }
}

/// A profile of `rows` with one sample type, for encoder tests.
#[cfg(test)]
pub(crate) fn with_one_type(
    rows: &[(&[usize], Vec<i64>)],
    ty: &'static str,
    unit: &'static str,
) -> Profile {
    let mut profile = from_rows(rows.iter().cloned(), Vec::new());
    profile.sample_types = vec![ValueType { ty, unit }];
    profile
}
