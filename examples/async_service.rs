//! An async service whose handlers wait on a slow dependency and a contended lock:
//! the block profile shows where requests wait by logical async stack, and
//! /debug/stats shows each handler's calls, busy and idle time. Its checkout
//! handler uses `tokio::sync`-style primitives (`profiled::tokio`): a price cache
//! whose refresher holds the `Mutex` across an `.await` (the mutex profile's
//! culprit) and a pool of two database connections (a `Semaphore`). Each handler
//! is tagged with profile labels (`route`, `job`), so every profile can be sliced
//! by route: `go tool pprof -tagfocus route=/checkout ...`.
//!
//! ```text
//! cargo run --release --example async_service [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use profiled::tokio::{Mutex, Semaphore}; // was: use tokio::sync::{Mutex, Semaphore};
use profiled::{ProfiledMutex, profiled, profiled_mutex};

/// Sessions by user id, shared by every request.
static SESSIONS: ProfiledMutex<Option<HashMap<u64, u64>>> = profiled_mutex!("sessions", None);

/// Entry point of one request.
#[profiled(labels(route = "/user"))]
async fn handle_request(id: u64) -> u64 {
    let user = load_user(id).await;
    let visits = record_visit(user).await;
    render(user, visits)
}

/// Calls the user service: about 20 ms of waiting per request.
#[profiled]
async fn load_user(id: u64) -> u64 {
    user_service_call(id).await
}

/// The slow dependency (a remote call, simulated by a timer).
#[profiled]
async fn user_service_call(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(20)).await;
    id % 1_000
}

/// Updates the session table under a lock held too long: it "persists" while
/// holding it, blocking a runtime worker and every other request.
#[profiled]
async fn record_visit(user: u64) -> u64 {
    let mut sessions = SESSIONS.lock();
    let table = sessions.get_or_insert_with(HashMap::new);
    let visits = table.entry(user).or_insert(0);
    *visits += 1;
    std::thread::sleep(Duration::from_micros(300)); // "write to disk" while locked
    *visits
}

/// Prices every checkout reads, refreshed by `refresh_prices`.
static PRICE_CACHE: Mutex<u64> = profiled::tokio_mutex!("price_cache", 100);

/// Two database connections shared by every checkout.
static DB_POOL: Semaphore = profiled::tokio_semaphore!("db_pool", 2);

/// Refreshes the price cache, holding its lock across the slow fetch: every
/// checkout meanwhile waits (the mutex profile charges this function).
#[profiled(labels(job = "refresh_prices"))]
async fn refresh_prices() {
    let mut prices = PRICE_CACHE.lock().await;
    *prices = fetch_prices(*prices).await; // the lock is held across this .await
}

/// The price service (a remote call, simulated by a timer).
async fn fetch_prices(old: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(10)).await;
    old % 1_000 + 1
}

/// A checkout: reads the price cache, then queries the database through the pool.
#[profiled(labels(route = "/checkout"))]
async fn handle_checkout(id: u64) -> u64 {
    let price = *PRICE_CACHE.lock().await;
    let connection = DB_POOL.acquire().await.expect("the pool is never closed");
    tokio::time::sleep(Duration::from_millis(2)).await; // the query
    drop(connection);
    price + id % 7
}

/// CPU work after the waits.
#[profiled]
fn render(user: u64, visits: u64) -> u64 {
    (0..200u64).fold(user ^ visits, |acc, x| acc.rotate_left(5) ^ x)
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("async_service", "127.0.0.1:6060");
    let (profiler, addr) = args.start_profiler("async_service");
    println!("async_service: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/block   # waits by async stack: user_service_call under load_user under handle_request"
    );
    println!(
        "  go tool pprof -traces http://{addr}/debug/pprof/block   # each logical stack in full, root last"
    );
    println!(
        "  curl http://{addr}/debug/stats                       # per-function calls, busy_ns and idle_ns"
    );
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/mutex   # refresh_prices holds price_cache across an .await; record_visit holds sessions"
    );
    println!(
        "  go tool pprof -top -focus=handle_checkout http://{addr}/debug/pprof/block   # checkouts wait for price_cache and db_pool"
    );
    println!(
        "  go tool pprof -tags http://{addr}/debug/pprof/block   # the labels: route=/user, route=/checkout, job=refresh_prices"
    );
    println!(
        "  go tool pprof -top -tagfocus route=/checkout http://{addr}/debug/pprof/block   # only the checkout route's waits"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let mut id = 0u64;
        loop {
            // About 200 requests per second, each in its own task.
            for _ in 0..10 {
                id += 1;
                tokio::spawn(handle_request(id));
            }
            // A price refresh and a burst of checkouts every tick.
            tokio::spawn(refresh_prices());
            for _ in 0..3 {
                id += 1;
                tokio::spawn(handle_checkout(id));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if args.expired(started) {
                break;
            }
        }
    });
    profiler.stop();
}
