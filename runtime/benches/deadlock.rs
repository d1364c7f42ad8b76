//! Deadlock detection with 1,000 threads and 100 locks: 100 threads each hold one
//! lock and park; 900 threads wait for those locks (9 each). One `check()` reads the
//! wait table twice and `/proc/self/task` twice and walks the graph (goal: under
//! 10 ms). No cycle: the holders run (parked on a channel, not on a lock).
//!
//! Run: `cargo bench -p profiled --bench deadlock`.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use profiled::ProfiledMutex;

const LOCKS: usize = 100;
const WAITERS_PER_LOCK: usize = 9;

fn detection(c: &mut Criterion) {
    let locks: Arc<Vec<ProfiledMutex<u64>>> =
        Arc::new((0..LOCKS).map(|_| ProfiledMutex::new(0)).collect());
    let held = Arc::new(Barrier::new(LOCKS + 1));
    let mut releases = Vec::new();
    let mut threads = Vec::new();
    for i in 0..LOCKS {
        let (release, wait) = mpsc::channel::<()>();
        releases.push(release);
        let (locks, held) = (Arc::clone(&locks), Arc::clone(&held));
        threads.push(
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let _guard = locks[i].lock();
                    held.wait();
                    let _ = wait.recv();
                })
                .unwrap(),
        );
    }
    held.wait();
    for i in 0..LOCKS * WAITERS_PER_LOCK {
        let locks = Arc::clone(&locks);
        threads.push(
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || *locks[i % LOCKS].lock() += 1)
                .unwrap(),
        );
    }
    while profiled::deadlock::waits_in_progress() < LOCKS * WAITERS_PER_LOCK {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut group = c.benchmark_group("deadlock_detection");
    group.sample_size(20);
    group.bench_function("check_1000_threads_100_locks", |b| {
        b.iter(|| assert!(profiled::deadlock::check().is_empty()))
    });
    group.finish();
    drop(releases);
    for thread in threads {
        thread.join().unwrap();
    }
}

criterion_group!(benches, detection);
criterion_main!(benches);
