//! `/debug/fgprof`: a wall-clock profile samples a thread whether it runs or
//! sleeps. A thread that sleeps in `nap` 80% of the time and spins in `spin` 20%
//! shows about 80/20; `go tool pprof -top` reads the profile without a warning; the
//! endpoint is off by default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, sample_types, tool_binary, total_for,
};

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn nap() {
    std::thread::sleep(Duration::from_millis(8));
}

/// Busy for 2 ms of wall time (whatever share of the CPU it gets meanwhile).
#[inline(never)]
fn spin() -> u64 {
    let started = Instant::now();
    let mut x = 1u64;
    while started.elapsed() < Duration::from_millis(2) {
        for _ in 0..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = std::hint::black_box(x);
    }
    x
}

fn napper() {
    while !STOP.load(Ordering::Relaxed) {
        nap();
        spin();
    }
}

#[test]
fn a_thread_napping_80_percent_shows_80_20() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        enable_wall_profiling: true,
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let worker = std::thread::Builder::new()
        .name("napper".into())
        .spawn(napper)
        .unwrap();

    let response = get(addr, "/debug/fgprof?seconds=3");
    assert_eq!(response.status, 200, "{response:?}");
    let profile = decode(&response.body);
    assert_eq!(
        sample_types(&profile),
        [
            ("samples".to_owned(), "count".to_owned()),
            ("time".to_owned(), "nanoseconds".to_owned())
        ]
    );
    assert_eq!(profile.period, 10_000_000);
    let (naps, spins) = (
        total_for(&profile, "nap", 0) as f64,
        total_for(&profile, "spin", 0) as f64,
    );
    let nap_share = naps / (naps + spins);
    eprintln!("nap {naps} samples, spin {spins}: nap share {nap_share:.2}");
    // 300 samples of the thread at 100 Hz over 3 s, all but a few in nap or spin.
    assert!(naps + spins >= 200.0, "nap {naps} + spin {spins} samples");
    assert!(
        (0.7..=0.9).contains(&nap_share),
        "nap has {nap_share:.2} of the napper's samples"
    );

    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/fgprof?seconds=1");
        let top = go_tool_pprof(&go, &["-top", &url]);
        assert!(top.success, "{top:?}");
        assert!(pprof_complaints(&top.stderr).is_empty(), "{}", top.stderr);
        assert!(top.stdout.contains("Type: time"), "{}", top.stdout);
    }
    let folded = get(addr, "/debug/fgprof?seconds=1&format=folded");
    assert_eq!(folded.status, 200, "{folded:?}");
    assert!(folded.text().contains("nap"), "{}", folded.text());
    STOP.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}

#[test]
fn the_wall_profile_is_off_by_default() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let response = get(profiler.local_addr().unwrap(), "/debug/fgprof?seconds=1");
    assert_eq!(response.status, 403, "{response:?}");
    assert_eq!(
        response.text(),
        "wall-clock profiling is disabled (Config::enable_wall_profiling = false)\n"
    );
}
