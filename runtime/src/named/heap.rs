//! The `heap` and `allocs` profiles: snapshots of the allocator's sampled totals,
//! modelled as Go's `writeHeapProto` (scaled) and `writeHeapInternal` (raw, for the
//! legacy text) in `runtime/pprof`.

use std::marker::PhantomData;

use super::{Output, Source, title};
use crate::alloc::{self, HeapRow};
use crate::clock::unix_nanos;
use crate::profile::build::from_rows_bounded;
use crate::profile::{Document, Encoding, Header, Profile, TextForm, ValueType};
use crate::stack::symbolize;

/// What tells the heap and allocs profiles apart: their name, and the sample type
/// `go tool pprof` shows by default.
pub(crate) trait View {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// `None`: the last one, in-use space.
    const DEFAULT_SAMPLE_TYPE: Option<&'static str>;
}

/// `/debug/pprof/heap`: in-use space by default.
pub(crate) struct Heap;

/// `/debug/pprof/allocs`: the same data, showing allocated space by default.
pub(crate) struct Allocs;

impl View for Heap {
    const NAME: &'static str = "heap";
    const DESCRIPTION: &'static str = "A sampling of memory allocations of live objects";
    const DEFAULT_SAMPLE_TYPE: Option<&'static str> = None;
}

impl View for Allocs {
    const NAME: &'static str = "allocs";
    const DESCRIPTION: &'static str = "A sampling of all past memory allocations";
    const DEFAULT_SAMPLE_TYPE: Option<&'static str> = Some("alloc_space");
}

/// The sampled allocations, seen as `V`.
pub(crate) struct HeapProfile<V>(PhantomData<V>);

impl<V: View> Source for HeapProfile<V> {
    const NAME: &'static str = V::NAME;
    const DESCRIPTION: &'static str = V::DESCRIPTION;
    const NEEDS_ALLOCATOR: bool = true;
    type Snapshot = HeapSnapshot;

    fn count() -> usize {
        alloc::heap_rows().len()
    }

    fn snapshot() -> HeapSnapshot {
        HeapSnapshot::take()
    }

    fn subtract(after: &HeapSnapshot, before: &HeapSnapshot) -> HeapSnapshot {
        subtract(after, before)
    }

    /// Go's `debug=1` heap text has the raw sampled values and the memory
    /// statistics (read now, as Go's `ReadMemStats` in `writeHeapInternal`); every
    /// other output has the scaled profile.
    fn model(snapshot: &HeapSnapshot, output: Output) -> Document {
        let text = || TextForm::Heap {
            rate: snapshot.rate,
            stats: crate::memory::mem_stats(),
        };
        let encoding = output.encoding(text, title::<Self>);
        let profile = match encoding {
            Encoding::Text(_) => raw_profile(snapshot),
            _ => profile(snapshot, V::DEFAULT_SAMPLE_TYPE),
        };
        Document::Profile(profile, encoding)
    }

    /// godeltaprof's heap: allocations since `before`, in-use values as they stand.
    fn godelta(after: &HeapSnapshot, before: &HeapSnapshot, output: Output) -> Document {
        let encoding = output.encoding(
            || TextForm::Heap {
                rate: after.rate,
                stats: crate::memory::mem_stats(),
            },
            title::<Self>,
        );
        Document::Profile(godelta(after, before, V::DEFAULT_SAMPLE_TYPE), encoding)
    }
}

/// A point-in-time copy of the sampled allocation stacks.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeapSnapshot {
    pub rows: Vec<HeapRow>,
    pub rate: usize,
    pub dropped_samples: u64,
    pub untracked_frees: u64,
    pub time_nanos: i64,
    /// Nonzero for the difference of two snapshots.
    pub duration_nanos: i64,
}

impl HeapSnapshot {
    pub(crate) fn take() -> HeapSnapshot {
        let totals = alloc::totals();
        HeapSnapshot {
            rows: alloc::heap_rows(),
            rate: crate::alloc::mem_profile_rate(),
            dropped_samples: totals.dropped_samples,
            untracked_frees: totals.untracked_frees,
            time_nanos: unix_nanos(),
            duration_nanos: 0,
        }
    }
}

/// `after - before` per stack, dropping stacks with no change, as Go's delta profiles.
pub(crate) fn subtract(after: &HeapSnapshot, before: &HeapSnapshot) -> HeapSnapshot {
    let earlier: std::collections::HashMap<&[usize], &HeapRow> = before
        .rows
        .iter()
        .map(|row| (row.frames.as_slice(), row))
        .collect();
    let rows = after
        .rows
        .iter()
        .filter_map(|row| {
            let old = earlier
                .get(row.frames.as_slice())
                .copied()
                .cloned()
                .unwrap_or_default();
            let delta = HeapRow {
                frames: row.frames.clone(),
                allocs: row.allocs.saturating_sub(old.allocs),
                alloc_bytes: row.alloc_bytes.saturating_sub(old.alloc_bytes),
                frees: row.frees.saturating_sub(old.frees),
                free_bytes: row.free_bytes.saturating_sub(old.free_bytes),
            };
            (delta.allocs != 0 || delta.frees != 0).then_some(delta)
        })
        .collect();
    HeapSnapshot {
        rows,
        rate: after.rate,
        dropped_samples: after.dropped_samples.saturating_sub(before.dropped_samples),
        untracked_frees: after.untracked_frees.saturating_sub(before.untracked_frees),
        time_nanos: after.time_nanos,
        duration_nanos: after.time_nanos.saturating_sub(before.time_nanos),
    }
}

/// Go's `scaleHeapSample`: sampled (count, bytes) to estimated true totals. A block
/// of average size `s` is sampled with probability `1 - exp(-s / rate)`.
pub(crate) fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        // rate 1 sampled everything; below 1 the rate is unknown: no scaling.
        return (count, size);
    }
    let avg_size = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg_size / rate as f64).exp());
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Raw sampled values of a row: (alloc objects, alloc bytes, in-use objects, in-use bytes).
fn raw(row: &HeapRow) -> [i64; 4] {
    [
        to_i64(row.allocs),
        to_i64(row.alloc_bytes),
        to_i64(row.allocs.saturating_sub(row.frees)),
        to_i64(row.alloc_bytes.saturating_sub(row.free_bytes)),
    ]
}

/// Functions of Rust's allocation runtime: the profiler, the `__rust_alloc` shims,
/// the `alloc` crate (Box, Vec, String growth: Go's `runtime.newobject`,
/// `growslice`, `concatstrings`) and hash map growth (Go's `hashGrow`).
const ALLOCATION_RUNTIME: [&str; 9] = [
    "__rust",
    "__rg_",
    "__rdl_",
    "alloc::",
    "core::alloc::",
    "std::alloc::",
    "std::collections::",
    "hashbrown::",
    "std::thread::local::",
];

fn is_allocation_runtime(line: &symbolize::Line) -> bool {
    let name = line.function.trim_start_matches(['<', '&']);
    // `<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem`: a trait of the
    // allocation runtime implemented for a plain type.
    let as_trait = name
        .split_once(" as ")
        .filter(|(self_type, _)| !self_type.contains("::"))
        .map(|(_, rest)| rest);
    symbolize::is_internal(line)
        || ALLOCATION_RUNTIME
            .iter()
            .any(|p| name.starts_with(p) || as_trait.is_some_and(|t| t.starts_with(p)))
}

/// Hides the allocation runtime above the code that allocated, as Go hides
/// `runtime.` frames: leading locations whose function is allocation runtime are
/// dropped from each sample, and leading inlined lines of it are dropped from
/// locations, so that flat values land on the caller. A stack made only of
/// allocation runtime keeps its outermost location.
fn hide_allocation_runtime(profile: &mut Profile) {
    let runtime: Vec<bool> = profile
        .locations
        .iter()
        .map(|location| location.lines.last().is_some_and(is_allocation_runtime))
        .collect();
    for location in &mut profile.locations {
        let first = location
            .lines
            .iter()
            .position(|line| !is_allocation_runtime(line));
        if let Some(first) = first.filter(|&first| first > 0) {
            location.lines = location.lines[first..].into();
        }
    }
    for sample in &mut profile.samples {
        let keep = sample
            .locations
            .iter()
            .position(|&l| !runtime.get(l).copied().unwrap_or(false))
            .unwrap_or(sample.locations.len().saturating_sub(1));
        sample.locations.drain(..keep);
    }
}

fn comments(snapshot: &HeapSnapshot) -> Vec<String> {
    let mut comments = Vec::new();
    if snapshot.dropped_samples > 0 {
        comments.push(format!(
            "profiled: {} heap samples dropped: allocation-stack table full",
            snapshot.dropped_samples
        ));
    }
    if snapshot.untracked_frees > 0 {
        comments.push(format!(
            "profiled: {} sampled blocks have untracked frees (live table full): counted as in use",
            snapshot.untracked_frees
        ));
    }
    comments
}

/// The `heap`/`allocs` profile: Go's four sample types, period = rate, each value
/// pair unsampled with [`scale_heap_sample`] at the current rate, as Go does.
pub(crate) fn profile(
    snapshot: &HeapSnapshot,
    default_sample_type: Option<&'static str>,
) -> Profile {
    let rows = snapshot
        .rows
        .iter()
        .map(|row| (row.frames.as_slice(), raw(row)));
    from_raw(snapshot, rows, default_sample_type)
}

/// godeltaprof's heap delta (`delta_heap`, and the pushed `memory` series): the
/// `alloc_*` values counted since `before`, the `inuse_*` values of `after` as they
/// stand, so in-use memory keeps its meaning across deltas (golang/go #57765).
pub(crate) fn godelta(
    after: &HeapSnapshot,
    before: &HeapSnapshot,
    default_sample_type: Option<&'static str>,
) -> Profile {
    let earlier: std::collections::HashMap<&[usize], &HeapRow> = before
        .rows
        .iter()
        .map(|row| (row.frames.as_slice(), row))
        .collect();
    let rows = after.rows.iter().filter_map(|row| {
        let [allocs, alloc_bytes, inuse, inuse_bytes] = raw(row);
        let (old_allocs, old_bytes) = earlier
            .get(row.frames.as_slice())
            .map_or((0, 0), |old| (to_i64(old.allocs), to_i64(old.alloc_bytes)));
        let values = [
            allocs.saturating_sub(old_allocs).max(0),
            alloc_bytes.saturating_sub(old_bytes).max(0),
            inuse,
            inuse_bytes,
        ];
        (values != [0; 4]).then_some((row.frames.as_slice(), values))
    });
    let mut profile = from_raw(after, rows, default_sample_type);
    profile.header.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
    profile
}

/// The heap model of raw sampled rows (alloc objects, alloc bytes, in-use objects,
/// in-use bytes), scaled at the snapshot's rate.
fn from_raw<'a>(
    snapshot: &HeapSnapshot,
    rows: impl Iterator<Item = (&'a [usize], [i64; 4])>,
    default_sample_type: Option<&'static str>,
) -> Profile {
    let rate = i64::try_from(snapshot.rate).unwrap_or(i64::MAX);
    let rows = rows.map(|(frames, [allocs, alloc_bytes, inuse, inuse_bytes])| {
        let (a0, a1) = scale_heap_sample(allocs, alloc_bytes, rate);
        let (i0, i1) = scale_heap_sample(inuse, inuse_bytes, rate);
        (frames, vec![a0, a1, i0, i1])
    });
    let header = Header {
        sample_types: SAMPLE_TYPES.to_vec(),
        default_sample_type,
        period_type: ValueType::new("space", "bytes"),
        period: rate,
        time_nanos: snapshot.time_nanos,
        duration_nanos: snapshot.duration_nanos,
    };
    let mut profile = from_rows_bounded(header, rows, comments(snapshot));
    hide_allocation_runtime(&mut profile);
    profile
}

/// Go's four heap sample types.
const SAMPLE_TYPES: [ValueType; 4] = [
    ValueType::new("alloc_objects", "count"),
    ValueType::new("alloc_space", "bytes"),
    ValueType::new("inuse_objects", "count"),
    ValueType::new("inuse_space", "bytes"),
];

/// The profile of raw sampled values that Go's legacy heap text prints, ordered by
/// values descending, last first: in-use bytes, as Go sorts.
fn raw_profile(snapshot: &HeapSnapshot) -> Profile {
    let rows = snapshot
        .rows
        .iter()
        .map(|row| (row.frames.as_slice(), raw(row).to_vec()));
    let header = Header {
        sample_types: SAMPLE_TYPES.to_vec(),
        default_sample_type: None,
        period_type: ValueType::new("space", "bytes"),
        period: i64::try_from(snapshot.rate).unwrap_or(i64::MAX),
        time_nanos: snapshot.time_nanos,
        duration_nanos: snapshot.duration_nanos,
    };
    let mut profile = from_rows_bounded(header, rows, comments(snapshot));
    hide_allocation_runtime(&mut profile);
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_like_go() {
        assert_eq!(scale_heap_sample(0, 10, 512), (0, 0));
        assert_eq!(scale_heap_sample(3, 300, 1), (3, 300));
        // One 512-byte sample at rate 512: probability 1 - 1/e, scale 1.582.
        assert_eq!(scale_heap_sample(1, 512, 512), (1, 809));
        // Huge blocks are always sampled: no scaling.
        assert_eq!(scale_heap_sample(2, 2 << 30, 524_288), (2, 2 << 30));
    }
}
