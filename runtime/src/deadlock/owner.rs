//! HOT: who holds each exclusive profiled lock. Budget per acquisition or release:
//! one relaxed store of an id the thread (or task) already knows; no clock, no
//! syscall after a thread's first lock.
//!
//! Every lock with an exclusive owner (mutex, rwlock writer and upgradable reader,
//! the async mutex and rwlock writer) carries a [`Holder`]: its site, the owner's
//! [`Identity`] as one word, and when the current hold began, which only the cold
//! paths stamp (a waiter that arrives, a holder that acquired after waiting). The
//! wait table (`waits.rs`) points at holders; the detector (`graph.rs`) reads them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::waits::Mode;
use crate::site::LockSite;

/// An owner or waiter as one word: 0 for nobody, a thread's tid, or a task's id with
/// a tag bit ([`TASK`] for tasks spawned through `profiled::task`, [`TOKIO_TASK`] for
/// other tokio tasks, by tokio's id).
pub(crate) type Identity = u64;

/// Tag of a task tracked by `profiled::task` (its id in the task table).
pub(crate) const TASK: Identity = 1 << 62;
/// Tag of a tokio task not spawned through `profiled::task` (tokio's task id).
pub(crate) const TOKIO_TASK: Identity = 1 << 61;
const TAGS: Identity = TASK | TOKIO_TASK;

thread_local! {
    /// This thread's tid, once read (0 before).
    static TID: Cell<Identity> = const { Cell::new(0) };
    /// The tracked task being polled on this thread, if any.
    static POLLING: Cell<Identity> = const { Cell::new(0) };
}

/// The calling thread as an owner: its tid, read once per thread.
#[inline(always)]
pub(crate) fn this_thread() -> Identity {
    TID.try_with(|tid| match tid.get() {
        0 => {
            let read = read_tid();
            tid.set(read);
            read
        }
        known => known,
    })
    .unwrap_or(0)
}

#[cold]
#[inline(never)]
fn read_tid() -> Identity {
    u64::try_from(crate::thread::current_tid()).unwrap_or(0)
}

/// The calling task as an owner or waiter (for async locks): the tracked task being
/// polled, else the tokio task, else the thread (a `blocking_lock`).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[inline(always)]
pub(crate) fn this_task() -> Identity {
    match POLLING.try_with(Cell::get).unwrap_or(0) {
        0 => untracked_task(),
        task => task,
    }
}

#[cfg(feature = "tokio")]
#[inline]
fn untracked_task() -> Identity {
    match ::tokio::task::try_id() {
        Some(id) => TOKIO_TASK | (tokio_id(id) & !TAGS),
        None => this_thread(),
    }
}

#[cfg(not(feature = "tokio"))]
#[allow(dead_code)]
#[inline]
fn untracked_task() -> Identity {
    this_thread()
}

/// Tokio's number for a task id (what its `Display` prints): `Id` hashes exactly that
/// one `u64`, which this hasher keeps.
#[cfg(feature = "tokio")]
fn tokio_id(id: ::tokio::task::Id) -> u64 {
    use std::hash::{Hash, Hasher};
    #[derive(Default)]
    struct Keep(u64);
    impl Hasher for Keep {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(byte);
            }
        }
        fn write_u64(&mut self, value: u64) {
            self.0 = value;
        }
    }
    let mut keep = Keep::default();
    id.hash(&mut keep);
    keep.finish()
}

/// Marks the tracked task `id` as polled on this thread until the guard drops.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[inline(always)]
pub(crate) fn polling(id: u64) -> Polling {
    let previous = POLLING.try_with(|p| p.replace(TASK | id)).unwrap_or(0);
    Polling { previous }
}

/// Restores the task polled before (see [`polling`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) struct Polling {
    previous: Identity,
}

impl Drop for Polling {
    #[inline(always)]
    fn drop(&mut self) {
        let _ = POLLING.try_with(|p| p.set(self.previous));
    }
}

/// Whether `identity` is a task (either kind), and its number without the tag.
pub(crate) fn split(identity: Identity) -> (bool, u64) {
    (identity & TAGS != 0, identity & !TAGS)
}

/// What kind of lock a [`Holder`] belongs to, for dumps.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Mutex,
    RwLock,
    AsyncMutex,
    AsyncRwLock,
    /// A `profiled::tokio::Semaphore`: waits only, never an owner.
    Semaphore,
}

impl Kind {
    /// Whether the lock can be held shared (by readers, or by permit holders).
    fn has_shared_holds(self) -> bool {
        matches!(self, Kind::RwLock | Kind::AsyncRwLock | Kind::Semaphore)
    }

    /// The word dumps use: `lock "accounts"`, `rwlock "prices"`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Mutex => "lock",
            Kind::RwLock => "rwlock",
            Kind::AsyncMutex => "async lock",
            Kind::AsyncRwLock => "async rwlock",
            Kind::Semaphore => "semaphore",
        }
    }
}

/// The owner record of one lock. Only [`Holder::own`] and [`Holder::disown`] run on
/// the hot paths.
pub(crate) struct Holder {
    site: Option<&'static LockSite>,
    kind: Kind,
    /// The exclusive owner's [`Identity`]; 0 when free or held shared only.
    owner: AtomicU64,
    /// `ticks << 1 | exact` of the start of the current hold, 0 when unknown: exact
    /// when the holder acquired after waiting (its wait's end), else the arrival of
    /// its first waiter (the hold is at least that old). Cleared when an exclusive
    /// hold ends ([`Holder::disown`]), by a release that settles the books (the end
    /// of a shared hold that was waited for), and by a waiter giving up on a shared
    /// hold it stamped ([`Holder::wait_ended`]).
    since: AtomicU64,
}

impl Holder {
    pub(crate) const fn new(site: Option<&'static LockSite>, kind: Kind) -> Holder {
        Holder {
            site,
            kind,
            owner: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Records `owner` as the exclusive owner (after acquiring).
    #[inline(always)]
    pub(crate) fn own(&self, owner: Identity) {
        // Relaxed: read only by the detector, which confirms what it sees twice; the
        // lock's own acquire/release orders the stores of successive owners.
        self.owner.store(owner, Ordering::Relaxed);
    }

    /// Forgets the owner and the hold's start (before releasing, or downgrading to
    /// shared). The start is cleared here, not only by a release that settles the
    /// books: a hold nobody waited for settles nothing, and the next hold, which may
    /// be uncontended and so never stamped, must not inherit it. A load first, on
    /// the line the owner store has just taken: most holds are never stamped.
    #[inline(always)]
    pub(crate) fn disown(&self) {
        self.owner.store(0, Ordering::Relaxed);
        if self.since.load(Ordering::Relaxed) != 0 {
            self.since.store(0, Ordering::Relaxed);
        }
    }

    /// The current exclusive owner, 0 for none.
    pub(crate) fn owner(&self) -> Identity {
        self.owner.load(Ordering::Relaxed)
    }

    pub(crate) fn site(&self) -> Option<&'static LockSite> {
        self.site
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// A waiter arrived at `start` (ticks): the hold is at least that old, unless its
    /// start is known already. Cold path.
    pub(crate) fn waiter_arrived(&self, start: u64) {
        // A load first: the stamp is usually set already (by the hold's first waiter
        // or its acquisition), and a load does not take the line exclusively.
        if self.since.load(Ordering::Relaxed) != 0 {
            return;
        }
        let _ = self
            .since
            .compare_exchange(0, start << 1, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// A wait for this lock that began at `start` (ticks) ended: it acquired in
    /// `mode` at `end` (`None` when its end was not read: no profile records it), or
    /// gave up. Cold path.
    ///
    /// An exclusive hold that follows a wait begins at the wait's end: stamped
    /// exactly, or, when that end is unknown and the hold before may have been
    /// shared, cleared (the stamp may be a waiter's arrival during that shared hold,
    /// which this hold's age must not inherit). A waiter that gives up while nobody
    /// owns the lock exclusively (readers hold it) takes its own arrival stamp back:
    /// no exclusive release will clear it, and the next exclusive hold, uncontended
    /// and so never stamped, would inherit it.
    #[inline]
    pub(crate) fn wait_ended(&self, mode: Mode, start: u64, end: Option<u64>, acquired: bool) {
        if !acquired {
            if self.owner() == 0 {
                let _ = self.since.compare_exchange(
                    start << 1,
                    0,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            return;
        }
        if mode == Mode::Shared {
            return;
        }
        match end {
            Some(end) => self.since.store(end << 1 | 1, Ordering::Relaxed),
            // After an exclusive hold the stamp is one set since its release cleared
            // it, and a mutex is handed to its next waiter at that release: the new
            // hold is at least that old. After a shared hold (no release clears the
            // stamp) it may be the waiter's own arrival, before this hold began.
            None if self.kind.has_shared_holds() && self.since.load(Ordering::Relaxed) != 0 => {
                self.since.store(0, Ordering::Relaxed);
            }
            None => {}
        }
    }

    /// The hold ended with the books settled. Cold path.
    pub(crate) fn hold_ended(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// When the current hold began (ticks) and whether that is exact, if known.
    pub(crate) fn held_since(&self) -> Option<(u64, bool)> {
        match self.since.load(Ordering::Relaxed) {
            0 => None,
            stamp => Some((stamp >> 1, stamp & 1 == 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_known_by_its_tid() {
        let tid = u64::try_from(crate::thread::current_tid()).unwrap();
        assert_eq!(this_thread(), tid);
        assert_eq!(this_thread(), tid, "cached");
        let other = std::thread::spawn(this_thread).join().unwrap();
        assert_ne!(other, tid);
        assert_eq!(split(tid), (false, tid));
    }

    #[test]
    fn a_polled_task_is_the_owner_until_its_poll_ends() {
        let thread = this_thread();
        assert_eq!(this_task(), thread, "no runtime, no task: the thread");
        {
            let _poll = polling(42);
            assert_eq!(this_task(), TASK | 42);
            assert_eq!(split(this_task()), (true, 42));
            {
                let _inner = polling(7);
                assert_eq!(this_task(), TASK | 7);
            }
            assert_eq!(this_task(), TASK | 42);
        }
        assert_eq!(this_task(), thread);
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn untracked_tokio_tasks_are_known_by_tokio_ids() {
        let runtime = ::tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (mine, tokios) = runtime.block_on(async {
            ::tokio::spawn(async { (this_task(), ::tokio::task::id().to_string()) })
                .await
                .unwrap()
        });
        assert_eq!(split(mine), (true, tokios.parse::<u64>().unwrap()));
        assert_eq!(mine & TOKIO_TASK, TOKIO_TASK);
    }

    #[test]
    fn hold_stamps_keep_the_exact_start_over_a_waiters_guess() {
        let holder = Holder::new(None, Kind::Mutex);
        assert_eq!(holder.held_since(), None);
        holder.waiter_arrived(100);
        holder.waiter_arrived(150);
        assert_eq!(holder.held_since(), Some((100, false)));
        holder.hold_ended();
        holder.wait_ended(Mode::Exclusive, 150, Some(200), true);
        holder.waiter_arrived(250);
        assert_eq!(holder.held_since(), Some((200, true)));
        holder.own(9);
        assert_eq!(holder.owner(), 9);
        holder.disown();
        assert_eq!(holder.owner(), 0);
        // The next hold starts unknown, not at 200.
        assert_eq!(holder.held_since(), None);
        holder.waiter_arrived(300);
        assert_eq!(holder.held_since(), Some((300, false)));
    }

    #[test]
    fn a_waiter_that_gives_up_on_readers_takes_its_stamp_back() {
        let holder = Holder::new(None, Kind::RwLock);
        // Readers hold (no owner); a writer waits from 100 and gives up.
        holder.waiter_arrived(100);
        holder.wait_ended(Mode::Exclusive, 100, Some(150), false);
        assert_eq!(holder.held_since(), None);
        // Another waiter's stamp is not this one's to take back.
        holder.waiter_arrived(200);
        holder.wait_ended(Mode::Exclusive, 250, Some(300), false);
        assert_eq!(holder.held_since(), Some((200, false)));
        // Under an exclusive owner the stamp stays: that hold is at least that old,
        // and its release clears it.
        holder.hold_ended();
        holder.own(5);
        holder.waiter_arrived(400);
        holder.wait_ended(Mode::Exclusive, 400, Some(450), false);
        assert_eq!(holder.held_since(), Some((400, false)));
        holder.disown();
        // A reader that acquired changes nothing; a writer that acquired starts a
        // hold at its wait's end, or of unknown age when that end was not read.
        holder.waiter_arrived(500);
        holder.wait_ended(Mode::Shared, 500, Some(520), true);
        assert_eq!(holder.held_since(), Some((500, false)));
        holder.wait_ended(Mode::Exclusive, 510, Some(600), true);
        assert_eq!(holder.held_since(), Some((600, true)));
        holder.wait_ended(Mode::Exclusive, 610, None, true);
        assert_eq!(holder.held_since(), None);
        // A mutex's stamp was set after the exclusive hold before ended (its
        // release cleared it), and the lock was this waiter's from that release.
        let mutex = Holder::new(None, Kind::AsyncMutex);
        mutex.waiter_arrived(700);
        mutex.wait_ended(Mode::Exclusive, 650, None, true);
        assert_eq!(mutex.held_since(), Some((700, false)));
    }
}
