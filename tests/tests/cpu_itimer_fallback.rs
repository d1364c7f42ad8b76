//! When per-thread timers cannot be created, the CPU profile falls back to
//! `setitimer(ITIMER_PROF)` and says so in its comments and in `/debug/stats`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use profiled_tests::{decode, total_for};

#[inline(never)]
fn spin(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = std::hint::black_box(x);
    }
    x
}

#[test]
fn the_fallback_is_used_and_said() {
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || spin(&stop))
    };
    profiled::__bench::force_cpu_timer_fallback(true);
    let run = profiled::__bench::start_profile_run(false, 100).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let profile = decode(&run.finish());
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    let comments: Vec<&str> = profile
        .comment
        .iter()
        .map(|&i| profile.string_table[i as usize].as_str())
        .collect();
    assert!(
        comments
            .iter()
            .any(|c| c.contains("setitimer(ITIMER_PROF) fallback")),
        "{comments:?}"
    );
    assert_eq!(profiled::stats().process.cpu_profile_timer, "setitimer");
    assert!(total_for(&profile, "spin", 0) > 10, "spin was not sampled");

    profiled::__bench::force_cpu_timer_fallback(false);
    let run = profiled::__bench::start_profile_run(false, 100).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(run.finish());
    assert_eq!(profiled::stats().process.cpu_profile_timer, "timer_create");
}
