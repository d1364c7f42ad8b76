//! `/debug/pprof/profile?seconds=N` (Go's `pprof.Profile` handler) and
//! `/debug/fgprof?seconds=N` (felixge/fgprof's handler): parse, start the sampler,
//! wait (a hang-up stops it at once), encode like every other profile.

use std::time::Duration;

use hyper::{Response, StatusCode};

use super::guard::LongRequest;
use super::peer::Peer;
use super::query::Query;
use super::response::{self, Body};
use super::routes::{self, on_blocking_pool};
use super::settings::ServerSettings;
use super::strconv;
use crate::cpu::{CpuError, Kind, Session};
use crate::named::Output;
use crate::profile::{Document, Encoding, TextForm};

/// Go's default when `seconds` is missing, unparsable or not positive.
const DEFAULT_SECONDS: u64 = 30;

/// `/debug/pprof/profile`.
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
    run(
        Kind::Cpu,
        query,
        Duration::from_secs(seconds),
        settings,
        peer,
    )
    .await
}

/// `/debug/fgprof`: a wall-clock profile, off unless `Config::enable_wall_profiling`.
pub(super) async fn serve_wall(
    query: &Query,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Response<Body> {
    if !settings.enable_wall_profiling {
        return response::go_error(
            StatusCode::FORBIDDEN,
            "wall-clock profiling is disabled (Config::enable_wall_profiling = false)",
        );
    }
    // As fgprof: missing means 30 s; otherwise a positive number of seconds or 400.
    let raw = query.value("seconds");
    let seconds = if raw.is_empty() {
        DEFAULT_SECONDS as f64
    } else {
        match raw.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => s,
            _ => {
                return response::go_error(
                    StatusCode::BAD_REQUEST,
                    &format!("bad seconds: {raw:?}: must be a positive number"),
                );
            }
        }
    };
    let length = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    run(Kind::Wall, query, length, settings, peer).await
}

async fn run(
    kind: Kind,
    query: &Query,
    length: Duration,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Response<Body> {
    let request = match LongRequest::new(settings, peer, length) {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let output = match routes::output(query) {
        Ok(output) => output,
        Err(refusal) => return refusal,
    };
    let (what, filename, header, title) = match kind {
        Kind::Cpu => (
            "CPU profiling",
            "profile",
            "cpu",
            "CPU profile (CPU time by stack)",
        ),
        Kind::Wall => (
            "wall-clock profiling",
            "fgprof",
            "wallclock",
            "wall-clock profile (time on and off CPU by stack)",
        ),
    };
    let hz = settings.cpu_profile_hz;
    // Starting reads /proc and creates a timer per thread: not on the event loop.
    let started = tokio::task::spawn_blocking(move || Session::start(kind, hz)).await;
    let session = match started {
        Ok(Ok(session)) => session,
        Ok(Err(CpuError::InUse)) if kind == Kind::Cpu => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not enable CPU profiling: cpu profiling already in use",
            );
        }
        Ok(Err(CpuError::InUse)) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not enable wall-clock profiling: a CPU or wall-clock profile is already running",
            );
        }
        Ok(Err(e)) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not enable {what}: {e}"),
            );
        }
        Err(_) => {
            return response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not enable {what}: internal error"),
            );
        }
    };
    // `session` stops the sampler when dropped: on a hang-up it goes at once, so the
    // next request can start.
    if let Err(hung_up) = request.wait().await {
        drop(session);
        return hung_up;
    }
    on_blocking_pool(move || {
        let encoding = match output {
            Output::Go { debug } if debug > 0 => Encoding::Text(TextForm::Contention {
                header,
                sampling_period: None,
            }),
            Output::Go { .. } => Encoding::Proto,
            Output::Folded => Encoding::Folded,
            Output::Svg => Encoding::Svg {
                title: title.to_owned(),
            },
        };
        let document = Document::Profile(session.finish(), encoding);
        routes::respond(&document, output, filename)
    })
    .await
}
