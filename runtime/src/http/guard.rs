//! The one guard every long request (delta profiles, traces, CPU profiles) goes
//! through: `seconds` within `max_profile_seconds` (else 400), a heavy permit (else
//! 429), then a wait that ends early, with the permit given back, if the client
//! hangs up.

// Handlers return their refusal, a whole `Response`, as `Err`, so that `?` ends the
// handler with Go's answer; it is built and moved once per refused request.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use hyper::{Response, StatusCode};
use tokio::sync::OwnedSemaphorePermit;

use super::peer::Peer;
use super::response::{self, Body};
use super::settings::ServerSettings;

/// A long request whose length is within bounds.
pub(crate) struct LongRequest<'a> {
    settings: &'a ServerSettings,
    peer: Option<Peer>,
    length: Duration,
}

impl<'a> LongRequest<'a> {
    /// Admits a request of `length`, or Go's 400 when that exceeds
    /// `max_profile_seconds` (Go's "exceeds the server's WriteTimeout" check).
    pub(crate) fn new(
        settings: &'a ServerSettings,
        peer: Option<Peer>,
        length: Duration,
    ) -> Result<LongRequest<'a>, Response<Body>> {
        if length > Duration::from_secs(settings.max_profile_seconds) {
            return Err(response::go_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    r#"invalid value for "seconds" - must be at most {} (max_profile_seconds)"#,
                    settings.max_profile_seconds
                ),
            ));
        }
        Ok(LongRequest {
            settings,
            peer,
            length,
        })
    }

    /// One of the `max_concurrent_heavy_requests` permits, or 429.
    pub(crate) fn permit(&self) -> Result<OwnedSemaphorePermit, Response<Body>> {
        self.settings.heavy_permit().ok_or_else(|| {
            response::go_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many concurrent profile requests; retry later",
            )
        })
    }

    /// Waits the request's length. hyper keeps polling a handler whose client
    /// closed, so the socket is watched: on a hang-up this returns at once with the
    /// response for it, and the caller drops what it holds (permit, sampler, trace).
    pub(crate) async fn wait(&self) -> Result<(), Response<Body>> {
        if Peer::hung_up_before(self.peer.clone(), self.length).await {
            return Err(response::client_hung_up());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_profile_seconds: u64, heavy: usize) -> ServerSettings {
        let config = crate::Config {
            max_profile_seconds,
            max_concurrent_heavy_requests: heavy,
            ..crate::Config::default()
        };
        ServerSettings::from_config(&config, "")
    }

    #[test]
    fn bounds_seconds_and_counts_permits() {
        let settings = settings(10, 1);
        let too_long = LongRequest::new(&settings, None, Duration::from_millis(10_001));
        assert_eq!(too_long.err().unwrap().status(), StatusCode::BAD_REQUEST);
        let request = LongRequest::new(&settings, None, Duration::from_secs(10)).unwrap();
        assert_eq!(request.length, Duration::from_secs(10));
        let permit = request.permit().unwrap();
        assert_eq!(
            request.permit().err().unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        drop(permit);
        assert!(request.permit().is_ok());
    }
}
