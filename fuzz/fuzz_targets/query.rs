//! The query-string parser against a port of Go's `url.ParseQuery` and
//! `strconv.Atoi`, then whole requests with fuzzed paths and queries through
//! `ProfiledService::handle` (see fuzz/README.md).

#![no_main]

#[path = "common/go.rs"]
mod go;
#[path = "common/service.rs"]
mod service;

use bytes::Bytes;
use http_body_util::Full;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use profiled::__fuzz;

/// Endpoints that answer at once (the CPU profile and the trace block for seconds:
/// only their parsers are fuzzed, here and in `Query`).
const ENDPOINTS: [&str; 16] = [
    "",
    "/",
    "/debug/pprof",
    "/debug/pprof/",
    "/debug/pprof/mutex",
    "/debug/pprof/block",
    "/debug/pprof/goroutine",
    "/debug/pprof/threadcreate",
    "/debug/pprof/heap",
    "/debug/pprof/allocs",
    "/debug/pprof/symbol",
    "/debug/pprof/cmdline",
    "/debug/stats",
    "/metrics",
    "/debug/gc",
    "/debug/freeOSMemory",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: u8,
    admin: bool,
    post: bool,
    /// 0: no token required; 1: required and sent; 2: required, not sent; 3:
    /// required, `authorization` is `header`.
    auth: u8,
    header: &'a [u8],
    path: &'a str,
    query: &'a str,
    /// The query without `?` when false.
    with_query: bool,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    check_parser(input.query);
    serve(&input);
});

/// `Query::parse` is Go's `url.ParseQuery` + `FormValue`; `atoi`/`parse_int` are
/// `strconv`'s.
fn check_parser(raw: &str) {
    let pairs = __fuzz::query_pairs(Some(raw));
    assert_eq!(pairs, go::parse_query(raw), "query {raw:?}");
    for (key, value) in &pairs {
        let first = &pairs.iter().find(|(k, _)| k == key).unwrap().1;
        assert_eq!(&__fuzz::query_value(Some(raw), key), first);
        assert_eq!(
            __fuzz::query_atoi(Some(raw), key),
            go::atoi_ignoring_error(first)
        );
        assert_eq!(__fuzz::atoi(value), go::atoi_ignoring_error(value));
        assert_eq!(
            __fuzz::parse_int(value),
            go::parse_int10(value).ok(),
            "{value:?}"
        );
    }
    assert_eq!(__fuzz::atoi(raw), go::atoi_ignoring_error(raw), "{raw:?}");
    assert_eq!(__fuzz::parse_int(raw), go::parse_int10(raw).ok(), "{raw:?}");
    assert!(__fuzz::query_pairs(None).is_empty());
}

/// Percent-decodes leniently (for the skip test only).
fn lenient_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(input: &Input<'_>) {
    let services = service::services();
    let prefix = service::Services::prefix(input.admin);
    let endpoint = ENDPOINTS[usize::from(input.endpoint) % ENDPOINTS.len()];
    let mut uri = format!("{prefix}{endpoint}{}", input.path);
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    if input.with_query {
        uri.push('?');
        uri.push_str(input.query);
    }
    let Ok(uri) = hyper::Uri::try_from(uri) else {
        return; // hyper's server refuses it before any handler runs
    };
    // Skip what would block for seconds: the CPU profile, the trace and positive
    // `seconds=` deltas (non-positive or unparsable ones answer 400 at once).
    let decoded = lenient_decode(uri.path());
    if decoded.contains("/debug/pprof/profile") || decoded.contains("/debug/pprof/trace") {
        return;
    }
    let seconds = __fuzz::query_value(uri.query(), "seconds");
    if __fuzz::parse_int(&seconds).is_some_and(|s| s > 0) {
        return;
    }
    let token = input.auth % 4 != 0;
    let mut request = hyper::Request::builder()
        .method(if input.post { "POST" } else { "GET" })
        .uri(uri);
    let mut authorized = !token;
    match input.auth % 4 {
        1 => {
            request = request.header("authorization", format!("Bearer {}", service::TOKEN));
            authorized = true;
        }
        3 => match hyper::header::HeaderValue::from_bytes(input.header) {
            Ok(value) => {
                authorized = value.to_str().ok().is_some_and(|v| {
                    v.split_once(' ').is_some_and(|(scheme, given)| {
                        scheme.eq_ignore_ascii_case("bearer") && given.trim() == service::TOKEN
                    })
                });
                request = request.header("authorization", value);
            }
            Err(_) => return,
        },
        _ => {}
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(input.body)))
        .expect("valid request");
    let answer = services.serve(input.admin, token, request);
    service::check(&answer, prefix);
    assert_eq!(
        answer.status == 401,
        !authorized,
        "401 exactly when the token is required and not sent"
    );
}
