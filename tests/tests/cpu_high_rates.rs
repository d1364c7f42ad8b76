//! Rates above the kernel's tick rate are delivered: at 500 and 1000 Hz the samples
//! of two busy threads add up to the process's CPU time x hz (per-thread CPU-time
//! timers report the expiries they could not signal in time as overruns).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use profiled_tests::{decode, process_cpu_ns, spin_until, total};

#[test]
fn samples_match_cpu_time_at_500_and_1000_hz() {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || spin_until(&stop))
        })
        .collect();
    for hz in [500, 1000] {
        // Measured from when every timer is armed, so a slow start on a loaded
        // machine does not count CPU time no timer could see.
        let run = profiled::__bench::start_profile_run(false, hz).unwrap();
        let before = process_cpu_ns();
        std::thread::sleep(Duration::from_secs(2));
        let cpu = process_cpu_ns() - before;
        let profile = decode(&run.finish());
        let samples = total(&profile, 0);
        let expected = cpu as f64 * f64::from(hz) / 1e9;
        let ratio = samples as f64 / expected;
        eprintln!("{hz} Hz: {samples} samples for {cpu} ns of CPU: {ratio:.3} of expected");
        assert_eq!(profile.period, 1_000_000_000 / i64::from(hz));
        assert!(
            (ratio - 1.0).abs() <= 0.15,
            "{hz} Hz: {samples} samples, expected {expected:.0}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
}
