//! The client's side of a connection, watched during long requests.
//!
//! hyper 1 keeps polling a pending handler after its HTTP/1 client closed the
//! connection, so long handlers (CPU profiles, delta profiles, traces) check the
//! socket themselves and stop early, freeing what they hold. A client of a long
//! request has nothing to send until its answer comes: the request ends as soon as
//! the client closes, resets, or sends any byte (a trickle that would keep a plain
//! "is it closed?" check quiet, or a pipelined request), checked every
//! [`HANG_UP_POLL`].

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use super::conn::{ConnState, PhaseGuard};

/// The client's socket, to notice a hang-up while a profile runs.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    fd: RawFd,
    conn: Arc<ConnState>,
}

/// How often a running profile checks whether its client is still there.
const HANG_UP_POLL: Duration = Duration::from_millis(100);

impl Peer {
    pub(crate) fn new(fd: RawFd, conn: Arc<ConnState>) -> Peer {
        Peer { fd, conn }
    }

    /// Marks the connection as waiting on its client's request body until the guard
    /// drops: the connection cap may evict it meanwhile.
    pub(crate) fn reading_body(&self) -> PhaseGuard {
        self.conn.reading_body()
    }

    /// True once the client has closed or reset the connection, or sent anything
    /// (since `bytes_read` bytes had been read).
    fn gone_or_talking(&self, bytes_read: u64) -> bool {
        if self.conn.bytes_read() != bytes_read {
            // hyper read bytes the client sent after its request.
            return true;
        }
        let mut byte = 0u8;
        // SAFETY: `fd` is the connection's socket, open for as long as any handler of
        // that connection runs; MSG_PEEK | MSG_DONTWAIT neither consumes nor blocks.
        let n = unsafe {
            libc::recv(
                self.fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            // 0: closed; more: an unexpected byte.
            return true;
        }
        let error = std::io::Error::last_os_error().kind();
        !matches!(
            error,
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
        )
    }

    /// Waits `duration`; true if the client hung up (or sent something) first, then
    /// within [`HANG_UP_POLL`] of it.
    pub(crate) async fn hung_up_before(peer: Option<Peer>, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = Peer::closed(peer) => true,
        }
    }

    /// Completes when the client hangs up or talks; never, without a peer.
    async fn closed(peer: Option<Peer>) {
        let Some(peer) = peer else {
            return std::future::pending().await;
        };
        let bytes_read = peer.conn.bytes_read();
        loop {
            if peer.gone_or_talking(bytes_read) {
                return;
            }
            tokio::time::sleep(HANG_UP_POLL).await;
        }
    }
}
