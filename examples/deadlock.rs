//! Two tellers move money between the same two accounts, each locking the account
//! it takes from first: sooner or later each holds one account and waits for the
//! other, forever. An auditor that wants to read the books then waits behind them.
//!
//! ```text
//! cargo run --release --example deadlock [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! `goroutineleak?debug=2` prints the cycle (who holds which lock, who waits for
//! which), `goroutine?debug=2` says under each stuck thread what it waits for and
//! who holds it, `/metrics` has `profiled_deadlocked_threads 3`, and the background
//! check (on here: `Config::deadlock_check_interval`) prints the deadlock once on
//! stderr through `profiled::deadlock::on_deadlock`.

use std::thread;
use std::time::Duration;

use profiled::{ProfiledMutex, profiled, profiled_mutex};

/// Balances in cents.
static CHECKING: ProfiledMutex<i64> = profiled_mutex!("checking", 10_000);
static SAVINGS: ProfiledMutex<i64> = profiled_mutex!("savings", 50_000);

/// Moves `cents` from one account to the other, locking `from` first: the bug. (Lock
/// both in one fixed order, whichever way the money goes, and it cannot deadlock.)
#[profiled]
fn transfer(from: &ProfiledMutex<i64>, to: &ProfiledMutex<i64>, cents: i64) {
    let mut from = from.lock();
    thread::sleep(Duration::from_millis(5)); // checks the balance, slowly
    let mut to = to.lock();
    *from -= cents;
    *to += cents;
}

/// Sums both accounts every second, one lock at a time (so it can never be part of
/// a cycle); stuck behind the tellers once they deadlock.
#[profiled]
fn audit() -> i64 {
    let checking = *CHECKING.lock();
    checking + *SAVINGS.lock()
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("deadlock", "127.0.0.1:6060");
    profiled::deadlock::on_deadlock(|deadlock| eprintln!("deadlock: found\n{deadlock}"));
    let (profiler, addr) = args.start_profiler_with("deadlock", |config| profiled::Config {
        deadlock_check_interval: Some(Duration::from_secs(1)),
        ..config
    });

    let teller =
        |name: &str, from: &'static ProfiledMutex<i64>, to: &'static ProfiledMutex<i64>| {
            thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    loop {
                        transfer(from, to, 100);
                        thread::sleep(Duration::from_millis(1));
                    }
                })
                .expect("spawn a teller")
        };
    teller("to-savings", &CHECKING, &SAVINGS);
    teller("to-checking", &SAVINGS, &CHECKING);
    thread::Builder::new()
        .name("auditor".into())
        .spawn(|| {
            loop {
                std::hint::black_box(audit());
                thread::sleep(Duration::from_secs(1));
            }
        })
        .expect("spawn the auditor");

    println!("deadlock: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("The two tellers deadlock within a second or so. Try:");
    println!(
        "  curl -s 'http://{addr}/debug/pprof/goroutineleak?debug=2'   # the cycle: who holds what, who waits for what"
    );
    println!(
        "  curl -s 'http://{addr}/debug/pprof/goroutine?debug=2' | grep -B1 -A1 waiting   # each stuck thread's wait"
    );
    println!(
        "  go tool pprof -top http://{addr}/debug/pprof/goroutineleak   # where they are stuck"
    );
    println!("  curl -s http://{addr}/metrics | grep deadlocked   # profiled_deadlocked_threads 3");
    println!();
    println!("Press Ctrl-C to stop.");

    args.serve_until_done(profiler);
}
