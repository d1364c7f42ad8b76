//! `tokio::sync::oneshot`, profiled: awaiting the [`Receiver`] is a wait in the
//! block profile under the waiting task's stack (or what it waited, if dropped).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use profiled::tokio::oneshot; // was: use tokio::sync::oneshot;
//!
//! let (tx, rx) = oneshot::channel();
//! tokio::spawn(async move { tx.send(7).unwrap() });
//! assert_eq!(rx.await, Ok(7));
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::sync::oneshot as tk;

use super::contended::{Target, Waiting};

pub use ::tokio::sync::oneshot::Sender;
pub use ::tokio::sync::oneshot::error;

use error::{RecvError, TryRecvError};

/// A one-value channel, as `tokio::sync::oneshot::channel`.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tk::channel();
    (
        tx,
        Receiver {
            inner: rx,
            waiting: Waiting::idle(),
        },
    )
}

/// Receiving half of a oneshot channel: a future of the value, whose wait is recorded.
pub struct Receiver<T> {
    inner: tk::Receiver<T>,
    waiting: Waiting,
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Waits for the value from synchronous code outside a runtime.
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its destructor never runs; `waiting`
        // is idle (nothing to record) because this receiver was not awaited pending.
        let inner = unsafe { std::ptr::read(&this.inner) };
        this.waiting.on_drop(Target::Outside(None));
        inner.blocking_recv()
    }

    /// Stops the sender from sending; a value already sent can still be received.
    pub fn close(&mut self) {
        self.inner.close()
    }

    /// Whether the value was received or the channel is closed and empty.
    pub fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }

    /// Whether no value is there now.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll(cx);
        this.waiting.on_poll(Target::Outside(None), poll)
    }
}

impl<T> Drop for Receiver<T> {
    #[inline]
    fn drop(&mut self) {
        self.waiting.on_drop(Target::Outside(None));
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
