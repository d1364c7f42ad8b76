//! `ProfiledMutex` against `parking_lot::Mutex` in the same run.
//!
//! Run: `cargo bench -p profiled --bench locks`, then `python3 scripts/bench_report.py`
//! prints each profiled row as a ratio over its parking_lot baseline.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use profiled::{ProfiledMutex, ProfiledRwLock};

#[path = "common/profiles.rs"]
mod profiles;
use profiles::{profiles_off, profiles_on};

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended_lock_unlock");
    let baseline = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&baseline).lock() += 1)
    });
    let profiled = ProfiledMutex::new(0u64);
    profiles_on();
    group.bench_function("profiled_profiles_on", |b| {
        b.iter(|| *black_box(&profiled).lock() += 1)
    });
    profiles_off();
    group.bench_function("profiled_profiles_off", |b| {
        b.iter(|| *black_box(&profiled).lock() += 1)
    });
    group.finish();

    let mut group = c.benchmark_group("uncontended_read_unlock");
    let baseline = parking_lot::RwLock::new(0u64);
    group.bench_function("parking_lot", |b| b.iter(|| *black_box(&baseline).read()));
    let profiled = ProfiledRwLock::new(0u64);
    profiles_on();
    group.bench_function("profiled_profiles_on", |b| {
        b.iter(|| *black_box(&profiled).read())
    });
    profiles_off();
    group.finish();

    // A writer records its owner (one relaxed store each way), as a mutex does.
    let mut group = c.benchmark_group("uncontended_write_unlock");
    let baseline = parking_lot::RwLock::new(0u64);
    group.bench_function("parking_lot", |b| {
        b.iter(|| *black_box(&baseline).write() += 1)
    });
    let profiled = ProfiledRwLock::new(0u64);
    profiles_on();
    group.bench_function("profiled_profiles_on", |b| {
        b.iter(|| *black_box(&profiled).write() += 1)
    });
    profiles_off();
    group.finish();
}

/// `threads` threads each lock and increment `per_thread` times; one iteration is
/// the whole run, timed from start to every thread finishing.
fn run_contended<M: Send + Sync + 'static>(
    threads: usize,
    per_thread: u64,
    lock: Arc<M>,
    increment: fn(&M),
) -> Duration {
    let start = Instant::now();
    let others: Vec<_> = (1..threads)
        .map(|_| {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    increment(&lock);
                }
            })
        })
        .collect();
    for _ in 0..per_thread {
        increment(&lock);
    }
    for other in others {
        other.join().unwrap();
    }
    start.elapsed()
}

/// 2 threads x 1e6 on 2 cores: the acceptance row. 4 threads x 250k oversubscribe
/// the 2 cores, so threads really park and every park is recorded: the cost per
/// recorded event shows there.
fn contended(c: &mut Criterion) {
    for (name, threads, per_thread) in [
        ("contended_2x1e6", 2, 1_000_000),
        ("contended_4x250k", 4, 250_000),
    ] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(8));
        group.bench_function("parking_lot", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let lock = Arc::new(parking_lot::Mutex::new(0u64));
                        run_contended(threads, per_thread, lock, |m| *m.lock() += 1)
                    })
                    .sum()
            })
        });
        profiles_on();
        group.bench_function("profiled_fraction1_rate1", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let lock = Arc::new(ProfiledMutex::new(0u64));
                        run_contended(threads, per_thread, lock, |m| *m.lock() += 1)
                    })
                    .sum()
            })
        });
        profiles_off();
        group.finish();
    }
}

fn stack_capture(c: &mut Criterion) {
    let mut group = c.benchmark_group("stack_capture");
    group.bench_function("frame_pointer_or_default", |b| {
        b.iter(|| black_box(profiled::__bench::capture_stack_depth()))
    });
    group.bench_function("dwarf", |b| {
        b.iter(|| black_box(profiled::__bench::capture_stack_depth_dwarf()))
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended, stack_capture);
criterion_main!(benches);
