//! HOT: [`RwLock`], tokio's reader-writer lock with its waits and contended holds
//! profiled. The fast paths are tokio's plus one relaxed load at release, and for a
//! writer the owner's id stored and cleared (`deadlock/owner.rs`).

use std::mem::ManuallyDrop;
use std::sync::Arc;

use ::tokio::sync as tk;

use super::contended::{Books, Target, Wait};
use super::guard::{deref_mut, guards, lock_traits};
use super::mutex::TryLockError;
use crate::deadlock::owner::Kind;
use crate::deadlock::waits::Mode;
use crate::site::LockSite;

/// `tokio::sync::RwLock` whose waits (readers and writers) go to the block profile
/// and whose contended holds go to the mutex profile, charged to whoever releases
/// while others wait. Same API: swap the `use` line.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use profiled::tokio::{RwLock, RwLockWriteGuard}; // was: use tokio::sync::{...};
///
/// let config = RwLock::new(String::from("v1"));
/// assert_eq!(*config.read().await, "v1");
/// let mut writer = config.write().await;
/// writer.push_str(".1");
/// let reader = RwLockWriteGuard::downgrade(writer);
/// assert_eq!(*reader, "v1.1");
/// # }
/// ```
///
/// Name it with [`tokio_rwlock!`](crate::tokio_rwlock) to list it in `/debug/stats`
/// and `/metrics` (kind `async_rwlock`). The owned variants need `T: 'static`.
pub struct RwLock<T: ?Sized> {
    books: Books,
    inner: tk::RwLock<T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock.
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            books: Books::new(None, Kind::AsyncRwLock),
            inner: tk::RwLock::new(value),
        }
    }

    /// A new unlocked lock admitting at most `max_reads` readers at once.
    pub fn with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        RwLock {
            books: Books::new(None, Kind::AsyncRwLock),
            inner: tk::RwLock::with_max_readers(value, max_reads),
        }
    }

    /// A new unlocked lock, in a `const` context.
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            books: Books::new(None, Kind::AsyncRwLock),
            inner: tk::RwLock::const_new(value),
        }
    }

    /// `with_max_readers` in a `const` context.
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> RwLock<T> {
        RwLock {
            books: Books::new(None, Kind::AsyncRwLock),
            inner: tk::RwLock::const_with_max_readers(value, max_reads),
        }
    }

    /// Builds a lock reporting under `site`; the expansion of `tokio_rwlock!`.
    #[doc(hidden)]
    pub const fn const_with_site(site: &'static LockSite, value: T) -> RwLock<T> {
        RwLock {
            books: Books::new(Some(site), Kind::AsyncRwLock),
            inner: tk::RwLock::const_new(value),
        }
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds or waits for the lock.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let inner = match self.books.try_first(|| self.inner.try_read().ok()).await {
            Some(inner) => inner,
            None => Wait::new(Target::Lock(&self.books, Mode::Shared), self.inner.read()).await,
        };
        RwLockReadGuard::wrap(inner, &self.books)
    }

    /// Locks for writing, waiting while anyone holds the lock.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let inner = match self.books.try_first(|| self.inner.try_write().ok()).await {
            Some(inner) => inner,
            None => {
                Wait::new(
                    Target::Lock(&self.books, Mode::Exclusive),
                    self.inner.write(),
                )
                .await
            }
        };
        RwLockWriteGuard::wrap(inner, &self.books)
    }

    /// Locks for reading if that needs no wait.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_read()?;
        Ok(RwLockReadGuard::wrap(inner, &self.books))
    }

    /// Locks for writing if that needs no wait.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_write()?;
        Ok(RwLockWriteGuard::wrap(inner, &self.books))
    }

    /// Locks for reading from synchronous code outside a runtime.
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        let inner = match self.inner.try_read() {
            Ok(inner) => inner,
            Err(_) => self
                .books
                .wait_blocking(Mode::Shared, || self.inner.blocking_read()),
        };
        RwLockReadGuard::wrap(inner, &self.books)
    }

    /// Locks for writing from synchronous code outside a runtime.
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        let inner = match self.inner.try_write() {
            Ok(inner) => inner,
            Err(_) => self
                .books
                .wait_blocking(Mode::Exclusive, || self.inner.blocking_write()),
        };
        RwLockWriteGuard::wrap(inner, &self.books)
    }

    /// A mutable reference to the data: no locking, the borrow proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + 'static> RwLock<T> {
    /// `read` for an `Arc`'d lock; the guard owns the `Arc`.
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the lock alive.
        let inner = unsafe { erase_read(self.read().await.into_tokio()) };
        OwnedRwLockReadGuard { inner, lock: self }
    }

    /// `write` for an `Arc`'d lock; the guard owns the `Arc`.
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the lock alive.
        let inner = unsafe { erase_write(self.write().await.into_tokio()) };
        OwnedRwLockWriteGuard { inner, lock: self }
    }

    /// `try_read` for an `Arc`'d lock.
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the lock alive.
        let inner = unsafe { erase_read(self.try_read()?.into_tokio()) };
        Ok(OwnedRwLockReadGuard { inner, lock: self })
    }

    /// `try_write` for an `Arc`'d lock.
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the lock alive.
        let inner = unsafe { erase_write(self.try_write()?.into_tokio()) };
        Ok(OwnedRwLockWriteGuard { inner, lock: self })
    }
}

lock_traits!(RwLock);

/// Shared read guard of a [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tk::RwLockReadGuard<'a, T>>,
    books: &'a Books,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn wrap(inner: tk::RwLockReadGuard<'a, T>, books: &'a Books) -> Self {
        RwLockReadGuard {
            inner: ManuallyDrop::new(inner),
            books,
        }
    }

    fn into_tokio(self) -> tk::RwLockReadGuard<'a, T> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Maps the guard to a part of the data.
    pub fn map<U: ?Sized, F: FnOnce(&T) -> &U>(this: Self, f: F) -> RwLockReadGuard<'a, U> {
        let books = this.books;
        RwLockReadGuard::wrap(tk::RwLockReadGuard::map(this.into_tokio(), f), books)
    }

    /// Maps the guard if `f` returns `Some`, else gives it back.
    pub fn try_map<U: ?Sized, F: FnOnce(&T) -> Option<&U>>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let books = this.books;
        match tk::RwLockReadGuard::try_map(this.into_tokio(), f) {
            Ok(inner) => Ok(RwLockReadGuard::wrap(inner, books)),
            Err(inner) => Err(RwLockReadGuard::wrap(inner, books)),
        }
    }
}

/// Exclusive write guard of a [`RwLock`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tk::RwLockWriteGuard<'a, T>>,
    books: &'a Books,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn wrap(inner: tk::RwLockWriteGuard<'a, T>, books: &'a Books) -> Self {
        books.own();
        RwLockWriteGuard {
            inner: ManuallyDrop::new(inner),
            books,
        }
    }

    fn into_tokio(self) -> tk::RwLockWriteGuard<'a, T> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Maps the guard to a part of the data.
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        this: Self,
        f: F,
    ) -> RwLockMappedWriteGuard<'a, U> {
        let books = this.books;
        RwLockMappedWriteGuard {
            inner: ManuallyDrop::new(tk::RwLockWriteGuard::map(this.into_tokio(), f)),
            books,
        }
    }

    /// Maps the guard if `f` returns `Some`, else gives it back.
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let books = this.books;
        match tk::RwLockWriteGuard::try_map(this.into_tokio(), f) {
            Ok(inner) => Ok(RwLockMappedWriteGuard {
                inner: ManuallyDrop::new(inner),
                books,
            }),
            Err(inner) => Err(RwLockWriteGuard::wrap(inner, books)),
        }
    }

    /// Turns the write lock into a read lock without letting a writer in; readers
    /// that waited get in, and the writer is charged for their waiting.
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let books = this.books;
        let inner = this.into_tokio();
        let reader = books.release_owned(|| tk::RwLockWriteGuard::downgrade(inner));
        RwLockReadGuard::wrap(reader, books)
    }
}

/// A [`RwLockWriteGuard`] mapped to a part of the data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tk::RwLockMappedWriteGuard<'a, T>>,
    books: &'a Books,
}

/// Extends a read guard's borrow to `'static`.
///
/// # Safety
/// The guard must be stored next to the `Arc` that owns its lock and dropped before it.
unsafe fn erase_read<T: ?Sized + 'static>(
    inner: tk::RwLockReadGuard<'_, T>,
) -> ManuallyDrop<tk::RwLockReadGuard<'static, T>> {
    // SAFETY: same type but for the lifetime; the caller keeps the borrow valid.
    ManuallyDrop::new(unsafe {
        std::mem::transmute::<tk::RwLockReadGuard<'_, T>, tk::RwLockReadGuard<'static, T>>(inner)
    })
}

/// Extends a write guard's borrow to `'static`.
///
/// # Safety
/// The guard must be stored next to the `Arc` that owns its lock and dropped before it.
unsafe fn erase_write<T: ?Sized + 'static>(
    inner: tk::RwLockWriteGuard<'_, T>,
) -> ManuallyDrop<tk::RwLockWriteGuard<'static, T>> {
    // SAFETY: same type but for the lifetime; the caller keeps the borrow valid.
    ManuallyDrop::new(unsafe {
        std::mem::transmute::<tk::RwLockWriteGuard<'_, T>, tk::RwLockWriteGuard<'static, T>>(inner)
    })
}

/// Read guard of an `Arc`'d [`RwLock`] that owns the `Arc`, from `read_owned`.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockReadGuard<T: ?Sized + 'static> {
    /// Borrows from `lock`'s allocation; dropped before `lock` is.
    inner: ManuallyDrop<tk::RwLockReadGuard<'static, T>>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized + 'static> OwnedRwLockReadGuard<T> {
    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

/// Write guard of an `Arc`'d [`RwLock`] that owns the `Arc`, from `write_owned`.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockWriteGuard<T: ?Sized + 'static> {
    /// Borrows from `lock`'s allocation; dropped before `lock` is.
    inner: ManuallyDrop<tk::RwLockWriteGuard<'static, T>>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized + 'static> OwnedRwLockWriteGuard<T> {
    /// Turns the write lock into a read lock without letting a writer in.
    pub fn downgrade(this: Self) -> OwnedRwLockReadGuard<T> {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never used again and its destructor never runs: both
        // fields are moved out exactly once.
        let (inner, lock) = unsafe {
            (
                ManuallyDrop::take(&mut this.inner),
                std::ptr::read(&this.lock),
            )
        };
        let reader = lock
            .books
            .release_owned(|| tk::RwLockWriteGuard::downgrade(inner));
        OwnedRwLockReadGuard {
            inner: ManuallyDrop::new(reader),
            lock,
        }
    }

    /// The lock this guard holds.
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

guards! {
    ['a, T: ?Sized] RwLockReadGuard<'a, T> => T, [books], release;
    ['a, T: ?Sized] RwLockWriteGuard<'a, T> => T, [books], release_owned;
    ['a, T: ?Sized] RwLockMappedWriteGuard<'a, T> => T, [books], release_owned;
    [T: ?Sized + 'static] OwnedRwLockReadGuard<T> => T, [lock.books], release;
    [T: ?Sized + 'static] OwnedRwLockWriteGuard<T> => T, [lock.books], release_owned;
}

deref_mut! {
    ['a, T: ?Sized] RwLockWriteGuard<'a, T> => T;
    ['a, T: ?Sized] RwLockMappedWriteGuard<'a, T> => T;
    [T: ?Sized + 'static] OwnedRwLockWriteGuard<T> => T;
}
