//! Building a whole, symbolized, deterministically ordered [`Profile`] from rows of
//! (return addresses, values) and its [`Header`].

use rustc_hash::FxHashMap as HashMap;

use super::{Header, Location, Profile, Sample};
use crate::labels;
use crate::stack::frame as logical;
use crate::stack::maps;
use crate::stack::symbolize::{self, Lines};

/// Symbolizes rows of (return addresses, values) into a profile with deterministic
/// order: samples by values descending (last value first), then by their symbolized
/// stacks; locations numbered in order of first use. Leading frames of the profiler
/// itself are trimmed; rows whose trimmed stacks are equal are merged. A logical
/// chain after a separator in a row becomes the sample's `logical_stack` label, and
/// a trailing label-set word (`crate::labels`) the labels of its scope.
pub(crate) fn from_rows<'a>(
    header: Header,
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>)>,
    comments: Vec<String>,
) -> Profile {
    from_labeled_rows(
        header,
        rows.map(|(frames, values)| (frames, values, None)),
        comments,
    )
}

/// [`from_rows`] for profiles whose tables live as long as the process (heap,
/// allocs, mutex): label sets lose their high-cardinality keys (`span_id`,
/// `trace_id`), and the profile says so when that happened.
pub(crate) fn from_rows_bounded<'a>(
    header: Header,
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>)>,
    comments: Vec<String>,
) -> Profile {
    build(
        header,
        rows.map(|(frames, values)| (frames, values, None)),
        comments,
        true,
    )
}

/// [`from_rows`] where each row may carry one more label (key, value), such as the
/// CPU profile's `thread`; rows that differ in it stay distinct samples.
pub(crate) fn from_labeled_rows<'a>(
    header: Header,
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>, Option<(&'static str, String)>)>,
    comments: Vec<String>,
) -> Profile {
    build(header, rows, comments, false)
}

/// A stack's return addresses, and its logical chain after the separator if any.
fn real_and_chain(frames: &[usize]) -> (&[usize], Option<&[usize]>) {
    match frames.iter().position(|&f| f == logical::SEPARATOR) {
        Some(at) => (&frames[..at], Some(&frames[at + 1..])),
        None => (frames, None),
    }
}

/// Rows to a profile. A row's trailing label-set word (`stack::frame::labels`)
/// becomes the sample's labels; with `bounded`, without their high-cardinality keys.
fn build<'a>(
    header: Header,
    rows: impl Iterator<Item = (&'a [usize], Vec<i64>, Option<(&'static str, String)>)>,
    mut comments: Vec<String>,
    bounded: bool,
) -> Profile {
    // Every frame resolved in one pass over the debug info first.
    let rows: Vec<_> = rows.collect();
    symbolize::prefetch(
        rows.iter()
            .flat_map(|(frames, _, _)| real_and_chain(logical::split_labels(frames).0).0)
            .copied(),
    );
    let mut resolved: HashMap<usize, (Lines, bool)> = HashMap::default();
    // Same stacks after trimming (e.g. two internal call paths) merge into one sample.
    let mut merged: HashMap<SampleKey, Vec<i64>> = HashMap::default();
    // Each label set's pairs, resolved once (ids are never reused).
    let mut sets: HashMap<u32, LabelPairs> = HashMap::default();
    let mut cut_ids = false;
    for (frames, values, extra) in rows {
        let (frames, set) = logical::split_labels(frames);
        let pairs = sets.entry(set).or_insert_with(|| {
            let pairs = labels::sample_labels(set, bounded);
            cut_ids |= bounded && pairs.len() < labels::sample_labels(set, false).len();
            LabelPairs(pairs)
        });
        let pairs = pairs.clone();
        let (real, chain) = real_and_chain(frames);
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
            .entry((kept, label, extra, pairs))
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
    ordered.sort_by_cached_key(|((stack, label, extra, pairs), values)| {
        let descending: Vec<std::cmp::Reverse<i64>> =
            values.iter().rev().map(|&v| std::cmp::Reverse(v)).collect();
        (
            descending,
            leaf_name(stack),
            stack.clone(),
            label.clone(),
            extra.clone(),
            pairs.clone(),
        )
    });
    if cut_ids {
        comments.push(format!(
            "profiled: the high-cardinality labels {} are left off this profile's samples",
            labels::HIGH_CARDINALITY.join(", ")
        ));
    }

    let mut location_index: HashMap<usize, usize> = HashMap::default();
    let mut locations: Vec<Location> = Vec::new();
    let samples = ordered
        .into_iter()
        .map(|((stack, label, extra, pairs), values)| Sample {
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
                .chain(pairs.0.iter().map(|(key, value)| (*key, value.to_string())))
                .collect(),
        })
        .collect();
    Profile {
        header,
        samples,
        locations,
        mappings: maps::executable_mappings(),
        comments,
    }
}

/// What makes a sample distinct: its trimmed frames, its logical-chain label, the
/// row's extra label and its label set's pairs.
type SampleKey = (
    Vec<usize>,
    Option<String>,
    Option<(&'static str, String)>,
    LabelPairs,
);

/// A label set's pairs, compared and ordered by content (not by id, which depends
/// on the order scopes were first entered), so output stays deterministic.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct LabelPairs(std::sync::Arc<[(&'static str, std::sync::Arc<str>)]>);

/// Label on samples recorded inside `#[profiled]` code: the logical chain, root
/// first, joined with " > ".
pub(crate) const LOGICAL_STACK_LABEL: &str = "logical_stack";

/// A profile of `rows` with one sample type, for encoder tests.
#[cfg(test)]
pub(crate) fn with_one_type(
    rows: &[(&[usize], Vec<i64>)],
    ty: &'static str,
    unit: &'static str,
) -> Profile {
    let one = super::ValueType::new(ty, unit);
    let header = Header {
        sample_types: vec![one],
        default_sample_type: None,
        period_type: one,
        period: 1,
        time_nanos: 0,
        duration_nanos: 0,
    };
    from_rows(header, rows.iter().cloned(), Vec::new())
}
