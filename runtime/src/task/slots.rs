//! A bounded, lock-free table of live tasks. Spawning claims a slot (cold), each
//! poll updates a few relaxed atomics (hot), completion frees the slot. When every
//! slot is taken, the task runs untracked and is counted as dropped.

// Only the spawn wrappers (feature `tokio`) write to the table; without them it
// is always empty, and its writing half unused.
#![cfg_attr(not(feature = "tokio"), allow(dead_code))]

use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::TaskInfo;
use crate::clock::now_ns;

/// Default number of tasks tracked at once.
///
/// ```
/// assert_eq!(profiled::Config::default().max_tasks, profiled::task::DEFAULT_MAX_TASKS);
/// ```
pub const DEFAULT_MAX_TASKS: usize = 16_384;

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const IDLE: u8 = 2;
const RUNNING: u8 = 3;

/// What a tracked task is doing.
///
/// ```
/// use profiled::task::TaskState;
/// let idle = profiled::task::tasks().iter().filter(|t| t.state == TaskState::Idle).count();
/// assert_eq!(idle, 0);
/// assert_eq!(serde_json::to_string(&TaskState::Idle).unwrap(), r#""idle""#); // as in /debug/stats
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting to be polled again (its last poll returned `Pending`), or not yet polled.
    Idle,
    /// Being polled, or (for `spawn_blocking`) running its closure.
    Running,
}

// SAFETY: atomic integers and an atomic pointer; all zero is FREE, no location.
unsafe impl crate::zeroed::Zeroed for Slot {}

pub(crate) struct Slot {
    state: AtomicU8,
    blocking: AtomicU8,
    id: AtomicU64,
    spawned_ns: AtomicU64,
    /// Monotonic ns of the last transition between idle and running.
    changed_ns: AtomicU64,
    polls: AtomicU64,
    location: AtomicPtr<Location<'static>>,
    /// Stack-table id + 1 of the spawn stack; 0 when not recorded.
    spawn_stack: AtomicUsize,
    /// Stack-table id + 1 of the logical chain of the last wait; 0 when none.
    chain: AtomicUsize,
    /// Label set (`crate::labels`) of the scope it last waited in; 0 when none.
    labels: AtomicU32,
}

/// The slots of every tracked task.
pub(crate) struct TaskTable {
    slots: crate::zeroed::Table<Slot>,
    next_hint: AtomicUsize,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_TASKS);
static TABLE: OnceLock<TaskTable> = OnceLock::new();

/// Sets the capacity used if the table has not been allocated yet.
pub(crate) fn set_capacity(max_tasks: usize) {
    CAPACITY.store(max_tasks.max(1), Ordering::Relaxed);
}

/// The table, allocating it on first use.
pub(crate) fn get() -> &'static TaskTable {
    TABLE.get_or_init(|| {
        // The profiler's own memory, whichever thread builds it first.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Other);
        TaskTable {
            // Zero pages: resident as tasks are tracked.
            slots: crate::zeroed::slice(CAPACITY.load(Ordering::Relaxed)),
            next_hint: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
        }
    })
}

/// The table if a task was ever spawned.
pub(crate) fn existing() -> Option<&'static TaskTable> {
    TABLE.get()
}

impl TaskTable {
    /// Claims a slot for a new task; `None` (counted as dropped) when all are taken.
    pub(crate) fn register(
        &self,
        location: &'static Location<'static>,
        spawn_stack: Option<usize>,
        blocking: bool,
    ) -> Option<usize> {
        let len = self.slots.len();
        let start = self.next_hint.fetch_add(1, Ordering::Relaxed);
        for offset in 0..len {
            let index = (start + offset) % len;
            let slot = &self.slots[index];
            if slot
                .state
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                let now = now_ns();
                slot.id.store(
                    self.next_id.fetch_add(1, Ordering::Relaxed),
                    Ordering::Relaxed,
                );
                slot.blocking.store(u8::from(blocking), Ordering::Relaxed);
                slot.spawned_ns.store(now, Ordering::Relaxed);
                slot.changed_ns.store(now, Ordering::Relaxed);
                slot.polls.store(0, Ordering::Relaxed);
                slot.location
                    .store(location as *const _ as *mut _, Ordering::Relaxed);
                slot.spawn_stack
                    .store(spawn_stack.map_or(0, |id| id + 1), Ordering::Relaxed);
                slot.chain.store(0, Ordering::Relaxed);
                slot.labels.store(0, Ordering::Relaxed);
                // Release: readers that see IDLE (Acquire) see the fields above.
                slot.state.store(IDLE, Ordering::Release);
                return Some(index);
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Before a poll: running; returns the task's id.
    #[inline]
    pub(crate) fn start_poll(&self, index: usize) -> u64 {
        match self.slots.get(index) {
            Some(slot) => {
                slot.changed_ns.store(now_ns(), Ordering::Relaxed);
                slot.state.store(RUNNING, Ordering::Release);
                slot.id.load(Ordering::Relaxed)
            }
            None => 0,
        }
    }

    /// After a poll: back to idle, with the chain of the wait it stopped at.
    #[inline]
    pub(crate) fn end_poll(&self, index: usize, chain: Option<usize>) {
        if let Some(slot) = self.slots.get(index) {
            slot.polls.fetch_add(1, Ordering::Relaxed);
            slot.chain
                .store(chain.map_or(0, |id| id + 1), Ordering::Relaxed);
            slot.changed_ns.store(now_ns(), Ordering::Relaxed);
            slot.state.store(IDLE, Ordering::Release);
        }
    }

    /// The labels of the scope the task waits in.
    #[inline]
    pub(crate) fn set_labels(&self, index: usize, labels: u32) {
        if let Some(slot) = self.slots.get(index) {
            slot.labels.store(labels, Ordering::Relaxed);
        }
    }

    pub(crate) fn unregister(&self, index: usize) {
        if let Some(slot) = self.slots.get(index) {
            slot.state.store(FREE, Ordering::Release);
        }
    }

    /// Tasks that could not be tracked because the table was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Every live task as its slot holds it now, with the stack-table ids of its
    /// spawn stack and wait chain; `created_by` and `waiting_in` are left empty for
    /// the caller to resolve from those ids.
    pub(crate) fn snapshot(&self) -> Vec<LiveTask> {
        let now = now_ns();
        self.slots
            .iter()
            .filter_map(|slot| {
                let state = match slot.state.load(Ordering::Acquire) {
                    IDLE => TaskState::Idle,
                    RUNNING => TaskState::Running,
                    _ => return None,
                };
                // SAFETY: `location` is only ever stored from a
                // `&'static Location<'static>` before the slot is published.
                let location = unsafe { slot.location.load(Ordering::Relaxed).as_ref() }?;
                let id_plus_one = |cell: &AtomicUsize| cell.load(Ordering::Relaxed).checked_sub(1);
                Some(LiveTask {
                    info: TaskInfo {
                        id: slot.id.load(Ordering::Relaxed),
                        state,
                        blocking: slot.blocking.load(Ordering::Relaxed) != 0,
                        polls: slot.polls.load(Ordering::Relaxed),
                        age_ns: now.saturating_sub(slot.spawned_ns.load(Ordering::Relaxed)),
                        in_state_ns: now.saturating_sub(slot.changed_ns.load(Ordering::Relaxed)),
                        spawned_at: format!("{}:{}", location.file(), location.line()),
                        created_by: None,
                        waiting_in: Vec::new(),
                    },
                    spawn_stack: id_plus_one(&slot.spawn_stack),
                    chain: id_plus_one(&slot.chain),
                    labels: slot.labels.load(Ordering::Relaxed),
                })
            })
            .collect()
    }

    pub(crate) fn live(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot.state.load(Ordering::Relaxed), IDLE | RUNNING))
            .count()
    }
}

/// One live task, as its slot last said.
#[derive(Clone, Debug)]
pub(crate) struct LiveTask {
    pub info: TaskInfo,
    /// Stack-table id of the spawn stack.
    pub spawn_stack: Option<usize>,
    /// Stack-table id of the logical chain (innermost first) of its current wait.
    pub chain: Option<usize>,
    /// Label set of the scope it waits in (0: none noted yet).
    pub labels: u32,
}
