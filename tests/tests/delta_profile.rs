//! `?seconds=N` returns only what happened inside the window, as Go's delta profiles.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{contend_once, decode, get, serve, total_for};

static LOCK: ProfiledMutex<()> = profiled_mutex!("delta", ());

fn contend(hold: fn(&Barrier)) {
    contend_once(|| drop(LOCK.lock()), hold);
}

#[inline(never)]
fn hold_before_window(ready: &Barrier) {
    let _guard = LOCK.lock();
    ready.wait();
    thread::sleep(Duration::from_millis(60));
}

#[inline(never)]
fn hold_inside_window(ready: &Barrier) {
    let _guard = LOCK.lock();
    ready.wait();
    thread::sleep(Duration::from_millis(60));
}

#[test]
fn delta_mutex_profile_counts_only_the_window() {
    let (_profiler, addr) = serve(Config::default());

    contend(hold_before_window);
    let cumulative = decode(&get(addr, "/debug/pprof/mutex").body);
    assert!(total_for(&cumulative, "hold_before_window", 1) >= 40_000_000);

    let delta = thread::spawn(move || get(addr, "/debug/pprof/mutex?seconds=2"));
    thread::sleep(Duration::from_millis(500));
    contend(hold_inside_window);
    let response = delta.join().unwrap();
    assert_eq!(response.status, 200);
    let delta = decode(&response.body);

    assert!(
        total_for(&delta, "hold_inside_window", 1) >= 40_000_000,
        "{delta:?}"
    );
    assert_eq!(total_for(&delta, "hold_before_window", 1), 0, "{delta:?}");
    assert!((1_900_000_000..4_000_000_000).contains(&delta.duration_nanos));
    // No all-zero samples survive the subtraction.
    assert!(delta.sample.iter().all(|s| s.value.iter().any(|&v| v != 0)));
}
