//! The routing table and the handlers. Handlers own no profiling state: they parse,
//! run a profile's pipeline (on the blocking pool) and respond, with Go's statuses
//! and messages.

// Handlers return their refusal, a whole `Response`, as `Err`, so that `?` ends the
// handler with Go's answer; it is built and moved once per refused request.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::{Request, Response, StatusCode};

use super::guard::LongRequest;
use super::peer::Peer;
use super::query::Query;
use super::response::{self, Body};
use super::settings::ServerSettings;
use super::{auth, index, path, strconv};
use crate::named::{self, NamedProfile, Output};
use crate::profile::Document;

/// Serves one request. A panic while serving it becomes Go's 500 for this request
/// alone: the connection, the server and every other request go on.
pub(crate) async fn handle<B>(
    request: Request<B>,
    settings: Arc<ServerSettings>,
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

/// Authentication, the prefix, and Go's path canonicalisation, then [`route`].
async fn dispatch<B>(request: Request<B>, settings: Arc<ServerSettings>) -> Response<Body>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(refusal) = super::host::refusal(&request, settings.allowed_hosts.as_deref()) {
        return refusal;
    }
    if let Some(token) = &settings.auth_token
        && !auth::authorized(&request, token)
    {
        return response::unauthorized();
    }
    let Some(raw_path) = request.uri().path().strip_prefix(settings.prefix.as_str()) else {
        return response::not_found();
    };
    let Some(path) = path::decode(raw_path) else {
        return response::go_error(StatusCode::BAD_REQUEST, "400 Bad Request");
    };
    let cleaned = path::clean(&path);
    if cleaned != path {
        // Go's ServeMux redirects unclean paths (`//`, `/./`, `/../`) to their clean
        // form, keeping the query.
        let mut location = format!("{}{}", settings.prefix, path::encode(&cleaned));
        if let Some(raw_query) = request.uri().query() {
            location.push('?');
            location.push_str(raw_query);
        }
        return response::moved_permanently(&location);
    }
    route(&path, request, &settings).await
}

/// The routing table: every path this server answers.
async fn route<B>(path: &str, request: Request<B>, settings: &ServerSettings) -> Response<Body>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let query = Query::parse(request.uri().query());
    let peer = request.extensions().get::<Peer>().cloned();
    match path {
        "/debug/pprof" => response::moved_permanently(&format!("{}/debug/pprof/", settings.prefix)),
        "/debug/pprof/" => on_cheap_pool(|| response::html(index::render())).await,
        "/debug/pprof/cmdline" => cmdline(),
        "/debug/pprof/symbol" => super::symbol::serve(request).await,
        "/debug/pprof/profile" => super::cpu::serve(&query, settings, peer).await,
        "/debug/pprof/trace" => trace(&query, settings, peer).await.unwrap_or_else(|r| r),
        "/debug/stats" => on_cheap_pool(|| response::json(crate::stats::json())).await,
        "/debug/fgprof" => super::cpu::serve_wall(&query, settings, peer).await,
        "/debug/gc" => on_blocking_pool(|| reclaim_response(crate::trigger_gc())).await,
        "/debug/freeOSMemory" => {
            on_blocking_pool(|| reclaim_response(crate::free_os_memory())).await
        }
        "/metrics" => metrics(accepts_openmetrics(&request)).await,
        "/debug/pprof/delta_heap" => godelta(Godelta::Heap, &query, settings).await,
        "/debug/pprof/delta_mutex" => godelta(Godelta::Mutex, &query, settings).await,
        "/debug/pprof/delta_block" => godelta(Godelta::Block, &query, settings).await,
        _ => match path.strip_prefix("/debug/pprof/") {
            Some(name) => profile(name, query, settings, peer)
                .await
                .unwrap_or_else(|r| r),
            None => response::not_found(),
        },
    }
}

/// `/debug/pprof/<name>`: Go's `handler.ServeHTTP`, plus `format=folded|svg`.
async fn profile(
    name: &str,
    query: Query,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Result<Response<Body>, Response<Body>> {
    let Some(profile) = named::lookup(name) else {
        return Err(response::go_error(StatusCode::NOT_FOUND, "Unknown profile"));
    };
    if profile.needs_allocator() {
        heap_refusal(settings).await?;
        // Go's handler runs a GC first for `heap?gc=1`; ours runs the reclaim hooks.
        if name == "heap" && query.atoi("gc") > 0 {
            let _ = tokio::task::spawn_blocking(crate::trigger_gc).await;
        }
    }
    let output = output(&query)?;
    let seconds = query.value("seconds");
    if !seconds.is_empty() {
        return delta(profile, seconds, output, settings, peer).await;
    }
    // Go's WriteTo, including goroutine?debug=2's full dump.
    Ok(on_blocking_pool(move || match profile.check() {
        Ok(()) => respond(&profile.document(output), output, profile.name()),
        Err(e) => response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Could not write profile: {e}"),
        ),
    })
    .await)
}

/// The output a profile request asks for: `format=folded|svg`, else Go's `debug=N`.
pub(super) fn output(query: &Query) -> Result<Output, Response<Body>> {
    match query.value("format") {
        "" => Ok(Output::Go {
            debug: query.atoi("debug"),
        }),
        "folded" => Ok(Output::Folded),
        "svg" => Ok(Output::Svg),
        other => Err(response::go_error(
            StatusCode::BAD_REQUEST,
            &format!("unknown format {other:?}: use format=folded or format=svg"),
        )),
    }
}

/// The godeltaprof endpoints (grafana/pyroscope-go): `delta_heap`, `delta_mutex`,
/// `delta_block`.
#[derive(Clone, Copy)]
enum Godelta {
    Heap,
    Mutex,
    Block,
}

/// `/debug/pprof/delta_<name>`: what happened since the previous call of this
/// endpoint, as godeltaprof (one scraper per process); the heap's in-use values
/// stay absolute. Stateful: only the previous snapshot is kept.
async fn godelta(which: Godelta, query: &Query, settings: &ServerSettings) -> Response<Body> {
    static STATES: [std::sync::Mutex<named::GodeltaState>; 3] = [
        std::sync::Mutex::new(None),
        std::sync::Mutex::new(None),
        std::sync::Mutex::new(None),
    ];
    let (name, filename) = match which {
        Godelta::Heap => ("heap", "delta_heap.pprof.gz"),
        Godelta::Mutex => ("mutex", "delta_mutex.pprof.gz"),
        Godelta::Block => ("block", "delta_block.pprof.gz"),
    };
    let Some(profile) = named::lookup(name) else {
        return response::not_found();
    };
    if profile.needs_allocator() {
        if let Err(refusal) = heap_refusal(settings).await {
            return refusal;
        }
        // godeltaprof's `gc=1`: the reclaim hooks run first.
        if query.atoi("gc") > 0 {
            let _ = tokio::task::spawn_blocking(crate::trigger_gc).await;
        }
    }
    on_blocking_pool(move || {
        let output = Output::Go { debug: 0 };
        let mut state = STATES[which as usize]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let document = profile.godelta(&mut state, output);
        drop(state);
        respond(&document, output, filename)
    })
    .await
}

/// `?seconds=N`: Go's `serveDeltaProfile`.
async fn delta(
    profile: NamedProfile,
    seconds: &str,
    output: Output,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Result<Response<Body>, Response<Body>> {
    let Some(seconds) = strconv::parse_int(seconds).filter(|&s| s > 0) else {
        return Err(response::go_error(
            StatusCode::BAD_REQUEST,
            r#"invalid value for "seconds" - must be a positive integer"#,
        ));
    };
    let request = LongRequest::new(settings, peer, Duration::from_secs(seconds.unsigned_abs()))?;
    if matches!(output, Output::Go { debug } if debug != 0) {
        return Err(response::go_error(
            StatusCode::BAD_REQUEST,
            "seconds and debug params are incompatible",
        ));
    }
    let permit = request.permit()?;
    let delta = profile.start_delta(output);
    request.wait().await?;
    Ok(on_blocking_pool(move || {
        let filename = format!("{}-delta", profile.name());
        let response = respond(&delta.finish(), output, &filename);
        // Held until the profile is encoded; released early if the client hangs up.
        drop(permit);
        response
    })
    .await)
}

/// Writes a finished document as the response to a request for `output`: Go's
/// headers for `debug=N` (an attachment named `filename` for proto), `text/plain`
/// for folded stacks, `image/svg+xml` for flame graphs; Go's 500 on failure. Any
/// profile's source (named profiles, the CPU profile) ends here.
pub(super) fn respond(document: &Document, output: Output, filename: &str) -> Response<Body> {
    match document.to_bytes() {
        Ok(body) => match output {
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

/// `/debug/pprof/trace?seconds=N`: Go's `Trace` handler's parameters and errors,
/// with Chrome trace event JSON as the body.
async fn trace(
    query: &Query,
    settings: &ServerSettings,
    peer: Option<Peer>,
) -> Result<Response<Body>, Response<Body>> {
    // As Go: a missing, unparsable or non-positive value means 1 second.
    let seconds = query
        .value("seconds")
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    let length = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    let request = LongRequest::new(settings, peer, length)?;
    let permit = request.permit()?;
    let Ok(window) = crate::trace::start() else {
        return Err(response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not enable tracing: tracing is already enabled",
        ));
    };
    // On a hang-up, dropping the window stops tracing at once.
    request.wait().await?;
    Ok(on_blocking_pool(move || {
        let json = window.finish();
        drop(permit);
        response::attachment_json(json, "trace.json")
    })
    .await)
}

/// True when the client accepts OpenMetrics (Prometheus does).
fn accepts_openmetrics<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"))
}

/// `/metrics`: OpenMetrics for clients that accept it, else Prometheus text 0.0.4.
async fn metrics(openmetrics: bool) -> Response<Body> {
    on_cheap_pool(move || {
        if openmetrics {
            response::openmetrics(crate::metrics::render())
        } else {
            response::prometheus_text(crate::metrics::render_prometheus_text())
        }
    })
    .await
}

/// Go's `Cmdline` handler: the arguments joined by NUL bytes.
fn cmdline() -> Response<Body> {
    let args: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    response::text(args.join("\0"))
}

/// For `heap` and `allocs`: Go-style refusal when memory profiling is disabled
/// (403) or profiled's allocator is not the global allocator (501, with the line
/// to add).
async fn heap_refusal(settings: &ServerSettings) -> Result<(), Response<Body>> {
    if !settings.enable_memory_profiling {
        return Err(response::go_error(
            StatusCode::FORBIDDEN,
            "memory profiling is disabled (Config::enable_memory_profiling = false)",
        ));
    }
    let installed = tokio::task::spawn_blocking(crate::alloc::installed)
        .await
        .unwrap_or(false);
    if !installed {
        return Err(response::go_error(
            StatusCode::NOT_IMPLEMENTED,
            named::NOT_INSTALLED,
        ));
    }
    Ok(())
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
    let work = move || {
        // On a mounted service this is the user's blocking pool: still our memory.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Server);
        work()
    };
    super::pool::heavy(work).await.unwrap_or_else(|_| {
        response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while writing profile",
        )
    })
}

/// [`on_blocking_pool`] for cheap endpoints, which never wait for a heavy permit.
async fn on_cheap_pool(work: impl FnOnce() -> Response<Body> + Send + 'static) -> Response<Body> {
    let work = move || {
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Server);
        work()
    };
    super::pool::cheap(work).await.unwrap_or_else(|_| {
        response::go_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while writing profile",
        )
    })
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

    /// The `query` fuzz target's crash input: under prefix "/admin", `/admin?Ʈ`
    /// redirects to `/admin/` keeping the query, which must be escaped in `Location`.
    #[test]
    fn redirects_escape_a_utf8_query() {
        let settings = Arc::new(ServerSettings::from_config(
            &crate::Config::default(),
            "/admin",
        ));
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
    fn formats_are_folded_svg_or_go() {
        let output = |raw| output(&Query::parse(Some(raw)));
        assert_eq!(output("debug=2").unwrap(), Output::Go { debug: 2 });
        assert_eq!(output("format=svg&debug=1").unwrap(), Output::Svg);
        assert_eq!(output("format=folded").unwrap(), Output::Folded);
        let refusal = output("format=png").unwrap_err();
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
    }
}
