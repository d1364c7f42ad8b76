//! `/debug/pprof/profile?seconds=N`: Go's `pprof.Profile` handler.

use std::time::Duration;

use hyper::{Response, StatusCode};

use super::guard::LongRequest;
use super::peer::Peer;
use super::query::Query;
use super::response::{self, Body};
use super::routes::{self, on_blocking_pool};
use super::settings::ServerSettings;
use super::strconv;
use crate::cpu::{CpuError, CpuSession};
use crate::named::Output;
use crate::profile::{Document, Encoding};

/// Go's default when `seconds` is missing, unparsable or not positive.
const DEFAULT_SECONDS: u64 = 30;

pub(super) async fn serve(
    query: &Query,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Response<Body> {
    if !settings.enable_cpu_profiling {
        return response::go_error(
            StatusCode::FORBIDDEN,
            "CPU profiling is disabled (Config::enable_cpu_profiling = false)",
        );
    }
    // As Go: `sec, err := strconv.ParseInt(...); if sec <= 0 || err != nil { sec = 30 }`.
    let seconds = strconv::parse_int(query.value("seconds"))
        .filter(|&s| s > 0)
        .map_or(DEFAULT_SECONDS, i64::unsigned_abs);
    let request = match LongRequest::new(settings, peer, Duration::from_secs(seconds)) {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let output = match routes::output(query) {
        // As Go's handler: the proto, whatever `debug` says.
        Ok(Output::Go { .. }) => Output::Go { debug: 0 },
        Ok(output) => output,
        Err(refusal) => return refusal,
    };
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
    if let Err(hung_up) = request.wait().await {
        drop(session);
        return hung_up;
    }
    on_blocking_pool(move || {
        let encoding = match output {
            Output::Go { .. } => Encoding::Proto,
            Output::Folded => Encoding::Folded,
            Output::Svg => Encoding::Svg {
                title: "profile (CPU profile)".to_owned(),
            },
        };
        let document = Document::Profile(session.finish(), encoding);
        routes::respond(&document, output, "profile")
    })
    .await
}
