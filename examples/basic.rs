//! The smallest useful program: a profiler, one `#[profiled]` function, one profiled
//! lock, and a little work in a loop.
//!
//! ```text
//! cargo run --release --example basic [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! Two threads call `update_total`, which holds the `total` lock while it sums a
//! slice: the mutex profile names `update_total` as the holder others waited for,
//! the block profile shows them waiting in it, and `/debug/stats` counts its calls.

use std::hint::black_box;
use std::thread;
use std::time::Duration;

use profiled::{ProfiledMutex, profiled, profiled_mutex};

/// A running total, shared by the workers.
static TOTAL: ProfiledMutex<u64> = profiled_mutex!("total", 0);

/// Adds the sum of `values` to the total, computing it while holding the lock.
#[profiled]
fn update_total(values: &[u64]) {
    let mut total = TOTAL.lock();
    let sum: u64 = values.iter().map(|v| black_box(v.wrapping_mul(31))).sum();
    thread::sleep(Duration::from_millis(1)); // some slow work, still under the lock
    *total = total.wrapping_add(sum);
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("basic", "127.0.0.1:6060");
    let (profiler, addr) = args.start_profiler("basic");

    for worker in 0..2u64 {
        thread::spawn(move || {
            let values: Vec<u64> = (0..10_000).map(|v| v + worker).collect();
            loop {
                update_total(&values);
                thread::sleep(Duration::from_micros(500));
            }
        });
    }

    println!("basic: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/mutex   # update_total held the lock others waited for"
    );
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/block   # the waiters, waiting in update_total"
    );
    println!(
        "  curl -s http://{addr}/debug/stats                  # calls and time of update_total"
    );
    println!("  curl -s http://{addr}/metrics | grep -v _bucket     # the same, for Prometheus");
    println!(
        "  xdg-open http://{addr}/debug/pprof/                 # the index, with flame graphs"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    args.serve_until_done(profiler);
}
