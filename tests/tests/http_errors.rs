//! Malformed, odd and hostile requests get Go's status and message (or hyper's
//! 400/431 for broken HTTP), and the server keeps serving after every one.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use profiled::{Config, Profiler};
use profiled_tests::{HttpResponse, decode, get, request, serve};

const TEXT: &str = "text/plain; charset=utf-8";
const SECONDS_ERROR: &str = "invalid value for \"seconds\" - must be a positive integer\n";

fn start() -> Profiler {
    let (profiler, _) = serve(Config {
        max_profile_seconds: 60,
        ..Config::default()
    });
    profiler
}

fn assert_go_error(response: &HttpResponse, status: u16, body: &str) {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.text(), body);
    assert_eq!(response.header("content-type"), Some(TEXT));
    assert_eq!(response.header("x-go-pprof"), Some("1"));
}

fn assert_proto(response: &HttpResponse) {
    assert_eq!(response.status, 200, "{response:?}");
    let profile = decode(&response.body);
    assert_eq!(
        profile.string_table[profile.sample_type[1].ty as usize],
        "delay"
    );
}

fn assert_serving(addr: SocketAddr) {
    let index = get(addr, "/debug/pprof/");
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<a href='mutex?debug=1'>mutex</a>"));
}

#[test]
fn hostile_requests_get_go_answers_and_the_server_keeps_serving() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    let get = |path: &str| get(addr, path);

    // Unknown profiles and paths.
    for path in [
        "/debug/pprof/nope",
        "/debug/pprof/Mutex",
        "/debug/pprof/mutex/extra",
        "/debug/pprof/mutex%2Fextra",
        "/debug/pprof/%00",
    ] {
        assert_go_error(&get(path), 404, "Unknown profile\n");
        assert_serving(addr);
    }
    for path in ["/", "/debug", "/debug/pprofx", "/metricsx?x=1"] {
        let response = get(path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.text(), "404 page not found\n", "{path}");
    }

    // debug= parses as Go's strconv.Atoi with the error ignored.
    for query in [
        "debug=abc",
        "debug=",
        "debug=0",
        "debug=1.5",
        "foo=bar",
        "debug=%zz",
    ] {
        let response = get(&format!("/debug/pprof/mutex?{query}"));
        assert_eq!(
            response.header("content-type"),
            Some("application/octet-stream")
        );
        assert_proto(&response);
    }
    // Out of range clamps to the maximum: text.
    let response = get("/debug/pprof/mutex?debug=99999999999999999999");
    assert_eq!(response.header("content-type"), Some(TEXT));
    assert!(response.text().starts_with("--- mutex:\n"));
    // Negative: Go sets text/plain but writes the proto (debug <= 0).
    let response = get("/debug/pprof/block?debug=-1");
    assert_eq!(response.header("content-type"), Some(TEXT));
    assert_proto(&response);
    // First value wins; junk pairs are skipped.
    let response = get("/debug/pprof/block?debug=1&debug=0&&&==&%zz;x&seconds");
    assert!(
        response.text().starts_with("--- contention:\n"),
        "{response:?}"
    );

    // seconds= is validated as Go's serveDeltaProfile does.
    for value in ["abc", "0", "-5", "1.5", "99999999999999999999", "%20"] {
        let response = get(&format!("/debug/pprof/block?seconds={value}"));
        assert_go_error(&response, 400, SECONDS_ERROR);
    }
    assert_go_error(
        &get("/debug/pprof/mutex?seconds=61"),
        400,
        "invalid value for \"seconds\" - must be at most 60 (max_profile_seconds)\n",
    );
    assert_go_error(
        &get("/debug/pprof/mutex?seconds=1&debug=1"),
        400,
        "seconds and debug params are incompatible\n",
    );

    // Redirects, as Go's ServeMux.
    for (path, location) in [
        ("/debug/pprof", "/debug/pprof/"),
        ("/debug/pprof/../pprof/mutex", "/debug/pprof/mutex"),
        ("//debug/pprof/", "/debug/pprof/"),
        ("/debug/./pprof/block?debug=1", "/debug/pprof/block?debug=1"),
        ("/debug/pprof/../../../etc/passwd", "/etc/passwd"),
    ] {
        let response = get(path);
        assert_eq!(response.status, 301, "{path}");
        assert_eq!(response.header("location"), Some(location), "{path}");
    }

    // Percent-encoded names are decoded; malformed escapes are a 400.
    assert_proto(&get("/debug/pprof/mu%74ex"));
    assert_eq!(get("/debug/pprof/%zz").status, 400);

    // Any method is served, as Go's handlers do; HEAD has no body.
    let post = request(
        addr,
        format!(
            "POST /debug/pprof/mutex HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        )
        .as_bytes(),
    );
    assert_proto(&post);
    let head = request(
        addr,
        format!("HEAD /debug/pprof/mutex HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // Long but legal query strings are fine; an oversized URI (414) or head (431) is refused.
    let long = "x".repeat(30_000);
    assert_proto(&get(&format!("/debug/pprof/mutex?junk={long}")));
    let huge = "x".repeat(100_000);
    let response = get(&format!("/debug/pprof/mutex?junk={huge}"));
    assert_eq!(response.status, 414, "{:?}", response.headers);
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let response = request(
        addr,
        format!("GET /debug/pprof/mutex HTTP/1.1\r\nHost: {addr}\r\n{many_headers}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(response.status, 431);

    // Broken HTTP.
    for raw in [
        &b"HELLO\r\n\r\n"[..],
        b"GET /debug/pprof/ HTTP/9.9\r\n\r\n",
        b"GET \x00\x01 HTTP/1.1\r\n\r\n",
        b"GET /debug/pprof/ HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    ] {
        let response = request(addr, raw);
        assert!(
            response.status == 400 || response.status == 505,
            "{:?} -> {response:?}",
            String::from_utf8_lossy(raw)
        );
        assert_serving(addr);
    }

    // The other endpoints' odd parameters.
    assert_go_error(
        &get("/debug/pprof/trace?seconds=99999"),
        400,
        "invalid value for \"seconds\" - must be at most 60 (max_profile_seconds)\n",
    );
    assert_go_error(
        &get("/debug/pprof/goroutine?seconds=1&debug=2"),
        400,
        "seconds and debug params are incompatible\n",
    );
    assert_go_error(
        &get("/debug/pprof/threadcreate?seconds=-1"),
        400,
        SECONDS_ERROR,
    );
    assert_go_error(
        &get("/debug/pprof/block?format=SVG"),
        400,
        "unknown format \"SVG\": use format=folded or format=svg\n",
    );
    assert_proto(&get("/debug/pprof/block?format="));
    assert_eq!(
        get("/debug/pprof/symbol?garbage+%zz+0xzz").text(),
        "num_symbols: 1\n"
    );
    assert_eq!(get("/debug/pprof/cmdline?x=1").status, 200);
    assert_eq!(
        get("/debug/stats?debug=1").header("content-type"),
        Some("application/json")
    );
    let metrics = get("/metrics?junk=%00");
    assert!(metrics.text().contains("# TYPE profiled_tasks gauge"));
    let dump = get("/debug/pprof/goroutine?debug=2&foo=bar");
    assert!(dump.text().starts_with("goroutine "), "{}", dump.text());

    // A client that connects and sends nothing does not block others.
    let idle = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /debug/pprof/mutex HTTP/1.1\r\nHost:")
        .unwrap();
    assert_serving(addr);
    assert_proto(&get("/debug/pprof/block"));
    drop((idle, half));

    assert_serving(addr);
}

#[test]
fn a_delta_profile_has_its_own_name_and_duration() {
    let profiler = start();
    let addr = profiler.local_addr().unwrap();
    let response = get(addr, "/debug/pprof/block?seconds=1");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"block-delta\"")
    );
    let profile = decode(&response.body);
    assert!(
        (900_000_000..3_000_000_000).contains(&profile.duration_nanos),
        "{}",
        profile.duration_nanos
    );
}
