//! `tokio::sync::mpsc`, profiled: a `send().await` on a full channel and a
//! `recv().await` on an empty one are waits in the block profile under the waiting
//! task's stack, as Go records channel operations. Nothing is charged in the mutex
//! profile (a channel has no holder).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use profiled::tokio::mpsc; // was: use tokio::sync::mpsc;
//!
//! let (tx, mut rx) = mpsc::channel(1);
//! tokio::spawn(async move {
//!     for i in 0..3 {
//!         tx.send(i).await.unwrap(); // waits while the slot is full
//!     }
//! });
//! let mut got = Vec::new();
//! while let Some(i) = rx.recv().await {
//!     got.push(i);
//! }
//! assert_eq!(got, [0, 1, 2]);
//! # }
//! ```
//!
//! Name a channel with [`tokio_channel!`](crate::tokio_channel) to list it in
//! `/debug/stats` and `/metrics` (kind `channel`).

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::sync::mpsc as tk;

use super::contended::{Target, Wait};
use crate::site::LockSite;

pub use ::tokio::sync::mpsc::error;
pub use ::tokio::sync::mpsc::{Permit, PermitIterator};

use error::{SendError, SendTimeoutError, TryRecvError, TrySendError};

/// A bounded channel of `buffer` slots, as `tokio::sync::mpsc::channel`.
///
/// # Panics
/// If `buffer` is 0, as tokio's.
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    wrap_bounded(None, tk::channel(buffer))
}

/// An unbounded channel, as `tokio::sync::mpsc::unbounded_channel`.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    wrap_unbounded(None, tk::unbounded_channel())
}

/// A bounded channel reporting under `site`; the expansion of `tokio_channel!`.
#[doc(hidden)]
pub fn channel_with_site<T>(site: &'static LockSite, buffer: usize) -> (Sender<T>, Receiver<T>) {
    wrap_bounded(Some(site), tk::channel(buffer))
}

/// An unbounded channel reporting under `site`; the expansion of `tokio_channel!`.
#[doc(hidden)]
pub fn unbounded_channel_with_site<T>(
    site: &'static LockSite,
) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    wrap_unbounded(Some(site), tk::unbounded_channel())
}

fn wrap_bounded<T>(
    site: Option<&'static LockSite>,
    (tx, rx): (tk::Sender<T>, tk::Receiver<T>),
) -> (Sender<T>, Receiver<T>) {
    (Sender { inner: tx, site }, Receiver { inner: rx, site })
}

fn wrap_unbounded<T>(
    site: Option<&'static LockSite>,
    (tx, rx): (tk::UnboundedSender<T>, tk::UnboundedReceiver<T>),
) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    (
        UnboundedSender { inner: tx, site },
        UnboundedReceiver { inner: rx, site },
    )
}

/// What both senders have: waiting for the receiver to close, and the channel's
/// identity and sender count.
macro_rules! sender_methods {
    () => {
        /// Completes when the receiver is dropped or closed (a wait, as any other).
        pub async fn closed(&self) {
            Wait::new(Target::Outside(self.site), self.inner.closed()).await
        }

        /// Whether the receiver is gone or closed.
        pub fn is_closed(&self) -> bool {
            self.inner.is_closed()
        }

        /// Whether both senders feed the same channel.
        pub fn same_channel(&self, other: &Self) -> bool {
            self.inner.same_channel(&other.inner)
        }

        /// Number of senders of this channel.
        pub fn strong_count(&self) -> usize {
            self.inner.strong_count()
        }
    };
}

/// What both receivers have: `recv().await` and `recv_many().await` are waits, the
/// rest is tokio's.
macro_rules! receiver_methods {
    () => {
        /// Receives the next message, waiting for one; `None` once every sender is
        /// gone and the buffer is empty.
        pub async fn recv(&mut self) -> Option<T> {
            Wait::new(Target::Outside(self.site), self.inner.recv()).await
        }

        /// Receives up to `limit` messages into `buffer`, waiting for at least one.
        pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
            Wait::new(
                Target::Outside(self.site),
                self.inner.recv_many(buffer, limit),
            )
            .await
        }

        /// Receives a message if one is there now.
        pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
            self.inner.try_recv()
        }

        /// Receives from synchronous code outside a runtime.
        pub fn blocking_recv(&mut self) -> Option<T> {
            self.inner.blocking_recv()
        }

        /// Closes the channel to senders; buffered messages can still be received.
        pub fn close(&mut self) {
            self.inner.close()
        }

        /// Whether the channel is closed.
        pub fn is_closed(&self) -> bool {
            self.inner.is_closed()
        }

        /// Whether no message is buffered.
        pub fn is_empty(&self) -> bool {
            self.inner.is_empty()
        }

        /// Messages buffered now.
        pub fn len(&self) -> usize {
            self.inner.len()
        }

        /// Polls for the next message (not recorded: a poll function has no wait to
        /// follow across calls).
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.inner.poll_recv(cx)
        }
    };
}

/// Sending half of a bounded channel; `send().await` on a full channel is a wait.
pub struct Sender<T> {
    inner: tk::Sender<T>,
    site: Option<&'static LockSite>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for a free slot.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        Wait::new(Target::Outside(self.site), self.inner.send(value)).await
    }

    /// Waits for a free slot and reserves it.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        Wait::new(Target::Outside(self.site), self.inner.reserve()).await
    }

    /// Waits for `n` free slots and reserves them.
    pub async fn reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, SendError<()>> {
        Wait::new(Target::Outside(self.site), self.inner.reserve_many(n)).await
    }

    /// Sends `value`, waiting at most `timeout` for a free slot.
    pub async fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        Wait::new(
            Target::Outside(self.site),
            self.inner.send_timeout(value, timeout),
        )
        .await
    }

    /// Sends `value` if a slot is free now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(value)
    }

    /// Reserves a slot if one is free now.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.inner.try_reserve()
    }

    /// Reserves `n` slots if they are free now.
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        self.inner.try_reserve_many(n)
    }

    /// Sends from synchronous code outside a runtime, waiting for a slot.
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.blocking_send(value)
    }

    sender_methods!();

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The channel's buffer size.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }
}

/// Receiving half of a bounded channel; `recv().await` on an empty channel is a wait.
pub struct Receiver<T> {
    inner: tk::Receiver<T>,
    site: Option<&'static LockSite>,
}

impl<T> Receiver<T> {
    receiver_methods!();

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The channel's buffer size.
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }
}

/// Sending half of an unbounded channel (sending never waits).
pub struct UnboundedSender<T> {
    inner: tk::UnboundedSender<T>,
    site: Option<&'static LockSite>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value)
    }

    sender_methods!();
}

/// Receiving half of an unbounded channel; `recv().await` on an empty channel is a wait.
pub struct UnboundedReceiver<T> {
    inner: tk::UnboundedReceiver<T>,
    site: Option<&'static LockSite>,
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!();
}

macro_rules! clone_and_debug {
    ($($half:ident),* ; $($sender:ident),*) => {
        $(impl<T> fmt::Debug for $half<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.inner, f)
            }
        })*
        $(impl<T> Clone for $sender<T> {
            fn clone(&self) -> Self {
                $sender {
                    inner: self.inner.clone(),
                    site: self.site,
                }
            }
        })*
    };
}

clone_and_debug!(Sender, Receiver, UnboundedSender, UnboundedReceiver; Sender, UnboundedSender);
