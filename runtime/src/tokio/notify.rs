//! [`Notify`], tokio's notification primitive with its waits profiled (block
//! profile only: nobody holds a notification, so nobody is charged).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::sync as tk;

use super::contended::{Target, Wait};
use crate::site::LockSite;

/// `tokio::sync::Notify` whose waits (`notified().await`) go to the block profile
/// under the waiter's stack, as Go records `sync.Cond.Wait`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use profiled::tokio::Notify; // was: use tokio::sync::Notify;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Notify::new());
/// let notifier = Arc::clone(&ready);
/// tokio::spawn(async move { notifier.notify_one() });
/// ready.notified().await;
/// # }
/// ```
///
/// Name it with [`tokio_notify!`](crate::tokio_notify) to list it in
/// `/debug/stats` and `/metrics` (kind `notify`).
pub struct Notify {
    site: Option<&'static LockSite>,
    inner: tk::Notify,
}

impl Notify {
    /// A new `Notify` with no stored permit.
    pub fn new() -> Notify {
        Notify {
            site: None,
            inner: tk::Notify::new(),
        }
    }

    /// A new `Notify`, in a `const` context.
    pub const fn const_new() -> Notify {
        Notify {
            site: None,
            inner: tk::Notify::const_new(),
        }
    }

    /// Builds a `Notify` reporting under `site`; the expansion of `tokio_notify!`.
    #[doc(hidden)]
    pub const fn const_with_site(site: &'static LockSite) -> Notify {
        Notify {
            site: Some(site),
            inner: tk::Notify::const_new(),
        }
    }

    /// A future that completes at the next notification (or a stored permit).
    pub fn notified(&self) -> Notified<'_> {
        Notified(Wait::new(Target::Outside(self.site), self.inner.notified()))
    }

    /// Wakes one waiter, or stores a permit for the next `notified()`.
    pub fn notify_one(&self) {
        self.inner.notify_one()
    }

    /// Wakes the most recent waiter, or stores a permit.
    pub fn notify_last(&self) {
        self.inner.notify_last()
    }

    /// Wakes every current waiter; stores no permit.
    pub fn notify_waiters(&self) {
        self.inner.notify_waiters()
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Notified<'a>(Wait<'a, tk::futures::Notified<'a>>);

impl Notified<'_> {
    /// Registers the future as a waiter without polling it, as tokio's `enable`;
    /// true if it was already notified.
    pub fn enable(self: Pin<&mut Self>) -> bool {
        // SAFETY: the field is structurally pinned: never moved out of `Notified`.
        let wait = unsafe { self.map_unchecked_mut(|n| &mut n.0) };
        wait.inner().enable()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the field is structurally pinned: never moved out of `Notified`.
        unsafe { self.map_unchecked_mut(|n| &mut n.0) }.poll(cx)
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notified")
    }
}
