//! HOT: [`Semaphore`], tokio's semaphore with its waits and contended permits
//! profiled. The fast paths are tokio's plus one relaxed load at release.

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use ::tokio::sync as tk;

use super::contended::{Books, Target, Wait};
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
// Cache-line aligned: the books then fill the first line and a quarter, and tokio's
// semaphore (its waiter list lock and its permit count) sits inside the second line
// wherever the semaphore is placed. Unaligned, it can straddle two lines, and an
// uncontended `try_acquire` + drop measured 1.10x tokio's own (24.4 / 21.7 ns);
// aligned, 0.98x.
#[repr(align(64))]
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
        let inner = match self
            .books
            .try_first(|| self.inner.try_acquire_many(n).ok())
            .await
        {
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
        let permits = self.acquire_many(n).await?.into_count();
        Ok(OwnedSemaphorePermit { sem: self, permits })
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
        let permits = self.try_acquire_many(n)?.into_count();
        Ok(OwnedSemaphorePermit { sem: self, permits })
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
        let permits = self.blocking_acquire_many(n)?.into_count();
        Ok(OwnedSemaphorePermit { sem: self, permits })
    }

    /// Closes the semaphore: waiters and later acquisitions fail.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Takes over tokio's permit as a count: ours gives the permits back itself, so
    /// it is two words, as tokio's (a `Result` of it comes back in registers).
    #[inline(always)]
    fn wrap<'a>(&'a self, inner: tk::SemaphorePermit<'a>) -> SemaphorePermit<'a> {
        let permits = inner.num_permits();
        // Tokio's permit would add its permits back when dropped; ours does
        // (`SemaphorePermit::drop`, tokio's `add_permits` as tokio's drop calls it).
        std::mem::forget(inner);
        SemaphorePermit { sem: self, permits }
    }

    /// Gives `permits` back, charging the caller if others waited.
    #[inline(always)]
    fn give_back(&self, permits: usize) {
        self.books.release(|| self.inner.add_permits(permits))
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
    sem: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// The permits, no longer given back by this value.
    fn into_count(self) -> usize {
        let permits = self.permits;
        std::mem::forget(self);
        permits
    }

    /// Keeps the permits out of the semaphore for good (no release, no charge).
    pub fn forget(self) {
        self.into_count();
    }

    /// Merges `other`'s permits (of the same semaphore) into this one.
    ///
    /// # Panics
    /// If `other` is from another semaphore, or the count overflows, as tokio's.
    pub fn merge(&mut self, other: Self) {
        assert!(std::ptr::eq(self.sem, other.sem), "{DIFFERENT_SEMAPHORES}");
        merge_count(&mut self.permits, other.into_count());
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let permits = split_count(&mut self.permits, n)?;
        Some(SemaphorePermit {
            sem: self.sem,
            permits,
        })
    }

    /// The semaphore these permits are from.
    pub fn semaphore(&self) -> &Semaphore {
        self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.give_back(self.permits)
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.num_permits())
            .finish()
    }
}

/// Tokio's message when permits of two semaphores are merged.
const DIFFERENT_SEMAPHORES: &str = "merging permits from different semaphore instances";

/// Adds `other` to a permit's count, panicking on overflow as tokio's `merge`.
fn merge_count(permits: &mut usize, other: usize) {
    *permits = permits
        .checked_add(other)
        .expect("number of permits overflowed");
}

/// Takes `n` off a permit's count, as tokio's `split`: `None` when it holds fewer.
fn split_count(permits: &mut usize, n: usize) -> Option<usize> {
    *permits = permits.checked_sub(n)?;
    Some(n)
}

/// Permits of an `Arc`'d [`Semaphore`] that own the `Arc`, from `acquire_owned`.
#[must_use]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// The permits and the semaphore, no longer given back by this value.
    fn into_parts(self) -> (usize, Arc<Semaphore>) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs: `sem`
        // is moved out exactly once.
        (this.permits, unsafe { std::ptr::read(&this.sem) })
    }

    /// Keeps the permits out of the semaphore for good (no release, no charge).
    pub fn forget(self) {
        drop(self.into_parts());
    }

    /// Merges `other`'s permits (of the same semaphore) into this one.
    ///
    /// # Panics
    /// If `other` is from another semaphore, or the count overflows, as tokio's.
    pub fn merge(&mut self, other: Self) {
        assert!(Arc::ptr_eq(&self.sem, &other.sem), "{DIFFERENT_SEMAPHORES}");
        let (permits, _sem) = other.into_parts();
        merge_count(&mut self.permits, permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this one holds fewer.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let permits = split_count(&mut self.permits, n)?;
        Some(OwnedSemaphorePermit {
            sem: Arc::clone(&self.sem),
            permits,
        })
    }

    /// The semaphore these permits are from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.give_back(self.permits)
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.num_permits())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokios_semaphore_sits_in_one_cache_line() {
        let start = std::mem::offset_of!(Semaphore, inner) % 64;
        let len = std::mem::size_of::<tk::Semaphore>();
        assert!(
            start + len <= 64,
            "tokio's semaphore at {start}..{} of a line",
            start + len
        );
        assert_eq!(std::mem::align_of::<Semaphore>(), 64);
    }

    #[test]
    fn permits_split_merge_and_forget_as_tokios() {
        let sem = Semaphore::new(5);
        let mut a = sem.try_acquire_many(3).unwrap();
        assert_eq!(std::mem::size_of_val(&a), 16, "two words, as tokio's");
        let b = a.split(2).unwrap();
        assert!(a.split(2).is_none());
        assert_eq!((a.num_permits(), b.num_permits()), (1, 2));
        assert_eq!(sem.available_permits(), 2);
        a.merge(b);
        assert_eq!(a.num_permits(), 3);
        drop(a);
        assert_eq!(sem.available_permits(), 5);
        sem.try_acquire().unwrap().forget();
        assert_eq!(sem.available_permits(), 4);

        let sem = Arc::new(Semaphore::new(2));
        let mut owned = Arc::clone(&sem).try_acquire_many_owned(2).unwrap();
        let half = owned.split(1).unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop(half);
        assert_eq!(sem.available_permits(), 1);
        owned.forget();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(
            Arc::strong_count(&sem),
            1,
            "permits let go of the semaphore"
        );
    }
}
