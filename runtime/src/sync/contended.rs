//! COLD: the contended paths of every profiled lock, entered through
//! `#[cold] #[inline(never)]` functions only, and the few inlined helpers the hot
//! files forward to (one branch each before a cold call).
//!
//! Each lock carries a [`Contention`] record: its site and its [`WaitBooks`]
//! (`books.rs`, the waiter-time arithmetic). A releasing holder charges what the
//! books say others waited during its hold to its own stack (the mutex profile, Go
//! 1.22+ semantics: 3 waiters for 100 ms charge 300 ms) and each waiter records its
//! own wait under its own stack (block profile). This file is the recording: stack
//! capture, sampling, the registry, site totals and the trace.

use crate::clock::{self, ticks};
use crate::control;
use crate::deadlock::owner::{self, Holder, Kind};
use crate::deadlock::waits::{self, Mode};
use crate::instrument::wait;
use crate::registry::{self, sampling};
use crate::site::LockSite;
use crate::trace::{self, Category};

use super::books::{Departure, Settled, WaitBooks};

/// Per-lock contention record: the lock's owner record (with its site) and its
/// waiter books.
pub(crate) struct Contention {
    pub(super) holder: Holder,
    books: WaitBooks,
}

/// What the hot files call, inlined into the lock code and so into the caller: one
/// try or one relaxed load, and a branch to a cold function. Each cold call runs
/// through [`framed`], so the caller's frame stays on the captured stack.
impl Contention {
    pub(crate) const fn new(site: Option<&'static LockSite>, kind: Kind) -> Contention {
        Contention {
            holder: Holder::new(site, kind),
            books: WaitBooks::new(),
        }
    }

    /// Records the calling thread as the exclusive owner of what `acquired` holds.
    #[inline(always)]
    pub(crate) fn owned<G>(&self, acquired: G) -> G {
        self.holder.own(owner::this_thread());
        acquired
    }

    /// [`Contention::owned`] for an acquisition that may have failed.
    #[inline(always)]
    pub(crate) fn owned_if<G>(&self, acquired: Option<G>) -> Option<G> {
        if acquired.is_some() {
            self.holder.own(owner::this_thread());
        }
        acquired
    }

    /// [`Contention::release`] of an exclusive hold: forgets the owner first.
    #[inline(always)]
    pub(crate) fn release_owned(&self, release: impl FnOnce()) {
        self.holder.disown();
        self.release(release);
    }

    /// Acquires with one `try_acquire`, else waits: spins on `try_acquire` for at
    /// most [`SPIN_LIMIT_NS`], then blocks in `acquire`. Only a wait that outlasts
    /// the spin is recorded, in the block profile and the site's totals, as Go
    /// records only waits that sleep; a recorded wait counts from before the spin.
    #[inline(always)]
    pub(crate) fn acquire<G>(
        &self,
        mode: Mode,
        mut try_acquire: impl FnMut() -> Option<G>,
        acquire: impl FnOnce() -> G,
    ) -> G {
        match try_acquire() {
            Some(guard) => guard,
            None => framed(|| self.wait_cold(mode, try_acquire, acquire, |_| true)),
        }
    }

    /// [`Contention::acquire`] for the timed variants: `acquire` gives up (`None`)
    /// at its timeout, and a wait that gave up is recorded all the same.
    #[inline(always)]
    pub(crate) fn acquire_timed<G>(
        &self,
        mode: Mode,
        mut try_acquire: impl FnMut() -> Option<G>,
        acquire: impl FnOnce() -> Option<G>,
    ) -> Option<G> {
        match try_acquire() {
            Some(guard) => Some(guard),
            None => framed(|| {
                self.wait_cold(mode, || try_acquire().map(Some), acquire, Option::is_some)
            }),
        }
    }

    /// Upgrades with the result of one `try_upgrade` (`tried`), else waits in
    /// `upgrade` (given the upgradable guard back) without a spin, since an upgrade
    /// cannot be retried cheaply; the wait is recorded as in [`Contention::acquire`].
    #[inline(always)]
    pub(crate) fn upgrade<E, U, R>(
        &self,
        tried: Result<E, U>,
        upgraded: impl FnOnce(E) -> R,
        upgrade: impl FnOnce(U) -> R,
    ) -> R {
        match tried {
            Ok(exclusive) => upgraded(exclusive),
            Err(guard) => framed(|| self.wait_recorded_cold(Mode::Upgrading, || upgrade(guard))),
        }
    }

    /// A condition-variable wait on this mutex, which the wait releases: charges the
    /// current hold if anyone waited, then records the wait in the block profile. It
    /// is not for the lock's ownership, so it is not charged to later holders.
    #[inline(always)]
    pub(crate) fn condition_wait<R>(&self, wait: impl FnOnce() -> R) -> R {
        self.charge_if_contended();
        // The wait releases the mutex and takes it back: nobody owns it meanwhile.
        self.holder.disown();
        let woken = framed(|| self.wait_outside_cold(wait));
        self.holder.own(owner::this_thread());
        woken
    }

    /// Releases the lock through `release`, first settling what the holder owes
    /// for others' waiting if anyone waited; the holder's stack is captured and
    /// recorded after the release, so the profiler does not lengthen the hold.
    #[inline(always)]
    pub(crate) fn release(&self, release: impl FnOnce()) {
        if self.books.needs_charge() {
            framed(|| self.release_charged_cold(release));
        } else {
            release();
        }
    }

    /// Charges the current hold and records it if anyone waited, without
    /// releasing anything: before a bump (a fair hand-over that keeps the guard),
    /// or before a condition wait releases the lock itself.
    #[inline(always)]
    pub(crate) fn charge_if_contended(&self) {
        if self.books.needs_charge() {
            framed(|| self.charge_hold_cold());
        }
    }
}

/// Runs the cold call `f`, then [`keep_frame`]. Without it, a cold call in tail
/// position (a guard dropped as a function's last statement, a `lock()` returned as
/// a function's value) compiles to a jump, the caller's frame is gone, and the stack
/// captured inside is charged to the caller's caller.
#[inline(always)]
fn framed<R>(f: impl FnOnce() -> R) -> R {
    let result = f();
    keep_frame();
    result
}

/// An empty instruction sequence that must run after the call before it, so that
/// call cannot become a tail jump (see [`framed`]). Costs nothing.
#[inline(always)]
pub(crate) fn keep_frame() {
    // SAFETY: an empty asm block: no instructions, no operands, no stack use.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) }
}

// The cold bodies of the entry points above (their docs are there).
impl Contention {
    #[cold]
    #[inline(never)]
    fn wait_cold<R>(
        &self,
        mode: Mode,
        try_acquire: impl FnMut() -> Option<R>,
        acquire: impl FnOnce() -> R,
        got: impl FnOnce(&R) -> bool,
    ) -> R {
        if !control::contention_profiling() {
            return self.wait_unrecorded(mode, acquire, got);
        }
        let start = ticks();
        if let Some(acquired) = spin(start, try_acquire) {
            return acquired;
        }
        self.wait_since(mode, start, acquire, got)
    }

    #[cold]
    #[inline(never)]
    fn wait_recorded_cold<R>(&self, mode: Mode, acquire: impl FnOnce() -> R) -> R {
        if !control::contention_profiling() {
            return self.wait_unrecorded(mode, acquire, |_| true);
        }
        self.wait_since(mode, ticks(), acquire, |_| true)
    }

    /// A wait with contention profiling off: in the wait table only (dumps and the
    /// deadlock detector see it), not in any profile.
    fn wait_unrecorded<R>(
        &self,
        mode: Mode,
        acquire: impl FnOnce() -> R,
        got: impl FnOnce(&R) -> bool,
    ) -> R {
        self.blocked(mode, ticks(), acquire, got, |_| ticks()).0
    }

    /// Blocks in `acquire` as a waiter in the wait table since `start`; returns what
    /// it acquired (`got` says whether it did, or gave up) and `end` of it, read
    /// once it left the table (the new hold's start).
    fn blocked<R>(
        &self,
        mode: Mode,
        start: u64,
        acquire: impl FnOnce() -> R,
        got: impl FnOnce(&R) -> bool,
        end: impl FnOnce(bool) -> u64,
    ) -> (R, u64) {
        let waiting = waits::register(&self.holder, owner::this_thread(), start, mode);
        let acquired = acquire();
        drop(waiting);
        let got = got(&acquired);
        let end = end(got);
        self.holder.wait_ended(mode, start, Some(end), got);
        (acquired, end)
    }

    #[cold]
    #[inline(never)]
    fn wait_outside_cold<R>(&self, wait: impl FnOnce() -> R) -> R {
        if !control::contention_profiling() {
            return wait();
        }
        let start = ticks();
        let result = wait();
        let end = ticks();
        record_block(clock::ticks_to_ns(end.saturating_sub(start)));
        if trace::enabled() {
            trace::record("condition variable wait", Category::LockWait, start, end);
        }
        result
    }

    #[cold]
    #[inline(never)]
    fn release_charged_cold(&self, release: impl FnOnce()) {
        // The books are settled as of the release while the lock is still held (a few
        // loads and stores), so no later holder can settle them first; the stack
        // capture and recording wait until after the release.
        let released = ticks();
        let settled = self.books.settle(released);
        self.holder.hold_ended();
        release();
        record_charge(self.account(released, settled));
    }

    #[cold]
    #[inline(never)]
    fn charge_hold_cold(&self) {
        let now = ticks();
        let settled = self.books.settle(now);
        record_charge(self.account(now, settled));
    }

    /// A wait that began at `start` (before any spin): booked as a waiter (when the
    /// mutex profile is on) until `acquire` returns (`got` says whether it acquired
    /// or gave up), then recorded.
    fn wait_since<R>(
        &self,
        mode: Mode,
        start: u64,
        acquire: impl FnOnce() -> R,
        got: impl FnOnce(&R) -> bool,
    ) -> R {
        // The books serve the mutex profile only: a block profile alone needs the
        // wait's start and end, not who else waited.
        let booked = self.books.arrive_if(control::mutex_profiling(), start);
        let (acquired, end) = self.blocked(mode, start, acquire, got, |got| {
            self.books
                .leave_if(booked, ticks, start, Departure::new(got, mode))
        });
        self.record_wait(clock::ticks_to_ns(end.saturating_sub(start)));
        if trace::enabled() {
            trace::record(self.trace_name(), Category::LockWait, start, end);
        }
        acquired
    }

    /// Records the contended hold of `settled` in the site's totals and the trace;
    /// returns the charge in nanoseconds.
    fn account(&self, now: u64, settled: Settled) -> u64 {
        let Settled {
            charge,
            contended_for,
        } = settled;
        if contended_for > 0 {
            if let Some(site) = self.holder.site() {
                site.record_contended_hold(clock::ticks_to_ns(contended_for));
            }
            if trace::enabled() {
                trace::record(
                    self.trace_name(),
                    Category::LockHold,
                    now - contended_for,
                    now,
                );
            }
        }
        clock::ticks_to_ns(charge)
    }

    /// The lock's name in traces.
    fn trace_name(&self) -> &'static str {
        self.holder
            .site()
            .map_or("unnamed profiled lock", |site| site.name())
    }

    fn record_wait(&self, waited: u64) {
        if let Some(site) = self.holder.site() {
            site.record_wait(waited);
        }
        record_block(waited);
    }
}

/// Records a holder's charge in the mutex profile under the caller's stack (the
/// sync locks' and `profiled::tokio`'s).
pub(crate) fn record_charge(charge: u64) {
    if charge == 0 {
        return;
    }
    if let Some(fraction) = sampling::mutex_kept(control::mutex_fraction()) {
        let registry = registry::get();
        let id = wait::with_stack(|stack| registry.intern(stack.frames()));
        registry.mutex.add(
            id,
            fraction * registry::COUNT_SCALE,
            charge.saturating_mul(fraction),
        );
    }
}

/// How long a thread may spin before its wait counts as contention. Go records only
/// waits that sleep; parking_lot spins before it parks. Waits that end within this
/// window are not recorded; longer ones are, from their start (before the spin).
const SPIN_LIMIT_NS: u64 = 10_000;

/// Spins with pause instructions (2, 4, ... 64 per round, as parking_lot starts),
/// trying to acquire after each round, for at most [`SPIN_LIMIT_NS`] since `start`
/// (ticks). No yields: a yield on a busy machine can deschedule the thread for a
/// whole time slice, which would then go unrecorded.
fn spin<R>(start: u64, mut try_acquire: impl FnMut() -> Option<R>) -> Option<R> {
    let limit = clock::ns_to_ticks(SPIN_LIMIT_NS);
    for round in 0u32.. {
        for _ in 0..(2u32 << round.min(5)) {
            std::hint::spin_loop();
        }
        if ticks().wrapping_sub(start) >= limit {
            return None;
        }
        if let Some(acquired) = try_acquire() {
            return Some(acquired);
        }
    }
    None
}

fn record_block(waited: u64) {
    if let Some((count_milli, delay)) = sampling::block(waited, control::block_rate()) {
        let registry = registry::get();
        let id = wait::with_stack(|stack| registry.intern(stack.frames()));
        registry.block.add(id, count_milli, delay);
    }
}
