//! `trace?seconds=` past what a duration holds (with max_profile_seconds =
//! u64::MAX) is a 400, not a 500 from a caught panic; and the `Host` check against
//! DNS rebinding: a loopback server answers loopback names only (403 otherwise),
//! `allowed_hosts` replaces that list, `"*"` allows any.

use std::net::SocketAddr;

use profiled::{Config, Profiler};
use profiled_tests::{HttpResponse, request};

fn get_host(addr: SocketAddr, path: &str, host: &str) -> HttpResponse {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn huge_trace_durations_are_400_not_a_caught_panic() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        max_profile_seconds: u64::MAX,
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let host = addr.to_string();
    for seconds in ["18446744073709551615", "1e300", "18446744073709551616"] {
        let response = get_host(
            addr,
            &format!("/debug/pprof/trace?seconds={seconds}"),
            &host,
        );
        assert_eq!(response.status, 400, "{seconds}: {}", response.text());
        assert!(
            response.text().contains(r#"invalid value for "seconds""#),
            "{seconds}: {}",
            response.text()
        );
    }
    // Deltas: the integer does not parse as Go's int64; never a 500.
    let path = "/debug/pprof/mutex?seconds=18446744073709551615";
    let response = get_host(addr, path, &host);
    assert_eq!(response.status, 400, "{path}: {}", response.text());
    assert!(
        response.text().contains("must be a positive integer"),
        "{}",
        response.text()
    );
}

#[test]
fn a_loopback_server_answers_loopback_host_names_only() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "LocalHost".into(),
    ] {
        let response = get_host(addr, "/debug/pprof/cmdline", &host);
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert!(response.text().contains("harden_http"));
    }
    for host in [
        format!("rebind.attacker.example:{port}"),
        "127.0.0.1.nip.io".into(),
    ] {
        let response = get_host(addr, "/debug/pprof/cmdline", &host);
        assert_eq!(response.status, 403, "{host}: {}", response.text());
        assert!(
            response.text().contains("is not allowed"),
            "{}",
            response.text()
        );
        assert!(
            response.text().contains("PROFILED_ALLOWED_HOSTS"),
            "{}",
            response.text()
        );
        assert!(
            !response.text().contains("harden_http"),
            "the command line leaked"
        );
    }
}

#[test]
fn allowed_hosts_replaces_the_default_and_star_allows_any() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        allowed_hosts: vec!["profiles.internal".into()],
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    assert_eq!(
        get_host(addr, "/debug/pprof/cmdline", "profiles.internal:6060").status,
        200
    );
    assert_eq!(
        get_host(addr, "/debug/pprof/cmdline", "localhost").status,
        403
    );
    let any = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        allowed_hosts: vec!["*".into()],
        ..Config::default()
    })
    .unwrap();
    let addr = any.local_addr().unwrap();
    assert_eq!(
        get_host(addr, "/debug/pprof/cmdline", "anything.example").status,
        200
    );
}
