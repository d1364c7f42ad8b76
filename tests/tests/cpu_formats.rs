//! The CPU profile in every stack-profile output: `format=folded` gives folded
//! lines and `format=svg` a flame graph, both naming the busy function.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use profiled::Config;
use profiled_tests::{get, serve};

static DONE: AtomicBool = AtomicBool::new(false);

/// A loop that calls nothing, so its samples are its own.
#[inline(never)]
fn busy_cpu_formats() -> u64 {
    let mut x = 7u64;
    while !DONE.load(Ordering::Relaxed) {
        for _ in 0..50_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        x = black_box(x);
    }
    x
}

/// `GET path`, retried while the previous CPU profile is still being torn down (its
/// sampler is released just after its response is sent).
fn get_cpu(addr: std::net::SocketAddr, path: &str) -> profiled_tests::HttpResponse {
    for _ in 0..100 {
        let response = get(addr, path);
        if !(response.status == 500 && response.text().contains("already in use")) {
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the CPU profiler stayed in use");
}

#[test]
fn cpu_profile_is_served_folded_and_as_a_flame_graph() {
    let (_profiler, addr) = serve(Config::default());
    let worker = std::thread::spawn(busy_cpu_formats);

    let folded = get_cpu(addr, "/debug/pprof/profile?seconds=2&format=folded");
    assert_eq!(folded.status, 200, "{folded:?}");
    assert_eq!(
        folded.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let text = folded.text();
    // `root;...;leaf count` lines; the busy function's line has most of the samples.
    let busy: u64 = text
        .lines()
        .filter(|line| line.contains("busy_cpu_formats"))
        .map(|line| line.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert!(busy > 0, "{text}");
    for line in text.lines() {
        let (stack, value) = line.rsplit_once(' ').expect("`stack value`");
        assert!(!stack.is_empty() && value.parse::<u64>().is_ok(), "{line}");
    }

    let svg = get_cpu(addr, "/debug/pprof/profile?seconds=2&format=svg");
    assert_eq!(svg.status, 200, "{svg:?}");
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let text = svg.text();
    assert!(text.contains("<svg"), "{text}");
    assert!(text.contains("busy_cpu_formats"), "{text}");

    let refused = get(addr, "/debug/pprof/profile?seconds=1&format=png");
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.text(),
        "unknown format \"png\": use format=folded or format=svg\n"
    );

    DONE.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
