//! COLD: findings and waits as people read them: [`Deadlock`] reports for the API
//! and the background check, and the `waiting ...` / `holding ...` lines of dumps.

use std::fmt;
use std::time::Duration;

use rustc_hash::FxHashMap as HashMap;

use super::graph::{Cause, Finding};
use super::owner::{self, Identity};
use super::waits::{Mode, Wait};
use crate::clock::{ticks, ticks_to_ns};

/// A lock as reports name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRef {
    /// The name given to `profiled_mutex!` and friends; `unnamed` for a lock made
    /// with `new`.
    pub name: &'static str,
    /// `lock`, `rwlock`, `async lock` or `async rwlock`.
    pub kind: &'static str,
    /// Where the named lock was declared, when it was.
    pub location: Option<(&'static str, u32)>,
}

impl fmt::Display for LockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.name)?;
        if let Some((file, line)) = self.location {
            write!(f, " ({file}:{line})")?;
        }
        Ok(())
    }
}

/// One thread or task in a [`Deadlock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Its `goroutine` number in dumps: the tid of a thread, the id of a task.
    pub goroutine: u64,
    /// A task (else a thread).
    pub task: bool,
    /// The thread's name, or the task's spawn site; may be empty.
    pub name: String,
    /// The lock it waits for.
    pub waits_for: LockRef,
    /// How long it has waited.
    pub waiting: Duration,
    /// Who holds that lock (its `goroutine` number); `None` when no exclusive owner.
    pub held_by: Option<u64>,
    /// The locks it holds that others in the report wait for.
    pub holds: Vec<LockRef>,
}

/// Why a [`Deadlock`]'s members can never wake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeadlockCause {
    /// The members wait in a cycle: each for a lock the next holds, the last for a
    /// lock the first holds.
    Cycle,
    /// The members wait for locks held by `goroutine`, which exited holding them (a
    /// guard forgotten with `mem::forget`, or leaked).
    OwnerExited {
        /// The exited owner's `goroutine` number.
        goroutine: u64,
    },
}

/// Threads and tasks that can never wake, and why.
///
/// ```
/// for deadlock in profiled::deadlock::check() {
///     eprintln!("{deadlock}"); // one line per member, naming every lock
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    /// Why its members can never wake.
    pub cause: DeadlockCause,
    /// The cycle (in order) or the waiters on the exited owner's locks.
    pub members: Vec<Stuck>,
    /// Those waiting behind the members (for a member's lock, or behind such a
    /// waiter).
    pub behind: Vec<Stuck>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            DeadlockCause::Cycle => writeln!(
                f,
                "deadlock: {} in a wait-for cycle",
                plural(self.members.len(), "goroutine")
            )?,
            DeadlockCause::OwnerExited { goroutine } => writeln!(
                f,
                "leak: {} waiting for locks held by goroutine {goroutine}, which exited",
                plural(self.members.len(), "goroutine")
            )?,
        }
        for (i, stuck) in self.members.iter().chain(&self.behind).enumerate() {
            let role = if i < self.members.len() {
                ""
            } else {
                "behind: "
            };
            write!(
                f,
                "  {role}goroutine {} [{}",
                stuck.goroutine,
                kind(stuck.task)
            )?;
            write!(f, " {:?}]", stuck.name)?;
            for held in &stuck.holds {
                write!(f, " holds {held};")?;
            }
            write!(
                f,
                " waits {} for {}",
                seconds(stuck.waiting),
                stuck.waits_for
            )?;
            if let Some(owner) = stuck.held_by {
                write!(f, " held by goroutine {owner}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn kind(task: bool) -> &'static str {
    if task { "task" } else { "thread" }
}

/// `1.2 s`, or milliseconds under a second.
fn seconds(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.1} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Names of live threads and tracked tasks, for reports.
pub(crate) struct Names {
    threads: HashMap<u64, String>,
    tasks: HashMap<u64, String>,
}

impl Names {
    /// Thread names as their spawners gave them (else `/proc`), task spawn sites.
    pub(crate) fn read() -> Names {
        let spawned = crate::thread::spawned::live();
        let threads = crate::thread::proc::tids()
            .into_iter()
            .filter_map(|tid| {
                let name = match spawned.get(&tid).and_then(|s| s.name.clone()) {
                    Some(name) => name,
                    None => crate::thread::proc::status(tid)?.name,
                };
                Some((u64::try_from(tid).ok()?, name))
            })
            .collect();
        let tasks = crate::task::tasks()
            .into_iter()
            .map(|task| (task.id, task.spawned_at))
            .collect();
        Names { threads, tasks }
    }

    /// Names given by the caller (a dump that read them already).
    pub(crate) fn from_records(
        threads: HashMap<u64, String>,
        tasks: HashMap<u64, String>,
    ) -> Names {
        Names { threads, tasks }
    }

    fn of(&self, identity: Identity) -> Option<&str> {
        let (task, id) = owner::split(identity);
        if !task {
            self.threads.get(&id).map(String::as_str)
        } else if identity & owner::TASK != 0 {
            self.tasks.get(&id).map(String::as_str)
        } else {
            Some("")
        }
    }

    /// `goroutine 7 [thread "auditor"]`, `goroutine 7 [exited]`.
    fn goroutine(&self, identity: Identity) -> String {
        let (task, id) = owner::split(identity);
        let what = if identity & owner::TOKIO_TASK != 0 {
            "tokio task"
        } else {
            kind(task)
        };
        match self.of(identity) {
            Some(name) => format!("goroutine {id} [{what} {name:?}]"),
            None => format!("goroutine {id} [{what}, exited]"),
        }
    }
}

fn lock_ref(wait: &Wait) -> LockRef {
    LockRef {
        name: wait.site.map_or("unnamed", |site| site.name()),
        kind: wait.kind.noun(),
        location: wait.site.map(|site| site.location()),
    }
}

/// Time from `since` to `now`, both in ticks.
fn elapsed(since: u64, now: u64) -> Duration {
    Duration::from_nanos(ticks_to_ns(now.saturating_sub(since)))
}

fn stuck(wait: &Wait, all: &[&Wait], names: &Names, now: u64) -> Stuck {
    let (task, goroutine) = owner::split(wait.waiter);
    let mut holds: Vec<LockRef> = Vec::new();
    for other in all.iter().filter(|other| other.owner == wait.waiter) {
        let held = lock_ref(other);
        if !holds.contains(&held) {
            holds.push(held);
        }
    }
    Stuck {
        goroutine,
        task,
        name: names.of(wait.waiter).unwrap_or("").to_owned(),
        waits_for: lock_ref(wait),
        waiting: elapsed(wait.since, now),
        held_by: (wait.owner != 0).then(|| owner::split(wait.owner).1),
        holds,
    }
}

/// A finding as a public report.
pub(crate) fn deadlock(finding: &Finding, names: &Names) -> Deadlock {
    let now = ticks();
    let all: Vec<&Wait> = finding.waits().collect();
    let each = |waits: &[Wait]| -> Vec<Stuck> {
        waits.iter().map(|w| stuck(w, &all, names, now)).collect()
    };
    Deadlock {
        cause: match finding.cause {
            Cause::Cycle => DeadlockCause::Cycle,
            Cause::OwnerGone { owner } => DeadlockCause::OwnerExited {
                goroutine: owner::split(owner).1,
            },
        },
        members: each(&finding.members),
        behind: each(&finding.behind),
    }
}

/// The lines a dump prints under each waiter's and holder's header, by identity:
/// `waiting 1.2 s for lock "accounts" (src/bank.rs:12) held by goroutine 7 [thread
/// "auditor"]` and `holding lock "accounts" for 1.4 s, 3 waiting`.
pub(crate) fn describe_waits(waits: &[Wait], names: &Names) -> HashMap<Identity, Vec<String>> {
    let now = ticks();
    let mut lines: HashMap<Identity, Vec<String>> = HashMap::default();
    // Per held lock: (owner, lock, hold start, waiters), in first-seen order.
    let mut held: Vec<(Identity, &Wait, usize)> = Vec::new();
    for wait in waits {
        let verb = match wait.mode {
            Mode::Exclusive => "",
            Mode::Shared => " to read",
            Mode::Upgradable => " as the upgradable reader",
            Mode::Upgrading => " to upgrade",
        };
        let holder = if wait.owner == 0 || wait.mode == Mode::Upgrading {
            match wait.kind {
                owner::Kind::RwLock | owner::Kind::AsyncRwLock => "held by readers".to_owned(),
                owner::Kind::Semaphore => "with no permit free".to_owned(),
                _ => "being released".to_owned(),
            }
        } else {
            format!("held by {}", names.goroutine(wait.owner))
        };
        lines.entry(wait.waiter).or_default().push(format!(
            "waiting {} for {}{verb} {holder}",
            seconds(elapsed(wait.since, now)),
            lock_ref(wait)
        ));
        if wait.owner != 0 && wait.mode != Mode::Upgrading {
            match held
                .iter_mut()
                .find(|(owner, lock, _)| *owner == wait.owner && lock.lock == wait.lock)
            {
                Some((_, _, count)) => *count += 1,
                None => held.push((wait.owner, wait, 1)),
            }
        }
    }
    for (owner, wait, count) in held {
        let duration = match wait.held_since {
            Some((since, true)) => format!(" for {}", seconds(elapsed(since, now))),
            Some((since, false)) => format!(" for at least {}", seconds(elapsed(since, now))),
            None => String::new(),
        };
        lines.entry(owner).or_default().push(format!(
            "holding {}{duration}, {count} waiting",
            lock_ref(wait)
        ));
    }
    lines
}
