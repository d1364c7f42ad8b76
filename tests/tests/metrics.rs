//! `/metrics`: per-lock and per-function series with the same values as
//! /debug/stats, accepted by `promtool check metrics` while the process is busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use profiled::{Config, ProfiledMutex, profiled, profiled_mutex};
use profiled_tests::{get, promtool_check_metrics, request, serve, tool_binary};

static ORDERS: ProfiledMutex<u64> = profiled_mutex!("orders", 0);

#[profiled(name = "place_order")]
fn place_order() {
    let mut orders = ORDERS.lock();
    thread::sleep(Duration::from_micros(300));
    *orders += 1;
}

fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[test]
fn metrics_match_stats_and_pass_promtool_under_load() {
    let (_profiler, addr) = serve(Config::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    place_order();
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));

    let promtool = tool_binary("promtool", "prometheus");
    for _ in 0..5 {
        let response = get(addr, "/metrics");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = response.text();
        assert!(
            text.contains("# TYPE profiled_lock_contentions_total counter"),
            "{text}"
        );
        assert!(
            sample(
                &text,
                "profiled_lock_contentions_total{lock=\"orders\",kind=\"mutex\"}"
            ) > 0.0
        );
        assert!(
            sample(
                &text,
                "profiled_function_calls_total{function=\"place_order\",kind=\"sync\"}"
            ) > 0.0
        );
        if let Some(promtool) = &promtool {
            let (ok, report) = promtool_check_metrics(promtool, &text);
            assert!(ok && report.trim().is_empty(), "promtool: {report}\n{text}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }

    // Quiet now: the series equal the /debug/stats aggregates.
    let text = get(addr, "/metrics").text();
    let site = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name == "orders")
        .unwrap();
    let labels = "{lock=\"orders\",kind=\"mutex\"}";
    assert_eq!(
        sample(&text, &format!("profiled_lock_contentions_total{labels}")),
        site.contentions as f64
    );
    assert_eq!(
        sample(&text, &format!("profiled_lock_wait_seconds_count{labels}")),
        site.contentions as f64
    );
    let inf = "profiled_lock_wait_seconds_bucket{le=\"+Inf\",lock=\"orders\",kind=\"mutex\"}";
    assert_eq!(sample(&text, inf), site.contentions as f64);
    let sum = sample(&text, &format!("profiled_lock_wait_seconds_sum{labels}"));
    assert!((sum - site.wait_ns as f64 / 1e9).abs() < 1e-6);
    let function = profiled::functions()
        .into_iter()
        .find(|f| f.name == "place_order")
        .unwrap();
    let fn_labels = "{function=\"place_order\",kind=\"sync\"}";
    assert_eq!(
        sample(&text, &format!("profiled_function_calls_total{fn_labels}")),
        function.calls as f64
    );
    assert_eq!(
        sample(
            &text,
            &format!("profiled_function_duration_seconds_count{fn_labels}")
        ),
        function.calls as f64
    );
    // Thread count for alerting: at least this test's 3 workers and the server.
    let threads = sample(&text, "profiled_threads ");
    assert!(threads >= 4.0, "profiled_threads {threads}");
    assert!(threads <= profiled::thread_count() as f64 + 8.0);
    assert!(
        sample(&text, "profiled_stacks ") >= 1.0,
        "the workers' stacks"
    );
    // Every call took about 300 us: none in the buckets below 100 ns, all by 1 s.
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| {
            l.starts_with("profiled_function_duration_seconds_bucket") && l.contains("place_order")
        })
        .map(|l| {
            let le = l.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect();
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "{buckets:?}"
    );
    assert!(
        buckets
            .iter()
            .filter(|(le, _)| *le < 1e-7)
            .all(|(_, n)| *n == 0.0),
        "{buckets:?}"
    );
    assert!(
        buckets
            .iter()
            .filter(|(le, _)| *le >= 1.0)
            .all(|(_, n)| *n == function.calls as f64)
    );

    // OpenMetrics when asked for.
    let om = request(
        addr,
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(
        om.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.text().ends_with("# EOF\n"));
    assert!(
        om.text()
            .contains("# TYPE profiled_lock_contentions counter")
    );
}
