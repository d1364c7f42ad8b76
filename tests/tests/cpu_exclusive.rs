//! One CPU profile at a time, as Go: a second request gets Go's 500; a client that
//! hangs up frees the profiler at once; limits and the off switch answer clearly.

use std::time::{Duration, Instant};

use profiled::Config;
use profiled_tests::{decode, get, sample_types, send, serve};

const TEXT: &str = "text/plain; charset=utf-8";

#[test]
fn second_profile_is_refused_and_a_hang_up_frees_the_profiler() {
    let (_profiler, addr) = serve(Config {
        max_profile_seconds: 60,
        ..Config::default()
    });

    // Too long and disabled first: they must not take the profiler.
    let too_long = get(addr, "/debug/pprof/profile?seconds=61");
    assert_eq!(too_long.status, 400, "{too_long:?}");
    assert!(
        too_long.text().contains("must be at most 60"),
        "{}",
        too_long.text()
    );
    assert_eq!(too_long.header("x-go-pprof"), Some("1"));

    let first = send(addr, "/debug/pprof/profile?seconds=30");
    // Let the first request start its sampler.
    let started = Instant::now();
    loop {
        if profiled::stats().process.cpu_profile_running {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "first profile never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = get(addr, "/debug/pprof/profile?seconds=1");
    assert_eq!(second.status, 500, "{second:?}");
    assert_eq!(
        second.text(),
        "Could not enable CPU profiling: cpu profiling already in use\n"
    );
    assert_eq!(second.header("content-type"), Some(TEXT));
    assert_eq!(second.header("x-go-pprof"), Some("1"));

    // The first client hangs up 28 s early; a new profile must start within 1 s.
    drop(first);
    let hung_up = Instant::now();
    let third = loop {
        let response = get(addr, "/debug/pprof/profile?seconds=1");
        if response.status == 200 {
            break response;
        }
        assert!(
            hung_up.elapsed() < Duration::from_secs(1),
            "profiler still busy {:?} after the client hung up: {response:?}",
            hung_up.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let profile = decode(&third.body);
    assert_eq!(
        sample_types(&profile),
        [
            ("samples".to_owned(), "count".to_owned()),
            ("cpu".to_owned(), "nanoseconds".to_owned())
        ]
    );
    assert_eq!(profile.period, 10_000_000);
    assert!(!profiled::stats().process.cpu_profile_running);
    eprintln!(
        "sampler start took {:.1} ms",
        profiled::stats().process.cpu_profile_last_start_ms
    );
}

#[test]
fn disabled_cpu_profiling_answers_403() {
    let (_profiler, addr) = serve(Config {
        enable_cpu_profiling: false,
        ..Config::default()
    });
    let response = get(addr, "/debug/pprof/profile?seconds=1");
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(
        response.text(),
        "CPU profiling is disabled (Config::enable_cpu_profiling = false)\n"
    );
}
