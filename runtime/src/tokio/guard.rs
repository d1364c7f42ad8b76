//! The trait impls the locks of `mutex.rs` and `rwlock.rs` and their guards share,
//! as macros: each guard keeps its own type and its `#[inline]` drop.

/// `From<T>`, `Default` and `Debug` (tokio's) for a lock wrapping tokio's in `inner`.
macro_rules! lock_traits {
    ($lock:ident) => {
        impl<T> From<T> for $lock<T> {
            fn from(value: T) -> Self {
                $lock::new(value)
            }
        }

        impl<T: Default> Default for $lock<T> {
            fn default() -> Self {
                $lock::new(T::default())
            }
        }

        impl<T: ?Sized + ::std::fmt::Debug> ::std::fmt::Debug for $lock<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.inner, f)
            }
        }
    };
}

/// For each guard (its `ManuallyDrop` tokio guard in `inner`): `Drop`, which
/// releases through `$release` of the `Books` at `self.$books`, `Deref`, `Debug` and
/// `Display`.
macro_rules! guards {
    ($([$($params:tt)*] $guard:ty => $target:ty, [$($books:tt)+], $release:ident;)*) => {$(
        impl<$($params)*> Drop for $guard {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: dropped exactly once, here (before any `Arc` it borrows
                // from); the `into_*` helpers skip this destructor.
                self.$($books)+.$release(|| unsafe {
                    ::std::mem::ManuallyDrop::drop(&mut self.inner)
                })
            }
        }
        impl<$($params)*> ::std::ops::Deref for $guard {
            type Target = $target;
            fn deref(&self) -> &$target {
                &self.inner
            }
        }
        impl<$($params)*> ::std::fmt::Debug for $guard where $target: ::std::fmt::Debug {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<$($params)*> ::std::fmt::Display for $guard where $target: ::std::fmt::Display {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

/// `DerefMut` for the guards that hand out `&mut`.
macro_rules! deref_mut {
    ($([$($params:tt)*] $guard:ty => $target:ty;)*) => {$(
        impl<$($params)*> ::std::ops::DerefMut for $guard {
            fn deref_mut(&mut self) -> &mut $target {
                &mut self.inner
            }
        }
    )*};
}

pub(super) use {deref_mut, guards, lock_traits};
