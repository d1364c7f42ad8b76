//! When per-thread timers cannot be created, the CPU profile falls back to
//! `setitimer(ITIMER_PROF)` and says so in its comments and in `/debug/stats`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use profiled_tests::{decode, spawn_busy, spin_until, total_for};

#[inline(never)]
fn spin(stop: &AtomicBool) -> u64 {
    spin_until(stop)
}

#[test]
fn the_fallback_is_used_and_said() {
    let (stop, worker) = spawn_busy(spin);
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
