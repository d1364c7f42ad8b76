//! HOT: budget per call: no alloc, no lock, no clock, no format, no I/O, no panic.
//! Each acquisition is one `try_*` on parking_lot's word (plus, for a writer or the
//! upgradable reader, one relaxed store of the owner: `deadlock/owner.rs`); each
//! release one relaxed load plus parking_lot's release. Everything else is in
//! `contended.rs`.
//!
//! Writers and readers that wait are recorded as block events; whoever releases the
//! lock (reader or writer) is charged the waiting done during its hold, as Go charges
//! `RUnlock` for writers waiting on readers.

use lock_api::{RawRwLock as _, RawRwLockUpgrade as _};

use super::contended::Contention;
use crate::deadlock::owner::Kind;
use crate::deadlock::waits::Mode;
use crate::site::LockSite;

type Inner = parking_lot::RawRwLock;
type Shared = <Inner as lock_api::RawRwLock>::SharedGuard;
type Exclusive = <Inner as lock_api::RawRwLock>::ExclusiveGuard;
type Upgradable = <Inner as lock_api::RawRwLockUpgrade>::UpgradableGuard;
type Duration = std::time::Duration;
type Instant = std::time::Instant;

/// The raw lock behind [`ProfiledRwLock`](crate::ProfiledRwLock): parking_lot's
/// reader-writer lock plus contention bookkeeping. Use it through `ProfiledRwLock`.
///
/// ```
/// use lock_api::RawRwLock;
/// // What `ProfiledRwLock::new` builds: an unnamed profiled raw rwlock behind lock_api.
/// let lock: profiled::ProfiledRwLock<u32> =
///     lock_api::RwLock::from_raw(profiled::RawProfiledRwLock::INIT, 7);
/// let reader = lock.read();
/// assert!(lock.try_write().is_none()); // a reader holds it
/// drop(reader);
/// assert_eq!(*lock.write(), 7);
/// ```
pub struct RawProfiledRwLock {
    inner: Inner,
    contention: Contention,
}

impl RawProfiledRwLock {
    /// An unlocked lock reporting under `site` (used by `profiled_rwlock!`).
    pub const fn with_site(site: &'static LockSite) -> RawProfiledRwLock {
        RawProfiledRwLock {
            inner: Inner::INIT,
            contention: Contention::new(Some(site), Kind::RwLock),
        }
    }
}

// SAFETY: exclusion, sharing and memory ordering are parking_lot's; we only add
// bookkeeping around its calls and pass its guard states through unchanged.
unsafe impl lock_api::RawRwLock for RawProfiledRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawProfiledRwLock = RawProfiledRwLock {
        inner: Inner::INIT,
        contention: Contention::new(None, Kind::RwLock),
    };

    type SharedGuard = Shared;
    type ExclusiveGuard = Exclusive;

    #[inline]
    fn lock_shared(&self) -> Shared {
        self.contention.acquire(
            Mode::Shared,
            || self.inner.try_lock_shared(),
            || self.inner.lock_shared(),
        )
    }

    #[inline]
    fn try_lock_shared(&self) -> Option<Shared> {
        self.inner.try_lock_shared()
    }

    #[inline]
    unsafe fn unlock_shared(&self, guard: Shared) {
        self.contention.release(|| {
            // SAFETY: the caller holds a shared lock and passes its guard state.
            unsafe { self.inner.unlock_shared(guard) }
        })
    }

    #[inline]
    fn lock_exclusive(&self) -> Exclusive {
        let contention = &self.contention;
        contention.owned(contention.acquire(
            Mode::Exclusive,
            || self.inner.try_lock_exclusive(),
            || self.inner.lock_exclusive(),
        ))
    }

    #[inline]
    fn try_lock_exclusive(&self) -> Option<Exclusive> {
        self.contention.owned_if(self.inner.try_lock_exclusive())
    }

    #[inline]
    unsafe fn unlock_exclusive(&self, guard: Exclusive) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the exclusive lock and passes its guard state.
            unsafe { self.inner.unlock_exclusive(guard) }
        })
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }
}

// SAFETY: as above; fairness is parking_lot's.
unsafe impl lock_api::RawRwLockFair for RawProfiledRwLock {
    #[inline]
    unsafe fn unlock_shared_fair(&self, guard: Shared) {
        self.contention.release(|| {
            // SAFETY: the caller holds a shared lock and passes its guard state.
            unsafe { self.inner.unlock_shared_fair(guard) }
        })
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self, guard: Exclusive) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the exclusive lock and passes its guard state.
            unsafe { self.inner.unlock_exclusive_fair(guard) }
        })
    }

    #[inline]
    unsafe fn bump_shared(&self, guard: &mut Shared) {
        self.contention.charge_if_contended();
        // SAFETY: the caller holds a shared lock and passes its guard state.
        unsafe { self.inner.bump_shared(guard) }
    }

    #[inline]
    unsafe fn bump_exclusive(&self, guard: &mut Exclusive) {
        self.contention.charge_if_contended();
        // SAFETY: the caller holds the exclusive lock and passes its guard state.
        unsafe { self.inner.bump_exclusive(guard) };
        self.contention.owned(());
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockDowngrade for RawProfiledRwLock {
    #[inline]
    unsafe fn downgrade(&self, guard: Exclusive) -> Shared {
        self.contention.holder.disown();
        // SAFETY: the caller holds the exclusive lock and passes its guard state.
        unsafe { self.inner.downgrade(guard) }
    }
}

// SAFETY: as above; timeouts are parking_lot's.
unsafe impl lock_api::RawRwLockTimed for RawProfiledRwLock {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_shared_for(&self, timeout: Duration) -> Option<Shared> {
        self.contention.acquire_timed(
            Mode::Shared,
            || self.inner.try_lock_shared(),
            || self.inner.try_lock_shared_for(timeout),
        )
    }

    #[inline]
    fn try_lock_shared_until(&self, timeout: Instant) -> Option<Shared> {
        self.contention.acquire_timed(
            Mode::Shared,
            || self.inner.try_lock_shared(),
            || self.inner.try_lock_shared_until(timeout),
        )
    }

    #[inline]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> Option<Exclusive> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Exclusive,
            || self.inner.try_lock_exclusive(),
            || self.inner.try_lock_exclusive_for(timeout),
        ))
    }

    #[inline]
    fn try_lock_exclusive_until(&self, timeout: Instant) -> Option<Exclusive> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Exclusive,
            || self.inner.try_lock_exclusive(),
            || self.inner.try_lock_exclusive_until(timeout),
        ))
    }
}

// SAFETY: as above; upgrade semantics are parking_lot's.
unsafe impl lock_api::RawRwLockUpgrade for RawProfiledRwLock {
    type UpgradableGuard = Upgradable;

    #[inline]
    fn lock_upgradable(&self) -> Upgradable {
        let contention = &self.contention;
        contention.owned(contention.acquire(
            Mode::Upgradable,
            || self.inner.try_lock_upgradable(),
            || self.inner.lock_upgradable(),
        ))
    }

    #[inline]
    fn try_lock_upgradable(&self) -> Option<Upgradable> {
        self.contention.owned_if(self.inner.try_lock_upgradable())
    }

    #[inline]
    unsafe fn unlock_upgradable(&self, guard: Upgradable) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the upgradable lock and passes its guard state.
            unsafe { self.inner.unlock_upgradable(guard) }
        })
    }

    #[inline]
    unsafe fn upgrade(&self, guard: Upgradable) -> Exclusive {
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        let tried = unsafe { self.inner.try_upgrade(guard) };
        // SAFETY: `try_upgrade` handed the upgradable guard back; we still hold it.
        let upgrade = |guard| unsafe { self.inner.upgrade(guard) };
        self.contention
            .upgrade(tried, |exclusive| exclusive, upgrade)
    }

    #[inline]
    unsafe fn try_upgrade(&self, guard: Upgradable) -> Result<Exclusive, Upgradable> {
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        unsafe { self.inner.try_upgrade(guard) }
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeFair for RawProfiledRwLock {
    #[inline]
    unsafe fn unlock_upgradable_fair(&self, guard: Upgradable) {
        self.contention.release_owned(|| {
            // SAFETY: the caller holds the upgradable lock and passes its guard state.
            unsafe { self.inner.unlock_upgradable_fair(guard) }
        })
    }

    #[inline]
    unsafe fn bump_upgradable(&self, guard: &mut Upgradable) {
        self.contention.charge_if_contended();
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        unsafe { self.inner.bump_upgradable(guard) };
        self.contention.owned(());
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawProfiledRwLock {
    #[inline]
    unsafe fn downgrade_upgradable(&self, guard: Upgradable) -> Shared {
        self.contention.holder.disown();
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        unsafe { self.inner.downgrade_upgradable(guard) }
    }

    #[inline]
    unsafe fn downgrade_to_upgradable(&self, guard: Exclusive) -> Upgradable {
        // SAFETY: the caller holds the exclusive lock and passes its guard state.
        unsafe { self.inner.downgrade_to_upgradable(guard) }
    }
}

// SAFETY: as above; timeouts are parking_lot's.
unsafe impl lock_api::RawRwLockUpgradeTimed for RawProfiledRwLock {
    #[inline]
    fn try_lock_upgradable_for(&self, timeout: Duration) -> Option<Upgradable> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Upgradable,
            || self.inner.try_lock_upgradable(),
            || self.inner.try_lock_upgradable_for(timeout),
        ))
    }

    #[inline]
    fn try_lock_upgradable_until(&self, timeout: Instant) -> Option<Upgradable> {
        self.contention.owned_if(self.contention.acquire_timed(
            Mode::Upgradable,
            || self.inner.try_lock_upgradable(),
            || self.inner.try_lock_upgradable_until(timeout),
        ))
    }

    #[inline]
    unsafe fn try_upgrade_for(
        &self,
        guard: Upgradable,
        timeout: Duration,
    ) -> Result<Exclusive, Upgradable> {
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        let tried = unsafe { self.inner.try_upgrade(guard) };
        // SAFETY: `try_upgrade` handed the upgradable guard back; we still hold it.
        let upgrade = |guard| unsafe { self.inner.try_upgrade_for(guard, timeout) };
        self.contention.upgrade(tried, Ok, upgrade)
    }

    #[inline]
    unsafe fn try_upgrade_until(
        &self,
        guard: Upgradable,
        timeout: Instant,
    ) -> Result<Exclusive, Upgradable> {
        // SAFETY: the caller holds the upgradable lock and passes its guard state.
        let tried = unsafe { self.inner.try_upgrade(guard) };
        // SAFETY: `try_upgrade` handed the upgradable guard back; we still hold it.
        let upgrade = |guard| unsafe { self.inner.try_upgrade_until(guard, timeout) };
        self.contention.upgrade(tried, Ok, upgrade)
    }
}
