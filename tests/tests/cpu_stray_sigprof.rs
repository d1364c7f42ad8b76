//! `SIGPROF` sent by hand (`kill -PROF`), 1,000 times with no profile running (before
//! the first one) and 1,000 times during one: the process lives, the strays are
//! counted and ignored, and the profile is intact. (`SIGPROF` is not a real-time
//! signal: sends that find one already pending merge with it, so fewer than 1,000
//! are delivered.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use profiled::{Config, Profiler};
use profiled_tests::{decode, get, process_cpu_ns, spawn_busy, spin_until, total, total_for};

#[inline(never)]
fn spin(stop: &AtomicBool) -> u64 {
    spin_until(stop)
}

fn kill_prof(times: usize) {
    for _ in 0..times {
        // SAFETY: kill with our own pid and a valid signal number.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGPROF) }, 0);
    }
}

#[test]
fn stray_sigprof_is_ignored_before_and_during_a_profile() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();

    // No profile has ever run: the handler installed by Profiler::start ignores them.
    kill_prof(1000);
    std::thread::sleep(Duration::from_millis(100));
    let strays = profiled::stats().process.cpu_profile_stray_signals;
    assert!(strays >= 1, "{strays} strays counted");

    let (stop, worker) = spawn_busy(spin);
    let run = profiled::__bench::start_profile_run(false, 100).unwrap();
    let before = process_cpu_ns();
    for _ in 0..10 {
        kill_prof(100);
        std::thread::sleep(Duration::from_millis(150));
    }
    std::thread::sleep(Duration::from_millis(500));
    let cpu = process_cpu_ns() - before;
    let profile = decode(&run.finish());
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    kill_prof(1000); // and again after it
    std::thread::sleep(Duration::from_millis(100));

    let stats = profiled::stats().process;
    assert!(
        stats.cpu_profile_stray_signals >= strays + 2,
        "{} strays",
        stats.cpu_profile_stray_signals
    );
    // Intact: the strays added no samples (total matches CPU time x hz), and the
    // busy function has most of them.
    let samples = total(&profile, 0);
    let expected = cpu as f64 * 100.0 / 1e9;
    eprintln!(
        "{samples} samples for {expected:.0} expected; strays {}",
        stats.cpu_profile_stray_signals
    );
    assert!(
        (samples as f64 / expected - 1.0).abs() <= 0.15,
        "{samples} vs {expected:.0}"
    );
    assert!(
        total_for(&profile, "spin", 0) * 2 > samples,
        "spin is not most of the profile"
    );
    // The server still answers.
    let response = get(addr, "/debug/pprof/profile?seconds=1");
    assert_eq!(response.status, 200, "{response:?}");
}
