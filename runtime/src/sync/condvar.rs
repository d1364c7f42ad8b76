//! The raw condition variable behind [`ProfiledCondvar`](crate::ProfiledCondvar):
//! parking_lot's, with every wait recorded as a block event (as Go records
//! `sync.Cond.Wait`). Notifications cost what parking_lot's cost.

use lock_api::RawCondvar as _;

use super::raw_mutex::{MutexGuardState, RawProfiledMutex};

type Inner = parking_lot::RawCondvar;

/// Raw condition variable for [`RawProfiledMutex`]. Use it through `ProfiledCondvar`.
///
/// ```
/// // Used through ProfiledCondvar, which wraps it.
/// static READY: profiled::ProfiledCondvar = profiled::ProfiledCondvar::new();
/// assert!(!READY.notify_one()); // nobody waits
/// ```
pub struct RawProfiledCondvar {
    inner: Inner,
}

impl RawProfiledCondvar {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// let _raw = profiled::RawProfiledCondvar::new();
    /// ```
    pub const fn new() -> RawProfiledCondvar {
        RawProfiledCondvar { inner: Inner::INIT }
    }
}

impl Default for RawProfiledCondvar {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: waiting, notification and their guarantees (no spurious wakeups, one mutex
// per condvar at a time) are parking_lot's, applied to the parking_lot mutex inside
// `RawProfiledMutex`; we only time the wait.
unsafe impl lock_api::RawCondvar for RawProfiledCondvar {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawProfiledCondvar = RawProfiledCondvar::new();

    type RawMutex = RawProfiledMutex;

    unsafe fn wait(&self, mutex: &RawProfiledMutex, guard: &mut MutexGuardState) {
        // SAFETY: the caller holds `mutex` with `guard`, as this method requires.
        let wait = || unsafe { self.inner.wait(&mutex.inner, guard) };
        mutex.contention.condition_wait(wait)
    }

    #[inline]
    fn notify_one(&self) -> bool {
        self.inner.notify_one()
    }

    #[inline]
    fn notify_all(&self) -> usize {
        self.inner.notify_all()
    }
}

// SAFETY: as above; timeouts are parking_lot's.
unsafe impl lock_api::RawCondvarTimed for RawProfiledCondvar {
    fn checked_duration_to_instant(timeout: &std::time::Duration) -> Option<std::time::Instant> {
        Inner::checked_duration_to_instant(timeout)
    }

    unsafe fn wait_until(
        &self,
        mutex: &RawProfiledMutex,
        guard: &mut MutexGuardState,
        timeout: &std::time::Instant,
    ) -> bool {
        // SAFETY: the caller holds `mutex` with `guard`, as this method requires.
        let wait = || unsafe { self.inner.wait_until(&mutex.inner, guard, timeout) };
        mutex.contention.condition_wait(wait)
    }

    unsafe fn wait_for(
        &self,
        mutex: &RawProfiledMutex,
        guard: &mut MutexGuardState,
        timeout: &std::time::Duration,
    ) -> bool {
        // SAFETY: the caller holds `mutex` with `guard`, as this method requires.
        let wait = || unsafe { self.inner.wait_for(&mutex.inner, guard, timeout) };
        mutex.contention.condition_wait(wait)
    }
}
