//! The `goroutineleak` profile (Go 1.27): the threads and tasks that can never wake,
//! found by walking the wait-for graph (`deadlock/graph.rs`): members of a wait-for
//! cycle, waiters on a lock whose owner exited holding it, and whoever waits behind
//! them. A count profile like `goroutine` (`debug=1`: `goroutineleak profile: total
//! N`); `debug=2` prints each finding for a person, then every stuck thread's or
//! task's block with the lock it holds and the lock it waits for.

use rustc_hash::FxHashSet as HashSet;

use super::counts::CountSnapshot;
use super::goroutine::{self, GoroutineRecord};
use super::{Output, Source, document};
use crate::clock::unix_nanos;
use crate::deadlock::{self, graph};
use crate::profile::{Document, TextForm};

/// `/debug/pprof/goroutineleak`.
pub(crate) struct GoroutineLeak;

/// The stuck records (for the dump), what was found (for people), and the counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Leaks {
    records: Vec<GoroutineRecord>,
    /// Each finding as text, one line per element.
    findings: Vec<String>,
    counts: CountSnapshot,
}

impl Source for GoroutineLeak {
    const NAME: &'static str = "goroutineleak";
    const DESCRIPTION: &'static str = "Stack traces of threads and tasks that can never wake: \
         members of a wait-for cycle (a deadlock) and waiters on a lock whose owner exited";
    type Snapshot = Leaks;

    fn count() -> usize {
        deadlock::stuck_count()
    }

    fn snapshot() -> Leaks {
        let findings = graph::detect();
        if findings.is_empty() {
            return Leaks {
                counts: CountSnapshot::of_stacks(std::iter::empty(), Vec::new(), unix_nanos()),
                ..Leaks::default()
            };
        }
        let stuck: HashSet<u64> = findings
            .iter()
            .flat_map(graph::Finding::waits)
            .map(|wait| wait.waiter)
            .collect();
        // Stacks come from a dump of everyone (the stuck cannot answer faster alone).
        let (records, mut comments) = goroutine::records();
        let names = goroutine::names(&records);
        let mut text = Vec::new();
        for (i, finding) in findings.iter().enumerate() {
            let report = deadlock::report_of(finding, &names);
            text.extend(report.to_string().lines().enumerate().map(|(n, line)| {
                if n == 0 {
                    format!("{}. {line}", i + 1)
                } else {
                    line.to_owned()
                }
            }));
        }
        let records: Vec<GoroutineRecord> = records
            .into_iter()
            .filter(|record| stuck.contains(&record.identity()))
            .collect();
        let missing = stuck.len().saturating_sub(records.len());
        if missing > 0 {
            comments.push(format!(
                "profiled: {missing} stuck tasks are not tracked by profiled::task and have no stack here"
            ));
        }
        let stacks = records.iter().map(|record| record.frames.as_slice());
        let mut counts = CountSnapshot::of_stacks(stacks, comments, unix_nanos());
        // Untracked tokio tasks count too, under an empty stack.
        if missing > 0 {
            counts.rows.push((Vec::new(), missing as i64));
        }
        Leaks {
            records,
            findings: text,
            counts,
        }
    }

    fn subtract(after: &Leaks, before: &Leaks) -> Leaks {
        Leaks {
            records: Vec::new(),
            findings: Vec::new(),
            counts: after.counts.minus(&before.counts),
        }
    }

    fn model(snapshot: &Leaks, output: Output) -> Document {
        if let Output::Go { debug } = output
            && debug >= 2
        {
            let mut comments = vec![format!(
                "goroutineleak: {} threads and tasks can never wake",
                snapshot.counts.total()
            )];
            comments.extend(snapshot.findings.iter().cloned());
            comments.extend(snapshot.counts.comments.iter().cloned());
            return Document::Dump(goroutine::dump(&snapshot.records, &comments));
        }
        let text = TextForm::Count { name: Self::NAME };
        document::<Self>(snapshot.counts.profile(Self::NAME), output, text)
    }
}
