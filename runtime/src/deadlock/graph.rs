//! COLD: the wait-for graph, walked on request only (a dump, the `goroutineleak`
//! profile, `/debug/stats`, `/metrics`, the optional background check).
//!
//! Each wait in progress is an edge from its waiter to the owner of the lock it waits
//! for. Every waiter waits for one lock, so following edges from any waiter either
//! ends (at a free lock, a lock held shared, or an owner that runs), or comes back to
//! a waiter already on the path (a cycle: a deadlock), or reaches an owner that no
//! longer exists (a thread that exited holding the lock, a forgotten guard). Waiters
//! whose path ends in a cycle or at a gone owner can never wake.
//!
//! The table is read without stopping anyone, so one reading can mix moments. A
//! finding is reported only when a second reading, taken after the first, shows every
//! wait in it unchanged (same waiter, same start, same lock, same owner): a wait with
//! the same start is one continuous wait, and a holder blocked in it cannot have
//! released its locks in between, so what both readings show was true at once.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::owner::{self, Identity};
use super::waits::{self, Mode, Wait};

/// Why waiters can never wake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The waits of `members` form a cycle, each waiting for a lock the next one
    /// holds (the last for the first's).
    Cycle,
    /// `members` wait for locks whose owner, `owner`, is gone (exited holding them).
    OwnerGone { owner: Identity },
}

/// A set of waits that can never end, and the waits stuck behind them.
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    pub cause: Cause,
    /// In cycle order for a cycle.
    pub members: Vec<Wait>,
    /// Waiters whose path leads into `members` (they wait for a member's lock, or
    /// for a lock whose owner waits behind one).
    pub behind: Vec<Wait>,
}

impl Finding {
    /// Every wait in it.
    pub(crate) fn waits(&self) -> impl Iterator<Item = &Wait> {
        self.members.iter().chain(&self.behind)
    }
}

/// What is alive now, for judging owners.
pub(crate) struct Liveness {
    threads: HashSet<u64>,
    tasks: HashSet<u64>,
}

impl Liveness {
    /// Reads the live threads (`/proc/self/task`) and tracked tasks.
    pub(crate) fn now() -> Liveness {
        Liveness {
            threads: crate::thread::proc::tids()
                .into_iter()
                .filter_map(|tid| u64::try_from(tid).ok())
                .collect(),
            tasks: crate::task::live_ids().into_iter().collect(),
        }
    }

    /// Whether `owner` still exists. Untracked tokio tasks cannot be checked and are
    /// taken as alive.
    fn alive(&self, owner: Identity) -> bool {
        match owner::split(owner) {
            (false, tid) => self.threads.contains(&tid),
            (true, id) if owner & owner::TASK != 0 => self.tasks.contains(&id),
            (true, _) => true,
        }
    }
}

/// What one reading of the table shows.
pub(crate) fn find(waits: &[Wait], live: &Liveness) -> Vec<Finding> {
    let by_waiter: HashMap<Identity, usize> = waits
        .iter()
        .enumerate()
        .map(|(i, w)| (w.waiter, i))
        .collect();
    // An upgrading reader owns the lock it waits on, and waits for its readers.
    let owner_of = |i: usize| -> Identity {
        match waits[i].mode {
            Mode::Upgrading => 0,
            _ => waits[i].owner,
        }
    };
    let next = |i: usize| -> Option<usize> {
        let owner = owner_of(i);
        (owner != 0)
            .then(|| by_waiter.get(&owner).copied())
            .flatten()
    };
    // The finding each waiter's path ends in (an index into `findings`), once known.
    #[derive(Clone, Copy, PartialEq)]
    enum Fate {
        Unknown,
        OnPath,
        Free,
        Stuck(usize),
    }
    let mut fate = vec![Fate::Unknown; waits.len()];
    let mut findings: Vec<Finding> = Vec::new();
    let mut gone: HashMap<Identity, usize> = HashMap::default();
    for start in 0..waits.len() {
        let mut path = Vec::new();
        let mut at = start;
        let end = loop {
            match fate[at] {
                Fate::Free => break Fate::Free,
                Fate::Stuck(finding) => break Fate::Stuck(finding),
                Fate::OnPath => {
                    // A cycle: the path from `at` on.
                    let from = path.iter().position(|&i| i == at).unwrap_or(0);
                    let members: Vec<usize> = path.split_off(from);
                    findings.push(Finding {
                        cause: Cause::Cycle,
                        members: members.iter().map(|&i| waits[i]).collect(),
                        behind: Vec::new(),
                    });
                    let finding = findings.len() - 1;
                    for &member in &members {
                        fate[member] = Fate::Stuck(finding);
                    }
                    break Fate::Stuck(finding);
                }
                Fate::Unknown => {}
            }
            fate[at] = Fate::OnPath;
            path.push(at);
            match next(at) {
                Some(following) => at = following,
                None => {
                    let owner = owner_of(at);
                    if owner == 0 || live.alive(owner) {
                        break Fate::Free;
                    }
                    let finding = *gone.entry(owner).or_insert_with(|| {
                        findings.push(Finding {
                            cause: Cause::OwnerGone { owner },
                            members: Vec::new(),
                            behind: Vec::new(),
                        });
                        findings.len() - 1
                    });
                    let last = path.pop().unwrap_or(at);
                    findings[finding].members.push(waits[last]);
                    fate[last] = Fate::Stuck(finding);
                    break Fate::Stuck(finding);
                }
            }
        };
        for &i in &path {
            fate[i] = end;
            if let Fate::Stuck(finding) = end {
                findings[finding].behind.push(waits[i]);
            }
        }
    }
    findings
}

/// The identity of a wait across readings.
fn key(wait: &Wait) -> (Identity, u64, usize, Identity) {
    (wait.waiter, wait.since, wait.lock, wait.owner)
}

/// What two readings of the table agree on (see the module's docs).
pub(crate) fn detect() -> Vec<Finding> {
    let first = waits::snapshot();
    if first.is_empty() {
        return Vec::new();
    }
    let live = Liveness::now();
    let seen: HashSet<_> = first.iter().map(key).collect();
    let second = waits::snapshot();
    let live_after = Liveness::now();
    find(&second, &live_after)
        .into_iter()
        .filter(|finding| {
            let owner_gone = match finding.cause {
                Cause::OwnerGone { owner } => !live.alive(owner),
                Cause::Cycle => true,
            };
            owner_gone && finding.waits().all(|w| seen.contains(&key(w)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::owner::Kind;
    use super::*;

    fn wait(waiter: Identity, lock: usize, owner: Identity) -> Wait {
        Wait {
            waiter,
            since: 1,
            mode: Mode::Exclusive,
            lock,
            site: None,
            kind: Kind::Mutex,
            owner,
            held_since: None,
        }
    }

    fn alive(threads: &[u64]) -> Liveness {
        Liveness {
            threads: threads.iter().copied().collect(),
            tasks: HashSet::default(),
        }
    }

    fn waiters(waits: &[Wait]) -> Vec<Identity> {
        let mut ids: Vec<_> = waits.iter().map(|w| w.waiter).collect();
        ids.sort();
        ids
    }

    #[test]
    fn two_threads_taking_two_locks_in_opposite_orders_are_a_cycle() {
        // 1 holds A (0x10) and waits for B (0x20); 2 holds B and waits for A; 3 waits
        // for A behind them; 4 waits for C (0x30), held by 5, who runs.
        let waits = [
            wait(1, 0x20, 2),
            wait(2, 0x10, 1),
            wait(3, 0x10, 1),
            wait(4, 0x30, 5),
        ];
        let findings = find(&waits, &alive(&[1, 2, 3, 4, 5]));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].cause, Cause::Cycle);
        assert_eq!(waiters(&findings[0].members), vec![1, 2]);
        assert_eq!(waiters(&findings[0].behind), vec![3]);
    }

    #[test]
    fn a_cycle_of_three_is_found_from_any_member_in_order() {
        let waits = [wait(7, 0x20, 8), wait(9, 0x10, 7), wait(8, 0x30, 9)];
        let findings = find(&waits, &alive(&[7, 8, 9]));
        assert_eq!(findings.len(), 1);
        let order: Vec<_> = findings[0].members.iter().map(|w| w.waiter).collect();
        // Each member waits for a lock the next one owns.
        for (i, member) in findings[0].members.iter().enumerate() {
            assert_eq!(member.owner, order[(i + 1) % order.len()]);
        }
        assert!(findings[0].behind.is_empty());
    }

    #[test]
    fn a_thread_waiting_for_a_lock_it_holds_is_a_cycle_of_one() {
        let findings = find(&[wait(4, 0x10, 4)], &alive(&[4]));
        assert_eq!(findings[0].cause, Cause::Cycle);
        assert_eq!(waiters(&findings[0].members), vec![4]);
    }

    #[test]
    fn waiters_for_an_exited_owner_are_stuck_and_chains_of_runners_are_not() {
        // 1 and 2 wait for A, owned by 6, exited; 3 waits for B, owned by 1.
        // 4 waits for C owned by 5, who waits for D held shared (no owner).
        let waits = [
            wait(1, 0x10, 6),
            wait(2, 0x10, 6),
            wait(3, 0x20, 1),
            wait(4, 0x30, 5),
            wait(5, 0x40, 0),
        ];
        let findings = find(&waits, &alive(&[1, 2, 3, 4, 5]));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].cause, Cause::OwnerGone { owner: 6 });
        assert_eq!(waiters(&findings[0].members), vec![1, 2]);
        assert_eq!(waiters(&findings[0].behind), vec![3]);
    }

    #[test]
    fn nothing_is_stuck_when_every_path_ends_at_a_runner() {
        let waits = [wait(1, 0x10, 2), wait(2, 0x20, 3), wait(4, 0x10, 2)];
        assert!(find(&waits, &alive(&[1, 2, 3, 4])).is_empty());
    }
}
