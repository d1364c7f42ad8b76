//! An async service whose handlers wait on a slow dependency and a contended lock:
//! the block profile shows where requests wait by logical async stack, and
//! /debug/stats shows each handler's calls, busy and idle time.
//!
//! ```text
//! cargo run --release --example async_service [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use profiled::{ProfiledMutex, profiled, profiled_mutex};

/// Sessions by user id, shared by every request.
static SESSIONS: ProfiledMutex<Option<HashMap<u64, u64>>> = profiled_mutex!("sessions", None);

/// Entry point of one request.
#[profiled]
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
        "  go tool pprof -top http://{addr}/debug/pprof/mutex   # record_visit holds the sessions lock"
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
            tokio::time::sleep(Duration::from_millis(50)).await;
            if args.expired(started) {
                break;
            }
        }
    });
    profiler.stop();
}
