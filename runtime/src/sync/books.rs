//! The waiter bookkeeping of one lock: pure arithmetic over clock ticks, behind a
//! spin lock held for a few instructions, on contended paths only.
//!
//! Waiters register on arrival and leave on acquisition, which lets a releasing
//! holder compute exactly how much waiting others did during its hold: with `N`
//! waiters whose waits started at `t_i`, the accumulated waiter-time is
//! `W(T) = D + N * T`, where `D` gains `-t_i` on arrival and `+t_exit` on exit. The
//! holder owes `W(now) - W(last charge)` (Go 1.22+ semantics: 3 waiters for 100 ms
//! charge 300 ms), less what no hold caused: a waiter's time between the release
//! that let it in and its acquisition (see [`WaitBooks::leave`]).
//!
//! Nothing here reads a clock, captures a stack or knows about threads: every
//! method takes the time it happens at, in ticks, so a lock of any kind (a blocking
//! one in `sync/`, an async one) can keep its books here, and the tests below drive
//! it with made-up tick values.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::deadlock::waits::Mode;

/// The waiter books of one lock, in ticks. Only [`WaitBooks::needs_charge`] is read
/// outside the contended paths.
pub(crate) struct WaitBooks {
    /// Ticks at which waiting began since the last charge; 0 when nobody has
    /// waited since. Release reads it with one relaxed load to pick the slow path.
    since: AtomicU64,
    /// Spin lock over the fields below. Held for a few instructions, only on
    /// contended paths.
    busy: AtomicBool,
    waiters: AtomicU32,
    /// `D` above, as wrapping u64.
    wait_sum: AtomicU64,
    /// `W` at the last charge, as wrapping u64.
    charged: AtomicU64,
    /// Ticks of the last charge: a release whose charge is computed after a later
    /// release already settled the books finds `now` before this, and charges nothing.
    charged_at: AtomicU64,
    /// Ticks at which the last waiter acquired or gave up.
    last_departure: AtomicU64,
    /// Ticks at which the last waiter acquired (the current hold's start, for a
    /// mutex or a writer).
    last_acquired: AtomicU64,
}

/// How a waiter leaves the books ([`WaitBooks::leave`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Departure {
    /// It got the lock; `after_all` when only once every holder had released it
    /// (a mutex, a writer), not alongside other holders (a reader, permits).
    Acquired { after_all: bool },
    /// It gave up (a timeout, a dropped future).
    GaveUp,
}

impl Departure {
    /// The departure of a waiter that `acquired` (or not) in `mode`.
    pub(crate) fn new(acquired: bool, mode: Mode) -> Departure {
        if acquired {
            Departure::Acquired {
                after_all: mode.waits_for_all(),
            }
        } else {
            Departure::GaveUp
        }
    }
}

/// What a holder owes, in ticks, from [`WaitBooks::settle`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// Waiter-ticks accumulated during the hold.
    pub charge: u64,
    /// How long the hold was contended (someone waited).
    pub contended_for: u64,
}

impl WaitBooks {
    /// Books with nobody waiting and nothing charged.
    pub(crate) const fn new() -> WaitBooks {
        WaitBooks {
            since: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            waiters: AtomicU32::new(0),
            wait_sum: AtomicU64::new(0),
            charged: AtomicU64::new(0),
            charged_at: AtomicU64::new(0),
            last_departure: AtomicU64::new(0),
            last_acquired: AtomicU64::new(0),
        }
    }

    /// True when others waited during the current hold, so its release must settle.
    #[inline(always)]
    pub(crate) fn needs_charge(&self) -> bool {
        // Relaxed: a release that reads a stale 0 misses a waiter that arrived a
        // few nanoseconds before; that waiter's wait is then charged to nobody (see
        // `leave`).
        self.since.load(Ordering::Relaxed) != 0
    }

    /// Registers a waiter whose wait began at `start` (before its spin).
    pub(crate) fn arrive(&self, start: u64) {
        let _busy = self.lock();
        // Loads and stores, not read-modify-writes: every writer holds `busy`.
        bump(&self.waiters, 1);
        store_with(&self.wait_sum, |sum| sum.wrapping_sub(start));
        if self.since.load(Ordering::Relaxed) == 0 {
            self.since.store(start, Ordering::Relaxed);
        }
    }

    /// [`WaitBooks::arrive`] when `keep` says the books are wanted (only the mutex
    /// profile reads them); returns `keep`, for [`WaitBooks::leave_if`].
    pub(crate) fn arrive_if(&self, keep: bool, start: u64) -> bool {
        if keep {
            self.arrive(start);
        }
        keep
    }

    /// [`WaitBooks::leave`] for a waiter that [`WaitBooks::arrive_if`] `booked`;
    /// for one it did not, just `now()`.
    pub(crate) fn leave_if(
        &self,
        booked: bool,
        now: impl FnOnce() -> u64,
        start: u64,
        departure: Departure,
    ) -> u64 {
        if booked {
            self.leave(now, start, departure)
        } else {
            now()
        }
    }

    /// Unregisters a waiter that started waiting at `start` and leaves as
    /// `departure` says at the time `now` returns, and returns that time. `now` is
    /// read while the books are locked, so departures are booked in the order they
    /// happen.
    ///
    /// A waiter's waiting is charged to the holds it waited through, up to their
    /// releases, as Go's mutex profile charges them; what comes after the release
    /// that let it in is nobody's (nobody held the lock against it: it was getting
    /// back to the CPU), so the next release is not charged for it. Others still
    /// waiting meanwhile are charged to the next release, as Go's are.
    pub(crate) fn leave(&self, now: impl FnOnce() -> u64, start: u64, departure: Departure) -> u64 {
        let _busy = self.lock();
        let now = now();
        bump(&self.waiters, -1);
        store_with(&self.wait_sum, |sum| sum.wrapping_add(now));
        self.last_departure.store(now, Ordering::Relaxed);
        if departure != Departure::GaveUp {
            self.last_acquired.store(now, Ordering::Relaxed);
        }
        let settled_at = self.charged_at.load(Ordering::Relaxed);
        let nobodys_since = match departure {
            // The release that let it in settled the books (it saw the waiter).
            Departure::Acquired { .. } if settled_at > start => Some(settled_at),
            // Let in by a release that did not see it (the lock came free just as
            // it arrived, its spin was descheduled): none of its wait was charged,
            // and its own release must not be.
            Departure::Acquired { after_all: true } => Some(start),
            // A reader can get in while others still hold the lock, before their
            // releases settle: those will charge its waiting.
            Departure::Acquired { after_all: false } => None,
            // Its waiting after the release belongs to the hold it gave up on.
            Departure::GaveUp => None,
        };
        if let Some(since) = nobodys_since {
            let nobodys = now.saturating_sub(since);
            store_with(&self.charged, |w| w.wrapping_add(nobodys));
        }
        now
    }

    /// Settles the books as of `now` (the release): the waiter-ticks accumulated
    /// since the last charge, and how long the hold was contended. Resets both.
    pub(crate) fn settle(&self, now: u64) -> Settled {
        let _busy = self.lock();
        // Shared holders release concurrently: one whose books come after a later
        // release's were settled owes nothing more (that charge covered it).
        if now < self.charged_at.load(Ordering::Relaxed) {
            return Settled::default();
        }
        self.charged_at.store(now, Ordering::Relaxed);
        let waiters = u64::from(self.waiters.load(Ordering::Relaxed));
        let w = self
            .wait_sum
            .load(Ordering::Relaxed)
            .wrapping_add(waiters.wrapping_mul(now));
        let charge = w.wrapping_sub(self.charged.load(Ordering::Relaxed)) as i64;
        self.charged.store(w, Ordering::Relaxed);
        let since = self.since.load(Ordering::Relaxed);
        self.since
            .store(if waiters > 0 { now } else { 0 }, Ordering::Relaxed);
        // A waiter that acquired before `now` started the current hold at the
        // latest: the hold was contended from then while others waited, until now
        // if some still wait, else until the last of them left (none of it if that
        // was the acquirer itself: what remains to charge is its hand-off). A
        // waiter that left after `now` (a reader let in alongside, one giving up)
        // waited through the whole contended span.
        let departed = self.last_departure.load(Ordering::Relaxed);
        let hold_start = since.max(self.last_acquired.load(Ordering::Relaxed));
        let contended_for = if since == 0 {
            0 // nobody waited since the last charge
        } else if departed > now {
            now.saturating_sub(since)
        } else if waiters == 0 {
            departed.saturating_sub(hold_start)
        } else {
            now.saturating_sub(hold_start)
        };
        Settled {
            charge: u64::try_from(charge).unwrap_or(0),
            contended_for,
        }
    }

    fn lock(&self) -> BooksGuard<'_> {
        let mut spins = 0u32;
        // Acquire/Release: the fields behind `busy` are read and written only while
        // it is held, so this pair orders them between holders.
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        BooksGuard(&self.busy)
    }
}

/// Adds `by` to a field only written under `busy`.
fn bump(field: &AtomicU32, by: i32) {
    let value = field.load(Ordering::Relaxed);
    field.store(value.wrapping_add_signed(by), Ordering::Relaxed);
}

/// Replaces a field only written under `busy` by `f` of its value.
fn store_with(field: &AtomicU64, f: impl FnOnce(u64) -> u64) {
    field.store(f(field.load(Ordering::Relaxed)), Ordering::Relaxed);
}

struct BooksGuard<'a>(&'a AtomicBool);

impl Drop for BooksGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUTEX: Departure = Departure::Acquired { after_all: true };
    const READER: Departure = Departure::Acquired { after_all: false };

    fn settled(charge: u64, contended_for: u64) -> Settled {
        Settled {
            charge,
            contended_for,
        }
    }

    #[test]
    fn uncontended_hold_owes_nothing() {
        let books = WaitBooks::new();
        assert!(!books.needs_charge());
        assert_eq!(books.settle(1_000), Settled::default());
        assert!(!books.needs_charge());
    }

    #[test]
    fn three_waiters_for_100_ticks_charge_300() {
        let books = WaitBooks::new();
        for _ in 0..3 {
            books.arrive(1_000);
        }
        assert!(books.needs_charge());
        // The holder releases at 1_100: each waiter waited 100 ticks of its hold.
        assert_eq!(books.settle(1_100), settled(300, 100));
        // The waiters are still waiting (none acquired yet): the next holder owes
        // what they wait from here on.
        assert!(books.needs_charge());
    }

    #[test]
    fn waiters_arriving_at_different_times_charge_their_own_waits() {
        // W(T) = D + N * T: arrivals at 100, 150 and 180, release at 200:
        // 100 + 50 + 20 = 170 waiter-ticks, contended since the first arrival.
        let books = WaitBooks::new();
        books.arrive(100);
        books.arrive(150);
        books.arrive(180);
        assert_eq!(books.settle(200), settled(170, 100));
    }

    #[test]
    fn a_charge_covers_only_the_waiting_since_the_last_one() {
        let books = WaitBooks::new();
        books.arrive(100);
        books.arrive(100);
        assert_eq!(books.settle(150), settled(100, 50));
        // Both still wait: the next hold owes 2 x 50 more, contended for all of it.
        assert_eq!(books.settle(200), settled(100, 50));
    }

    #[test]
    fn departures_stop_a_waiters_meter() {
        let books = WaitBooks::new();
        books.arrive(100);
        books.arrive(100);
        // One acquires at 160 alongside the holder (a reader, a permit) ...
        assert_eq!(books.leave(|| 160, 100, READER), 160);
        // ... and the holder releasing at 200 owes 60 for it plus 100 for the other.
        assert_eq!(books.settle(200), settled(160, 40));
    }

    #[test]
    fn a_hand_off_with_no_waiters_left_is_not_contended() {
        let books = WaitBooks::new();
        books.arrive(100);
        // The holder releases at 200 and hands the lock to the waiter.
        assert_eq!(books.settle(200), settled(100, 100));
        assert!(books.needs_charge());
        assert_eq!(books.leave(|| 210, 100, MUTEX), 210);
        // The waiter, now the holder, releases with nobody waiting: it owes nothing
        // (the 10 ticks of its own hand-off are nobody's), and none of its hold was
        // contended.
        assert_eq!(books.settle(300), Settled::default());
        assert!(!books.needs_charge());
        assert_eq!(books.settle(400), Settled::default());
    }

    #[test]
    fn a_late_shared_release_charges_nothing() {
        // Two readers hold the lock while a writer waits from 100. The second
        // reader's release at 300 settles first; the first reader's release at 250
        // settles after it, and that charge already covered it.
        let books = WaitBooks::new();
        books.arrive(100);
        assert_eq!(books.settle(300), settled(200, 200));
        assert_eq!(books.settle(250), Settled::default());
        // The writer acquires at 310 and releases at 400 with nobody waiting.
        books.leave(|| 310, 100, MUTEX);
        assert_eq!(books.settle(400), Settled::default());
    }

    #[test]
    fn a_shared_waiter_that_acquired_after_the_release_waited_through_it() {
        // Departures booked with a later time than the release (a reader that got
        // in concurrently) leave the whole span contended.
        let books = WaitBooks::new();
        books.arrive(100);
        books.arrive(120);
        books.leave(|| 260, 120, READER);
        assert_eq!(books.settle(250), settled(290, 150));
    }

    #[test]
    fn a_new_waiter_after_a_hand_off_makes_the_hold_contended() {
        let books = WaitBooks::new();
        books.arrive(100);
        assert_eq!(books.settle(200), settled(100, 100));
        books.leave(|| 200, 100, MUTEX);
        // During the new hold another waiter arrives at 250.
        books.arrive(250);
        // Released at 300: 0 ticks of hand-off plus 50 of the new waiter. The
        // contended span is counted from the hand-off (the books keep the last
        // release as the start of waiting until a release finds nobody waiting).
        assert_eq!(books.settle(300), settled(50, 100));
    }

    #[test]
    fn a_slow_wake_up_is_not_charged_to_the_waiter_itself() {
        // Held against a waiter from 100 to 400; the waiter gets the CPU only at 900
        // (a busy machine) and releases at 1,000 with nobody waiting. Everything is
        // the first holder's: what the waiter spent waking up is nobody's.
        let books = WaitBooks::new();
        books.arrive(100);
        assert_eq!(books.settle(400), settled(300, 300));
        books.leave(|| 900, 100, MUTEX);
        assert_eq!(books.settle(1_000), Settled::default());
    }

    #[test]
    fn a_hold_is_contended_until_its_last_waiter_gives_up() {
        // Two waiters since 100 and 120; the release at 200 hands the lock to the
        // first, which gets it at 210; `third` more arrive at 250; the second gives
        // up at 260, and the hold ends at 300.
        let hold = |third: bool| {
            let books = WaitBooks::new();
            books.arrive(100);
            books.arrive(120);
            assert_eq!(books.settle(200), settled(180, 100));
            books.leave(|| 210, 100, MUTEX);
            if third {
                books.arrive(250);
            }
            books.leave(|| 260, 120, Departure::GaveUp);
            books.settle(300)
        };
        // Nobody waits at the release: contended from 210 to 260.
        assert_eq!(hold(false), settled(60, 50));
        // A third waits on past it: contended from the hold's start to the release.
        assert_eq!(hold(true).contended_for, 90);
    }

    #[test]
    fn a_waiter_that_gave_up_after_a_release_stays_charged() {
        // Released at 200 while a waiter waits since 100; the waiter gives up at 250
        // without getting the lock (someone else took it): the next release owes
        // those 50 ticks.
        let books = WaitBooks::new();
        books.arrive(100);
        assert_eq!(books.settle(200), settled(100, 100));
        books.leave(|| 250, 100, Departure::GaveUp);
        assert_eq!(books.settle(300).charge, 50);
    }

    #[test]
    fn others_waiting_through_a_hand_off_are_charged_to_the_next_release() {
        // Two waiters since 100; the release at 200 hands the lock to one, which
        // gets it at 230 and releases at 300 while the other still waits: 100 ticks
        // of the other's waiting (200-300), none of the acquirer's own 30.
        let books = WaitBooks::new();
        books.arrive(100);
        books.arrive(100);
        assert_eq!(books.settle(200), settled(200, 100));
        books.leave(|| 230, 100, MUTEX);
        assert_eq!(books.settle(300).charge, 100);
    }

    #[test]
    fn a_waiter_let_in_by_a_release_that_did_not_see_it_owes_nothing() {
        // The waiter's wait began at 100 (before a spin that was descheduled); the
        // holder released at 150 before the waiter was booked, so nothing settled;
        // the waiter gets the lock at 160 and releases at 200 with nobody waiting.
        let books = WaitBooks::new();
        books.arrive(100);
        books.leave(|| 160, 100, MUTEX);
        assert_eq!(books.settle(200), Settled::default());
    }

    #[test]
    fn a_reader_let_in_before_the_releases_settle_is_still_charged_to_them() {
        let books = WaitBooks::new();
        books.arrive(100);
        books.leave(|| 160, 100, READER);
        assert_eq!(books.settle(170).charge, 60);
    }
}
