//! tokio's synchronisation primitives, profiled (feature `tokio`).
//!
//! [`Mutex`], [`RwLock`], [`Semaphore`], [`Notify`], [`mpsc`] and [`oneshot`] have
//! the API of their `tokio::sync` namesakes and are built on them: swap
//! `use tokio::sync::Mutex;` for `use profiled::tokio::Mutex;` and nothing else
//! changes. What is added is Go's accounting, for async:
//!
//! * **block**: a waiter's wait, from its first `Pending` until it acquires (the
//!   lock, permits, a message, a slot in a full channel, a notification), under the
//!   waiter's stack (real frames plus the `#[profiled]` chain), sampled by
//!   [`set_block_rate`](crate::set_block_rate). As Go's, the stack is captured when
//!   the wait ends, for a kept wait only: at `Ready` the task is polled through the
//!   same futures as at its first `Pending`. A future dropped while waiting (a
//!   timeout, a `select!`) records what it waited, under the code that dropped it.
//! * **mutex**: at the release of a guard or permit that others waited for, the
//!   releasing code's stack is charged the waiting they did during the hold (three
//!   waiters for 20 ms charge 60 ms), 1 in [`mutex_fraction`](crate::mutex_fraction).
//!
//! An acquisition that is ready at its first poll and a release nobody waited for
//! read no clock and capture no stack.
//!
//! Layout: one file per primitive (the hot paths: tokio's plus a relaxed load);
//! `contended.rs` holds every wait and charge (cold).

mod contended;
mod guard;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod rwlock;
mod semaphore;

pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
pub use notify::{Notified, Notify};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard, RwLockReadGuard,
    RwLockWriteGuard,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

/// Declares a named static site and submits it to `inventory`; shared by the
/// `tokio_*!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_site {
    ($name:expr, $kind:ident, |$site:ident| $build:expr) => {{
        static $site: $crate::__private::LockSite = $crate::__private::LockSite::new(
            $name,
            ::core::file!(),
            ::core::line!(),
            $crate::__private::LockKind::$kind,
        );
        $crate::__private::inventory::submit! {
            $crate::__private::LockSiteRef(&$site)
        }
        $build
    }};
}

/// A named [`tokio::Mutex`](crate::tokio::Mutex), usable in a `static`: listed in
/// `/debug/stats` and `/metrics` (kind `async_mutex`) with its waits and contended
/// hold time.
///
/// ```
/// use profiled::tokio::Mutex;
/// static CACHE: Mutex<Vec<u32>> = profiled::tokio_mutex!("doc-cache", Vec::new());
/// CACHE.blocking_lock().push(1);
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-cache").unwrap();
/// assert_eq!(site.kind.as_str(), "async_mutex");
/// ```
#[macro_export]
macro_rules! tokio_mutex {
    ($name:expr, $value:expr $(,)?) => {
        $crate::__tokio_site!($name, AsyncMutex, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::Mutex::const_with_site(&__PROFILED_TOKIO_SITE, $value)
        })
    };
}

/// A named [`tokio::RwLock`](crate::tokio::RwLock), usable in a `static` (kind
/// `async_rwlock`).
///
/// ```
/// use profiled::tokio::RwLock;
/// static ROUTES: RwLock<Vec<&str>> = profiled::tokio_rwlock!("doc-async-routes", Vec::new());
/// ROUTES.blocking_write().push("/");
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-async-routes").unwrap();
/// assert_eq!(site.kind.as_str(), "async_rwlock");
/// ```
#[macro_export]
macro_rules! tokio_rwlock {
    ($name:expr, $value:expr $(,)?) => {
        $crate::__tokio_site!($name, AsyncRwLock, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::RwLock::const_with_site(&__PROFILED_TOKIO_SITE, $value)
        })
    };
}

/// A named [`tokio::Semaphore`](crate::tokio::Semaphore) of `permits` permits,
/// usable in a `static` (kind `semaphore`).
///
/// ```
/// use profiled::tokio::Semaphore;
/// static POOL: Semaphore = profiled::tokio_semaphore!("doc-pool", 4);
/// assert_eq!(POOL.available_permits(), 4);
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-pool").unwrap();
/// assert_eq!(site.kind.as_str(), "semaphore");
/// ```
#[macro_export]
macro_rules! tokio_semaphore {
    ($name:expr, $permits:expr $(,)?) => {
        $crate::__tokio_site!($name, Semaphore, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::Semaphore::const_with_site(&__PROFILED_TOKIO_SITE, $permits)
        })
    };
}

/// A named [`tokio::Notify`](crate::tokio::Notify), usable in a `static` (kind
/// `notify`).
///
/// ```
/// use profiled::tokio::Notify;
/// static READY: Notify = profiled::tokio_notify!("doc-ready");
/// READY.notify_one();
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-ready").unwrap();
/// assert_eq!(site.kind.as_str(), "notify");
/// ```
#[macro_export]
macro_rules! tokio_notify {
    ($name:expr $(,)?) => {
        $crate::__tokio_site!($name, Notify, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::Notify::const_with_site(&__PROFILED_TOKIO_SITE)
        })
    };
}

/// A named [`tokio::mpsc`](crate::tokio::mpsc) channel (kind `channel`):
/// `tokio_channel!("jobs", 16)` is a bounded `channel(16)`, `tokio_channel!("jobs")`
/// an `unbounded_channel()`. Every channel made at one invocation shares its site.
///
/// ```
/// let (tx, mut rx) = profiled::tokio_channel!("doc-jobs", 8);
/// tx.try_send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// let (tx, _rx) = profiled::tokio_channel!("doc-events");
/// tx.send("event").unwrap();
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "doc-jobs").unwrap();
/// assert_eq!(site.kind.as_str(), "channel");
/// ```
#[macro_export]
macro_rules! tokio_channel {
    ($name:expr, $buffer:expr $(,)?) => {
        $crate::__tokio_site!($name, Channel, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::mpsc::channel_with_site(&__PROFILED_TOKIO_SITE, $buffer)
        })
    };
    ($name:expr $(,)?) => {
        $crate::__tokio_site!($name, Channel, |__PROFILED_TOKIO_SITE| {
            $crate::tokio::mpsc::unbounded_channel_with_site(&__PROFILED_TOKIO_SITE)
        })
    };
}
