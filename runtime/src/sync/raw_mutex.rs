//! HOT: budget per call: no alloc, no lock, no clock, no format, no I/O, no panic.
//! Lock is one `try_lock` on parking_lot's word and one relaxed store of the owner
//! (`deadlock/owner.rs`); unlock is one relaxed store and one relaxed load plus
//! parking_lot's release. Everything else is in `contended.rs`.

use lock_api::RawMutex as _;

use super::contended::Contention;
use crate::deadlock::owner::Kind;
use crate::deadlock::waits::Mode;
use crate::site::LockSite;

type Inner = parking_lot::RawMutex;
/// Guard state of the underlying parking_lot mutex (zero-sized).
pub(crate) type MutexGuardState = <Inner as lock_api::RawMutex>::Guard;

/// The raw mutex behind [`ProfiledMutex`](crate::ProfiledMutex): parking_lot's mutex
/// plus contention bookkeeping. Use it through `ProfiledMutex`.
///
/// ```
/// use lock_api::RawMutex;
/// // What `ProfiledMutex::new` builds: an unnamed profiled raw mutex behind lock_api.
/// let mutex: profiled::ProfiledMutex<u32> =
///     lock_api::Mutex::from_raw(profiled::RawProfiledMutex::INIT, 7);
/// let guard = mutex.lock();
/// assert!(mutex.is_locked()); // asks the raw mutex
/// drop(guard);
/// assert!(!mutex.is_locked());
/// ```
pub struct RawProfiledMutex {
    pub(super) inner: Inner,
    pub(super) contention: Contention,
}

impl RawProfiledMutex {
    /// An unlocked mutex reporting under `site` (used by `profiled_mutex!`).
    pub const fn with_site(site: &'static LockSite) -> RawProfiledMutex {
        RawProfiledMutex {
            inner: Inner::INIT,
            contention: Contention::new(Some(site), Kind::Mutex),
        }
    }
}

// SAFETY: mutual exclusion, acquire and release semantics are parking_lot's; we only
// add bookkeeping around its calls and pass its guard state through unchanged.
unsafe impl lock_api::RawMutex for RawProfiledMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawProfiledMutex = RawProfiledMutex {
        inner: Inner::INIT,
        contention: Contention::new(None, Kind::Mutex),
    };

    type Guard = MutexGuardState;

    #[inline]
    fn lock(&self) -> Self::Guard {
        let contention = &self.contention;
        contention.owned(contention.acquire(
            Mode::Exclusive,
            || self.inner.try_lock(),
            || self.inner.lock(),
        ))
    }

    #[inline]
    fn try_lock(&self) -> Option<Self::Guard> {
        self.contention.owned_if(self.inner.try_lock())
    }

    #[inline]
    unsafe fn unlock(&self, guard: Self::Guard) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the lock and passes its guard state.
            unsafe { self.inner.unlock(guard) }
        })
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

// SAFETY: as above; fairness is parking_lot's.
unsafe impl lock_api::RawMutexFair for RawProfiledMutex {
    #[inline]
    unsafe fn unlock_fair(&self, guard: Self::Guard) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the lock and passes its guard state.
            unsafe { self.inner.unlock_fair(guard) }
        })
    }

    #[inline]
    unsafe fn bump(&self, guard: &mut Self::Guard) {
        self.contention.charge_if_contended();
        self.contention.holder.disown();
        // SAFETY: the caller holds the lock and passes its guard state.
        unsafe { self.inner.bump(guard) };
        self.contention.owned(());
    }
}

// SAFETY: as above; timeouts are parking_lot's.
unsafe impl lock_api::RawMutexTimed for RawProfiledMutex {
    type Duration = std::time::Duration;
    type Instant = std::time::Instant;

    #[inline]
    fn try_lock_for(&self, timeout: Self::Duration) -> Option<Self::Guard> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Exclusive,
            || self.inner.try_lock(),
            || self.inner.try_lock_for(timeout),
        ))
    }

    #[inline]
    fn try_lock_until(&self, timeout: Self::Instant) -> Option<Self::Guard> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Exclusive,
            || self.inner.try_lock(),
            || self.inner.try_lock_until(timeout),
        ))
    }
}
