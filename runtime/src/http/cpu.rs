//! `/debug/pprof/profile?seconds=N`: Go's `pprof.Profile` handler.

use std::os::fd::RawFd;
use std::time::Duration;

use hyper::{Response, StatusCode};

use super::query::{self, Query};
use super::response::{self, Body};
use super::routes::{Settings, on_blocking_pool};
use crate::cpu::{CpuError, CpuSession};

/// Go's default when `seconds` is missing, unparsable or not positive.
const DEFAULT_SECONDS: u64 = 30;

/// The client's socket, to notice a hang-up while a profile runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    fd: RawFd,
}

/// How often a running profile checks whether its client is still there.
const HANG_UP_POLL: Duration = Duration::from_millis(100);

impl Peer {
    pub(super) fn new(fd: RawFd) -> Peer {
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

pub(super) async fn serve(
    query: &Query,
    settings: &Settings,
    peer: Option<Peer>,
) -> Response<Body> {
    if !settings.enable_cpu_profiling {
        return response::go_error(
            StatusCode::FORBIDDEN,
            "CPU profiling is disabled (Config::enable_cpu_profiling = false)",
        );
    }
    // As Go: `sec, err := strconv.ParseInt(...); if sec <= 0 || err != nil { sec = 30 }`.
    let seconds = query::parse_int(query.value("seconds"))
        .filter(|&s| s > 0)
        .map_or(DEFAULT_SECONDS, i64::unsigned_abs);
    if seconds > settings.max_profile_seconds {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            &format!(
                r#"invalid value for "seconds" - must be at most {} (max_profile_seconds)"#,
                settings.max_profile_seconds
            ),
        );
    }
    let hz = settings.cpu_profile_hz;
    // Starting the sampler can take a while the first time (symbol tables): not on
    // the event loop.
    let started = tokio::task::spawn_blocking(move || CpuSession::start(hz)).await;
    let session = match started {
        Ok(Ok(session)) => session,
        Ok(Err(CpuError::InUse)) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not enable CPU profiling: cpu profiling already in use",
            );
        }
        Ok(Err(CpuError::Sampler(e))) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not enable CPU profiling: {e}"),
            );
        }
        Err(_) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not enable CPU profiling: internal error",
            );
        }
    };
    // `session` stops the sampler when dropped. hyper 1 keeps polling a pending
    // handler after its client closed the connection, so watch the socket: on a
    // hang-up, drop the session at once so the next request can start.
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = Peer::closed(peer) => {
            drop(session);
            return response::go_error(StatusCode::BAD_REQUEST, "client hung up");
        }
    }
    on_blocking_pool(move || {
        let profile = session.finish();
        let mut body = Vec::new();
        match crate::profile::proto::write(&profile, &mut body) {
            Ok(()) => response::profile(body, 0, "profile"),
            Err(e) => response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not write profile: {e}"),
            ),
        }
    })
    .await
}
