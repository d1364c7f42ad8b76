//! The two-worker rows of `tokio_sync.rs` whose times drift, measured round-robin
//! instead of row after row: the convoy (8 tasks x 100k contended increments of one
//! mutex) and the bounded channel (200k messages through 64 slots). Each round runs
//! tokio's own type and then `profiled::tokio`'s with the block and mutex profiles
//! off, at the README's production settings and at rate 1; the medians over the
//! rounds are reported as ratios over tokio's. On a shared VM both workloads'
//! times drift by tens of percent over minutes (they are all hand-offs between
//! two workers), so rows measured minutes apart do not compare; rounds
//! interleaved within seconds do.
//!
//! Run: `cargo bench -p profiled --features tokio --bench tokio_convoy` (15 rounds,
//! about a minute); add `-- N` for N rounds.

use std::time::Duration;

#[path = "common/channel.rs"]
#[macro_use]
mod channel;
#[path = "common/convoy.rs"]
#[macro_use]
mod convoy;
#[path = "common/profiles.rs"]
mod profiles;
use profiles::{profiles_off, profiles_on, profiles_sampled};

/// A row: its name and the profile settings it runs at (`None`: tokio's own type).
type Row = (&'static str, Option<fn()>);

const ROWS: [Row; 4] = [
    ("tokio's own (baseline)", None),
    ("profiled, profiles off", Some(profiles_off)),
    ("profiled, production settings", Some(profiles_sampled)),
    ("profiled, both profiles at rate 1", Some(profiles_on)),
];

/// Prints one workload's medians as a table of ratios over the baseline row's.
fn report(workload: &str, rounds: usize, times: &mut [Vec<Duration>]) {
    let medians: Vec<Duration> = times.iter_mut().map(|row| median(row)).collect();
    println!("| {workload}, {rounds} rounds, medians | time | ratio |");
    println!("|---|---|---|");
    for ((name, _), time) in ROWS.iter().zip(&medians) {
        let ratio = time.as_secs_f64() / medians[0].as_secs_f64();
        println!(
            "| {name} | {:.1} ms | {ratio:.3}x |",
            time.as_secs_f64() * 1e3
        );
    }
    println!();
}

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
    let mut convoys = vec![Vec::with_capacity(rounds); ROWS.len()];
    let mut channels = vec![Vec::with_capacity(rounds); ROWS.len()];
    for _ in 0..rounds {
        for (((_, settings), convoy), transfer) in ROWS.iter().zip(&mut convoys).zip(&mut channels)
        {
            let (convoyed, transferred) = match settings {
                None => (
                    convoy!(runtime, tokio::sync::Mutex<u64>),
                    transfer!(runtime, tokio::sync::mpsc::channel),
                ),
                Some(apply) => {
                    apply();
                    (
                        convoy!(runtime, profiled::tokio::Mutex<u64>),
                        transfer!(runtime, profiled::tokio::mpsc::channel),
                    )
                }
            };
            convoy.push(convoyed);
            transfer.push(transferred);
        }
    }
    profiles_off();
    report("convoy, 8 tasks x 100k", rounds, &mut convoys);
    report("bounded channel, 200k messages", rounds, &mut channels);
}
