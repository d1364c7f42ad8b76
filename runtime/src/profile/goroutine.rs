//! The goroutine and threadcreate profiles: a plain list of [`GoroutineRecord`]s (one
//! per live thread today; one per tracked task can be appended the same way), turned
//! into count profiles (proto, Go's `debug=1` text) or Go's `debug=2` full dump.

use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Write};
use std::time::Duration;

use super::{Profile, ValueType, build, text};
use crate::clock::unix_nanos;
use crate::stack::symbolize::{self, Line, Lines};
use crate::thread::{dump, spawned};

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
}

/// Every live thread and tracked task as records, with comments for the profile.
pub(crate) fn records() -> (Vec<GoroutineRecord>, Vec<String>) {
    let (mut records, comments) = thread_records();
    records.extend(crate::task::goroutine_records());
    (records, comments)
}

/// A dump of every live thread as records, with comments for the profile.
pub(crate) fn thread_records() -> (Vec<GoroutineRecord>, Vec<String>) {
    let dump = dump::take();
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
            }
        })
        .collect();
    (records, comments)
}

/// Stacks and how many records (or spawns) share each: what count profiles encode.
#[derive(Clone, Debug, Default)]
pub(crate) struct CountSnapshot {
    pub rows: Vec<(Vec<usize>, i64)>,
    pub comments: Vec<String>,
    pub time_nanos: i64,
}

impl CountSnapshot {
    /// One row per distinct stack over `records`.
    pub(crate) fn of_records(records: &[GoroutineRecord], comments: Vec<String>) -> Self {
        let mut counts: HashMap<&[usize], i64> = HashMap::default();
        for record in records {
            *counts.entry(record.frames.as_slice()).or_default() += 1;
        }
        CountSnapshot {
            rows: counts
                .into_iter()
                .map(|(frames, count)| (frames.to_vec(), count))
                .collect(),
            comments,
            time_nanos: unix_nanos(),
        }
    }

    /// The threadcreate profile: spawns through the wrappers by spawn stack since the
    /// process started, and live threads not started through them under an empty
    /// stack, as Go counts threads it has no creation stack for.
    pub(crate) fn threadcreate() -> Self {
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
        }
    }

    /// The count profile `name/count`, period 1, as Go's `printCountProfile`.
    pub(crate) fn profile(&self, name: &'static str) -> Profile {
        let rows = self
            .rows
            .iter()
            .map(|(frames, count)| (frames.as_slice(), vec![*count]));
        let mut profile = build::from_rows(rows, self.comments.clone());
        let count = ValueType {
            ty: name,
            unit: "count",
        };
        profile.sample_types = vec![count];
        profile.period_type = count;
        profile.period = 1;
        profile.time_nanos = self.time_nanos;
        profile
    }
}

/// Go's `debug=1` count text: `<name> profile: total N`, then per stack
/// `count @ pcs` and its `#` frame lines, most frequent first.
pub(crate) fn write_count_text(
    profile: &Profile,
    name: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Saturating, as samples' values are merged: a sum must not panic (debug
    // builds) or wrap (release builds).
    let total = profile
        .samples
        .iter()
        .filter_map(|s| s.values.first())
        .fold(0i64, |total, &count| total.saturating_add(count));
    writeln!(out, "{name} profile: total {total}")?;
    for comment in &profile.comments {
        writeln!(out, "# {comment}")?;
    }
    for sample in &profile.samples {
        let count = sample.values.first().copied().unwrap_or(0);
        write!(out, "{count} @")?;
        for &location in &sample.locations {
            write!(out, " {:#x}", profile.locations[location].address)?;
        }
        writeln!(out)?;
        text::write_frames(profile, &sample.locations, out)?;
    }
    Ok(())
}

/// Go's `debug=2` dump: one block per record, the current one first, then by id
/// (`<TAB>` is a tab):
///
/// ```text
/// goroutine 4242 [sleeping, thread "worker-1"]:
/// app::parked_worker(...)
/// <TAB>/src/main.rs:12
/// created by app::main
/// <TAB>/src/main.rs:30
///
/// ```
pub(crate) fn write_dump(
    records: &[GoroutineRecord],
    comments: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    for comment in comments {
        writeln!(out, "# {comment}")?;
    }
    if !comments.is_empty() {
        writeln!(out)?;
    }
    let mut ordered: Vec<&GoroutineRecord> = records.iter().collect();
    ordered.sort_by_key(|record| (!record.current, record.id));
    let mut cache: HashMap<usize, (Lines, bool)> = HashMap::default();
    for record in ordered {
        write!(out, "goroutine {} [{}", record.id, record.state)?;
        if let Some(wait) = record.wait {
            write!(out, ", {}", format_wait(wait))?;
        }
        write!(out, ", {} {:?}", record.kind, record.name)?;
        if let Some(age) = record.age {
            write!(out, ", spawned {} ago", format_wait(age))?;
        }
        writeln!(out, "]:")?;
        let frames = user_frames(&record.frames, &mut cache);
        for (address, lines) in &frames {
            if lines.is_empty() {
                writeln!(out, "{:#x}(...)\n\t?:0", address.saturating_sub(1))?;
            }
            for line in lines.iter() {
                writeln!(out, "{}(...)\n\t{}", line.function, file_line(line))?;
            }
        }
        if let Some(reason) = record.missing {
            writeln!(out, "\t(no stack: {reason})")?;
        }
        if let Some(spawn) = &record.created_by
            && let Some(line) = user_frames(spawn, &mut cache)
                .first()
                .and_then(|(_, lines)| lines.first().cloned())
        {
            writeln!(out, "created by {}\n\t{}", line.function, file_line(&line))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Go prints waits of a minute or more as `N minutes`; shorter ones are shown in
/// seconds, or milliseconds under a second, since tasks often wait less.
fn format_wait(wait: Duration) -> String {
    let seconds = wait.as_secs();
    if seconds >= 60 {
        format!("{} minutes", seconds / 60)
    } else if seconds >= 1 {
        format!("{seconds} seconds")
    } else {
        format!("{} ms", wait.as_millis())
    }
}

fn file_line(line: &Line) -> String {
    if line.file.is_empty() {
        "?:0".to_owned()
    } else {
        format!("{}:{}", line.file, line.line)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `encode` fuzz target (fuzz/README.md): the header's total
    /// overflowed (a panic with overflow checks) on two large counts.
    #[test]
    fn count_text_total_saturates() {
        let rows = [
            (&[][..], vec![8_314_771_153_002_795_666]),
            (&[0x1000][..], vec![8_791_026_472_627_208_034]),
        ];
        let profile = crate::profile::build::with_one_type(&rows, "goroutine", "count");
        let mut out = Vec::new();
        write_count_text(&profile, "goroutine", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(&format!("goroutine profile: total {}\n", i64::MAX)),
            "{text}"
        );
    }

    #[test]
    fn count_snapshots_subtract_per_stack() {
        let before = CountSnapshot {
            rows: vec![(vec![1, 2], 3), (vec![5], 1)],
            ..CountSnapshot::default()
        };
        let after = CountSnapshot {
            rows: vec![(vec![1, 2], 5), (vec![5], 1), (vec![], 2)],
            ..CountSnapshot::default()
        };
        let mut delta = after.minus(&before).rows;
        delta.sort();
        assert_eq!(delta, vec![(vec![], 2), (vec![1, 2], 2)]);
    }

    #[test]
    fn waits_read_like_go() {
        assert_eq!(format_wait(Duration::from_secs(125)), "2 minutes");
        assert_eq!(format_wait(Duration::from_secs(7)), "7 seconds");
        assert_eq!(format_wait(Duration::from_millis(250)), "250 ms");
    }
}
