//! HOT: [`Semaphore`], tokio's semaphore with its waits and contended permits
//! profiled. The fast paths are tokio's plus one relaxed load at release.

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use ::tokio::sync as tk;

use super::contended::{Books, Target, Wait, try_first};
use crate::deadlock::owner::Kind;
use crate::deadlock::waits::Mode;
use crate::site::LockSite;

pub use ::tokio::sync::{AcquireError, TryAcquireError};

/// `tokio::sync::Semaphore` whose waits go to the block profile and whose permits,
/// released while others wait, charge the releasing code in the mutex profile.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use profiled::tokio::Semaphore; // was: use tokio::sync::Semaphore;
///
/// let pool = Semaphore::new(2);
/// let a = pool.acquire().await.unwrap();
/// let b = pool.try_acquire().unwrap();
/// assert!(pool.try_acquire().is_err()); // both permits are out
/// drop((a, b));
/// assert_eq!(pool.available_permits(), 2);
/// # }
/// ```
///
/// Name it with [`tokio_semaphore!`](crate::tokio_semaphore) to list it in
/// `/debug/stats` and `/metrics` (kind `semaphore`).
pub struct Semaphore {
    books: Books,
    inner: tk::Semaphore,
}

impl Semaphore {
    /// The most permits a semaphore can hold, as tokio's.
    pub const MAX_PERMITS: usize = tk::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            books: Books::new(None, Kind::Semaphore),
            inner: tk::Semaphore::new(permits),
        }
    }

    /// A semaphore with `permits` permits, in a `const` context.
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            books: Books::new(None, Kind::Semaphore),
            inner: tk::Semaphore::const_new(permits),
        }
    }

    /// Builds a semaphore reporting under `site`; the expansion of `tokio_semaphore!`.
    #[doc(hidden)]
    pub const fn const_with_site(site: &'static LockSite, permits: usize) -> Semaphore {
        Semaphore {
            books: Books::new(Some(site), Kind::Semaphore),
            inner: tk::Semaphore::const_new(permits),
        }
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits, waking waiters. Like a permit's release, the caller is
    /// charged the waiting done since the last release.
    pub fn add_permits(&self, n: usize) {
        self.books.release(|| self.inner.add_permits(n))
    }

    /// Removes up to `n` available permits; returns how many it removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Acquires one permit, waiting while none is available.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Acquires `n` permits at once, waiting while too few are available.
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        // A closed semaphore fails `try_acquire_many` too: tokio's call returns the
        // error at its first poll, which is no wait.
        let inner = match try_first(|| self.inner.try_acquire_many(n).ok()).await {
            Some(inner) => inner,
            None => {
                Wait::new(
                    Target::Lock(&self.books, Mode::Shared),
                    self.inner.acquire_many(n),
                )
                .await?
            }
        };
        Ok(self.wrap(inner))
    }

    /// Acquires one permit if one is available now.
    #[inline]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire().map(|inner| self.wrap(inner))
    }

    /// Acquires `n` permits if they are available now.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.inner.try_acquire_many(n).map(|inner| self.wrap(inner))
    }

    /// Acquires one permit from synchronous code outside a runtime.
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.blocking_acquire_many(1)
    }

    /// Acquires `n` permits from synchronous code outside a runtime.
    pub fn blocking_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        let inner = match self.inner.try_acquire_many(n) {
            Ok(permit) => permit,
            // Closed: tokio's call returns the error at once.
            Err(TryAcquireError::Closed) => self.inner.blocking_acquire_many(n)?,
            Err(TryAcquireError::NoPermits) => self
                .books
                .wait_blocking(Mode::Shared, || self.inner.blocking_acquire_many(n))?,
        };
        Ok(self.wrap(inner))
    }

    /// Acquires one permit of an `Arc`'d semaphore; the permit owns the `Arc`.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// Acquires `n` permits of an `Arc`'d semaphore; the permit owns the `Arc`.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        // SAFETY: the permit goes next to `self`, the `Arc` that keeps the semaphore.
        let inner = unsafe { erase(self.acquire_many(n).await?.into_tokio()) };
        Ok(OwnedSemaphorePermit { inner, sem: self })
    }

    /// `try_acquire` for an `Arc`'d semaphore.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// `try_acquire_many` for an `Arc`'d semaphore.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        // SAFETY: the permit goes next to `self`, the `Arc` that keeps the semaphore.
        let inner = unsafe { erase(self.try_acquire_many(n)?.into_tokio()) };
        Ok(OwnedSemaphorePermit { inner, sem: self })
    }

    /// `blocking_acquire` for an `Arc`'d semaphore.
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.blocking_acquire_many_owned(1)
    }

    /// `blocking_acquire_many` for an `Arc`'d semaphore.
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        // SAFETY: the permit goes next to `self`, the `Arc` that keeps the semaphore.
        let inner = unsafe { erase(self.blocking_acquire_many(n)?.into_tokio()) };
        Ok(OwnedSemaphorePermit { inner, sem: self })
    }

    /// Closes the semaphore: waiters and later acquisitions fail.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[inline(always)]
    fn wrap<'a>(&'a self, inner: tk::SemaphorePermit<'a>) -> SemaphorePermit<'a> {
        SemaphorePermit {
            inner: ManuallyDrop::new(inner),
            sem: self,
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Permits acquired from a [`Semaphore`]; dropping them gives them back, charging
/// the dropping code for the waiting others did meanwhile.
#[must_use]
pub struct SemaphorePermit<'a> {
    inner: ManuallyDrop<tk::SemaphorePermit<'a>>,
    sem: &'a Semaphore,
}

impl<'a> SemaphorePermit<'a> {
    fn into_tokio(self) -> tk::SemaphorePermit<'a> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Keeps the permits out of the semaphore for good (no release, no charge).
    pub fn forget(self) {
        self.into_tokio().forget()
    }

    /// Merges `other`'s permits (of the same semaphore) into this one.
    ///
    /// # Panics
    /// If `other` is from another semaphore, as tokio's.
    pub fn merge(&mut self, other: Self) {
        self.inner.merge(other.into_tokio())
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let sem = self.sem;
        self.inner.split(n).map(|inner| sem.wrap(inner))
    }

    /// The semaphore these permits are from.
    pub fn semaphore(&self) -> &Semaphore {
        self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here; `into_tokio` skips this destructor.
        self.sem
            .books
            .release(|| unsafe { ManuallyDrop::drop(&mut self.inner) })
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.num_permits())
            .finish()
    }
}

/// Extends a permit's borrow to `'static`.
///
/// # Safety
/// The permit must be stored next to the `Arc` that owns its semaphore and dropped
/// (or forgotten) before that `Arc`, as [`OwnedSemaphorePermit`] does.
unsafe fn erase(inner: tk::SemaphorePermit<'_>) -> ManuallyDrop<tk::SemaphorePermit<'static>> {
    // SAFETY: same type but for the lifetime; the caller keeps the borrow valid.
    ManuallyDrop::new(unsafe {
        std::mem::transmute::<tk::SemaphorePermit<'_>, tk::SemaphorePermit<'static>>(inner)
    })
}

/// Permits of an `Arc`'d [`Semaphore`] that own the `Arc`, from `acquire_owned`.
#[must_use]
pub struct OwnedSemaphorePermit {
    /// Borrows from `sem`'s allocation; dropped before `sem` is.
    inner: ManuallyDrop<tk::SemaphorePermit<'static>>,
    sem: Arc<Semaphore>,
}

impl OwnedSemaphorePermit {
    fn into_parts(self) -> (tk::SemaphorePermit<'static>, Arc<Semaphore>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs: both
        // fields are moved out exactly once.
        unsafe {
            (
                ManuallyDrop::take(&mut this.inner),
                std::ptr::read(&this.sem),
            )
        }
    }

    /// Keeps the permits out of the semaphore for good (no release, no charge).
    pub fn forget(self) {
        let (inner, sem) = self.into_parts();
        inner.forget();
        drop(sem);
    }

    /// Merges `other`'s permits (of the same semaphore) into this one.
    ///
    /// # Panics
    /// If `other` is from another semaphore, as tokio's.
    pub fn merge(&mut self, other: Self) {
        let (inner, sem) = other.into_parts();
        self.inner.merge(inner);
        drop(sem);
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let inner = self.inner.split(n)?;
        Some(OwnedSemaphorePermit {
            inner: ManuallyDrop::new(inner),
            sem: Arc::clone(&self.sem),
        })
    }

    /// The semaphore these permits are from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here, before `sem`; `into_parts` skips this.
        self.sem
            .books
            .release(|| unsafe { ManuallyDrop::drop(&mut self.inner) })
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.num_permits())
            .finish()
    }
}
