//! The `goroutine` profile: a plain list of [`GoroutineRecord`]s (one per live thread
//! and one per tracked task), modelled as a count profile (proto, Go's `debug=1`
//! text) or as Go's `debug=2` full dump.

use rustc_hash::FxHashMap as HashMap;
use std::time::Duration;

use super::counts::CountSnapshot;
use super::{Output, Source, document};
use crate::clock::unix_nanos;
use crate::deadlock::owner::{self, Identity};
use crate::deadlock::{self, waits};
use crate::labels;
use crate::profile::text::dump::{self, Dump};
use crate::profile::{Document, TextForm};
use crate::stack::frame::split_labels;
use crate::stack::symbolize::{self, Lines};
use crate::thread::{self, spawned};

/// `/debug/pprof/goroutine`.
pub(crate) struct Goroutine;

/// Every record (for the dump) and their counts per stack (for everything else).
#[derive(Clone, Debug, Default)]
pub(crate) struct Goroutines {
    /// Empty in the difference of two snapshots (`seconds` excludes `debug=2`).
    records: Vec<GoroutineRecord>,
    counts: CountSnapshot,
}

impl Source for Goroutine {
    const NAME: &'static str = "goroutine";
    const DESCRIPTION: &'static str = "Stack traces of all current threads, and of tasks spawned \
         through profiled::task (their #[profiled] chain)";
    type Snapshot = Goroutines;

    fn count() -> usize {
        crate::thread::thread_count() + crate::task::task_count()
    }

    fn snapshot() -> Goroutines {
        let (records, comments) = records();
        let stacks = records.iter().map(|record| record.frames.as_slice());
        let counts = CountSnapshot::of_stacks(stacks, comments, unix_nanos());
        Goroutines { records, counts }
    }

    fn subtract(after: &Goroutines, before: &Goroutines) -> Goroutines {
        Goroutines {
            records: Vec::new(),
            counts: after.counts.minus(&before.counts),
        }
    }

    fn model(snapshot: &Goroutines, output: Output) -> Document {
        if let Output::Go { debug } = output
            && debug >= 2
        {
            return Document::Dump(dump(&snapshot.records, &snapshot.counts.comments));
        }
        let text = TextForm::Count { name: Self::NAME };
        document::<Self>(snapshot.counts.profile(Self::NAME), output, text)
    }
}

/// One goroutine-like unit of execution in a dump: an OS thread, or (later) a task.
#[derive(Clone, Debug)]
pub(crate) struct GoroutineRecord {
    /// Shown as `goroutine <id>`: the tid for threads.
    pub id: u64,
    /// `thread` (or `task`), named in the debug=2 header.
    pub kind: &'static str,
    /// The thread's (or task's) name; may be empty.
    pub name: String,
    /// What it is doing, e.g. `sleeping`, `running`, `idle`.
    pub state: String,
    /// How long it has waited in `state`, when known (tasks: time since last poll).
    pub wait: Option<Duration>,
    /// Return addresses, innermost first; empty when not captured.
    pub frames: Vec<usize>,
    /// Why `frames` is empty, for the debug=2 dump.
    pub missing: Option<&'static str>,
    /// The spawn stack (innermost first) when started through a wrapper.
    pub created_by: Option<Vec<usize>>,
    /// Time since it was spawned, when known.
    pub age: Option<Duration>,
    /// The record of the thread writing the dump (printed first, as Go does).
    pub current: bool,
    /// Lines under the header: the lock it waits for and who holds it, the locks
    /// it holds that others wait for.
    pub notes: Vec<String>,
}

impl GoroutineRecord {
    /// Its identity as a lock owner or waiter.
    pub(crate) fn identity(&self) -> Identity {
        if self.kind == "task" {
            owner::TASK | self.id
        } else {
            self.id
        }
    }
}

/// Every live thread and tracked task as records, with comments for the profile,
/// each with what it waits for and holds.
pub(crate) fn records() -> (Vec<GoroutineRecord>, Vec<String>) {
    let (mut records, comments) = thread_records();
    records.extend(crate::task::goroutine_records());
    let waits = waits::snapshot();
    if !waits.is_empty() {
        let mut lines = deadlock::describe_waits(&waits, &names(&records));
        for record in &mut records {
            if let Some(notes) = lines.remove(&record.identity()) {
                record.notes = notes;
            }
        }
    }
    (records, comments)
}

/// The names of `records`, for describing waits.
pub(crate) fn names(records: &[GoroutineRecord]) -> deadlock::Names {
    let (mut threads, mut tasks) = (HashMap::default(), HashMap::default());
    for record in records {
        let table = if record.kind == "task" {
            &mut tasks
        } else {
            &mut threads
        };
        table.insert(record.id, record.name.clone());
    }
    deadlock::Names::from_records(threads, tasks)
}

/// A dump of every live thread as records, with comments for the profile.
pub(crate) fn thread_records() -> (Vec<GoroutineRecord>, Vec<String>) {
    let dump = thread::dump::take();
    let now = unix_nanos();
    let mut live = spawned::live();
    let mut comments = Vec::new();
    let missing = dump
        .threads
        .iter()
        .filter(|t| t.outcome.missing_reason().is_some())
        .count();
    if missing > 0 {
        comments.push(format!(
            "profiled: {missing} of {} threads listed without a stack (did not answer, block the dump signal, or are exiting)",
            dump.threads.len()
        ));
    }
    let records = dump
        .threads
        .into_iter()
        .map(|thread| {
            let spawned = live.remove(&thread.tid);
            let name = spawned
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or(thread.status.name);
            GoroutineRecord {
                id: u64::try_from(thread.tid).unwrap_or(0),
                kind: "thread",
                name,
                state: thread.status.state_name,
                wait: None,
                missing: thread.outcome.missing_reason(),
                frames: thread.frames,
                age: spawned.as_ref().map(|s| {
                    Duration::from_nanos(
                        u64::try_from(now.saturating_sub(s.spawned_nanos)).unwrap_or(0),
                    )
                }),
                created_by: spawned.and_then(|s| s.created_by),
                current: thread.tid == dump.requester,
                notes: Vec::new(),
            }
        })
        .collect();
    (records, comments)
}

/// The full dump's model: the requester first, then by id, each record's frames
/// symbolized without the profiler's own.
pub(crate) fn dump(records: &[GoroutineRecord], comments: &[String]) -> Dump {
    let mut ordered: Vec<&GoroutineRecord> = records.iter().collect();
    ordered.sort_by_key(|record| (!record.current, record.id));
    symbolize::prefetch(ordered.iter().flat_map(|record| {
        let spawn = record.created_by.as_deref().unwrap_or_default();
        let frames = split_labels(&record.frames).0.iter();
        frames.chain(split_labels(spawn).0).copied()
    }));
    let mut cache: HashMap<usize, (Lines, bool)> = HashMap::default();
    let goroutines = ordered
        .into_iter()
        .map(|record| dump::Goroutine {
            labels: labels::sample_labels(split_labels(&record.frames).1, false)
                .iter()
                .map(|(key, value)| (*key, value.to_string()))
                .collect(),
            id: record.id,
            state: record.state.clone(),
            wait: record.wait,
            kind: record.kind,
            name: record.name.clone(),
            age: record.age,
            frames: user_frames(split_labels(&record.frames).0, &mut cache),
            missing: record.missing,
            notes: record.notes.clone(),
            created_by: record.created_by.as_ref().and_then(|spawn| {
                user_frames(split_labels(spawn).0, &mut cache)
                    .first()
                    .and_then(|(_, lines)| lines.first().cloned())
            }),
        })
        .collect();
    Dump {
        comments: comments.to_vec(),
        goroutines,
    }
}

/// The frames with their lines, without the profiler's own frames on top (as the
/// proto trims them): the requester's capture machinery, the spawn wrapper; inlined
/// profiler lines on top of a user frame go too.
fn user_frames(frames: &[usize], cache: &mut HashMap<usize, (Lines, bool)>) -> Vec<(usize, Lines)> {
    let resolved: Vec<(usize, (Lines, bool))> = frames
        .iter()
        .map(|&frame| {
            let user = cache
                .entry(frame)
                .or_insert_with(|| symbolize::resolve_user(frame))
                .clone();
            (frame, user)
        })
        .collect();
    let first_user = resolved
        .iter()
        .position(|(_, (_, internal))| !internal)
        .unwrap_or(resolved.len().saturating_sub(1));
    resolved
        .into_iter()
        .skip(first_user)
        .map(|(frame, (lines, _))| (frame, lines))
        .collect()
}
