//! Routing and handlers. Handlers own no profiling state: they parse, snapshot,
//! encode (on the blocking pool) and respond, with Go's statuses and messages.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::index;
use super::query::{self, Query};
use super::response::{self, Body};
use crate::profile::heap::HeapSnapshot;
use crate::profiles::{self, NamedProfile};

/// Per-server settings the handlers need.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Upper bound on `?seconds=N`.
    pub max_profile_seconds: u64,
    /// Serve `/debug/pprof/profile`.
    pub enable_cpu_profiling: bool,
    /// Serve `/debug/pprof/heap` and `allocs`.
    pub enable_memory_profiling: bool,
    /// CPU sampling frequency.
    pub cpu_profile_hz: i32,
}

pub(crate) async fn handle(
    request: Request<Incoming>,
    settings: Arc<Settings>,
) -> Result<Response<Body>, Infallible> {
    let raw_query = request.uri().query();
    let Some(path) = decode_path(request.uri().path()) else {
        return Ok(response::go_error(
            StatusCode::BAD_REQUEST,
            "400 Bad Request",
        ));
    };
    let cleaned = clean_path(&path);
    if cleaned != path {
        // Go's ServeMux redirects unclean paths (`//`, `/./`, `/../`) to their clean
        // form, keeping the query.
        let mut location = encode_path(&cleaned);
        if let Some(raw_query) = raw_query {
            location.push('?');
            location.push_str(raw_query);
        }
        return Ok(response::moved_permanently(&location));
    }
    let peer = request.extensions().get::<super::cpu::Peer>().copied();
    Ok(route(&path, Query::parse(raw_query), &settings, peer).await)
}

async fn route(
    path: &str,
    query: Query,
    settings: &Settings,
    peer: Option<super::cpu::Peer>,
) -> Response<Body> {
    match path {
        "/debug/pprof" => response::moved_permanently("/debug/pprof/"),
        "/debug/pprof/" => on_blocking_pool(|| response::html(index::render())).await,
        "/debug/stats" => on_blocking_pool(|| response::json(crate::stats::json())).await,
        "/debug/pprof/profile" => super::cpu::serve(&query, settings, peer).await,
        "/debug/gc" => on_blocking_pool(|| reclaim_response(crate::trigger_gc())).await,
        "/debug/freeOSMemory" => {
            on_blocking_pool(|| reclaim_response(crate::free_os_memory())).await
        }
        _ => match path.strip_prefix("/debug/pprof/") {
            Some(name) => profile(name, query, settings).await,
            None => response::not_found(),
        },
    }
}

async fn profile(name: &str, query: Query, settings: &Settings) -> Response<Body> {
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
    let seconds = query.value("seconds");
    if !seconds.is_empty() {
        return delta(profile, seconds, &query, settings).await;
    }
    let debug = query.atoi("debug");
    on_blocking_pool(move || {
        let mut body = Vec::new();
        match profile.write_to(&mut body, debug) {
            Ok(()) => response::profile(body, debug, profile.name()),
            Err(e) => response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not write profile: {e}"),
            ),
        }
    })
    .await
}

/// `?seconds=N`: Go's `serveDeltaProfile`.
async fn delta(
    profile: NamedProfile,
    seconds: &str,
    query: &Query,
    settings: &Settings,
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
    if query.atoi("debug") != 0 {
        return response::go_error(
            StatusCode::BAD_REQUEST,
            "seconds and debug params are incompatible",
        );
    }
    if profile.is_heap() {
        let before = HeapSnapshot::take();
        tokio::time::sleep(Duration::from_secs(seconds.unsigned_abs())).await;
        return on_blocking_pool(move || {
            let delta = profile.heap_delta(&before, &HeapSnapshot::take());
            let mut body = Vec::new();
            match profile.write_profile(&delta, &mut body, 0) {
                Ok(()) => response::profile(body, 0, &format!("{}-delta", profile.name())),
                Err(e) => response::go_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Could not write profile: {e}"),
                ),
            }
        })
        .await;
    }
    let before = profile.snapshot();
    // Async sleep: holds no thread; a client that hangs up drops this future.
    tokio::time::sleep(Duration::from_secs(seconds.unsigned_abs())).await;
    on_blocking_pool(move || {
        let after = profile.snapshot();
        let mut body = Vec::new();
        match profile.write_profile(&profile.delta_profile(&before, &after), &mut body, 0) {
            Ok(()) => response::profile(body, 0, &format!("{}-delta", profile.name())),
            Err(e) => response::go_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("Could not write profile: {e}"),
            ),
        }
    })
    .await
}

/// Why `heap`/`allocs` cannot be served here, if they cannot.
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

/// Runs snapshot-and-encode work off the server's event loop; a panic in it becomes
/// a 500 instead of a dropped connection.
pub(super) async fn on_blocking_pool(
    work: impl FnOnce() -> Response<Body> + Send + 'static,
) -> Response<Body> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
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
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
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
        assert_eq!(encode_path("/a b/é"), "/a%20b/%C3%A9");
    }
}
