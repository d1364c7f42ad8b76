//! A 2 s CPU profile of a busy function: `go tool pprof -top` reads it without a
//! warning and puts `spin` first by flat time.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use profiled::Config;
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, rss_kib, serve, thread_cpu_ns, tool_binary,
    total, total_for,
};

static STOP: AtomicBool = AtomicBool::new(false);

/// Busy work whose inner loop calls nothing (xorshift: shifts and xors, no
/// overflow checks, no `black_box`), so its samples are its own flat time even in
/// unoptimized builds.
#[inline(never)]
fn spin() -> u64 {
    let mut x = 1u64;
    while !STOP.load(Ordering::Relaxed) {
        let mut i = 0u32;
        while i < 100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            i += 1;
        }
        x = black_box(x);
    }
    x
}

#[test]
fn spin_is_the_top_flat_entry() {
    let (_profiler, addr) = serve(Config::default());
    let worker = std::thread::spawn(spin);

    let rss_before = rss_kib("self");
    let started = Instant::now();
    let spin_cpu_before = thread_cpu_ns(&worker);
    let response = get(addr, "/debug/pprof/profile?seconds=2");
    let spin_cpu = thread_cpu_ns(&worker) - spin_cpu_before;
    let started_elapsed = started.elapsed();
    eprintln!(
        "first CPU profile: request {:?}, sampler start {:.1} ms, RSS {} -> {} KiB",
        started.elapsed(),
        profiled::stats().process.cpu_profile_last_start_ms,
        rss_before,
        rss_kib("self")
    );
    assert_eq!(response.status, 200, "{response:?}");
    let profile = decode(&response.body);
    assert_eq!(profile.period, 10_000_000);
    assert!(profile.duration_nanos >= 2_000_000_000);
    let spin_ns = total_for(&profile, "spin", 1);
    // One busy thread for 2 s: most of 2 s of CPU, at 10 ms per sample; on a loaded
    // machine, most of the CPU time the thread really got (its own CPU clock).
    // The request also symbolizes: count the thread's CPU over the profile's own
    // share of the request's time.
    let elapsed = started_elapsed.as_nanos() as f64;
    let spin_cpu = (spin_cpu as f64 * profile.duration_nanos as f64 / elapsed) as i64;
    assert!(
        spin_ns >= 1_000_000_000.min(spin_cpu * 7 / 10),
        "spin has {spin_ns} ns of {} (the thread used about {spin_cpu} ns)",
        total(&profile, 1)
    );
    assert_eq!(total(&profile, 1), total(&profile, 0) * 10_000_000);

    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/profile?seconds=2");
        let top = go_tool_pprof(&go, &["-top", &url]);
        assert!(top.success, "{top:?}");
        assert!(pprof_complaints(&top.stderr).is_empty(), "{}", top.stderr);
        assert!(top.stdout.contains("Type: cpu"), "{}", top.stdout);
        let first_entry = profiled_tests::pprof_top_entry(&top.stdout);
        assert!(first_entry.ends_with("cpu_profile::spin"), "{}", top.stdout);

        let saved = std::env::temp_dir().join(format!("cpu-{}.pb.gz", std::process::id()));
        std::fs::write(&saved, &response.body).unwrap();
        let raw = go_tool_pprof(&go, &["-raw", saved.to_str().unwrap()]);
        let _ = std::fs::remove_file(&saved);
        assert!(raw.success, "{raw:?}");
        assert!(pprof_complaints(&raw.stderr).is_empty(), "{}", raw.stderr);
        assert!(
            raw.stdout.contains("PeriodType: cpu nanoseconds"),
            "{}",
            raw.stdout
        );
    }
    STOP.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
