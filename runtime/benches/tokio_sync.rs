//! `profiled::tokio`'s types against `tokio::sync`'s own in the same run (feature
//! `tokio`). In each group the bench named `plain` is tokio's type, the baseline.
//!
//! Run: `cargo bench -p profiled --features tokio --bench tokio_sync`, then
//! `python3 scripts/bench_report.py` prints each row as a ratio over `plain`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/channel.rs"]
#[macro_use]
mod channel;
#[path = "common/convoy.rs"]
#[macro_use]
mod convoy;
#[path = "common/profiles.rs"]
mod profiles;
use profiles::{profiles_off, profiles_on, profiles_sampled};

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// `lock().await`, increment, drop, `iters` times on `lock`; the future yields the
/// time taken. A macro, so that each row's loop is compiled for its own lock type.
macro_rules! lock_increments {
    ($lock:expr, $iters:expr) => {
        async {
            let start = Instant::now();
            for _ in 0..$iters {
                *black_box(&$lock).lock().await += 1;
            }
            start.elapsed()
        }
    };
}

/// `iters` convoys (`common/convoy.rs`) of one `$mutex` on `runtime`, summed.
macro_rules! contended_runs {
    ($runtime:expr, $iters:expr, $mutex:ty) => {
        (0..$iters).map(|_| convoy!($runtime, $mutex)).sum()
    };
}

/// `iters` transfers (`common/channel.rs`) through a `$channel` on `runtime`, summed.
macro_rules! channel_runs {
    ($runtime:expr, $iters:expr, $channel:expr) => {
        (0..$iters).map(|_| transfer!($runtime, $channel)).sum()
    };
}

/// `lock().await`, increment, drop, `iters` times in one task.
fn uncontended(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("tokio_uncontended_lock");
    let plain = tokio::sync::Mutex::new(0u64);
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| runtime.block_on(lock_increments!(plain, iters)))
    });
    let profiled = profiled::tokio::Mutex::new(0u64);
    profiles_on();
    group.bench_function("profiled", |b| {
        b.iter_custom(|iters| runtime.block_on(lock_increments!(profiled, iters)))
    });
    profiles_off();
    group.finish();

    let mut group = c.benchmark_group("tokio_try_acquire");
    let plain = tokio::sync::Semaphore::new(4);
    group.bench_function("plain", |b| {
        b.iter(|| drop(black_box(&plain).try_acquire().unwrap()))
    });
    let profiled = profiled::tokio::Semaphore::new(4);
    profiles_on();
    group.bench_function("profiled", |b| {
        b.iter(|| drop(black_box(&profiled).try_acquire().unwrap()))
    });
    profiles_off();
    group.finish();
}

/// 8 tasks x 100k `lock().await` + increment on 2 workers; one iteration is the
/// whole run. Nearly every acquisition waits (a convoy: tokio's mutex hands the
/// lock to the first waiter), so this is the per-wait cost, at every wait: with
/// both profiles at rate 1, at the README's production settings (`_sampled`), and
/// with both off (`_off`: the wait table that dumps and the deadlock detector read).
fn contended(c: &mut Criterion) {
    let runtime = two_workers();
    let mut group = c.benchmark_group("tokio_contended_8x100k");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| contended_runs!(runtime, iters, tokio::sync::Mutex<u64>))
    });
    profiles_on();
    group.bench_function("profiled", |b| {
        b.iter_custom(|iters| contended_runs!(runtime, iters, profiled::tokio::Mutex<u64>))
    });
    profiles_sampled();
    group.bench_function("profiled_sampled", |b| {
        b.iter_custom(|iters| contended_runs!(runtime, iters, profiled::tokio::Mutex<u64>))
    });
    profiles_off();
    group.bench_function("profiled_off", |b| {
        b.iter_custom(|iters| contended_runs!(runtime, iters, profiled::tokio::Mutex<u64>))
    });
    group.finish();
}

/// One producer task sends 200k messages through a bounded channel of 64 slots to
/// one consumer task, on 2 workers; one iteration is the whole transfer.
fn channel(c: &mut Criterion) {
    let runtime = two_workers();
    let mut group = c.benchmark_group("tokio_channel_200k");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| channel_runs!(runtime, iters, tokio::sync::mpsc::channel))
    });
    profiles_on();
    group.bench_function("profiled", |b| {
        b.iter_custom(|iters| channel_runs!(runtime, iters, profiled::tokio::mpsc::channel))
    });
    profiles_off();
    group.finish();
}

criterion_group!(benches, uncontended, contended, channel);
criterion_main!(benches);
