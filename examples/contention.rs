//! A service-like workload with lock contention you can find with `go tool pprof`.
//!
//! ```text
//! cargo run --release --example contention [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! Threads share an account table, a price cache and a work queue, all behind
//! profiled locks. One function, `audit_ledger`, holds the account lock far longer
//! than it needs to: the mutex profile names it; the block profile shows `transfer`
//! waiting for it.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

use profiled::{
    ProfiledAllocator, ProfiledCondvar, ProfiledMutex, ProfiledRwLock, profiled_mutex,
    profiled_rwlock,
};

// Heap profiles too: `go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap`.
#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

/// Balances, one per account.
static ACCOUNTS: ProfiledMutex<Vec<u64>> = profiled_mutex!("accounts", Vec::new());
/// Prices by product id; read often, refreshed now and then.
static PRICES: ProfiledRwLock<Option<HashMap<u64, u64>>> = profiled_rwlock!("prices", None);
/// Jobs for the workers.
static QUEUE: ProfiledMutex<VecDeque<u64>> = profiled_mutex!("work-queue", VecDeque::new());
static QUEUE_READY: ProfiledCondvar = ProfiledCondvar::new();

const ACCOUNT_COUNT: usize = 1_000;

/// Moves money between two accounts: a short critical section.
#[inline(never)]
fn transfer(from: usize, to: usize, amount: u64) {
    let mut accounts = ACCOUNTS.lock();
    if accounts[from] >= amount {
        accounts[from] -= amount;
        accounts[to] += amount;
    }
}

/// The culprit: computes a checksum of every balance while holding the lock, and
/// sleeps as if writing an audit log, all inside the critical section.
#[inline(never)]
fn audit_ledger() -> u64 {
    let accounts = ACCOUNTS.lock();
    let mut checksum = 0u64;
    for (i, balance) in accounts.iter().enumerate() {
        checksum = checksum.rotate_left(5) ^ balance.wrapping_mul(i as u64 + 1);
    }
    thread::sleep(Duration::from_millis(20)); // "write the audit log"
    black_box(checksum)
}

/// Reads a price under the shared lock.
#[inline(never)]
fn lookup_price(product: u64) -> u64 {
    PRICES
        .read()
        .as_ref()
        .and_then(|prices| prices.get(&product).copied())
        .unwrap_or(0)
}

/// Rebuilds the price table under the write lock: readers wait meanwhile.
#[inline(never)]
fn refresh_prices(round: u64) {
    let mut prices = PRICES.write();
    let table = (0..10_000u64).map(|p| (p, p * 3 + round)).collect();
    thread::sleep(Duration::from_millis(5)); // "fetch from the database"
    *prices = Some(table);
}

/// Pushes a job and wakes one worker.
#[inline(never)]
fn enqueue(job: u64) {
    QUEUE.lock().push_back(job);
    QUEUE_READY.notify_one();
}

/// Takes the next job, waiting on the condition variable while the queue is empty.
#[inline(never)]
fn next_job() -> u64 {
    let mut queue = QUEUE.lock();
    loop {
        if let Some(job) = queue.pop_front() {
            return job;
        }
        QUEUE_READY.wait(&mut queue);
    }
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("contention", "127.0.0.1:6060");
    let (profiler, addr) = args.start_profiler("contention");

    *ACCOUNTS.lock() = vec![1_000; ACCOUNT_COUNT];
    refresh_prices(0);

    for worker in 0..4u64 {
        thread::spawn(move || {
            let mut i = worker;
            loop {
                i = i
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let from = (i >> 33) as usize % ACCOUNT_COUNT;
                transfer(from, (from + 7) % ACCOUNT_COUNT, 1 + (i & 15));
                thread::sleep(Duration::from_micros(200));
            }
        });
    }
    thread::spawn(|| {
        loop {
            audit_ledger();
            thread::sleep(Duration::from_millis(30));
        }
    });
    for reader in 0..2u64 {
        thread::spawn(move || {
            let mut product = reader;
            loop {
                black_box(lookup_price(product));
                product = (product + 1) % 10_000;
                thread::sleep(Duration::from_micros(100));
            }
        });
    }
    thread::spawn(|| {
        for round in 1.. {
            thread::sleep(Duration::from_millis(50));
            refresh_prices(round);
        }
    });
    for _ in 0..3 {
        thread::spawn(|| {
            loop {
                let job = next_job();
                black_box(job.wrapping_mul(31));
                thread::sleep(Duration::from_micros(500));
            }
        });
    }
    thread::spawn(|| {
        for job in 0.. {
            enqueue(job);
            thread::sleep(Duration::from_millis(2));
        }
    });

    println!("contention: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/mutex    # who holds the locks others wait for (audit_ledger)"
    );
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/block    # where threads wait (transfer, lookup_price, next_job)"
    );
    println!(
        "  go tool pprof -http=:8080 http://{addr}/debug/pprof/mutex   # the same, in a browser"
    );
    println!("  curl 'http://{addr}/debug/pprof/mutex?debug=1'        # Go's legacy text");
    println!(
        "  curl -o mutex.pb.gz 'http://{addr}/debug/pprof/mutex?seconds=10'  # only the next 10 s"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    args.serve_until_done(profiler);
}
