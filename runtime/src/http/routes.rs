//! Routing and handlers. Handlers own no profiling state: they parse, snapshot,
//! encode (on the blocking pool) and respond, with Go's statuses and messages.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::{Request, Response, StatusCode};

use super::index;
use super::peer::Peer;
use super::query::{self, Query};
use super::response::{self, Body};
use crate::profiles::{self, NamedProfile, Output};

/// Per-server settings the handlers need.
#[derive(Clone)]
pub(crate) struct Settings {
    /// Upper bound on `?seconds=N`.
    pub max_profile_seconds: u64,
    /// Required bearer token, if any.
    pub auth_token: Option<String>,
    /// Permits for heavy requests (delta profiles and traces; CPU profiles are one at a
    /// time anyway, as Go).
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// Path prefix the endpoints are mounted under ("" for the root).
    pub prefix: String,
    /// Serve `/debug/pprof/profile`.
    pub enable_cpu_profiling: bool,
    /// Serve `/debug/pprof/heap` and `allocs`.
    pub enable_memory_profiling: bool,
    /// CPU sampling frequency.
    pub cpu_profile_hz: i32,
    /// `Host` names answered (lowercase, no port); `None` answers any.
    pub allowed_hosts: Option<Vec<String>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Settings")
            .field("max_profile_seconds", &self.max_profile_seconds)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub(crate) fn from_config(config: &crate::Config, prefix: &str) -> Settings {
        Settings {
            max_profile_seconds: config.max_profile_seconds,
            auth_token: config.auth_token.clone(),
            heavy: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_heavy_requests,
            )),
            prefix: prefix.trim_end_matches('/').to_owned(),
            enable_cpu_profiling: config.enable_cpu_profiling,
            enable_memory_profiling: config.enable_memory_profiling,
            cpu_profile_hz: config.cpu_profile_hz,
            allowed_hosts: super::host::explicit(&config.allowed_hosts),
        }
    }

    /// A permit for a heavy request; `None` when all are taken (answer 429).
    pub(crate) fn heavy_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.heavy).try_acquire_owned().ok()
    }
}

/// True when the request carries `Authorization: Bearer <token>`; compared in
/// constant time for tokens of the same length.
fn authorized<B>(request: &Request<B>, token: &str) -> bool {
    let Some(value) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

/// Compares without early exit, so timing reveals at most the length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Serves one request. A panic while serving it becomes Go's 500 for this request
/// alone: the connection, the server and every other request go on.
pub(crate) async fn handle<B>(
    request: Request<B>,
    settings: Arc<Settings>,
) -> Result<Response<Body>, Infallible>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Ok(catch_panic(dispatch(request, settings)).await)
}

/// Polls `serving` to its response, or answers 500 if a poll panics. The future is
/// dropped, never polled again, after a panic, so no broken state is observed.
async fn catch_panic(serving: impl Future<Output = Response<Body>>) -> Response<Body> {
    let mut serving = std::pin::pin!(serving);
    std::future::poll_fn(|cx| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serving.as_mut().poll(cx)))
            .unwrap_or_else(|_| {
                Poll::Ready(response::go_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error while serving the request",
                ))
            })
    })
    .await
}

async fn dispatch<B>(request: Request<B>, settings: Arc<Settings>) -> Response<Body>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(refusal) = super::host::refusal(&request, settings.allowed_hosts.as_deref()) {
        return refusal;
    }
    if let Some(token) = &settings.auth_token
        && !authorized(&request, token)
    {
        return response::unauthorized();
    }
    let raw_query = request.uri().query();
    let raw_path = request.uri().path();
    let Some(raw_path) = raw_path.strip_prefix(settings.prefix.as_str()) else {
        return response::not_found();
    };
    let Some(path) = decode_path(raw_path) else {
        return response::go_error(StatusCode::BAD_REQUEST, "400 Bad Request");
    };
    let cleaned = clean_path(&path);
    if cleaned != path {
        // Go's ServeMux redirects unclean paths (`//`, `/./`, `/../`) to their clean
        // form, keeping the query.
        let mut location = format!("{}{}", settings.prefix, encode_path(&cleaned));
        if let Some(raw_query) = raw_query {
            location.push('?');
            location.push_str(raw_query);
        }
        return response::moved_permanently(&location);
    }
    match path.as_str() {
        // These read the request itself (method, body, headers).
        "/debug/pprof/symbol" => return super::symbol::serve(request).await,
        "/debug/pprof/cmdline" => return super::symbol::cmdline(),
        "/metrics" => {
            let openmetrics = request
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("application/openmetrics-text"));
            return on_cheap_pool(move || {
                if openmetrics {
                    response::openmetrics(crate::metrics::render())
                } else {
                    response::prometheus_text(crate::metrics::render_prometheus_text())
                }
            })
            .await;
        }
        _ => {}
    }
    let peer = request.extensions().get::<Peer>().cloned();
    route(&path, Query::parse(raw_query), &settings, peer).await
}

async fn route(
    path: &str,
    query: Query,
    settings: &Settings,
    peer: Option<Peer>,
) -> Response<Body> {
    match path {
        "/debug/pprof" => response::moved_permanently(&format!("{}/debug/pprof/", settings.prefix)),
        "/debug/pprof/" => on_cheap_pool(|| response::html(index::render())).await,
        "/debug/stats" => on_cheap_pool(|| response::json(crate::stats::json())).await,
        "/debug/pprof/trace" => trace(&query, settings, peer).await,
        "/debug/pprof/profile" => super::cpu::serve(&query, settings, peer).await,
        "/debug/gc" => on_blocking_pool(|| reclaim_response(crate::trigger_gc())).await,
        "/debug/freeOSMemory" => {
            on_blocking_pool(|| reclaim_response(crate::free_os_memory())).await
        }
        _ => match path.strip_prefix("/debug/pprof/") {
            Some(name) => profile(name, query, settings, peer).await,
            None => response::not_found(),
        },
    }
}

async fn profile(
    name: &str,
    query: Query,
    settings: &Settings,
    peer: Option<Peer>,
) -> Response<Body> {
    let Some(profile) = profiles::lookup(name) else {
        return response::go_error(StatusCode::NOT_FOUND, "Unknown profile");
    };
    if profile.is_heap() {
        if let Some(refusal) = heap_refusal(settings).await {
            return refusal;
        }
        // Go's handler runs a GC first for `heap?gc=1`; ours runs the reclaim hooks.
        if name == "heap" && query.atoi("gc") > 0 {
            on_blocking_pool(|| {
                crate::trigger_gc();
                response::not_found()
            })
            .await;
        }
    }
    let debug = query.atoi("debug");
    let output = match query.value("format") {
        "" => Output::Go { debug },
        "folded" => Output::Folded,
        "svg" => Output::Svg,
        other => {
            return response::go_error(
                StatusCode::BAD_REQUEST,
                &format!("unknown format {other:?}: use format=folded or format=svg"),
            );
        }
    };
    let seconds = query.value("seconds");
    if !seconds.is_empty() {
        return delta(profile, seconds, output, settings, peer).await;
    }
    on_blocking_pool(move || match output {
        // Go's WriteTo, including goroutine?debug=2's full dump.
        Output::Go { debug } => {
            let mut body = Vec::new();
            match profile.write_to(&mut body, debug) {
                Ok(()) => response::profile(body, debug, profile.name()),
                Err(e) => response::go_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Could not write profile: {e}"),
                ),
            }
        }
        _ => encoded(
            profile,
            &profile.profile_of(&profile.snapshot()),
            output,
            profile.name(),
        ),
    })
    .await
}

/// Encodes `built` as `output` into a response, or Go's 500 on failure.
fn encoded(
    profile: NamedProfile,
    built: &crate::profile::Profile,
    output: Output,
    filename: &str,
) -> Response<Body> {
    let mut body = Vec::new();
    match profile.write_output(built, &mut body, output) {
        Ok(()) => match output {
            Output::Go { debug } => response::profile(body, debug, filename),
            Output::Folded => response::text(String::from_utf8_lossy(&body).into_owned()),
            Output::Svg => response::svg(body),
        },
        Err(e) => response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Could not write profile: {e}"),
        ),
    }
}

/// `?seconds=N`: Go's `serveDeltaProfile`.
async fn delta(
    profile: NamedProfile,
    seconds: &str,
    output: Output,
    settings: &Settings,
    peer: Option<Peer>,
) -> Response<Body> {
    let Some(seconds) = query::parse_int(seconds).filter(|&s| s > 0) else {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            r#"invalid value for "seconds" - must be a positive integer"#,
        );
    };
    if seconds.unsigned_abs() > settings.max_profile_seconds {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            &format!(
                r#"invalid value for "seconds" - must be at most {} (max_profile_seconds)"#,
                settings.max_profile_seconds
            ),
        );
    }
    if matches!(output, Output::Go { debug } if debug != 0) {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            "seconds and debug params are incompatible",
        );
    }
    let Some(permit) = settings.heavy_permit() else {
        return response::go_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many concurrent profile requests; retry later",
        );
    };
    let before = profile.snapshot();
    // hyper keeps polling a handler whose client closed: watch the socket, and give
    // the permit back at once on a hang-up.
    if Peer::hung_up_before(peer, Duration::from_secs(seconds.unsigned_abs())).await {
        return response::client_hung_up();
    }
    on_blocking_pool(move || {
        let after = profile.snapshot();
        let delta = profile.delta_profile(&before, &after);
        let response = encoded(
            profile,
            &delta,
            output,
            &format!("{}-delta", profile.name()),
        );
        // Held until the profile is encoded; released early if the client hangs up.
        drop(permit);
        response
    })
    .await
}

/// `/debug/pprof/trace?seconds=N`: Go's `Trace` handler's parameters and errors,
/// with Chrome trace event JSON as the body.
async fn trace(query: &Query, settings: &Settings, peer: Option<Peer>) -> Response<Body> {
    // As Go: a missing, unparsable or non-positive value means 1 second.
    let seconds = query
        .value("seconds")
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    // Also past what a Duration holds (max_profile_seconds = u64::MAX): 400, not a
    // panic.
    let duration = Duration::try_from_secs_f64(seconds).ok();
    if seconds > settings.max_profile_seconds as f64 || duration.is_none() {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            &format!(
                r#"invalid value for "seconds" - must be at most {} (max_profile_seconds)"#,
                settings.max_profile_seconds
            ),
        );
    }
    let Some(permit) = settings.heavy_permit() else {
        return response::go_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many concurrent profile requests; retry later",
        );
    };
    let Ok(window) = crate::trace::start() else {
        return response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not enable tracing: tracing is already enabled",
        );
    };
    // On a hang-up, dropping the window stops tracing at once.
    if Peer::hung_up_before(peer, duration.unwrap_or(Duration::ZERO)).await {
        drop(window);
        return response::client_hung_up();
    }
    on_blocking_pool(move || {
        let json = window.finish();
        drop(permit);
        response::attachment_json(json, "trace.json")
    })
    .await
}

/// For `heap` and `allocs`: Go-style refusal when memory profiling is disabled
/// (403) or profiled's allocator is not the global allocator (501, with the line
/// to add); `None` when the profile can be served.
async fn heap_refusal(settings: &Settings) -> Option<Response<Body>> {
    if !settings.enable_memory_profiling {
        return Some(response::go_error(
            StatusCode::FORBIDDEN,
            "memory profiling is disabled (Config::enable_memory_profiling = false)",
        ));
    }
    let installed = tokio::task::spawn_blocking(crate::alloc::sampler::installed)
        .await
        .unwrap_or(false);
    (!installed).then(|| response::go_error(StatusCode::NOT_IMPLEMENTED, profiles::NOT_INSTALLED))
}

/// `/debug/gc` and `/debug/freeOSMemory`: what was done, as JSON.
fn reclaim_response(report: crate::ReclaimReport) -> Response<Body> {
    response::json(serde_json::to_string_pretty(&report).unwrap_or_default())
}

/// Runs snapshot-and-encode work off the server's event loop, once a heavy permit is
/// free (pool.rs); a panic in it becomes a 500 instead of a dropped connection.
pub(super) async fn on_blocking_pool(
    work: impl FnOnce() -> Response<Body> + Send + 'static,
) -> Response<Body> {
    super::pool::heavy(work).await.unwrap_or_else(|_| {
        response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while writing profile",
        )
    })
}

/// [`on_blocking_pool`] for cheap endpoints, which never wait for a heavy permit.
async fn on_cheap_pool(work: impl FnOnce() -> Response<Body> + Send + 'static) -> Response<Body> {
    super::pool::cheap(work).await.unwrap_or_else(|_| {
        response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while writing profile",
        )
    })
}

/// Percent-decodes a request path as Go's `url.PathUnescape`; `None` when malformed.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(query::unhex(bytes.get(i + 1..i + 3)?)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a decoded path for a `Location` header.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Go's `cleanPath`: `path.Clean`, keeping a trailing slash.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut cleaned = format!("/{}", parts.join("/"));
    if path.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_serving_is_a_500_for_that_request() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let panicked = runtime.block_on(catch_panic(async {
            tokio::task::yield_now().await; // panic on a later poll, not the first
            panic!("a bug in a handler")
        }));
        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let served = runtime.block_on(catch_panic(async { response::not_found() }));
        assert_eq!(served.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn compares_tokens_exactly() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    /// The `query` fuzz target's crash input: under prefix "/admin", `/admin?Ʈ`
    /// redirects to `/admin/` keeping the query, which must be escaped in `Location`.
    #[test]
    fn redirects_escape_a_utf8_query() {
        let settings = Arc::new(Settings::from_config(&crate::Config::default(), "/admin"));
        let request = Request::get("/admin?\u{1ae}")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let Ok(response) = runtime.block_on(handle(request, settings));
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            response.headers()[hyper::header::LOCATION],
            "/admin/?%C6%AE"
        );
    }

    #[test]
    fn cleans_paths_like_go() {
        assert_eq!(clean_path("/debug/pprof/"), "/debug/pprof/");
        assert_eq!(clean_path("/debug//pprof/./mutex"), "/debug/pprof/mutex");
        assert_eq!(clean_path("/debug/pprof/../pprof/"), "/debug/pprof/");
        assert_eq!(clean_path("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean_path("/"), "/");
    }

    #[test]
    fn decodes_paths_like_go() {
        assert_eq!(
            decode_path("/debug/pprof/mu%74ex").unwrap(),
            "/debug/pprof/mutex"
        );
        assert_eq!(decode_path("/a+b").unwrap(), "/a+b");
        assert!(decode_path("/bad%zz").is_none());
        assert!(decode_path("/bad%").is_none());
        assert!(decode_path("/bad%ff").is_none());
        assert!(decode_path("/bad%+1").is_none());
        assert_eq!(encode_path("/a b/é"), "/a%20b/%C3%A9");
    }
}
