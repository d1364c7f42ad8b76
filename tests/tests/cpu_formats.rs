//! The CPU profile goes through the same model and encoders as every other
//! profile: `format=folded`, `format=svg` and `debug=1` show the busy function,
//! and an unknown format gets the same 400 as elsewhere.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use profiled::{Config, Profiler};
use profiled_tests::get;

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn spin() -> u64 {
    let mut x = 1u64;
    while !STOP.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = black_box(x);
    }
    x
}

#[test]
fn folded_svg_and_text_show_the_busy_function() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let worker = std::thread::Builder::new()
        .name("spinner".into())
        .spawn(spin)
        .unwrap();

    let folded = get(addr, "/debug/pprof/profile?seconds=1&format=folded");
    assert_eq!(folded.status, 200, "{folded:?}");
    let text = folded.text();
    let spin_line = text
        .lines()
        .find(|line| line.contains("cpu_formats::spin"))
        .unwrap_or_else(|| panic!("no spin stack in\n{text}"));
    // root;...;leaf nanoseconds, in 10 ms samples.
    let value: i64 = spin_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(value > 0 && value % 10_000_000 == 0, "{spin_line}");

    let svg = get(addr, "/debug/pprof/profile?seconds=1&format=svg");
    assert_eq!(svg.status, 200, "{svg:?}");
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let svg = svg.text();
    assert!(
        svg.contains("<svg") && svg.contains("cpu_formats::spin"),
        "{svg}"
    );

    let debug = get(addr, "/debug/pprof/profile?seconds=1&debug=1");
    assert_eq!(debug.status, 200, "{debug:?}");
    let debug = debug.text();
    assert!(debug.starts_with("--- cpu:\n"), "{debug}");
    assert!(
        debug.contains("# profiled: sampler: per-thread CPU-time timers"),
        "{debug}"
    );
    assert!(debug.contains("cpu_formats::spin"), "{debug}");

    let bad = get(addr, "/debug/pprof/profile?seconds=1&format=png");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(
        bad.text(),
        "unknown format \"png\": use format=folded or format=svg\n"
    );
    STOP.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
