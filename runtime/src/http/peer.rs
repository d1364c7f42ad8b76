//! The client's side of a connection, watched for hang-ups.
//!
//! hyper 1 keeps polling a pending handler after its HTTP/1 client closed the
//! connection, so long handlers (CPU profiles, delta profiles, traces) check the
//! socket themselves and stop early, freeing what they hold.

use std::os::fd::RawFd;
use std::time::Duration;

/// The client's socket, to notice a hang-up while a profile runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    fd: RawFd,
}

/// How often a running profile checks whether its client is still there.
const HANG_UP_POLL: Duration = Duration::from_millis(100);

impl Peer {
    pub(crate) fn new(fd: RawFd) -> Peer {
        Peer { fd }
    }

    /// True once the client has closed or reset the connection.
    fn hung_up(self) -> bool {
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
        match n {
            0 => true,
            n if n > 0 => false,
            _ => {
                let error = std::io::Error::last_os_error().kind();
                !matches!(
                    error,
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                )
            }
        }
    }

    /// Waits `duration`; true if the client hung up first (then at once).
    pub(crate) async fn hung_up_before(peer: Option<Peer>, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = Peer::closed(peer) => true,
        }
    }

    /// Completes when the client hangs up; never, without a peer.
    async fn closed(peer: Option<Peer>) {
        let Some(peer) = peer else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(HANG_UP_POLL).await;
            if peer.hung_up() {
                return;
            }
        }
    }
}
