//! The fleet engines' scrape contracts against the `contention` example: every
//! target Grafana Alloy's `pyroscope.scrape` and Parca scrape by default (and the
//! godeltaprof targets Alloy can turn on) passes their acceptance rules, with and
//! without a bearer token (and with basic auth, as Alloy's `basic_auth` block sends
//! it); the CPU profile Alloy asks for with `seconds=14` answers within its 24 s
//! timeout, Parca's `seconds=10` within 13 s; and an Alloy-style client that diffs
//! cumulative `mutex` scrapes by stack gets what `mutex?seconds=5` reports.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use profiled_tests::{HttpResponse, decode, request, stack_names, start_example_for};

const TOKEN: &str = "fleet-scrape-token";

/// Alloy's acceptance rules for a scraped profile (pyroscope.scrape): a 2xx status
/// (Parca: exactly 200), a non-empty body, `Content-Type: application/octet-stream`,
/// and a gzip'd or raw protobuf body, not HTML or JSON.
fn assert_accepted(target: &str, response: &HttpResponse) {
    assert_eq!(response.status, 200, "{target}: {}", response.text());
    assert!(!response.body.is_empty(), "{target}: empty body");
    let content_type = response.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/octet-stream"),
        "{target}: Content-Type {content_type:?}"
    );
    assert!(
        response.body.starts_with(&[0x1f, 0x8b]),
        "{target}: not gzip: {:?}",
        &response.body[..response.body.len().min(16)]
    );
    assert!(
        !matches!(response.body[0], b'<' | b'{'),
        "{target}: HTML or JSON"
    );
    // And it is a profile with samples types, which is what the engines ingest.
    let profile = decode(&response.body);
    assert!(!profile.sample_type.is_empty(), "{target}: no sample types");
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Bearer,
    Basic,
}

fn scrape(addr: SocketAddr, path: &str, auth: Auth) -> HttpResponse {
    let authorization = match auth {
        Auth::None => String::new(),
        Auth::Bearer => format!("Authorization: Bearer {TOKEN}\r\n"),
        // Alloy's basic_auth { username = "alloy", password = TOKEN }.
        Auth::Basic => format!(
            "Authorization: Basic {}\r\n",
            base64(format!("alloy:{TOKEN}").as_bytes())
        ),
    };
    request(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: GrafanaAlloy/test\r\n\
             Accept: */*\r\n{authorization}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            (0..4).map(move |i| {
                if i <= c.len() {
                    char::from(A[(n >> (18 - 6 * i) & 63) as usize])
                } else {
                    '='
                }
            })
        })
        .collect()
}

/// The cheap targets (everything but the CPU profile) of Alloy and Parca, plus the
/// godeltaprof ones Alloy can enable.
const CHEAP_TARGETS: [&str; 7] = [
    "/debug/pprof/allocs",
    "/debug/pprof/block",
    "/debug/pprof/mutex",
    "/debug/pprof/goroutine",
    "/debug/pprof/delta_heap",
    "/debug/pprof/delta_mutex",
    "/debug/pprof/delta_block",
];

fn scrape_all(addr: SocketAddr, auth: Auth, with_cpu: bool) {
    for target in CHEAP_TARGETS {
        assert_accepted(target, &scrape(addr, target, auth));
    }
    let delta = scrape(addr, "/debug/pprof/delta_mutex", auth);
    assert_eq!(
        delta.header("Content-Disposition"),
        Some(r#"attachment; filename="delta_mutex.pprof.gz""#)
    );
    if with_cpu {
        // Alloy: seconds=14 with a 24 s timeout; Parca: seconds=10 with 13 s.
        for (target, timeout) in [
            ("/debug/pprof/profile?seconds=14", 24),
            ("/debug/pprof/profile?seconds=10", 13),
        ] {
            let started = Instant::now();
            let response = scrape(addr, target, auth);
            let took = started.elapsed();
            assert_accepted(target, &response);
            assert!(
                took < Duration::from_secs(timeout),
                "{target} took {took:?}, over the scraper's {timeout} s timeout"
            );
            let profile = decode(&response.body);
            assert!(
                profile
                    .sample
                    .iter()
                    .any(|s| !stack_names(&profile, s).is_empty()),
                "{target}: no stacks"
            );
        }
    }
}

#[test]
fn alloy_and_parca_accept_every_default_target_without_a_token() {
    let Some(example) = start_example_for("contention", 120, &[]) else {
        return;
    };
    scrape_all(example.addr, Auth::None, true);
}

#[test]
fn alloy_and_parca_accept_every_default_target_with_a_token() {
    let Some(example) = start_example_for("contention", 120, &[("PROFILED_AUTH_TOKEN", TOKEN)])
    else {
        return;
    };
    assert_eq!(
        scrape(example.addr, "/debug/pprof/mutex", Auth::None).status,
        401
    );
    scrape_all(example.addr, Auth::Bearer, true);
    scrape_all(example.addr, Auth::Basic, false);
}

/// Total delay per stack (function names, root last) of a mutex profile.
fn delay_by_stack(body: &[u8]) -> HashMap<Vec<String>, i64> {
    let profile = decode(body);
    let mut by_stack = HashMap::new();
    for sample in &profile.sample {
        *by_stack.entry(stack_names(&profile, sample)).or_insert(0) += sample.value[1];
    }
    by_stack
}

#[test]
fn diffing_cumulative_mutex_scrapes_equals_the_seconds_delta() {
    let Some(example) = start_example_for("contention", 120, &[]) else {
        return;
    };
    let addr = example.addr;
    std::thread::sleep(Duration::from_secs(2)); // the example's load is running
    // Alloy's way: two cumulative scrapes, diffed by stack, bracketing Go's way:
    // `mutex?seconds=5` (snapshot, wait, snapshot, subtract) on another connection.
    let delta =
        std::thread::spawn(move || scrape(addr, "/debug/pprof/mutex?seconds=5", Auth::None));
    std::thread::sleep(Duration::from_millis(20));
    let first = scrape(addr, "/debug/pprof/mutex", Auth::None);
    let delta = delta.join().unwrap();
    let second = scrape(addr, "/debug/pprof/mutex", Auth::None);
    for (name, response) in [("first", &first), ("delta", &delta), ("second", &second)] {
        assert_accepted(name, response);
    }
    let (before, after) = (delay_by_stack(&first.body), delay_by_stack(&second.body));
    let diffed: HashMap<Vec<String>, i64> = after
        .iter()
        .map(|(stack, &delay)| {
            (
                stack.clone(),
                delay - before.get(stack).copied().unwrap_or(0),
            )
        })
        .filter(|&(_, d)| d != 0)
        .collect();
    assert!(
        diffed.values().all(|&d| d > 0),
        "cumulative values only grow, under stable stack identity: {diffed:?}"
    );
    let go_delta = delay_by_stack(&delta.body);
    let (diffed_total, go_total): (i64, i64) = (diffed.values().sum(), go_delta.values().sum());
    assert!(go_total > 0, "the contention example contends");
    let ratio = diffed_total as f64 / go_total as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "diffed scrapes {diffed_total} ns vs seconds=5 delta {go_total} ns (ratio {ratio:.3})"
    );
    // The culprit leads both.
    let leader = |m: &HashMap<Vec<String>, i64>| {
        m.iter()
            .max_by_key(|(_, d)| **d)
            .map(|(s, _)| s.iter().any(|f| f.ends_with("audit_ledger")))
    };
    assert_eq!(leader(&diffed), Some(true), "{diffed:?}");
    assert_eq!(leader(&go_delta), Some(true), "{go_delta:?}");
}
