//! The `threadcreate` profile: spawns through `profiled::thread` by spawn stack since
//! the process started, and live threads not started through it under an empty
//! stack, as Go counts threads it has no creation stack for.

use super::counts::CountSnapshot;
use super::{Output, Source, document};
use crate::clock::unix_nanos;
use crate::profile::{Document, TextForm};
use crate::thread::spawned;

/// `/debug/pprof/threadcreate`.
pub(crate) struct Threadcreate;

impl Source for Threadcreate {
    const NAME: &'static str = "threadcreate";
    const DESCRIPTION: &'static str = "Stack traces that led to the creation of new OS threads \
         (through profiled::thread); other threads counted with an empty stack";
    type Snapshot = CountSnapshot;

    fn count() -> usize {
        usize::try_from(snapshot().total()).unwrap_or(0)
    }

    fn snapshot() -> CountSnapshot {
        snapshot()
    }

    fn subtract(after: &CountSnapshot, before: &CountSnapshot) -> CountSnapshot {
        after.minus(before)
    }

    fn model(snapshot: &CountSnapshot, output: Output) -> Document {
        let text = TextForm::Count { name: Self::NAME };
        document::<Self>(snapshot.profile(Self::NAME), output, text)
    }
}

fn snapshot() -> CountSnapshot {
    let created = spawned::created();
    let wrapped_live = spawned::live().len();
    let others = crate::thread::thread_count().saturating_sub(wrapped_live);
    let mut rows: Vec<(Vec<usize>, i64)> = created
        .stacks
        .into_iter()
        .map(|(frames, count)| (frames, i64::try_from(count).unwrap_or(i64::MAX)))
        .collect();
    if others > 0 {
        rows.push((Vec::new(), i64::try_from(others).unwrap_or(i64::MAX)));
    }
    let mut comments = Vec::new();
    if created.dropped > 0 {
        comments.push(format!(
            "profiled: {} spawns not recorded: spawn stack table full",
            created.dropped
        ));
    }
    CountSnapshot {
        rows,
        comments,
        time_nanos: unix_nanos(),
        duration_nanos: 0,
    }
}
