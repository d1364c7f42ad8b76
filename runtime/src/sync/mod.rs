//! Profiled locks: parking_lot's `Mutex`, `RwLock` and `Condvar` APIs, built on
//! `lock_api`, whose waits feed the block profile and whose contended holds feed the
//! mutex profile.
//!
//! Layout: `raw_mutex.rs` and `raw_rwlock.rs` are the hot fast paths, forwarding to
//! parking_lot plus one branch; `contended.rs` is everything that runs only when a
//! thread has to wait (and the inlined helpers that branch to it); `books.rs` is the
//! waiter-time arithmetic behind the mutex profile; `condvar.rs` wraps parking_lot's
//! condition variable.

pub(crate) mod books;
mod condvar;
pub(crate) mod contended;
mod raw_mutex;
mod raw_rwlock;

pub use condvar::RawProfiledCondvar;
pub use raw_mutex::RawProfiledMutex;
pub use raw_rwlock::RawProfiledRwLock;

use crate::site::LockSite;

/// A mutual exclusion lock with parking_lot's API whose contention is profiled.
///
/// `new` is `const`, guards deref to the data, there is no poisoning, and
/// `try_lock`, `try_lock_for`, `into_inner` and `get_mut` work as in parking_lot.
/// The uncontended path is parking_lot's plus one relaxed load and an owner store on
/// each side, and reads no clock.
/// When a thread has to wait, the wait is recorded under the waiter's stack (block
/// profile) and the holder is charged for it at unlock (mutex profile).
///
/// Use [`profiled_mutex!`](crate::profiled_mutex) to give the lock a name that
/// `/debug/stats` reports.
///
/// ```
/// use profiled::ProfiledMutex;
/// let balance = ProfiledMutex::new(10);
/// *balance.lock() += 5;
/// assert_eq!(*balance.lock(), 15);
/// assert_eq!(balance.into_inner(), 15);
/// ```
pub type ProfiledMutex<T> = lock_api::Mutex<RawProfiledMutex, T>;
/// RAII guard of a [`ProfiledMutex`]; the lock is released when it is dropped.
///
/// ```
/// use profiled::{ProfiledMutex, ProfiledMutexGuard};
/// fn bump(counter: &mut ProfiledMutexGuard<'_, u32>) {
///     **counter += 1;
/// }
/// let counter = ProfiledMutex::new(0);
/// let mut guard = counter.lock();
/// bump(&mut guard);
/// drop(guard); // unlocks
/// assert_eq!(*counter.lock(), 1);
/// ```
pub type ProfiledMutexGuard<'a, T> = lock_api::MutexGuard<'a, RawProfiledMutex, T>;
/// A [`ProfiledMutexGuard`] mapped to a part of the protected data.
///
/// ```
/// use profiled::{MappedProfiledMutexGuard, ProfiledMutex, ProfiledMutexGuard};
/// let pair = ProfiledMutex::new((1, 2));
/// let mut second: MappedProfiledMutexGuard<'_, i32> = ProfiledMutexGuard::map(pair.lock(), |p| &mut p.1);
/// *second = 5;
/// drop(second);
/// assert_eq!(pair.into_inner(), (1, 5));
/// ```
pub type MappedProfiledMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawProfiledMutex, T>;

/// A reader-writer lock with parking_lot's API whose contention is profiled.
///
/// Readers and writers that wait are recorded in the block profile; whoever
/// releases the lock while others wait is charged in the mutex profile.
/// Upgradable reads, downgrades and timed variants work as in parking_lot.
///
/// ```
/// use profiled::ProfiledRwLock;
/// let config = ProfiledRwLock::new(String::from("v1"));
/// assert_eq!(*config.read(), "v1");
/// config.write().push_str(".1");
/// let upgradable = config.upgradable_read();
/// let mut writer = profiled::ProfiledRwLockUpgradableReadGuard::upgrade(upgradable);
/// writer.push('!');
/// drop(writer);
/// assert_eq!(*config.read(), "v1.1!");
/// ```
pub type ProfiledRwLock<T> = lock_api::RwLock<RawProfiledRwLock, T>;
/// Shared-read guard of a [`ProfiledRwLock`].
///
/// ```
/// use profiled::{ProfiledRwLock, ProfiledRwLockReadGuard};
/// let limit = ProfiledRwLock::new(3);
/// let a: ProfiledRwLockReadGuard<'_, i32> = limit.read();
/// let b = limit.read(); // readers share the lock
/// assert_eq!(*a + *b, 6);
/// ```
pub type ProfiledRwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawProfiledRwLock, T>;
/// Exclusive-write guard of a [`ProfiledRwLock`].
///
/// ```
/// use profiled::{ProfiledRwLock, ProfiledRwLockWriteGuard};
/// let log = ProfiledRwLock::new(Vec::new());
/// let mut writer: ProfiledRwLockWriteGuard<'_, Vec<u8>> = log.write();
/// writer.push(1);
/// let reader = ProfiledRwLockWriteGuard::downgrade(writer);
/// assert_eq!(*reader, [1]);
/// ```
pub type ProfiledRwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawProfiledRwLock, T>;
/// Upgradable-read guard of a [`ProfiledRwLock`].
///
/// ```
/// use profiled::{ProfiledRwLock, ProfiledRwLockUpgradableReadGuard};
/// let cache = ProfiledRwLock::new(None::<u64>);
/// let entry = cache.upgradable_read(); // other readers may still read
/// if entry.is_none() {
///     let mut entry = ProfiledRwLockUpgradableReadGuard::upgrade(entry);
///     *entry = Some(42);
/// }
/// assert_eq!(*cache.read(), Some(42));
/// ```
pub type ProfiledRwLockUpgradableReadGuard<'a, T> =
    lock_api::RwLockUpgradableReadGuard<'a, RawProfiledRwLock, T>;
/// A read guard mapped to a part of the protected data.
///
/// ```
/// use profiled::{MappedProfiledRwLockReadGuard, ProfiledRwLock, ProfiledRwLockReadGuard};
/// let user = ProfiledRwLock::new((String::from("ada"), 36));
/// let name: MappedProfiledRwLockReadGuard<'_, String> = ProfiledRwLockReadGuard::map(user.read(), |u| &u.0);
/// assert_eq!(*name, "ada");
/// ```
pub type MappedProfiledRwLockReadGuard<'a, T> =
    lock_api::MappedRwLockReadGuard<'a, RawProfiledRwLock, T>;
/// A write guard mapped to a part of the protected data.
///
/// ```
/// use profiled::{MappedProfiledRwLockWriteGuard, ProfiledRwLock, ProfiledRwLockWriteGuard};
/// let user = ProfiledRwLock::new((String::from("ada"), 36));
/// let mut age: MappedProfiledRwLockWriteGuard<'_, u32> = ProfiledRwLockWriteGuard::map(user.write(), |u| &mut u.1);
/// *age += 1;
/// drop(age);
/// assert_eq!(user.read().1, 37);
/// ```
pub type MappedProfiledRwLockWriteGuard<'a, T> =
    lock_api::MappedRwLockWriteGuard<'a, RawProfiledRwLock, T>;

/// A condition variable for [`ProfiledMutex`] with parking_lot's API.
///
/// Each wait is a block event under the waiter's stack, as Go records
/// `sync.Cond.Wait`. As with parking_lot, waits do not wake spuriously and one
/// condition variable is used with one mutex at a time.
///
/// ```
/// use profiled::{ProfiledCondvar, ProfiledMutex};
/// use std::sync::Arc;
/// let pair = Arc::new((ProfiledMutex::new(false), ProfiledCondvar::new()));
/// let remote = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     *remote.0.lock() = true;
///     remote.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// pair.1.wait_while(&mut ready, |ready| !*ready);
/// assert!(*ready);
/// ```
pub type ProfiledCondvar = lock_api::Condvar<RawProfiledCondvar>;

/// Builds a mutex reporting under `site`; the expansion of `profiled_mutex!`.
#[doc(hidden)]
pub const fn mutex_with_site<T>(site: &'static LockSite, value: T) -> ProfiledMutex<T> {
    lock_api::Mutex::from_raw(RawProfiledMutex::with_site(site), value)
}

/// Builds a reader-writer lock reporting under `site`; the expansion of `profiled_rwlock!`.
#[doc(hidden)]
pub const fn rwlock_with_site<T>(site: &'static LockSite, value: T) -> ProfiledRwLock<T> {
    lock_api::RwLock::from_raw(RawProfiledRwLock::with_site(site), value)
}
