//! Symbolizer comparison in one run: profiled's compact symbolizer (addr2line over
//! only the DWARF units the addresses need, released when idle, bounded address
//! cache) against the `backtrace`
//! crate's resolver it replaced, on the same 10,000 distinct addresses of this
//! binary, cold (every cache dropped first) and warm (the same addresses again).
//! Rounds alternate which goes first; medians are reported, with the heap bytes the
//! symbolizer holds afterwards (`/debug/stats` `self.symbolizer_bytes`).
//!
//! Run: `cargo bench -p profiled --bench symbolize` (prints a markdown table).

use std::time::{Duration, Instant};

use object::{Object, ObjectSymbol};
use profiled::ProfiledAllocator;

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

const ADDRESSES: usize = 10_000;
const ROUNDS: usize = 5;

/// Distinct return addresses inside this binary's functions (from its symbol table).
fn addresses() -> Vec<usize> {
    let data = std::fs::read("/proc/self/exe").expect("read /proc/self/exe");
    let file = object::File::parse(&*data).expect("parse this binary");
    let anchor = addresses as *const () as usize;
    let own = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n.contains("9symbolize9addresses")))
        .expect("this function in the symbol table");
    let bias = anchor - own.address() as usize;
    let mut functions: Vec<(usize, usize)> = file
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 16)
        .map(|s| (s.address() as usize, s.size() as usize))
        .collect();
    functions.sort_unstable();
    functions.dedup();
    let mut out = Vec::with_capacity(ADDRESSES);
    let mut k = 0;
    while out.len() < ADDRESSES {
        for &(start, size) in &functions {
            out.push(bias + start + 1 + (k * 7) % (size - 1));
        }
        k += 1;
        out.sort_unstable();
        out.dedup();
    }
    out.truncate(ADDRESSES);
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let addresses = addresses();
    let mut times = [
        [Vec::new(), Vec::new(), Vec::new()],
        [Vec::new(), Vec::new(), Vec::new()],
    ];
    let mut held = [0u64; 2];
    let mut lines = [0usize; 2];
    for round in 0..ROUNDS {
        for pick in 0..2 {
            let which = (round + pick) % 2; // 0 = backtrace, 1 = profiled
            let baseline = which == 0;
            let start = Instant::now();
            lines[which] = profiled::__bench::symbolize(&addresses, baseline, true);
            times[which][0].push(start.elapsed());
            let start = Instant::now();
            profiled::__bench::symbolize(&addresses, baseline, false);
            times[which][1].push(start.elapsed());
            // Again after the index was released (the unit tables kept), as the
            // next profile of a continuously profiled service finds it; the
            // baseline has no such state: its row is its cold run.
            if !baseline {
                profiled::__bench::symbolizer_forget_addresses();
                let start = Instant::now();
                profiled::__bench::symbolize(&addresses, false, false);
                times[1][2].push(start.elapsed());
            }
            held[which] = profiled::stats().own.symbolizer_bytes;
        }
    }
    // The compact symbolizer drops its index when idle: what stays is the cache.
    std::thread::sleep(Duration::from_secs(3));
    let idle = profiled::stats().own;
    println!("| {ADDRESSES} distinct addresses | backtrace (before) | profiled (now) | ratio |");
    println!("|---|---|---|---|");
    times[0][2] = times[0][0].clone();
    for (row, name) in ["cold", "warm", "after a release (unit tables kept)"]
        .iter()
        .enumerate()
    {
        let old = median(times[0][row].clone());
        let new = median(times[1][row].clone());
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.2}x |",
            old.as_secs_f64() * 1e3,
            new.as_secs_f64() * 1e3,
            new.as_secs_f64() / old.as_secs_f64()
        );
    }
    println!(
        "| lines found | {} | {} | |\n| heap held right after | {:.1} MiB | {:.1} MiB | |\n| heap held 3 s later | (kept) | {:.1} MiB (cache {:.1} MiB, index loaded: {}) | |",
        lines[0],
        lines[1],
        held[0] as f64 / 1048576.0,
        held[1] as f64 / 1048576.0,
        idle.symbolizer_bytes as f64 / 1048576.0,
        idle.symbolizer_cache_bytes as f64 / 1048576.0,
        idle.symbolizer_index_loaded,
    );
}
