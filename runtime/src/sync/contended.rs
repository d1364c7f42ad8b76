//! COLD: the contended paths of every profiled lock, entered through
//! `#[cold] #[inline(never)]` functions only.
//!
//! Each lock carries a [`Contention`] record. Waiters register on arrival and leave
//! on acquisition, which lets an unlocking holder compute exactly how much waiting
//! others did during its hold: with `N` waiters whose waits started at `t_i`, the
//! accumulated waiter-time is `W(T) = D + N * T`, where `D` gains `-t_i` on arrival
//! and `+t_exit` on exit. The holder charges `W(now) - W(last charge)` to its own
//! stack (the mutex profile, Go 1.22+ semantics: 3 waiters for 100 ms charge
//! 300 ms) and each waiter records its own wait under its own stack (block profile).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::clock::{self, ticks};
use crate::control;
use crate::instrument::wait;
use crate::registry::{self, Sampler};
use crate::site::LockSite;
use crate::stack::Stack;
use crate::trace::{self, Category};

/// Per-lock contention bookkeeping, in clock ticks (`clock::ticks`). Only `since` is
/// read outside the cold paths.
pub(crate) struct Contention {
    site: Option<&'static LockSite>,
    /// Ticks at which waiting began since the last charge; 0 when nobody has
    /// waited since. Unlock reads it with one relaxed load to pick the slow path.
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
    /// Ticks at which the last waiter acquired (or gave up).
    last_departure: AtomicU64,
}

impl Contention {
    pub(crate) const fn new(site: Option<&'static LockSite>) -> Contention {
        Contention {
            site,
            since: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            waiters: AtomicU32::new(0),
            wait_sum: AtomicU64::new(0),
            charged: AtomicU64::new(0),
            charged_at: AtomicU64::new(0),
            last_departure: AtomicU64::new(0),
        }
    }

    /// True when others waited during the current hold, so unlock must charge it.
    #[inline(always)]
    pub(crate) fn needs_charge(&self) -> bool {
        // Relaxed: a stale 0 only moves a just-arrived waiter's first nanoseconds of
        // waiting to the next holder's charge.
        self.since.load(Ordering::Relaxed) != 0
    }

    /// Acquires through `acquire` (which blocks, or gives up on a timeout) after
    /// spinning on `try_acquire` for at most [`SPIN_LIMIT_NS`]. Only a wait that
    /// outlasts the spin is recorded, in the block profile and the site's totals, as
    /// Go records only waits that sleep; a recorded wait counts from before the spin.
    #[cold]
    #[inline(never)]
    fn wait_cold<R>(
        &self,
        try_acquire: impl FnMut() -> Option<R>,
        acquire: impl FnOnce() -> R,
    ) -> R {
        if !control::contention_profiling() {
            return acquire();
        }
        let start = ticks();
        if let Some(acquired) = spin(start, try_acquire) {
            return acquired;
        }
        self.wait_since(start, acquire)
    }

    /// Like [`Contention::wait`] without the spin, for acquisitions that cannot be
    /// retried cheaply (upgrades).
    #[cold]
    #[inline(never)]
    fn wait_recorded_cold<R>(&self, acquire: impl FnOnce() -> R) -> R {
        if !control::contention_profiling() {
            return acquire();
        }
        self.wait_since(ticks(), acquire)
    }

    fn wait_since<R>(&self, start: u64, acquire: impl FnOnce() -> R) -> R {
        let mut stack = Stack::capture();
        wait::append_chain(&mut stack);
        self.arrive(start);
        let acquired = acquire();
        let end = self.leave();
        self.record_wait(&stack, clock::ticks_to_ns(end.saturating_sub(start)));
        if crate::instrument::state() & crate::instrument::TRACING != 0 {
            trace::record(self.trace_name(), Category::LockWait, start, end);
        }
        acquired
    }

    /// Records a wait that is not for this lock's ownership, such as a condition
    /// variable wait: it goes to the block profile but is not charged to holders.
    #[cold]
    #[inline(never)]
    fn wait_outside_cold<R>(&self, wait: impl FnOnce() -> R) -> R {
        if !control::contention_profiling() {
            return wait();
        }
        let mut stack = Stack::capture();
        wait::append_chain(&mut stack);
        let start = ticks();
        let result = wait();
        let end = ticks();
        record_block(&stack, clock::ticks_to_ns(end.saturating_sub(start)));
        if crate::instrument::state() & crate::instrument::TRACING != 0 {
            trace::record("condition variable wait", Category::LockWait, start, end);
        }
        result
    }

    /// Releases the lock through `release` after computing what the holder owes for
    /// others' waiting; the holder's stack is captured and recorded after the
    /// release, so the profiler does not lengthen the contended hold.
    #[cold]
    #[inline(never)]
    fn release_charged_cold(&self, release: impl FnOnce()) {
        // The books are settled as of the release while the lock is still held (a few
        // loads and stores), so no later holder can settle them first; the stack
        // capture and recording wait until after the release.
        let released = ticks();
        let settled = self.settle(released);
        release();
        record_charge(self.account(released, settled));
    }

    /// Charges the current hold and records it, without releasing anything (a
    /// condition wait releases the lock itself).
    #[cold]
    #[inline(never)]
    fn charge_hold_cold(&self) {
        let now = ticks();
        let settled = self.settle(now);
        record_charge(self.account(now, settled));
    }

    /// Settles the books as of `now` (the release): the waiter-ticks accumulated
    /// since the last charge, and how long the hold was contended. Resets both.
    fn settle(&self, now: u64) -> Settled {
        let _busy = self.lock_books();
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
        // latest; if nobody waits any more, none of that hold was contended (what
        // remains to charge is that waiter's hand-off). A waiter that acquired after
        // `now` (a shared lock) waited through the whole contended span.
        let departed = self.last_departure.load(Ordering::Relaxed);
        let contended_for = if since == 0 {
            0 // nobody waited since the last charge
        } else if departed > now {
            now.saturating_sub(since)
        } else if waiters == 0 && departed >= since {
            0
        } else {
            now.saturating_sub(since.max(departed))
        };
        Settled {
            charge: u64::try_from(charge).unwrap_or(0),
            contended_for,
        }
    }

    /// Records the contended hold of `settled` in the site's totals and the trace;
    /// returns the charge in nanoseconds.
    fn account(&self, now: u64, settled: Settled) -> u64 {
        let Settled {
            charge,
            contended_for,
        } = settled;
        if contended_for > 0 {
            if let Some(site) = self.site {
                site.record_contended_hold(clock::ticks_to_ns(contended_for));
            }
            if crate::instrument::state() & crate::instrument::TRACING != 0 {
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

    /// Registers a waiter whose wait began at `start` (before its spin).
    fn arrive(&self, start: u64) {
        let _busy = self.lock_books();
        self.waiters.fetch_add(1, Ordering::Relaxed);
        self.wait_sum.fetch_sub(start, Ordering::Relaxed);
        if self.since.load(Ordering::Relaxed) == 0 {
            self.since.store(start, Ordering::Relaxed);
        }
    }

    fn leave(&self) -> u64 {
        let _busy = self.lock_books();
        let now = ticks();
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        self.wait_sum.fetch_add(now, Ordering::Relaxed);
        self.last_departure.store(now, Ordering::Relaxed);
        now
    }

    /// The lock's name in traces.
    fn trace_name(&self) -> &'static str {
        self.site
            .map_or("unnamed profiled lock", |site| site.name())
    }

    fn record_wait(&self, stack: &Stack, waited: u64) {
        if let Some(site) = self.site {
            site.record_wait(waited);
        }
        record_block(stack, waited);
    }

    fn lock_books(&self) -> BooksGuard<'_> {
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

/// What a holder owes, in ticks, from [`Contention::settle`].
#[derive(Clone, Copy, Default)]
struct Settled {
    /// Waiter-ticks accumulated during the hold.
    charge: u64,
    /// How long the hold was contended (someone waited).
    contended_for: u64,
}

/// Entry points, inlined into the lock code and so into the caller. Each calls its
/// cold twin, then [`keep_frame`]: without that, a cold call in tail position (a
/// guard dropped as a function's last statement, a `lock()` returned as a function's
/// value) compiles to a jump, the caller's frame is gone, and the stack captured
/// inside is charged to the caller's caller.
impl Contention {
    /// Acquires through `acquire` (which blocks, or gives up on a timeout) after
    /// spinning on `try_acquire` for at most [`SPIN_LIMIT_NS`]. Only a wait that
    /// outlasts the spin is recorded, in the block profile and the site's totals, as
    /// Go records only waits that sleep; a recorded wait counts from before the spin.
    #[inline(always)]
    pub(crate) fn wait<R>(
        &self,
        try_acquire: impl FnMut() -> Option<R>,
        acquire: impl FnOnce() -> R,
    ) -> R {
        let acquired = self.wait_cold(try_acquire, acquire);
        keep_frame();
        acquired
    }

    /// Like [`Contention::wait`] without the spin, for acquisitions that cannot be
    /// retried cheaply (upgrades).
    #[inline(always)]
    pub(crate) fn wait_recorded<R>(&self, acquire: impl FnOnce() -> R) -> R {
        let acquired = self.wait_recorded_cold(acquire);
        keep_frame();
        acquired
    }

    /// Records a wait that is not for this lock's ownership, such as a condition
    /// variable wait: it goes to the block profile but is not charged to holders.
    #[inline(always)]
    pub(crate) fn wait_outside<R>(&self, wait: impl FnOnce() -> R) -> R {
        let result = self.wait_outside_cold(wait);
        keep_frame();
        result
    }

    /// Releases the lock through `release` after computing what the holder owes for
    /// others' waiting.
    #[inline(always)]
    pub(crate) fn release_charged(&self, release: impl FnOnce()) {
        self.release_charged_cold(release);
        keep_frame();
    }

    /// Charges the current hold and records it, without releasing anything.
    #[inline(always)]
    pub(crate) fn charge_hold(&self) {
        self.charge_hold_cold();
        keep_frame();
    }
}

/// An empty instruction sequence that must run after the call before it, so that
/// call cannot become a tail jump (see the entry points above). Costs nothing.
#[inline(always)]
fn keep_frame() {
    // SAFETY: an empty asm block: no instructions, no operands, no stack use.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) }
}

struct BooksGuard<'a>(&'a AtomicBool);

impl Drop for BooksGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Records a holder's charge in the mutex profile under the caller's stack.
fn record_charge(charge: u64) {
    if charge == 0 {
        return;
    }
    if let Some(fraction) = Sampler::mutex_kept(control::mutex_fraction()) {
        let mut stack = Stack::capture();
        wait::append_chain(&mut stack);
        let registry = registry::get();
        let id = registry.stacks.intern(stack.frames());
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

fn record_block(stack: &Stack, waited: u64) {
    if let Some((count_milli, delay)) = Sampler::block(waited, control::block_rate()) {
        let registry = registry::get();
        let id = registry.stacks.intern(stack.frames());
        registry.block.add(id, count_milli, delay);
    }
}
