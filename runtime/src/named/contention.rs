//! The `mutex` and `block` profiles: snapshots of the registry's contention tables,
//! modelled as Go's `printCountCycleProfile` (contentions/count, delay/nanoseconds).

use std::marker::PhantomData;

use rustc_hash::FxHashMap as HashMap;

use super::{Output, Source, document};
use crate::clock::unix_nanos;
use crate::control;
use crate::profile::build::{from_rows, from_rows_bounded};
use crate::profile::{Document, Header, Profile, TextForm, ValueType};
use crate::registry::{self, COUNT_SCALE, EventRow, EventTable, Registry};

/// Which contention table a profile reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentionKind {
    /// Holders charged for others' waiting (`/debug/pprof/mutex`).
    Mutex,
    /// Waiters' own waits (`/debug/pprof/block`).
    Block,
}

impl ContentionKind {
    fn table(self, registry: &Registry) -> &EventTable {
        match self {
            ContentionKind::Mutex => &registry.mutex,
            ContentionKind::Block => &registry.block,
        }
    }
}

/// What tells the mutex and block profiles apart.
pub(crate) trait Table {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    const KIND: ContentionKind;
    /// Go's legacy text form of the profile.
    fn text() -> TextForm;
}

/// `/debug/pprof/mutex`.
pub(crate) struct Mutex;

/// `/debug/pprof/block`.
pub(crate) struct Block;

impl Table for Mutex {
    const NAME: &'static str = "mutex";
    const DESCRIPTION: &'static str = "Stack traces of holders of contended profiled locks";
    const KIND: ContentionKind = ContentionKind::Mutex;

    fn text() -> TextForm {
        TextForm::Contention {
            header: "mutex",
            sampling_period: Some(control::mutex_fraction()),
        }
    }
}

impl Table for Block {
    const NAME: &'static str = "block";
    const DESCRIPTION: &'static str = "Stack traces that led to blocking on synchronization primitives \
         (profiled locks and condition variables)";
    const KIND: ContentionKind = ContentionKind::Block;

    fn text() -> TextForm {
        // `contention` is Go's header for the block profile.
        TextForm::Contention {
            header: "contention",
            sampling_period: None,
        }
    }
}

/// The profile of contention table `T`.
pub(crate) struct Contention<T>(PhantomData<T>);

impl<T: Table> Source for Contention<T> {
    const NAME: &'static str = T::NAME;
    const DESCRIPTION: &'static str = T::DESCRIPTION;
    type Snapshot = Snapshot;

    fn count() -> usize {
        Snapshot::take(T::KIND).len()
    }

    fn snapshot() -> Snapshot {
        Snapshot::take(T::KIND)
    }

    fn subtract(after: &Snapshot, before: &Snapshot) -> Snapshot {
        subtract(after, before)
    }

    fn model(snapshot: &Snapshot, output: Output) -> Document {
        document::<Self>(model(snapshot, T::KIND), output, T::text())
    }
}

/// A point-in-time copy of one contention table with each row's stack frames.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub rows: Vec<(Vec<usize>, EventRow)>,
    pub dropped_events: u64,
    pub dropped_stacks: u64,
    pub time_nanos: i64,
    /// Nonzero for the difference of two snapshots.
    pub duration_nanos: i64,
}

impl Snapshot {
    pub(crate) fn take(kind: ContentionKind) -> Snapshot {
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
            duration_nanos: 0,
        }
    }

    /// Number of distinct stacks, as the index page counts them.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Go's contention header: contentions/count and delay/nanoseconds, period 1.
const SAMPLE_TYPES: [ValueType; 2] = [
    ValueType::new("contentions", "count"),
    ValueType::new("delay", "nanoseconds"),
];

/// The contention profile of a snapshot, as Go's `printCountCycleProfile`. Mutex
/// samples, kept for the life of the process, leave high-cardinality labels off.
pub(crate) fn model(snapshot: &Snapshot, kind: ContentionKind) -> Profile {
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
    let header = Header {
        sample_types: SAMPLE_TYPES.to_vec(),
        default_sample_type: None,
        period_type: SAMPLE_TYPES[0],
        period: 1,
        time_nanos: snapshot.time_nanos,
        duration_nanos: snapshot.duration_nanos,
    };
    match kind {
        ContentionKind::Mutex => from_rows_bounded(header, rows, comments),
        ContentionKind::Block => from_rows(header, rows, comments),
    }
}

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
        duration_nanos: after.time_nanos.saturating_sub(before.time_nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stack: usize, count_milli: u64, delay_ns: u64) -> (Vec<usize>, EventRow) {
        let row = EventRow {
            stack,
            count_milli,
            delay_ns,
        };
        (vec![0x1000 + stack], row)
    }

    #[test]
    fn deltas_subtract_per_stack_and_drop_unchanged_stacks() {
        let before = Snapshot {
            rows: vec![row(1, 2000, 500), row(2, 1000, 100)],
            dropped_events: 3,
            time_nanos: 1_000,
            ..Snapshot::default()
        };
        let after = Snapshot {
            rows: vec![row(1, 5000, 800), row(2, 1000, 100), row(3, 1000, 7)],
            dropped_events: 5,
            dropped_stacks: 9,
            time_nanos: 4_000,
            ..Snapshot::default()
        };
        let delta = subtract(&after, &before);
        let rows: Vec<(usize, u64, u64)> = delta
            .rows
            .iter()
            .map(|(_, r)| (r.stack, r.count_milli, r.delay_ns))
            .collect();
        assert_eq!(rows, [(1, 3000, 300), (3, 1000, 7)]);
        assert_eq!((delta.dropped_events, delta.dropped_stacks), (2, 9));
        assert_eq!((delta.time_nanos, delta.duration_nanos), (4_000, 3_000));
        let profile = model(&delta, ContentionKind::Block);
        assert_eq!(profile.header.sample_types, SAMPLE_TYPES);
        assert_eq!(
            (profile.header.period, profile.header.duration_nanos),
            (1, 3_000)
        );
        assert!(profile.comments[0].contains("2 events dropped"));
    }
}
