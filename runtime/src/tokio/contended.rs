//! COLD: the waits and contended holds of the tokio wrappers, entered through
//! `#[cold] #[inline(never)]` functions only.
//!
//! The books are the same as the sync locks' (`sync/contended.rs`): each lock (and
//! semaphore) carries a [`Books`] record; a waiter registers at its first `Pending`
//! and leaves when it acquires, so a releasing holder is charged exactly the waiting
//! others did during its hold, `W(T) = D + N * T` with `N` waiters, `D` gaining
//! `-t_i` at each arrival and `+t_exit` at each exit. The waiter's own wait goes to the
//! block profile, if sampled, under the stack it has when the wait ends (see
//! [`Waiting::finish`]).
//!
//! An uncontended acquisition (ready at its first poll) and a release nobody waited
//! for read no clock and capture no stack: one relaxed load each.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use std::task::{Context, Poll};

use crate::clock::{self, ticks};
use crate::control;
use crate::deadlock::owner::{self, Holder, Kind};
use crate::deadlock::waits::{self, Mode, Registered};
use crate::instrument::{logical, wait};
use crate::registry::{self, sampling};
use crate::site::LockSite;
use crate::sync::books::{Departure, Settled, WaitBooks};
use crate::sync::contended::{keep_frame, record_charge};
use crate::trace::{self, Category};

/// Waiter and holder bookkeeping of one lock or semaphore, in clock ticks.
/// Only [`Books::needs_charge`] is read outside the cold paths.
pub(crate) struct Books {
    /// Who holds the lock (no one for a semaphore), and its site.
    holder: Holder,
    /// The waiter-time arithmetic the sync locks use (`sync/books.rs`).
    books: WaitBooks,
    /// True when the last acquisition waited: the next one goes straight to tokio's
    /// own future (see [`Books::try_first`]). Written only when it changes.
    waited_last: AtomicBool,
}

impl Books {
    pub(crate) const fn new(site: Option<&'static LockSite>, kind: Kind) -> Books {
        Books {
            holder: Holder::new(site, kind),
            books: WaitBooks::new(),
            waited_last: AtomicBool::new(false),
        }
    }

    /// Tries `try_acquire` first ([`TryFirst`]), unless this lock's last acquisition
    /// waited: then `None` at once, without trying, and the caller waits in tokio's
    /// own future (which tries before it queues). Under contention the try nearly
    /// always fails, and tokio's mutex hands the lock to its first waiter, so in a
    /// convoy every acquisition waits; the failed try was one more look at the
    /// lock's contended cache line and the coop budget per wait. An uncontended lock
    /// keeps the try: cheaper than tokio's future.
    #[inline(always)]
    pub(crate) fn try_first<R, F: FnMut() -> Option<R> + Unpin>(
        &self,
        try_acquire: F,
    ) -> TryFirst<'_, F> {
        TryFirst {
            books: self,
            try_acquire,
        }
    }

    /// Notes whether an acquisition waited, for the next [`Books::try_first`]: a
    /// store only when that changes, so a lock that is always (or never) contended
    /// keeps the flag's cache line shared.
    #[inline(always)]
    fn note_waited(&self, waited: bool) {
        if self.waited_last.load(Ordering::Relaxed) != waited {
            self.waited_last.store(waited, Ordering::Relaxed);
        }
    }

    fn site(&self) -> Option<&'static LockSite> {
        self.holder.site()
    }

    /// Records the calling task (or thread) as the exclusive owner.
    #[inline(always)]
    pub(crate) fn own(&self) {
        self.holder.own(owner::this_task());
    }

    /// [`Books::release`] of an exclusive hold: forgets the owner first.
    #[inline(always)]
    pub(crate) fn release_owned<R>(&self, release: impl FnOnce() -> R) -> R {
        self.holder.disown();
        self.release(release)
    }

    /// True when others waited during the current hold, so the release must charge.
    #[inline(always)]
    pub(crate) fn needs_charge(&self) -> bool {
        self.books.needs_charge()
    }

    /// Runs `release` (which gives the lock or permits back), charging the caller's
    /// stack first if others waited. Inlined into the guard's drop and so into the
    /// releasing code.
    #[inline(always)]
    pub(crate) fn release<R>(&self, release: impl FnOnce() -> R) -> R {
        if self.needs_charge() {
            let released = self.release_charged_cold(release);
            keep_frame();
            released
        } else {
            release()
        }
    }

    #[cold]
    #[inline(never)]
    fn release_charged_cold<R>(&self, release: impl FnOnce() -> R) -> R {
        // Settled while the lock is still held, so no later holder settles first;
        // the stack capture waits until after the release.
        let now = ticks();
        let Settled {
            charge,
            contended_for,
        } = self.books.settle(now);
        self.holder.hold_ended();
        let released = release();
        if contended_for > 0 {
            if let Some(site) = self.site() {
                site.record_contended_hold(clock::ticks_to_ns(contended_for));
            }
            if tracing() {
                trace::record(self.name(), Category::LockHold, now - contended_for, now);
            }
        }
        record_charge(clock::ticks_to_ns(charge));
        released
    }

    /// Waits in `acquire` (a blocking call: `blocking_lock` and friends), recorded
    /// and charged as an async wait is.
    #[inline(always)]
    pub(crate) fn wait_blocking<R>(&self, mode: Mode, acquire: impl FnOnce() -> R) -> R {
        let acquired = self.wait_blocking_cold(mode, acquire);
        keep_frame();
        acquired
    }

    #[cold]
    #[inline(never)]
    fn wait_blocking_cold<R>(&self, mode: Mode, acquire: impl FnOnce() -> R) -> R {
        let mut waiting = Waiting::idle();
        waiting.begin(Target::Lock(self, mode));
        let acquired = acquire();
        waiting.end(Target::Lock(self, mode), true);
        acquired
    }

    /// Books a waiter if the mutex profile is on; returns whether it did.
    fn arrive(&self, start: u64) -> bool {
        self.books.arrive_if(control::mutex_profiling(), start)
    }

    /// The wait's end (ticks), leaving the books if [`Books::arrive`] `booked` it.
    fn leave(&self, booked: bool, start: u64, departure: Departure) -> u64 {
        self.books.leave_if(booked, ticks, start, departure)
    }

    fn name(&self) -> &'static str {
        self.site()
            .map_or("unnamed profiled tokio lock", |s| s.name())
    }
}

/// What a wait is for: a lock or semaphore whose holders are charged, or something
/// with no holder (a notification, a channel), recorded in the block profile only.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A lock or semaphore, and how the waiter wants it.
    Lock(&'a Books, Mode),
    Outside(Option<&'static LockSite>),
}

impl Target<'_> {
    fn site(self) -> Option<&'static LockSite> {
        match self {
            Target::Lock(books, _) => books.site(),
            Target::Outside(site) => site,
        }
    }
}

/// One waiter's state: idle until its first `Pending`, then the wait's start. No
/// clock read while idle.
pub(crate) struct Waiting {
    /// Ticks at the first `Pending`; 0 while not waiting (or not recorded).
    start: u64,
    /// The wait's entry in the wait table (dumps, deadlocks), for a lock.
    registered: Registered,
    /// True when the wait is in its lock's books (the mutex profile was on when it
    /// began), so it must leave them.
    booked: bool,
}

impl Waiting {
    pub(crate) const fn idle() -> Waiting {
        Waiting {
            start: 0,
            registered: Registered::none(),
            booked: false,
        }
    }

    /// Passes `poll` (the wrapped future's result) through, starting the wait at the
    /// first `Pending` and recording it at `Ready`.
    #[inline(always)]
    pub(crate) fn on_poll<R>(&mut self, target: Target<'_>, poll: Poll<R>) -> Poll<R> {
        match &poll {
            Poll::Pending => {
                if self.start == 0 && !self.registered.is_some() {
                    self.begin(target);
                    keep_frame();
                }
                if self.start != 0 {
                    // This wait is recorded here, under the full stack: an enclosing
                    // `#[profiled]` future counts it as idle time but does not
                    // record it in the block profile a second time.
                    logical::claim_wait();
                }
            }
            Poll::Ready(_) if self.start != 0 => {
                self.finish(target, true);
                keep_frame();
            }
            Poll::Ready(_) => {
                if self.registered.is_some() {
                    self.end_unrecorded(target, true);
                } else if let Target::Lock(books, _) = target {
                    // Ready at its first poll: tokio's future acquired without waiting.
                    books.note_waited(false);
                }
            }
        }
        poll
    }

    /// Records a wait abandoned by dropping its future (a timeout, a `select!`).
    #[inline(always)]
    pub(crate) fn on_drop(&mut self, target: Target<'_>) {
        if self.start != 0 || self.registered.is_some() {
            self.end(target, false);
        }
    }

    /// The wait's end, `acquired` or given up: recorded ([`Waiting::finish`]) if it
    /// began recorded, else only out of the wait table.
    #[inline(always)]
    fn end(&mut self, target: Target<'_>, acquired: bool) {
        if self.start != 0 {
            self.finish(target, acquired);
        } else {
            self.end_unrecorded(target, acquired);
        }
    }

    /// The end of a wait no profile records (they were off when it began): it
    /// leaves the wait table, and its lock's hold stamp is kept true, with no clock
    /// read.
    #[inline(always)]
    fn end_unrecorded(&mut self, target: Target<'_>, acquired: bool) {
        let start = self.registered.since();
        // Out of the wait table first.
        self.registered = Registered::none();
        if let (Some(start), Target::Lock(books, mode)) = (start, target) {
            books.holder.wait_ended(mode, start, None, acquired);
        }
    }

    /// The first `Pending`: the wait starts (and is in the wait table). No stack is
    /// captured here: most waits are not sampled, and the sampling needs the wait's
    /// length (see [`Waiting::finish`]).
    #[cold]
    #[inline(never)]
    fn begin(&mut self, target: Target<'_>) {
        // A task whose coop budget is spent gets `Pending` from tokio's futures even
        // when what it asked for is there: that is a yield, not a wait. (A real wait
        // that starts just as the budget runs out is missed; the next one is not.)
        if !::tokio::task::coop::has_budget_remaining() {
            return;
        }
        let start = ticks().max(1);
        if let Target::Lock(books, mode) = target {
            books.note_waited(true);
            // In the wait table whether or not profiles record it.
            self.registered = waits::register(&books.holder, owner::this_task(), start, mode);
        }
        if !control::contention_profiling() {
            return;
        }
        self.start = start;
        // The books serve the mutex profile only: a block profile alone needs the
        // wait's start and end, not who else waited.
        if let Target::Lock(books, _) = target {
            self.booked = books.arrive(self.start);
        }
    }

    /// The wait's end: `Ready` (acquired, or the primitive closed) or the future's
    /// drop. A sampled wait is recorded under the stack captured here, as Go's block
    /// profile captures the goroutine's stack when it resumes: at `Ready` the task is
    /// polled through the same futures as at its first `Pending`, so the frames are
    /// the waiter's (real ones, then the logical `#[profiled]` chain). A dropped
    /// future's wait is recorded under the code that dropped it (the `timeout` or
    /// `select!` that gave up, inside the waiting function).
    #[cold]
    #[inline(never)]
    fn finish(&mut self, target: Target<'_>, acquired: bool) {
        self.registered = Registered::none();
        let start = std::mem::replace(&mut self.start, 0);
        let booked = std::mem::replace(&mut self.booked, false);
        let end = match target {
            Target::Lock(books, mode) => {
                let end = books.leave(booked, start, Departure::new(acquired, mode));
                books.holder.wait_ended(mode, start, Some(end), acquired);
                end
            }
            Target::Outside(_) => ticks(),
        };
        let waited = clock::ticks_to_ns(end.saturating_sub(start));
        let site = target.site();
        if let Some(site) = site {
            site.record_wait(waited);
        }
        if let Some((count_milli, delay)) = sampling::block(waited, control::block_rate()) {
            let registry = registry::get();
            let id = wait::with_stack(|stack| registry.intern(stack.frames()));
            registry.block.add(id, count_milli, delay);
        }
        if tracing() {
            let name = site.map_or("profiled tokio wait", |s| s.name());
            trace::record(name, Category::LockWait, start, end);
        }
    }
}

/// The future of [`Books::try_first`]. A struct, not `std::future::poll_fn`, so its
/// poll is inlined into the lock's future: in a convoy, where it returns at once,
/// `PollFn::poll` was an out-of-line call per acquisition.
pub(crate) struct TryFirst<'a, F> {
    books: &'a Books,
    try_acquire: F,
}

impl<R, F: FnMut() -> Option<R> + Unpin> Future for TryFirst<'_, F> {
    type Output = Option<R>;

    /// Tries `try_acquire` once the task's coop budget allows, charging the budget
    /// as tokio's own acquisitions do (`Pending`, a yield, when it is spent): `Some`
    /// when acquired without waiting, `None` when the caller has to wait. The
    /// uncontended path of every lock: one budget check and tokio's `try_*`, no
    /// clock.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R>> {
        let this = self.get_mut();
        if this.books.waited_last.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        let coop = std::task::ready!(::tokio::task::coop::poll_proceed(cx));
        let acquired = (this.try_acquire)();
        if acquired.is_some() {
            coop.made_progress();
        }
        Poll::Ready(acquired)
    }
}

/// A future waiting for `target`: `fut` polled as is, with the wait recorded.
pub(crate) struct Wait<'a, F> {
    fut: F,
    target: Target<'a>,
    waiting: Waiting,
}

impl<'a, F: Future> Wait<'a, F> {
    #[inline(always)]
    pub(crate) fn new(target: Target<'a>, fut: F) -> Wait<'a, F> {
        Wait {
            fut,
            target,
            waiting: Waiting::idle(),
        }
    }

    /// The wrapped future, pinned.
    #[inline(always)]
    pub(crate) fn inner(self: Pin<&mut Self>) -> Pin<&mut F> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of a pinned
        // `Wait`, and `Wait`'s `Drop` does not move it.
        unsafe { self.map_unchecked_mut(|w| &mut w.fut) }
    }
}

impl<F: Future> Future for Wait<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned (see `inner`); `target` and `waiting`
        // are not, and are only used through plain references.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `fut` is never moved out of the pinned `Wait`.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        let poll = fut.poll(cx);
        this.waiting.on_poll(this.target, poll)
    }
}

impl<F> Drop for Wait<'_, F> {
    #[inline(always)]
    fn drop(&mut self) {
        self.waiting.on_drop(self.target);
    }
}

#[inline(always)]
fn tracing() -> bool {
    crate::trace::enabled()
}

#[cfg(test)]
mod tests {
    use super::Books;
    use crate::deadlock::owner::Kind;

    #[test]
    fn a_release_is_charged_the_waiting_done_during_its_hold() {
        let books = Books::new(None, Kind::AsyncMutex);
        assert!(!books.needs_charge());
        books.books.arrive(100);
        books.books.arrive(150);
        assert!(books.needs_charge());
        // Two waiters, since 100 and 150: W(200) = 100 + 50 waiter-ticks, contended
        // since the first arrival.
        let settle = |now| {
            let s = books.books.settle(now);
            (s.charge, s.contended_for)
        };
        assert_eq!(settle(200), (150, 100));
        // Still waiting: the next release is charged only what came after 200.
        assert_eq!(settle(260), (120, 60));
        // A release settled before the last one owes nothing (shared holders).
        assert_eq!(settle(250), (0, 0));
    }
}
