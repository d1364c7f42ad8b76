//! `/debug/pprof/profile?seconds=N` (Go's `pprof.Profile` handler) and
//! `/debug/fgprof?seconds=N` (felixge/fgprof's handler): parse, start the sampler,
//! wait (a hang-up stops it at once), encode like every other profile.

use std::time::Duration;

use hyper::{Response, StatusCode};

use super::peer::Peer;
use super::query::{self, Query};
use super::response::{self, Body};
use super::routes::{Settings, on_blocking_pool};
use crate::cpu::{CpuError, Kind, Session};
use crate::profile::{Profile, folded, proto, text};

/// Go's default when `seconds` is missing, unparsable or not positive.
const DEFAULT_SECONDS: u64 = 30;

/// How the finished profile is written.
#[derive(Clone, Copy, Debug)]
enum Output {
    /// gzip'd `profile.proto`.
    Proto,
    /// Text (`debug=1`): Go's legacy layout, as the contention profiles.
    Text,
    Folded,
    Svg,
}

/// `/debug/pprof/profile`.
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
    let duration = Duration::from_secs(seconds);
    run(Kind::Cpu, query, duration, settings, peer).await
}

/// `/debug/fgprof`: a wall-clock profile, off unless `Config::enable_wall_profiling`.
pub(super) async fn serve_wall(
    query: &Query,
    settings: &Settings,
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
    run(
        Kind::Wall,
        query,
        Duration::from_secs_f64(seconds.min(1e9)),
        settings,
        peer,
    )
    .await
}

async fn run(
    kind: Kind,
    query: &Query,
    duration: Duration,
    settings: &Settings,
    peer: Option<Peer>,
) -> Response<Body> {
    if duration > Duration::from_secs(settings.max_profile_seconds) {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            &format!(
                r#"invalid value for "seconds" - must be at most {} (max_profile_seconds)"#,
                settings.max_profile_seconds
            ),
        );
    }
    let output = match (query.value("format"), query.atoi("debug")) {
        ("" | "pprof", debug) if debug > 0 => Output::Text,
        ("" | "pprof", _) => Output::Proto,
        ("folded", _) => Output::Folded,
        ("svg", _) => Output::Svg,
        (other, _) => {
            return response::go_error(
                StatusCode::BAD_REQUEST,
                &format!("unknown format {other:?}: use format=folded or format=svg"),
            );
        }
    };
    let what = match kind {
        Kind::Cpu => "CPU profiling",
        Kind::Wall => "wall-clock profiling",
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
    // `session` stops the sampler when dropped. hyper 1 keeps polling a pending
    // handler after its client closed the connection, so watch the socket: on a
    // hang-up, drop the session at once so the next request can start.
    if Peer::hung_up_before(peer, duration).await {
        drop(session);
        return response::client_hung_up();
    }
    on_blocking_pool(move || {
        let profile = session.finish();
        let name = match kind {
            Kind::Cpu => "profile",
            Kind::Wall => "fgprof",
        };
        let mut body = Vec::new();
        match write(&profile, kind, output, &mut body) {
            Ok(()) => match output {
                Output::Proto => response::profile(body, 0, name),
                Output::Text => response::profile(body, 1, name),
                Output::Folded => response::text(String::from_utf8_lossy(&body).into_owned()),
                Output::Svg => response::svg(body),
            },
            Err(e) => response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not write profile: {e}"),
            ),
        }
    })
    .await
}

/// Writes `profile` with the crate's encoders.
fn write(
    profile: &Profile,
    kind: Kind,
    output: Output,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let header = match kind {
        Kind::Cpu => "cpu",
        Kind::Wall => "wallclock",
    };
    match output {
        Output::Proto => proto::write(profile, out),
        Output::Text => text::write_contention(profile, header, None, out),
        Output::Folded => folded::write(profile, out),
        Output::Svg => {
            let title = match kind {
                Kind::Cpu => "CPU profile (CPU time by stack)",
                Kind::Wall => "wall-clock profile (time on and off CPU by stack)",
            };
            folded::write_svg(profile, title, out)
        }
    }
}
