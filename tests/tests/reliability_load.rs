//! 1,000 requests spread over 60 s across every endpoint, several at a time, while
//! the `contention` example runs its workload with every profiler on (block and
//! mutex at rate 1, functions, heap sampling, CPU profiles, traces): no request
//! fails, the process lives, the registries stay within their bounds, and resident
//! memory grows by at most 10 MiB over a second such minute, after a first one and
//! until RSS settles.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use profiled_tests::{HttpResponse, decode, get, request, rss_kib, start_example_for, try_rss_kib};

const REQUESTS: usize = 1_000;
const SPREAD: Duration = Duration::from_secs(60);
const CLIENTS: usize = 12;
const MAX_RSS_GROWTH_KIB: u64 = 10 * 1024;
/// At most this many 10 s warm-up rounds.
const WARM_UP_ROUNDS: usize = 12;
/// How long the example may run: well past the longest the test can take (a
/// warm-up minute, up to [`WARM_UP_ROUNDS`] rounds, the measured minute, each RSS
/// reading, about 5 minutes in all on a slow machine). The test kills it when done.
const EXAMPLE_SECONDS: u64 = 900;

/// How a response must look for its endpoint.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A gzip'd pprof protobuf.
    Proto,
    /// Non-empty text or JSON containing this.
    Contains(&'static str),
}

/// Every endpoint but `/debug/freeOSMemory`, which the test calls itself before each
/// RSS reading (it drops the symbolizer's parsed debug info, so in the mix it would
/// make every other encode re-read it).
const ENDPOINTS: &[(&str, Expect)] = &[
    (
        "/debug/pprof/",
        Expect::Contains("Types of profiles available"),
    ),
    ("/debug/pprof/mutex", Expect::Proto),
    ("/debug/pprof/mutex?debug=1", Expect::Contains("--- mutex:")),
    ("/debug/pprof/mutex?seconds=1", Expect::Proto),
    (
        "/debug/pprof/mutex?format=folded",
        Expect::Contains("audit_ledger"),
    ),
    ("/debug/pprof/block", Expect::Proto),
    (
        "/debug/pprof/block?debug=1",
        Expect::Contains("--- contention:"),
    ),
    ("/debug/pprof/block?format=svg", Expect::Contains("<svg")),
    ("/debug/pprof/heap", Expect::Proto),
    (
        "/debug/pprof/heap?debug=1",
        Expect::Contains("heap profile:"),
    ),
    ("/debug/pprof/heap?gc=1", Expect::Proto),
    ("/debug/pprof/allocs", Expect::Proto),
    ("/debug/pprof/allocs?seconds=1", Expect::Proto),
    ("/debug/pprof/goroutine", Expect::Proto),
    (
        "/debug/pprof/goroutine?debug=1",
        Expect::Contains("goroutine profile: total"),
    ),
    (
        "/debug/pprof/goroutine?debug=2",
        Expect::Contains("contention::main"),
    ),
    ("/debug/pprof/threadcreate", Expect::Proto),
    (
        "/debug/pprof/threadcreate?debug=1",
        Expect::Contains("threadcreate profile: total"),
    ),
    ("/debug/pprof/profile?seconds=1", Expect::Proto),
    (
        "/debug/pprof/trace?seconds=1",
        Expect::Contains("traceEvents"),
    ),
    ("/debug/pprof/symbol", Expect::Contains("num_symbols")),
    ("/debug/pprof/cmdline", Expect::Contains("contention")),
    ("/debug/stats", Expect::Contains("\"registry\"")),
    ("/debug/gc", Expect::Contains("hooks_run")),
    ("/metrics", Expect::Contains("profiled_threads")),
];

/// Serves `path`, POSTing a symbol lookup (of addresses that name nothing, so the
/// answer is still `num_symbols: 1`) for the symbol endpoint's odd turns.
fn fetch(addr: std::net::SocketAddr, path: &str, turn: usize) -> HttpResponse {
    if path == "/debug/pprof/symbol" && !turn.is_multiple_of(2) {
        let body = "0x1+0x2";
        return request(
            addr,
            format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
    get(addr, path)
}

/// Why `response` is not what `expect` wants, if it is not.
fn problem(response: &HttpResponse, expect: Expect) -> Option<String> {
    if response.status != 200 {
        return Some(format!("status {}: {}", response.status, response.text()));
    }
    match expect {
        Expect::Proto => {
            let decoded =
                std::panic::catch_unwind(|| decode(&response.body).sample_type.len()).ok();
            (decoded.unwrap_or(0) == 0).then(|| "not a pprof profile".to_owned())
        }
        Expect::Contains(needle) => {
            let text = response.text();
            (!text.contains(needle)).then(|| format!("no {needle:?} in {text:.200}"))
        }
    }
}

fn stats(addr: std::net::SocketAddr) -> serde_json::Value {
    serde_json::from_slice(&get(addr, "/debug/stats").body).expect("stats JSON")
}

/// Frees what the allocator and the symbolizer hold but do not need, then reads the
/// RSS.
fn settled_rss_kib(addr: std::net::SocketAddr, pid: &str) -> u64 {
    let freed = get(addr, "/debug/freeOSMemory");
    assert_eq!(freed.status, 200, "{freed:?}");
    assert!(
        freed.text().contains("\"trimmed\": true"),
        "{}",
        freed.text()
    );
    std::thread::sleep(Duration::from_millis(300));
    rss_kib(pid)
}

/// Sends `requests` requests spread evenly over `spread` from [`CLIENTS`] threads
/// and returns what went wrong, each with when and where, and the peak RSS seen.
///
/// Request i goes out at i * spread / requests; the clients take turns, so slow
/// requests (1 s profiles and traces) overlap with the others. CPU profiles and
/// traces are one at a time by design (Go answers a second one with a 500), so
/// clients take turns for those the way a real client would.
fn load(
    addr: std::net::SocketAddr,
    pid: &str,
    requests: usize,
    spread: Duration,
) -> (Vec<String>, u64) {
    let next = AtomicUsize::new(0);
    let cpu_turn = Mutex::new(());
    let trace_turn = Mutex::new(());
    let failures = Mutex::new(Vec::new());
    let peak_rss = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        return;
                    }
                    let due = spread * i as u32 / requests as u32;
                    std::thread::sleep(due.saturating_sub(started.elapsed()));
                    let (path, expect) = ENDPOINTS[i % ENDPOINTS.len()];
                    let served = std::panic::catch_unwind(|| {
                        let turn = if path.starts_with("/debug/pprof/profile") {
                            Some(&cpu_turn)
                        } else if path.starts_with("/debug/pprof/trace") {
                            Some(&trace_turn)
                        } else {
                            None
                        };
                        let _turn = turn.map(|t| t.lock().unwrap_or_else(|e| e.into_inner()));
                        fetch(addr, path, i)
                    });
                    let problem = match &served {
                        Ok(response) => problem(response, expect),
                        Err(_) => Some("no HTTP response".to_owned()),
                    };
                    if let Some(problem) = problem {
                        let at = started.elapsed();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{at:?} {path}: {problem}"));
                    }
                    if i.is_multiple_of(50)
                        && let Some(rss) = try_rss_kib(pid)
                    {
                        peak_rss.fetch_max(rss as usize, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    (failures.into_inner().unwrap(), peak_rss.into_inner() as u64)
}

#[test]
fn a_thousand_requests_over_a_minute_with_every_profiler_on() {
    let test_started = Instant::now();
    let Some(mut example) = start_example_for(
        "contention",
        EXAMPLE_SECONDS,
        &[
            ("PROFILED_BLOCK_RATE", "1"),
            ("PROFILED_MUTEX_FRACTION", "1"),
            ("PROFILED_ENABLE_FUNCTION_PROFILING", "true"),
            ("PROFILED_MEM_PROFILE_RATE", "65536"),
            ("PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS", "16"),
        ],
    ) else {
        return;
    };
    let addr = example.addr;
    let pid = example.pid().to_string();
    // Let the workload build its stacks, serve everything once, then the same mix
    // until resident memory settles: first-use costs (symbol tables, the CPU
    // sampler's table, the allocator's per-thread arenas reaching their working
    // size) are not growth.
    std::thread::sleep(Duration::from_secs(2));
    for (turn, &(path, expect)) in ENDPOINTS.iter().enumerate() {
        let response = fetch(addr, path, turn);
        assert_eq!(problem(&response, expect), None, "first {path}");
    }
    // Warm up with one minute of the very load that is measured after it: first
    // uses (the symbolizer loading a library's DWARF, several MiB, when a CPU
    // sample first lands in it; each encode thread's malloc arena reaching its
    // working size) belong here, not in the measured minute.
    let (failures, _) = load(addr, &pid, REQUESTS, SPREAD);
    assert!(failures.is_empty(), "warm-up minute: {failures:#?}");
    // Then until resident memory settles: at least four 10 s rounds, and the last
    // three within 2 MiB of each other. The baseline is the working set the warm-up
    // reached, its highest settled RSS: with allocations spread over per-thread
    // arenas, RSS moves by several MiB between rounds of the same load, up and down,
    // without any growth in live data.
    let mut seen = vec![settled_rss_kib(addr, &pid)];
    for round in 1..=WARM_UP_ROUNDS {
        let (failures, _) = load(addr, &pid, 160, Duration::from_secs(10));
        assert!(failures.is_empty(), "warm-up: {failures:#?}");
        seen.push(settled_rss_kib(addr, &pid));
        eprintln!("warm-up round {round}: RSS {seen:?} KiB");
        let last_three = &seen[seen.len().saturating_sub(3)..];
        let spread = last_three.iter().max().unwrap() - last_three.iter().min().unwrap();
        if round >= 4 && spread < 2 * 1024 {
            break;
        }
    }
    let before = *seen.iter().max().unwrap();
    let live_before = stats(addr)["memory"]["alloc"].as_u64().unwrap_or(0) / 1024;
    let capacity = stats(addr)["registry"]["stack_capacity"].as_u64().unwrap();

    let started = Instant::now();
    let (failures, peak_rss) = load(addr, &pid, REQUESTS, SPREAD);
    let took = started.elapsed();
    if let Some(status) = example.exit_status() {
        let why = if status.success() {
            format!(
                "its {EXAMPLE_SECONDS} s ran out, {:?} into the test",
                test_started.elapsed()
            )
        } else {
            format!("the example died under load ({status})")
        };
        panic!("{why}; failures: {failures:#?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed: {failures:#?}",
        failures.len()
    );

    let after = settled_rss_kib(addr, &pid);
    let stats = stats(addr);
    let registry = &stats["registry"];
    eprintln!(
        "{REQUESTS} requests in {took:?}; RSS {before} KiB -> {after} KiB (peak {peak_rss} KiB); \
         live heap {live_before} KiB -> {} KiB; registry {registry}",
        stats["memory"]["alloc"].as_u64().unwrap_or(0) / 1024
    );
    // No lock can have been contended for longer than the process has lived.
    let uptime_ns = stats["process"]["uptime_seconds"].as_f64().unwrap() * 1e9;
    for lock in stats["locks"].as_array().unwrap() {
        let held = lock["contended_hold_ns"].as_f64().unwrap();
        assert!(held <= uptime_ns, "{lock} over {uptime_ns} ns of uptime");
    }
    assert_eq!(registry["stack_capacity"].as_u64().unwrap(), capacity);
    assert!(
        registry["stacks"].as_u64().unwrap() <= capacity,
        "{registry}"
    );
    assert!(
        registry["heap_stack_capacity"].as_u64().unwrap() > 0,
        "heap sampling was on: {registry}"
    );
    assert!(
        after <= before + MAX_RSS_GROWTH_KIB,
        "RSS grew by {} KiB ({before} -> {after}), more than {MAX_RSS_GROWTH_KIB} KiB",
        after.saturating_sub(before)
    );
}
