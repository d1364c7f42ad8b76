//! Reader-writer locks and condition variables feed the same profiles: readers
//! waiting for a writer are block events charged to the writer in the mutex
//! profile, and a condition wait is a block event of the waiter.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use profiled::{
    Config, ProfiledCondvar, ProfiledMutex, ProfiledRwLock, profiled_mutex, profiled_rwlock,
};
use profiled_tests::{decode, get, serve, total_for};

static TABLE: ProfiledRwLock<Vec<u32>> = profiled_rwlock!("table", Vec::new());
static READY: ProfiledMutex<bool> = profiled_mutex!("ready", false);
static READY_CHANGED: ProfiledCondvar = ProfiledCondvar::new();

#[inline(never)]
fn writer_holds(start: &Barrier) {
    let mut table = TABLE.write();
    start.wait();
    thread::sleep(Duration::from_millis(80));
    table.push(1);
}

#[inline(never)]
fn reader_waits(start: &Barrier) -> usize {
    start.wait();
    thread::sleep(Duration::from_millis(2));
    TABLE.read().len()
}

#[inline(never)]
fn cond_waiter() {
    let mut ready = READY.lock();
    while !*ready {
        READY_CHANGED.wait(&mut ready);
    }
}

#[inline(never)]
fn cond_notifier() {
    thread::sleep(Duration::from_millis(60));
    *READY.lock() = true;
    READY_CHANGED.notify_all();
}

#[test]
fn rwlock_and_condvar_waits_are_profiled() {
    let (_profiler, addr) = serve(Config::default());

    let start = Arc::new(Barrier::new(3));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let start = Arc::clone(&start);
            thread::spawn(move || reader_waits(&start))
        })
        .collect();
    writer_holds(&start);
    for reader in readers {
        assert_eq!(reader.join().unwrap(), 1);
    }

    let waiter = thread::spawn(cond_waiter);
    cond_notifier();
    waiter.join().unwrap();

    let block = decode(&get(addr, "/debug/pprof/block").body);
    let readers_waited = total_for(&block, "reader_waits", 1);
    assert!(
        (140_000_000..=300_000_000).contains(&readers_waited),
        "reader_waits: {readers_waited} ns"
    );
    let cond_waited = total_for(&block, "cond_waiter", 1);
    assert!(
        (50_000_000..=200_000_000).contains(&cond_waited),
        "cond_waiter: {cond_waited} ns"
    );

    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let writer_charged = total_for(&mutex, "writer_holds", 1);
    assert!(
        writer_charged >= 140_000_000,
        "writer_holds charged {writer_charged} ns"
    );

    let table = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name == "table")
        .unwrap();
    assert_eq!(table.contentions, 2);
    assert!(table.wait_ns >= 140_000_000, "{table:?}");
}
