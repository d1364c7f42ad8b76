//! The profiler's own memory stays bounded under repeated profiling of the
//! `contention` example: after ROUNDS profiles of every kind (50 by default,
//! `PROFILED_TEST_ROUNDS` to change), once the symbolizer's DWARF index was
//! dropped (a second after the last new address), `/debug/stats` `self` reports a
//! symbolizer below `SYMBOLIZER_CACHE_CAP_BYTES`. Also: `go tool pprof -top` on
//! `task_leak`'s goroutine and CPU profiles has no bare `::poll` / `::call_once` row.
//!
//! Prints the figures BENCHMARKS.md quotes (RSS before and after, self bytes); run
//! with `PROFILED_SYMBOLIZER=backtrace` in the environment for the old symbolizer.

use std::time::{Duration, Instant};

use profiled_tests::{get, go_tool_pprof, start_example_for, tool_binary, try_rss_kib};

fn stats(addr: std::net::SocketAddr) -> serde_json::Value {
    serde_json::from_str(&get(addr, "/debug/stats").text()).expect("stats JSON")
}

const KINDS: [&str; 8] = [
    "heap",
    "allocs",
    "goroutine",
    "goroutine?debug=1",
    "goroutine?debug=2",
    "threadcreate",
    "block",
    "mutex",
];

#[test]
fn symbolizer_memory_is_bounded_after_many_profiles() {
    let rounds: usize = std::env::var("PROFILED_TEST_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let baseline: Vec<(&str, String)> = std::env::var("PROFILED_SYMBOLIZER")
        .map(|v| vec![("PROFILED_SYMBOLIZER", v)])
        .unwrap_or_default();
    let env: Vec<(&str, &str)> = baseline.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(example) = start_example_for("contention", 900, &env) else {
        return;
    };
    let addr = example.addr;
    let pid = example.pid().to_string();
    std::thread::sleep(Duration::from_secs(2));
    let rss_before = try_rss_kib(&pid).unwrap();

    // CPU profiles run beside the others, one second each (`PROFILED_TEST_CPU=0`:
    // none, to measure the rest alone).
    let cpu_rounds = if std::env::var_os("PROFILED_TEST_CPU").is_some_and(|v| v == "0") {
        0
    } else {
        rounds
    };
    let cpu = std::thread::spawn(move || {
        for _ in 0..cpu_rounds {
            // The previous profile's sampler may still be stopping: "already in use".
            let mut response = get(addr, "/debug/pprof/profile?seconds=1");
            for _ in 0..50 {
                if response.status == 200 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                response = get(addr, "/debug/pprof/profile?seconds=1");
            }
            assert_eq!(response.status, 200, "{}", response.text());
        }
    });
    let started = Instant::now();
    for _ in 0..rounds {
        for kind in KINDS {
            let response = get(addr, &format!("/debug/pprof/{kind}"));
            assert_eq!(response.status, 200, "{kind}: {response:?}");
        }
    }
    cpu.join().unwrap();
    let elapsed = started.elapsed();
    let rss_loaded = try_rss_kib(&pid).unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut own = stats(addr)["self"].clone();
    while own["symbolizer_index_loaded"] == true && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        own = stats(addr)["self"].clone();
    }
    let rss_after = try_rss_kib(&pid).unwrap();
    eprintln!(
        "{rounds} rounds ({cpu_rounds} CPU) in {:.1} s; RSS before {rss_before} KiB, right after {rss_loaded} KiB, \
         once idle {rss_after} KiB (+{} KiB); self: {own}",
        elapsed.as_secs_f64(),
        rss_after as i64 - rss_before as i64
    );
    if !baseline.is_empty() {
        return; // the old symbolizer: figures only
    }
    assert_eq!(own["symbolizer_index_loaded"], false, "{own}");
    let cap = profiled::SYMBOLIZER_CACHE_CAP_BYTES;
    let symbolizer = own["symbolizer_bytes"].as_u64().unwrap();
    let cache = own["symbolizer_cache_bytes"].as_u64().unwrap();
    assert!(
        own["symbolizer_cached_addresses"].as_u64().unwrap() > 100,
        "{own}"
    );
    assert!(
        symbolizer <= cap,
        "symbolizer holds {symbolizer} B > {cap} B: {own}"
    );
    assert!(cache <= cap, "cache holds {cache} B > {cap} B: {own}");
}

#[test]
fn pprof_top_has_no_bare_trait_method_rows() {
    let Some(go) = tool_binary("go", "golang-go") else {
        return;
    };
    let Some(example) = start_example_for("task_leak", 120, &[]) else {
        return;
    };
    std::thread::sleep(Duration::from_secs(2));
    for profile in ["goroutine", "profile?seconds=3"] {
        let url = format!("http://{}/debug/pprof/{profile}", example.addr);
        // task_leak is mostly idle: on a loaded machine a CPU profile may catch no
        // sample at all. Try again a few times before judging the rows.
        let mut top = go_tool_pprof(&go, &["-top", "-nodecount=1000", &url]);
        for _ in 0..4 {
            if !top.stdout.contains("Total samples = 0") {
                break;
            }
            top = go_tool_pprof(&go, &["-top", "-nodecount=1000", &url]);
        }
        let rows: Vec<&str> = top
            .stdout
            .lines()
            .filter(|line| line.contains('%'))
            .collect();
        assert!(rows.len() > 1, "{profile}: {}", top.stdout);
        let bare: Vec<&&str> = rows
            .iter()
            .filter(|row| {
                let name = row.split_whitespace().nth(5).unwrap_or("");
                name.starts_with("::")
            })
            .collect();
        assert!(
            bare.is_empty(),
            "{profile}: bare rows {bare:#?}\n{}",
            top.stdout
        );
    }
}
