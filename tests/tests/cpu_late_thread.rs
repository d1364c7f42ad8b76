//! A thread born during a profile, by std (`std::thread::Builder`, only to give it
//! a name; not profiled's wrapper), is found by the supervisor's rescan and sampled
//! in proportion to its CPU time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use profiled_tests::{decode, spin_until, thread_cpu_ns, total_for, total_for_label};

#[inline(never)]
fn early_spin(stop: &AtomicBool) -> u64 {
    spin_until(stop)
}

#[inline(never)]
fn late_spin(stop: &AtomicBool) -> u64 {
    spin_until(stop)
}

#[test]
fn a_thread_spawned_mid_profile_is_sampled_in_proportion() {
    const HZ: i32 = 100;
    let stop = Arc::new(AtomicBool::new(false));
    let early = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("early".into())
            .spawn(move || early_spin(&stop))
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(100));
    let early_before = thread_cpu_ns(&early);
    let run = profiled::__bench::start_profile_run(false, HZ).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let late = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("late".into())
            .spawn(move || late_spin(&stop))
            .unwrap()
    };
    std::thread::sleep(Duration::from_secs(2));
    let (early_cpu, late_cpu) = (thread_cpu_ns(&early) - early_before, thread_cpu_ns(&late));
    let profile = decode(&run.finish());
    stop.store(true, Ordering::Relaxed);
    early.join().unwrap();
    late.join().unwrap();

    let per_sample = 1e9 / f64::from(HZ);
    let early_samples = total_for_label(&profile, "thread", "early", 0) as f64;
    let late_samples = total_for_label(&profile, "thread", "late", 0) as f64;
    // And the samples are where the threads spent their time.
    assert!(total_for(&profile, "late_spin", 0) as f64 >= late_samples * 0.8);
    let (early_expected, late_expected) =
        (early_cpu as f64 / per_sample, late_cpu as f64 / per_sample);
    eprintln!(
        "early: {early_samples} samples for {early_expected:.0} expected; late: {late_samples} for {late_expected:.0}"
    );
    assert!(
        late_expected > 20.0,
        "the late thread barely ran: {late_cpu} ns"
    );
    // Up to one rescan (100 ms) of the late thread's life goes unsampled.
    assert!(
        (late_samples / late_expected - 1.0).abs() <= 0.2,
        "late thread: {late_samples} samples for {late_expected:.0} expected"
    );
    assert!(
        (early_samples / early_expected - 1.0).abs() <= 0.2,
        "early thread: {early_samples} samples for {early_expected:.0} expected"
    );
}
