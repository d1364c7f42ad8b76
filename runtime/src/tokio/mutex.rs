//! HOT: [`Mutex`], tokio's async mutex with its waits and contended holds profiled.
//! The fast paths are tokio's plus the owner's id stored at acquisition and cleared
//! at release (`deadlock/owner.rs`) and one relaxed load at release; everything else is
//! in `contended.rs`.

use std::mem::ManuallyDrop;
use std::sync::Arc;

use ::tokio::sync as tk;

use super::contended::{Books, Target, Wait};
use super::guard::{deref_mut, guards, lock_traits};
use crate::deadlock::owner::Kind;
use crate::deadlock::waits::Mode;
use crate::site::LockSite;

pub use ::tokio::sync::TryLockError;

/// `tokio::sync::Mutex` whose waits go to the block profile and whose contended
/// holds go to the mutex profile. Same API: swap the `use` line.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use profiled::tokio::Mutex; // was: use tokio::sync::Mutex;
/// use std::sync::Arc;
///
/// let cache = Arc::new(Mutex::new(Vec::new()));
/// let writer = Arc::clone(&cache);
/// tokio::spawn(async move { writer.lock().await.push(1) }).await.unwrap();
/// cache.lock().await.push(2);
/// assert_eq!(*cache.lock().await, [1, 2]);
/// # }
/// ```
///
/// Name it with [`tokio_mutex!`](crate::tokio_mutex) to list it in `/debug/stats`
/// and `/metrics` (kind `async_mutex`). `lock_owned` and the other owned variants
/// need `T: 'static`, which every `Arc<Mutex<T>>` moved into a task has.
pub struct Mutex<T: ?Sized> {
    books: Books,
    inner: tk::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex, as `tokio::sync::Mutex::new`.
    pub fn new(t: T) -> Mutex<T> {
        Mutex {
            books: Books::new(None, Kind::AsyncMutex),
            inner: tk::Mutex::new(t),
        }
    }

    /// A new unlocked mutex in a `const` context, as `tokio::sync::Mutex::const_new`.
    ///
    /// ```
    /// static HITS: profiled::tokio::Mutex<u64> = profiled::tokio::Mutex::const_new(0);
    /// assert_eq!(*HITS.blocking_lock(), 0);
    /// ```
    pub const fn const_new(t: T) -> Mutex<T> {
        Mutex {
            books: Books::new(None, Kind::AsyncMutex),
            inner: tk::Mutex::const_new(t),
        }
    }

    /// Builds a mutex reporting under `site`; the expansion of `tokio_mutex!`.
    #[doc(hidden)]
    pub const fn const_with_site(site: &'static LockSite, t: T) -> Mutex<T> {
        Mutex {
            books: Books::new(Some(site), Kind::AsyncMutex),
            inner: tk::Mutex::const_new(t),
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting (asynchronously) while another holds it. Waits are recorded
    /// from their first `Pending`, under the waiter's stack.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let inner = match self.books.try_first(|| self.inner.try_lock().ok()).await {
            Some(inner) => inner,
            None => {
                Wait::new(
                    Target::Lock(&self.books, Mode::Exclusive),
                    self.inner.lock(),
                )
                .await
            }
        };
        self.books.own();
        MutexGuard {
            inner: ManuallyDrop::new(inner),
            lock: self,
        }
    }

    /// Locks from synchronous code outside a runtime, as tokio's `blocking_lock`
    /// (which panics inside an async context).
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let inner = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(_) => self
                .books
                .wait_blocking(Mode::Exclusive, || self.inner.blocking_lock()),
        };
        self.books.own();
        MutexGuard {
            inner: ManuallyDrop::new(inner),
            lock: self,
        }
    }

    /// Locks if nobody holds it.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        self.inner.try_lock().map(|inner| {
            self.books.own();
            MutexGuard {
                inner: ManuallyDrop::new(inner),
                lock: self,
            }
        })
    }

    /// A mutable reference to the data: no locking, the borrow proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + 'static> Mutex<T> {
    /// Locks an `Arc`'d mutex, returning a guard that owns the `Arc`.
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the mutex alive.
        let inner = unsafe { erase(self.lock().await.into_tokio()) };
        OwnedMutexGuard::new(inner, self)
    }

    /// `lock_owned` from synchronous code, as tokio's `blocking_lock_owned`.
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the mutex alive.
        let inner = unsafe { erase(self.blocking_lock().into_tokio()) };
        OwnedMutexGuard::new(inner, self)
    }

    /// `try_lock` for an `Arc`'d mutex.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        // SAFETY: the guard goes next to `self`, the `Arc` that keeps the mutex alive.
        let inner = unsafe { erase(self.try_lock()?.into_tokio()) };
        Ok(OwnedMutexGuard::new(inner, self))
    }
}

lock_traits!(Mutex);

/// Guard of a locked [`Mutex`]; dropping it unlocks, charging the dropping code's
/// stack for the waiting others did during the hold.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tk::MutexGuard<'a, T>>,
    lock: &'a Mutex<T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Takes the tokio guard out without unlocking.
    fn into_tokio(self) -> tk::MutexGuard<'a, T> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs, so the
        // guard is moved out exactly once.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Maps the guard to a part of the data, as tokio's `MutexGuard::map`.
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        this: Self,
        f: F,
    ) -> MappedMutexGuard<'a, U> {
        let books = &this.lock.books;
        MappedMutexGuard {
            inner: ManuallyDrop::new(tk::MutexGuard::map(this.into_tokio(), f)),
            books,
        }
    }

    /// Maps the guard if `f` returns `Some`, else gives it back.
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let lock = this.lock;
        match tk::MutexGuard::try_map(this.into_tokio(), f) {
            Ok(inner) => Ok(MappedMutexGuard {
                inner: ManuallyDrop::new(inner),
                books: &lock.books,
            }),
            Err(inner) => Err(MutexGuard {
                inner: ManuallyDrop::new(inner),
                lock,
            }),
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

/// A [`MutexGuard`] mapped to a part of the data.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    inner: ManuallyDrop<tk::MappedMutexGuard<'a, T>>,
    books: &'a Books,
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    fn into_tokio(self) -> (tk::MappedMutexGuard<'a, T>, &'a Books) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs.
        (unsafe { ManuallyDrop::take(&mut this.inner) }, this.books)
    }

    /// Maps further, as tokio's `MappedMutexGuard::map`.
    pub fn map<U, F: FnOnce(&mut T) -> &mut U>(this: Self, f: F) -> MappedMutexGuard<'a, U> {
        let (inner, books) = this.into_tokio();
        MappedMutexGuard {
            inner: ManuallyDrop::new(tk::MappedMutexGuard::map(inner, f)),
            books,
        }
    }

    /// Maps further if `f` returns `Some`, else gives the guard back.
    pub fn try_map<U, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let (inner, books) = this.into_tokio();
        match tk::MappedMutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedMutexGuard {
                inner: ManuallyDrop::new(inner),
                books,
            }),
            Err(inner) => Err(MappedMutexGuard {
                inner: ManuallyDrop::new(inner),
                books,
            }),
        }
    }
}

/// Extends a guard's borrow to `'static`.
///
/// # Safety
/// The guard must be stored next to the `Arc` that owns its mutex and dropped before
/// that `Arc` (the owned guards below): the mutex then neither moves nor dies while
/// the guard lives.
unsafe fn erase<T: ?Sized + 'static>(inner: tk::MutexGuard<'_, T>) -> tk::MutexGuard<'static, T> {
    // SAFETY: same type but for the lifetime; the caller keeps the borrow valid.
    unsafe { std::mem::transmute::<tk::MutexGuard<'_, T>, tk::MutexGuard<'static, T>>(inner) }
}

/// Guard of an `Arc`'d [`Mutex`] that owns the `Arc`, from `lock_owned`.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMutexGuard<T: ?Sized + 'static> {
    /// Borrows from `lock`'s allocation, which `lock` keeps alive and in place;
    /// declared first so it is dropped (unlocked) before `lock` is.
    inner: ManuallyDrop<tk::MutexGuard<'static, T>>,
    lock: Arc<Mutex<T>>,
}

impl<T: ?Sized + 'static> OwnedMutexGuard<T> {
    /// `inner` must lock the mutex inside `lock`.
    fn new(inner: tk::MutexGuard<'static, T>, lock: Arc<Mutex<T>>) -> Self {
        OwnedMutexGuard {
            inner: ManuallyDrop::new(inner),
            lock,
        }
    }

    fn into_parts(self) -> (tk::MutexGuard<'static, T>, Arc<Mutex<T>>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs: both
        // fields are moved out exactly once.
        unsafe {
            (
                ManuallyDrop::take(&mut this.inner),
                std::ptr::read(&this.lock),
            )
        }
    }

    /// Maps the guard to a part of the data, keeping the `Arc`.
    pub fn map<U: ?Sized + 'static, F: FnOnce(&mut T) -> &mut U>(
        this: Self,
        f: F,
    ) -> OwnedMappedMutexGuard<T, U> {
        let (inner, lock) = this.into_parts();
        OwnedMappedMutexGuard {
            inner: ManuallyDrop::new(tk::MutexGuard::map(inner, f)),
            lock,
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

/// An [`OwnedMutexGuard`] mapped to a part of the data.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMappedMutexGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    /// Borrows from `lock`'s allocation; dropped before `lock` (see `OwnedMutexGuard`).
    inner: ManuallyDrop<tk::MappedMutexGuard<'static, U>>,
    lock: Arc<Mutex<T>>,
}

guards! {
    ['a, T: ?Sized] MutexGuard<'a, T> => T, [lock.books], release_owned;
    ['a, T: ?Sized] MappedMutexGuard<'a, T> => T, [books], release_owned;
    [T: ?Sized + 'static] OwnedMutexGuard<T> => T, [lock.books], release_owned;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedMappedMutexGuard<T, U> => U, [lock.books], release_owned;
}

deref_mut! {
    ['a, T: ?Sized] MutexGuard<'a, T> => T;
    ['a, T: ?Sized] MappedMutexGuard<'a, T> => T;
    [T: ?Sized + 'static] OwnedMutexGuard<T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedMappedMutexGuard<T, U> => U;
}
