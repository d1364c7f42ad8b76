//! Per-thread CPU-time timers split samples between threads as their CPU time
//! splits: one thread using about twice the CPU of another (measured from their own
//! CPU clocks, so the machine's load does not matter) gets about twice the samples,
//! and the total matches the process's CPU time x hz. Each sample carries its
//! thread's name, so `go tool pprof -tagfocus thread=...` selects one thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use profiled_tests::{
    decode, go_tool_pprof, pprof_complaints, pprof_shown_ms, process_cpu_ns, thread_cpu_ns,
    tool_binary, total, total_for_label,
};

/// Spins until `stop`; when `duty` < 1, sleeps so that it runs about that fraction.
fn burn(stop: &AtomicBool, duty: f64) {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        let busy = Instant::now();
        while busy.elapsed() < Duration::from_millis(4) {
            for _ in 0..1000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            x = std::hint::black_box(x);
        }
        if duty < 1.0 {
            std::thread::sleep(Duration::from_secs_f64(0.004 * (1.0 - duty) / duty));
        }
    }
}

#[test]
fn samples_split_between_threads_as_their_cpu_time_does() {
    const HZ: i32 = 100;
    let stop = Arc::new(AtomicBool::new(false));
    let spawn = |name: &str, duty: f64| {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || burn(&stop, duty))
            .unwrap()
    };
    let heavy = spawn("worker-heavy", 1.0);
    let light = spawn("worker-light", 0.5);
    std::thread::sleep(Duration::from_millis(200));

    // Measured from when every timer is armed (a slow start on a loaded machine
    // must not count CPU time no timer could see).
    let run = profiled::__bench::start_profile_run(false, HZ).unwrap();
    let (heavy_before, light_before) = (thread_cpu_ns(&heavy), thread_cpu_ns(&light));
    let process_before = process_cpu_ns();
    std::thread::sleep(Duration::from_secs(3));
    let process_cpu = process_cpu_ns() - process_before;
    let (heavy_cpu, light_cpu) = (
        thread_cpu_ns(&heavy) - heavy_before,
        thread_cpu_ns(&light) - light_before,
    );
    let body = run.finish();
    stop.store(true, Ordering::Relaxed);
    heavy.join().unwrap();
    light.join().unwrap();

    let profile = decode(&body);
    let heavy_samples = total_for_label(&profile, "thread", "worker-heavy", 0);
    let light_samples = total_for_label(&profile, "thread", "worker-light", 0);
    let measured = heavy_cpu as f64 / light_cpu as f64;
    let sampled = heavy_samples as f64 / light_samples.max(1) as f64;
    let expected_total = process_cpu as f64 * f64::from(HZ) / 1e9;
    let all = total(&profile, 0);
    eprintln!(
        "CPU heavy {heavy_cpu} ns, light {light_cpu} ns (ratio {measured:.2}); samples {heavy_samples} / {light_samples} (ratio {sampled:.2}); total {all} samples for {process_cpu} ns of process CPU (expected {expected_total:.0})"
    );
    assert!(
        (sampled / measured - 1.0).abs() <= 0.20,
        "sample ratio {sampled:.2} vs CPU ratio {measured:.2}"
    );
    assert!(
        (all as f64 / expected_total - 1.0).abs() <= 0.15,
        "{all} samples, expected {expected_total:.0}"
    );
    // Every sample is labelled with its thread, and the period is 1/hz.
    assert!(profile.sample.iter().all(|s| s.label.len() == 1));
    assert_eq!(profile.period, 10_000_000);
    assert_eq!(total(&profile, 1), all * 10_000_000);

    if let Some(go) = tool_binary("go", "golang-go") {
        let saved = std::env::temp_dir().join(format!("cpu-split-{}.pb.gz", std::process::id()));
        std::fs::write(&saved, &body).unwrap();
        let path = saved.to_str().unwrap();
        let all_top = go_tool_pprof(&go, &["-top", path]);
        let heavy_top = go_tool_pprof(
            &go,
            &[
                "-top",
                "-nodefraction=0",
                "-tagfocus",
                "thread=worker-heavy",
                path,
            ],
        );
        let _ = std::fs::remove_file(&saved);
        assert!(all_top.success, "{all_top:?}");
        assert!(
            pprof_complaints(&all_top.stderr).is_empty(),
            "{}",
            all_top.stderr
        );
        assert!(heavy_top.success, "{heavy_top:?}");
        // The focused view holds the heavy thread's samples only.
        let shown = heavy_samples * 10;
        let focused = pprof_shown_ms(&heavy_top.stdout);
        assert!(
            focused.is_some_and(|ms| (ms - shown as f64).abs() < 5.0),
            "tagfocus thread=worker-heavy shows {focused:?} ms (expected {shown} ms)\n{}",
            heavy_top.stdout
        );
    }
}
