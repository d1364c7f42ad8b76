//! Threads started through [`crate::thread`]: the live ones (name, spawn time, spawn
//! stack) for dumps, and a bounded count of spawns per spawn stack (threadcreate).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::clock::unix_nanos;
use crate::registry::{AVERAGE_DEPTH, StackId, StackTable};

/// Most live wrapped threads tracked at once; more run fine but show no spawn site.
const MAX_LIVE: usize = 4096;
/// Distinct spawn stacks the threadcreate table holds.
const MAX_SPAWN_STACKS: usize = 1024;

/// A live thread started through the wrappers.
#[derive(Clone, Debug)]
pub(crate) struct LiveThread {
    /// The name given to the `Builder`, untruncated.
    pub name: Option<String>,
    /// When `spawn` was called, in Unix nanoseconds.
    pub spawned_nanos: i64,
    /// The spawn stack (innermost first), if it fit in the table.
    pub created_by: Option<Vec<usize>>,
}

/// (name, spawn time in Unix nanoseconds, spawn stack) of a live wrapped thread.
type LiveEntry = (Option<String>, i64, Option<StackId>);

/// The live wrapped threads, and spawn counts per spawn stack.
struct SpawnTable {
    live: Mutex<HashMap<libc::pid_t, LiveEntry>>,
    stacks: StackTable,
    /// Spawns per spawn stack, indexed by [`StackId`].
    counts: crate::zeroed::Table<AtomicU64>,
    /// Spawns whose stack did not fit in `stacks`.
    dropped_spawns: AtomicU64,
    /// Live threads not tracked because `live` was full.
    untracked_live: AtomicU64,
}

fn table() -> &'static SpawnTable {
    static TABLE: OnceLock<SpawnTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The profiler's own memory, whichever thread builds it first.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Other);
        let stacks = StackTable::new(MAX_SPAWN_STACKS, AVERAGE_DEPTH);
        let counts = crate::zeroed::slice(stacks.capacity());
        SpawnTable {
            live: Mutex::new(HashMap::new()),
            stacks,
            counts,
            dropped_spawns: AtomicU64::new(0),
            untracked_live: AtomicU64::new(0),
        }
    })
}

/// Counts one spawn under `frames`; returns the stack's id if it fit.
pub(crate) fn record_spawn(frames: &[usize]) -> Option<StackId> {
    let table = table();
    let Some(id) = table.stacks.intern(frames) else {
        table.dropped_spawns.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    // Relaxed: an independent counter, read by snapshots only.
    if let Some(count) = table.counts.get(id) {
        count.fetch_add(1, Ordering::Relaxed);
    }
    Some(id)
}

/// Registers the calling thread until the returned guard drops (at thread exit,
/// also when the thread panics).
pub(crate) fn register(created_by: Option<StackId>, name: Option<String>) -> Registration {
    let tid = super::current_tid();
    let table = table();
    let mut live = table.live.lock();
    let tracked = live.len() < MAX_LIVE;
    if tracked {
        live.insert(tid, (name, unix_nanos(), created_by));
    } else {
        table.untracked_live.fetch_add(1, Ordering::Relaxed);
    }
    Registration { tid, tracked }
}

/// Removes its thread from the live table when dropped.
pub(crate) struct Registration {
    tid: libc::pid_t,
    tracked: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let table = table();
        if self.tracked {
            table.live.lock().remove(&self.tid);
        } else {
            table.untracked_live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The live wrapped threads by tid.
pub(crate) fn live() -> HashMap<libc::pid_t, LiveThread> {
    let table = table();
    let entries: Vec<_> = table
        .live
        .lock()
        .iter()
        .map(|(&tid, (name, spawned, stack))| (tid, name.clone(), *spawned, *stack))
        .collect();
    entries
        .into_iter()
        .map(|(tid, name, spawned_nanos, stack)| {
            let created_by = stack.and_then(|id| table.stacks.frames(id));
            (
                tid,
                LiveThread {
                    name,
                    spawned_nanos,
                    created_by,
                },
            )
        })
        .collect()
}

/// Spawn stacks with their spawn counts since the process started.
#[derive(Clone, Debug, Default)]
pub(crate) struct Created {
    pub stacks: Vec<(Vec<usize>, u64)>,
    /// Spawns not in `stacks` because the table was full.
    pub dropped: u64,
}

pub(crate) fn created() -> Created {
    let table = table();
    let stacks = table
        .counts
        .iter()
        .enumerate()
        .filter_map(|(id, count)| {
            let count = count.load(Ordering::Relaxed);
            if count == 0 {
                return None;
            }
            Some((table.stacks.frames(id)?, count))
        })
        .collect();
    Created {
        stacks,
        dropped: table.dropped_spawns.load(Ordering::Relaxed),
    }
}
