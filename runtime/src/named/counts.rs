//! Count profiles (`goroutine`, `threadcreate`): stacks and how many threads, tasks
//! or spawns share each, modelled as Go's `printCountProfile`.

use rustc_hash::FxHashMap as HashMap;

use crate::profile::build::from_rows;
use crate::profile::{Header, Profile};

/// Stacks and how many records (or spawns) share each.
#[derive(Clone, Debug, Default)]
pub(crate) struct CountSnapshot {
    pub rows: Vec<(Vec<usize>, i64)>,
    pub comments: Vec<String>,
    pub time_nanos: i64,
    /// Nonzero for the difference of two snapshots.
    pub duration_nanos: i64,
}

impl CountSnapshot {
    /// One row per distinct stack, counting how often each occurs.
    pub(crate) fn of_stacks<'a>(
        stacks: impl Iterator<Item = &'a [usize]>,
        comments: Vec<String>,
        time_nanos: i64,
    ) -> Self {
        let mut counts: HashMap<&[usize], i64> = HashMap::default();
        for stack in stacks {
            *counts.entry(stack).or_default() += 1;
        }
        CountSnapshot {
            rows: counts
                .into_iter()
                .map(|(frames, count)| (frames.to_vec(), count))
                .collect(),
            comments,
            time_nanos,
            duration_nanos: 0,
        }
    }

    /// Sum of the counts.
    pub(crate) fn total(&self) -> i64 {
        self.rows.iter().map(|(_, count)| count).sum()
    }

    /// `self - before` per stack, dropping zero rows, as Go's delta profiles.
    pub(crate) fn minus(&self, before: &CountSnapshot) -> CountSnapshot {
        let mut counts: HashMap<&[usize], i64> = HashMap::default();
        for (frames, count) in &self.rows {
            *counts.entry(frames.as_slice()).or_default() += count;
        }
        for (frames, count) in &before.rows {
            *counts.entry(frames.as_slice()).or_default() -= count;
        }
        CountSnapshot {
            rows: counts
                .into_iter()
                .filter(|(_, count)| *count != 0)
                .map(|(frames, count)| (frames.to_vec(), count))
                .collect(),
            comments: self.comments.clone(),
            time_nanos: self.time_nanos,
            duration_nanos: self.time_nanos.saturating_sub(before.time_nanos),
        }
    }

    /// The count profile `name/count`, period 1.
    pub(crate) fn profile(&self, name: &'static str) -> Profile {
        let rows = self
            .rows
            .iter()
            .map(|(frames, count)| (frames.as_slice(), vec![*count]));
        let header = Header::count(name, self.time_nanos, self.duration_nanos);
        from_rows(header, rows, self.comments.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_snapshots_subtract_per_stack() {
        let before = CountSnapshot {
            rows: vec![(vec![1, 2], 3), (vec![5], 1)],
            time_nanos: 10,
            ..CountSnapshot::default()
        };
        let after = CountSnapshot {
            rows: vec![(vec![1, 2], 5), (vec![5], 1), (vec![], 2)],
            time_nanos: 25,
            ..CountSnapshot::default()
        };
        let delta = after.minus(&before);
        assert_eq!((delta.time_nanos, delta.duration_nanos), (25, 15));
        let mut rows = delta.rows;
        rows.sort();
        assert_eq!(rows, vec![(vec![], 2), (vec![1, 2], 2)]);
    }

    #[test]
    fn equal_stacks_are_counted_once() {
        let stacks: [&[usize]; 3] = [&[1, 2], &[3], &[1, 2]];
        let mut counts = CountSnapshot::of_stacks(stacks.into_iter(), Vec::new(), 0).rows;
        counts.sort();
        assert_eq!(counts, vec![(vec![1, 2], 2), (vec![3], 1)]);
        let profile = CountSnapshot {
            rows: counts,
            ..CountSnapshot::default()
        }
        .profile("goroutine");
        assert_eq!(profile.header.sample_types[0].ty, "goroutine");
        assert_eq!(
            (profile.header.period_type.unit, profile.header.period),
            ("count", 1)
        );
    }
}
