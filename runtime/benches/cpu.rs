//! The CPU sampler's costs, each against its baseline in the same run.
//!
//! Run: `cargo bench -p profiled --bench cpu`, then `python3 scripts/bench_report.py`.
//!
//! - `cpu_busy_2ms`: pure computation (about 2 ms per iteration), `plain` against
//!   `profiled_100hz` (the same work while the sampler `/debug/pprof/profile` uses
//!   takes 100 samples per CPU-second of every thread).
//! - Printed before the criterion groups (`cpu_sampler:` lines): the RSS growth of
//!   the first profile (sampler alone, then with symbolization), the time to start
//!   a profile with 1 and with 100 threads, and samples delivered / expected (process
//!   CPU time x hz) at 100, 250, 500 and 1000 Hz on 2 busy threads.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// About 2 ms of integer work that stays in registers and L1.
fn work() -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut i = 0u32;
    while i < 2_000_000 {
        x = black_box(x.rotate_left(7) ^ x.wrapping_mul(0x2545_f491_4f6c_dd1d));
        i += 1;
    }
    x
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn process_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Starts a CPU profile, retrying while the previous one is still being torn down.
fn start(hz: i32) -> profiled::__bench::ProfileRun {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(run) = profiled::__bench::start_profile_run(false, hz) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "the previous profile never stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn busy_threads(n: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    black_box(work());
                }
            })
        })
        .collect()
}

fn sampler_figures(_: &mut Criterion) {
    let stop = Arc::new(AtomicBool::new(false));
    let busy = busy_threads(2, &stop);

    // RSS: the sampler alone (no symbolization: the run is dropped), then a full
    // profile with symbolization.
    let before = rss_kib();
    let run = start(100);
    std::thread::sleep(Duration::from_secs(1));
    drop(run);
    std::thread::sleep(Duration::from_millis(100));
    let sampler = rss_kib();
    let run = start(100);
    std::thread::sleep(Duration::from_secs(1));
    black_box(run.finish());
    let full = rss_kib();
    println!(
        "cpu_sampler: first profile RSS {before} KiB -> {sampler} KiB sampler only (+{} KiB), -> {full} KiB after symbolizing (+{} KiB)",
        sampler.saturating_sub(before),
        full.saturating_sub(before)
    );

    // Start time: 1 thread of our own against 100 more idle threads.
    let median_start = |rounds: usize| {
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let run = start(100);
                let ms = profiled::stats().process.cpu_profile_last_start_ms;
                drop(run);
                ms
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let threads_now = profiled::stats().process.threads;
    let baseline = median_start(15);
    let idle_stop = Arc::new(AtomicBool::new(false));
    let idle: Vec<_> = (0..100)
        .map(|_| {
            let stop = Arc::clone(&idle_stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let with_100 = median_start(15);
    idle_stop.store(true, Ordering::Relaxed);
    for thread in idle {
        let _ = thread.join();
    }
    println!(
        "cpu_sampler: start (median of 15) {baseline:.2} ms with {threads_now} threads, {with_100:.2} ms with {} more idle threads",
        100
    );

    // Delivered / expected on 2 busy threads.
    for hz in [100, 250, 500, 1000] {
        let run = start(hz);
        let cpu_before = process_cpu_ns();
        std::thread::sleep(Duration::from_secs(3));
        let cpu = process_cpu_ns() - cpu_before;
        let samples = run.finish_samples();
        let expected = cpu as f64 * f64::from(hz) / 1e9;
        println!(
            "cpu_sampler: {hz} Hz: {samples} samples, {expected:.0} expected from {:.2} s of process CPU: {:.3}",
            cpu as f64 / 1e9,
            samples as f64 / expected
        );
    }
    stop.store(true, Ordering::Relaxed);
    for thread in busy {
        let _ = thread.join();
    }

    // The wall-clock profile's cost: process CPU time over 2 s with 50 sleeping
    // threads, without and with a 100 Hz wall-clock profile.
    let sleepers_stop = Arc::new(AtomicBool::new(false));
    let sleepers: Vec<_> = (0..50)
        .map(|_| {
            let stop = Arc::clone(&sleepers_stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let idle_before = process_cpu_ns();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = process_cpu_ns() - idle_before;
    let wall = loop {
        if let Some(run) = profiled::__bench::start_profile_run(true, 100) {
            break run;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall_before = process_cpu_ns();
    std::thread::sleep(Duration::from_secs(2));
    let wall_cpu = process_cpu_ns() - wall_before;
    let wall_samples = wall.finish_samples();
    sleepers_stop.store(true, Ordering::Relaxed);
    for thread in sleepers {
        let _ = thread.join();
    }
    println!(
        "cpu_sampler: wall-clock profile, 50 sleeping threads, 100 Hz, 2 s: process CPU {:.1} ms without, {:.1} ms with ({:.2}% of a core more), {wall_samples} samples",
        idle_cpu as f64 / 1e6,
        wall_cpu as f64 / 1e6,
        (wall_cpu as f64 - idle_cpu as f64) / 2e9 * 100.0
    );

    // Overhead in CPU time (the handler's time is charged to the sampled thread, and
    // CPU time is far less noisy than wall time on a loaded machine): rounds of 25
    // iterations of `work`, alternating without and with a 100 Hz profile.
    let round = || {
        let started = thread_cpu_ns();
        for _ in 0..25 {
            black_box(work());
        }
        thread_cpu_ns() - started
    };
    let mut ratios: Vec<f64> = (0..21)
        .map(|_| {
            let plain = round();
            let run = start(100);
            let profiled = round();
            drop(run);
            profiled as f64 / plain as f64
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "cpu_sampler: busy loop at 100 Hz vs none, thread CPU time, 21 paired rounds: median {:.4}x (p25 {:.4}x, p75 {:.4}x)",
        ratios[10], ratios[5], ratios[15]
    );
}

fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu_busy_2ms");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("plain", |b| b.iter(work));
    let session = start(100);
    group.bench_function("profiled_100hz", |b| b.iter(work));
    drop(session);
    group.finish();
}

criterion_group!(benches, sampler_figures, cpu);
criterion_main!(benches);
