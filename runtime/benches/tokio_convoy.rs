//! The tokio convoy of `tokio_sync.rs` (8 tasks x 100k contended increments of one
//! mutex on 2 workers), measured round-robin instead of row after row: each round
//! runs tokio's own `Mutex` and then `profiled::tokio::Mutex` with the block and
//! mutex profiles off, at the README's production settings and at rate 1; the
//! medians over the rounds are reported as ratios over tokio's. On a shared VM the
//! convoy's time drifts by tens of percent over minutes (it is all hand-offs
//! between two workers), so rows measured minutes apart do not compare; rounds
//! interleaved within seconds do.
//!
//! Run: `cargo bench -p profiled --features tokio --bench tokio_convoy` (15 rounds,
//! about 40 s); add `-- N` for N rounds.

use std::time::Duration;

#[path = "common/convoy.rs"]
#[macro_use]
mod convoy;
#[path = "common/profiles.rs"]
mod profiles;
use profiles::{profiles_off, profiles_on, profiles_sampled};

/// A row: its name and the profile settings it runs at (`None`: tokio's own mutex).
type Row = (&'static str, Option<fn()>);

const ROWS: [Row; 4] = [
    ("tokio::sync::Mutex (baseline)", None),
    ("profiled, profiles off", Some(profiles_off)),
    ("profiled, production settings", Some(profiles_sampled)),
    ("profiled, both profiles at rate 1", Some(profiles_on)),
];

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; the first number, if any, is the round count.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<usize>().ok())
        .unwrap_or(15)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut times = vec![Vec::with_capacity(rounds); ROWS.len()];
    for _ in 0..rounds {
        for ((_, settings), row) in ROWS.iter().zip(&mut times) {
            let elapsed = match settings {
                None => convoy!(runtime, tokio::sync::Mutex<u64>),
                Some(apply) => {
                    apply();
                    convoy!(runtime, profiled::tokio::Mutex<u64>)
                }
            };
            row.push(elapsed);
        }
    }
    profiles_off();
    let medians: Vec<Duration> = times.iter_mut().map(|row| median(row)).collect();
    println!("| {rounds} rounds, medians | time | ratio |");
    println!("|---|---|---|");
    for ((name, _), time) in ROWS.iter().zip(&medians) {
        let ratio = time.as_secs_f64() / medians[0].as_secs_f64();
        println!(
            "| {name} | {:.1} ms | {ratio:.3}x |",
            time.as_secs_f64() * 1e3
        );
    }
}
