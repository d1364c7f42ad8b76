//! Thread dumps: live OS threads and their current stacks, captured without
//! stopping the process.
//!
//! A dump lists every thread in `/proc/self/task` and asks each one for its stack with
//! a real-time signal (see `signal.rs` for the handler and its budget). Each thread
//! stops only for its own handler, a bounded frame-pointer walk of a few microseconds;
//! nobody waits for the whole process. Threads that do not answer within
//! [`DUMP_TIMEOUT`], that block the signal, or that already have one pending are listed
//! with their `/proc` state and an empty stack. The requesting thread walks its own
//! stack directly. One dump runs at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{current_tid, proc, signal};
use crate::control;
use crate::stack::Stack;

/// How long a dump waits for threads to answer.
pub(crate) const DUMP_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a dump waits for a handler that is still writing when the timeout hits.
const WRITING_GRACE: Duration = Duration::from_millis(50);

/// Serializes dumps.
static DUMP_LOCK: Mutex<DumpLockState> = Mutex::new(DumpLockState {
    generation: 0,
    suspects: Vec::new(),
});

struct DumpLockState {
    /// Generation of the last dump (tags slots and signals).
    generation: u32,
    /// Threads that did not answer the last dump: their masks are checked first.
    suspects: Vec<libc::pid_t>,
}
/// Dumps taken, and threads that did not answer in time (Relaxed: statistics only).
static DUMPS: AtomicU64 = AtomicU64::new(0);
static UNANSWERED: AtomicU64 = AtomicU64::new(0);

/// How a thread's stack was obtained, or why it is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The requesting thread: walked directly.
    Direct,
    /// Captured by the signal handler.
    Captured,
    /// The handler ran but the stack pointer lay in no known mapping: pc only.
    NoRange,
    /// Did not answer within [`DUMP_TIMEOUT`].
    TimedOut,
    /// The thread blocks the dump signal.
    Blocked,
    /// A dump signal is still pending for the thread from an earlier dump.
    Pending,
    /// No signal could be used (none free, or its handler was replaced).
    NoSignal,
    /// More threads than dump slots.
    TooMany,
    /// A zombie or dead thread: it runs no more handlers.
    Exiting,
    /// Exited between listing and signalling; left out of the dump.
    Exited,
}

impl Outcome {
    /// Why the stack is missing, for the debug=2 dump; `None` when it is there.
    pub(crate) fn missing_reason(self) -> Option<&'static str> {
        match self {
            Outcome::Direct | Outcome::Captured | Outcome::NoRange => None,
            Outcome::TimedOut => Some("thread did not answer the dump signal in time"),
            Outcome::Blocked => Some("thread blocks the dump signal"),
            Outcome::Pending => Some("an earlier dump signal is still pending"),
            Outcome::NoSignal => Some("no dump signal available"),
            Outcome::TooMany => Some("more threads than dump slots"),
            Outcome::Exiting | Outcome::Exited => Some("thread is exiting"),
        }
    }
}

/// One live thread in a dump.
#[derive(Clone, Debug)]
pub(crate) struct DumpedThread {
    pub tid: libc::pid_t,
    pub status: proc::TaskStatus,
    /// Return addresses, innermost first (the first is the interrupted pc + 1).
    pub frames: Vec<usize>,
    pub outcome: Outcome,
}

/// Every live thread of the process at one moment.
#[derive(Clone, Debug)]
pub(crate) struct ThreadDump {
    /// Ascending by tid.
    pub threads: Vec<DumpedThread>,
    /// The thread that took the dump.
    pub requester: libc::pid_t,
    /// How long the capture took (listing, signalling, waiting).
    pub elapsed: Duration,
}

/// Takes a dump of every live thread. Blocks while another dump runs.
///
/// Each thread's name and state are read from `/proc` just before its signal goes
/// out (a thread running its handler is `running`, whatever it was doing), so the
/// handlers of earlier threads run while later ones are read. Only threads that
/// failed to answer an earlier dump have their signal masks checked first (so a
/// thread that blocks the signal, or still has one pending, gets at most one).
pub(crate) fn take() -> ThreadDump {
    let mut lock = DUMP_LOCK.lock();
    let started = Instant::now();
    DUMPS.fetch_add(1, Ordering::Relaxed);
    let requester = current_tid();
    let own = Stack::capture(|stack| stack.frames().to_vec());

    let mut threads = list();
    let sent = signal_threads(&mut lock, &mut threads, requester);
    let deadline = Instant::now() + DUMP_TIMEOUT;
    read_statuses(&mut threads, &sent.status_read);
    if !sent.requests.is_empty() {
        collect(&mut threads, &sent.requests, sent.generation, deadline);
    }

    if let Some(own_thread) = threads.iter_mut().find(|t| t.tid == requester) {
        own_thread.frames = own;
        own_thread.outcome = Outcome::Direct;
        own_thread.status.state_name = "running".into();
    }
    // Threads that exited after being listed are not part of the dump. A thread whose
    // status vanished after it answered has exited too.
    threads.retain(|t| t.outcome != Outcome::Exited && !t.status.state_name.is_empty());
    lock.suspects = threads
        .iter()
        .filter(|t| {
            matches!(
                t.outcome,
                Outcome::TimedOut | Outcome::Blocked | Outcome::Pending | Outcome::Exiting
            )
        })
        .map(|t| t.tid)
        .collect();
    drop(lock);
    ThreadDump {
        threads,
        requester,
        elapsed: started.elapsed(),
    }
}

/// Step 1: every live thread, without status or stack yet.
fn list() -> Vec<DumpedThread> {
    proc::tids()
        .into_iter()
        .map(|tid| DumpedThread {
            tid,
            status: proc::TaskStatus::default(),
            frames: Vec::new(),
            outcome: Outcome::NoSignal,
        })
        .collect()
}

/// What [`signal_threads`] sent.
struct Sent {
    /// The generation the requests carry.
    generation: u32,
    /// (index into the threads, slot index) of every request sent.
    requests: Vec<(usize, usize)>,
    /// Per thread: its status was read already (a suspect's, before signalling).
    status_read: Vec<bool>,
}

/// Step 2: fills a slot for each thread but the requester and sends it the dump
/// signal; sets the outcome of threads that get no request. Sends nothing when no
/// signal is usable, or a late handler from an earlier dump still reads the ranges.
fn signal_threads(
    lock: &mut DumpLockState,
    threads: &mut [DumpedThread],
    requester: libc::pid_t,
) -> Sent {
    let mut sent = Sent {
        generation: lock.generation,
        requests: Vec::new(),
        status_read: vec![false; threads.len()],
    };
    let signal = signal::installed_signal()
        .ok()
        .filter(|&signal| signal::still_installed(signal));
    // Ranges may change only while no late handler still reads them.
    let ranges_free = !signal::any_writing() || wait_for_writers(WRITING_GRACE);
    let (Some(signal), true) = (signal, ranges_free) else {
        return sent;
    };
    let generation = lock.generation.wrapping_add(1);
    lock.generation = generation;
    sent.generation = generation;
    signal::set_ranges(&proc::stack_ranges());
    let bit = proc::signal_bit(signal);
    let depth = control::max_stack_depth();
    let wanted = threads.iter().filter(|t| t.tid != requester).count();
    let mut slots = FreeSlots {
        next: 0,
        available: signal::ensure_slots(wanted),
    };
    for (i, thread) in threads.iter_mut().enumerate() {
        if thread.tid == requester {
            continue;
        }
        if lock.suspects.contains(&thread.tid) {
            sent.status_read[i] = true;
            if let Some(outcome) = skip_suspect(thread, bit) {
                thread.outcome = outcome;
                continue;
            }
        }
        // The state is read before the signal: a thread handling it runs, so a state
        // read afterwards would call a parked thread `running`.
        if !sent.status_read[i] {
            sent.status_read[i] = true;
            match proc::status(thread.tid) {
                Some(status) => thread.status = status,
                None => {
                    thread.outcome = Outcome::Exited;
                    continue;
                }
            }
        }
        let Some((index, slot)) = slots.next() else {
            thread.outcome = Outcome::TooMany;
            continue;
        };
        if request(slot, signal, thread.tid, index, generation, depth) {
            thread.outcome = Outcome::TimedOut; // until the handler answers
            sent.requests.push((i, index));
        } else {
            thread.outcome = Outcome::Exited;
        }
    }
    sent
}

/// Reads the status of a thread that did not answer the last dump; the reason not
/// to signal it again (exited, exiting, blocks the signal, one still pending).
fn skip_suspect(thread: &mut DumpedThread, bit: u64) -> Option<Outcome> {
    let Some(status) = proc::status(thread.tid) else {
        return Some(Outcome::Exited);
    };
    thread.status = status;
    if matches!(thread.status.state, 'Z' | 'X') {
        Some(Outcome::Exiting)
    } else if thread.status.blocked & bit != 0 {
        Some(Outcome::Blocked)
    } else if thread.status.pending & bit != 0 {
        Some(Outcome::Pending)
    } else {
        None
    }
}

/// The slots one dump hands out, in order, skipping those a late handler still
/// holds (they stay `WRITING` until it is done).
struct FreeSlots {
    next: usize,
    available: usize,
}

impl Iterator for FreeSlots {
    type Item = (usize, &'static signal::Slot);

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.available {
            let index = self.next;
            self.next += 1;
            if let Some(slot) = signal::slot(index) {
                let state = slot.state.load(Ordering::Acquire);
                if signal::state_of(state) != signal::WRITING {
                    return Some((index, slot));
                }
            }
        }
        None
    }
}

/// Fills `slot` (number `index`) for thread `tid` and sends it `signal`. False, with
/// the request withdrawn, when the thread exited since it was listed.
fn request(
    slot: &signal::Slot,
    signal: libc::c_int,
    tid: libc::pid_t,
    index: usize,
    generation: u32,
    depth: usize,
) -> bool {
    slot.tid.store(tid, Ordering::Relaxed);
    slot.depth.store(depth, Ordering::Relaxed);
    slot.len.store(0, Ordering::Relaxed);
    // Release: publishes tid, depth and the ranges to the handler's Acquire CAS.
    let requested = signal::tag(generation, signal::REQUESTED);
    slot.state.store(requested, Ordering::Release);
    if signal::send(signal, tid, index, generation) {
        return true;
    }
    let free = signal::tag(generation, signal::FREE);
    let _ = slot
        .state
        .compare_exchange(requested, free, Ordering::Relaxed, Ordering::Relaxed);
    false
}

/// Step 3, while the handlers run: names and states of the threads whose status was
/// not read yet (when no signal could be sent).
fn read_statuses(threads: &mut [DumpedThread], status_read: &[bool]) {
    for (thread, read) in threads.iter_mut().zip(status_read) {
        if *read || thread.outcome == Outcome::Exited {
            continue;
        }
        match proc::status(thread.tid) {
            Some(status) => thread.status = status,
            None => thread.outcome = Outcome::Exited,
        }
    }
}

/// Step 4: waits for answers until `deadline`, then withdraws unanswered requests and
/// copies the captured frames out of the slots, releasing them.
fn collect(
    threads: &mut [DumpedThread],
    requests: &[(usize, usize)],
    generation: u32,
    deadline: Instant,
) {
    let done = signal::tag(generation, signal::DONE);
    let all_done = || {
        requests.iter().all(|&(_, index)| {
            signal::slot(index).is_some_and(|slot| slot.state.load(Ordering::Acquire) == done)
        })
    };
    let mut spins = 0u32;
    while !all_done() && Instant::now() < deadline {
        // Handlers answer within microseconds once their thread runs: spin briefly,
        // then sleep in short steps so a slow thread does not cost a core.
        if spins < 64 {
            spins += 1;
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let requested = signal::tag(generation, signal::REQUESTED);
    let free = signal::tag(generation, signal::FREE);
    // One grace period for every handler caught mid-walk, not one each.
    let grace_deadline = Instant::now() + WRITING_GRACE;
    for &(i, index) in requests {
        let Some(slot) = signal::slot(index) else {
            continue;
        };
        // Withdraw: a signal delivered after this finds nothing to claim.
        let state =
            match slot
                .state
                .compare_exchange(requested, free, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    UNANSWERED.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(state) => state,
            };
        let state = if signal::state_of(state) == signal::WRITING {
            wait_for_slot(slot, done, grace_deadline)
        } else {
            state
        };
        if state != done {
            UNANSWERED.fetch_add(1, Ordering::Relaxed);
            continue; // still WRITING: stays reserved until its handler finishes
        }
        let len = slot.len.load(Ordering::Relaxed).min(slot.frames.len());
        let thread = &mut threads[i];
        thread.frames = slot.frames[..len]
            .iter()
            .map(|cell| cell.load(Ordering::Relaxed))
            .collect();
        thread.outcome = if slot.no_range.load(Ordering::Relaxed) != 0 {
            Outcome::NoRange
        } else {
            Outcome::Captured
        };
        slot.state.store(free, Ordering::Release);
    }
}

fn wait_for_slot(slot: &signal::Slot, done: u64, deadline: Instant) -> u64 {
    loop {
        let state = slot.state.load(Ordering::Acquire);
        if state == done || Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn wait_for_writers(grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    while signal::any_writing() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    true
}

/// The state of the dump machinery, for tests and `/debug/stats`.
///
/// ```
/// profiled::lookup("goroutine").unwrap().write_to(&mut Vec::new(), 2).unwrap();
/// let state: profiled::thread::DumpState = profiled::thread::dump_state();
/// assert!(state.signal.is_some() && state.handler_installed);
/// assert_eq!(state.unanswered, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpState {
    /// The real-time signal dumps use; `None` when none could be installed.
    pub signal: Option<i32>,
    /// Whether that signal's disposition is still this crate's handler.
    pub handler_installed: bool,
    /// Capture slots currently claimed (requested or being written); 0 between dumps.
    pub slots_in_use: usize,
    /// Dumps taken so far.
    pub dumps: u64,
    /// Threads that did not answer a dump in time, over all dumps.
    pub unanswered: u64,
}

pub(crate) fn dump_state() -> DumpState {
    let signal = signal::installed_signal().ok();
    DumpState {
        signal,
        handler_installed: signal.is_some_and(signal::still_installed),
        slots_in_use: signal::slots_in_use(),
        dumps: DUMPS.load(Ordering::Relaxed),
        unanswered: UNANSWERED.load(Ordering::Relaxed),
    }
}
