//! A leak you find with `/debug/pprof/goroutine?debug=2`: every "request" starts a
//! worker thread that waits for a reply that never comes, so threads pile up.
//!
//! ```text
//! cargo run --release --example task_leak [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! The threads are parked forever in `await_reply`. Some are started through
//! `profiled::thread::Builder` (the dump says `created by task_leak::handle_request`),
//! some with plain `std::thread` (listed all the same, with their real stacks).
//! Each request also subscribes a tokio task, spawned with `profiled::task::spawn`,
//! that waits forever in `#[profiled] async fn wait_for_event`: the dump lists each
//! task with its logical stack, how long it has been idle, and who spawned it.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use profiled::profiled;

/// Waits for an event whose sender is kept but never used: the task leak.
#[profiled]
async fn wait_for_event(events: tokio::sync::oneshot::Receiver<u64>) -> Option<u64> {
    events.await.ok()
}

/// A subscription handler: its tasks never finish.
#[profiled]
async fn subscribe(id: u64, events: tokio::sync::oneshot::Receiver<u64>) -> u64 {
    wait_for_event(events).await.unwrap_or(id)
}

/// Spawns the subscription task for one request.
#[inline(never)]
fn start_subscription(
    runtime: &tokio::runtime::Runtime,
    id: u64,
    forgotten: &mut Vec<tokio::sync::oneshot::Sender<u64>>,
) {
    let (event_tx, event_rx) = tokio::sync::oneshot::channel();
    forgotten.push(event_tx);
    let _guard = runtime.enter();
    profiled::task::spawn(subscribe(id, event_rx));
}

/// Waits for a reply on a channel whose sender is kept alive but never used: the leak.
#[inline(never)]
fn await_reply(replies: mpsc::Receiver<u64>) -> Option<u64> {
    replies.recv().ok()
}

/// Handles one request by handing the reply wait to a new, named thread.
#[inline(never)]
fn handle_request(id: u64, forgotten: &mut Vec<mpsc::Sender<u64>>) {
    let (reply_tx, reply_rx) = mpsc::channel();
    forgotten.push(reply_tx); // kept, never sent on: the thread waits forever
    profiled::thread::Builder::new()
        .name(format!("reply-{id}"))
        .spawn(move || await_reply(reply_rx))
        .expect("spawn reply waiter");
}

/// An older code path that still uses std::thread directly.
#[inline(never)]
fn legacy_handler(forgotten: &mut Vec<mpsc::Sender<u64>>) {
    let (reply_tx, reply_rx) = mpsc::channel();
    forgotten.push(reply_tx);
    thread::spawn(move || await_reply(reply_rx));
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("task_leak", "127.0.0.1:6060");
    let (_profiler, addr) = args.start_profiler("task_leak");
    println!("task_leak: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  curl -s 'http://{addr}/debug/pprof/goroutine?debug=2' | grep -c '^goroutine '   # grows"
    );
    println!(
        "  curl -s 'http://{addr}/debug/pprof/goroutine?debug=1' | head -20   # stacks by count"
    );
    println!(
        "  go tool pprof -top -cum http://{addr}/debug/pprof/goroutine | grep task_leak   # threads in await_reply, tasks in wait_for_event"
    );
    println!(
        "  go tool pprof -raw http://{addr}/debug/pprof/threadcreate       # who started them"
    );
    println!(
        "  curl -s 'http://{addr}/debug/pprof/goroutine?debug=2' | grep -A4 ', task '   # idle tasks in wait_for_event"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tokio-worker")
        .build()
        .expect("tokio runtime");
    let mut subscriptions = Vec::new();
    let started = Instant::now();
    let mut forgotten = Vec::new();
    let mut id = 0;
    loop {
        if args.expired(started) {
            break;
        }
        // Bounded, so the demo cannot exhaust the machine.
        if id < 64 {
            if id % 4 == 3 {
                legacy_handler(&mut forgotten);
            } else {
                handle_request(id, &mut forgotten);
            }
            start_subscription(&runtime, id, &mut subscriptions);
            id += 1;
        }
        thread::sleep(Duration::from_millis(250));
    }
    println!(
        "task_leak: {} threads now, {} of them leaked; {} tasks waiting forever",
        profiled::thread_count(),
        forgotten.len(),
        profiled::task_count()
    );
    std::process::exit(0);
}
