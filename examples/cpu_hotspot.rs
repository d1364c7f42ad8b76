//! A service-like workload with one CPU hotspot you can find with `go tool pprof`.
//!
//! ```text
//! cargo run --release --example cpu_hotspot [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! Worker threads "handle requests": parse, look up, render. One step,
//! `checksum_slowly`, recomputes a checksum byte by byte with a needless inner loop;
//! the CPU profile puts it on top.

use std::hint::black_box;
use std::thread;
use std::time::Duration;

/// Cheap: splits a request line.
#[inline(never)]
fn parse_request(i: u64) -> (u64, u64) {
    let line = black_box(format!("GET /items/{i} HTTP/1.1"));
    let id = line
        .split('/')
        .nth(2)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (id, line.len() as u64)
}

/// Cheap: a table lookup.
#[inline(never)]
fn lookup_item(table: &[u64], id: u64) -> u64 {
    table[(id as usize) % table.len()]
}

/// Moderate: builds the response body.
#[inline(never)]
fn render(item: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(4096);
    for k in 0..512u64 {
        body.extend_from_slice(&(item ^ k).to_le_bytes());
    }
    body
}

/// The culprit: an O(n * 64) checksum where O(n) would do.
#[inline(never)]
fn checksum_slowly(body: &[u8]) -> u64 {
    let mut sum = 0u64;
    for &byte in body {
        let mut b = u64::from(byte);
        let mut round = 0;
        // Shifts instead of `rotate_left`: no calls even in debug builds, so the
        // time is this function's own however the example is built.
        while round < 64 {
            #[allow(clippy::manual_rotate)]
            let rotated = (b << 3) | (b >> 61);
            b = rotated ^ 0x9e37_79b9;
            round += 1;
        }
        sum = sum.wrapping_add(b);
    }
    sum
}

#[inline(never)]
fn handle_request(table: &[u64], i: u64) -> u64 {
    let (id, len) = parse_request(i);
    let item = lookup_item(table, id);
    let body = render(item);
    checksum_slowly(&body) ^ len
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("cpu_hotspot", "127.0.0.1:6060");
    let (profiler, addr) = args.start_profiler("cpu_hotspot");

    for worker in 0..2u64 {
        thread::spawn(move || {
            let table: Vec<u64> = (0..1024).map(|k| k * 2654435761 + worker).collect();
            let mut i = worker;
            loop {
                black_box(handle_request(&table, i));
                i += 2;
                // Leave some CPU for the rest of the machine.
                if i.is_multiple_of(64) {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        });
    }

    println!("cpu_hotspot: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  go tool pprof -top 'http://{addr}/debug/pprof/profile?seconds=10'   # checksum_slowly on top"
    );
    println!(
        "  go tool pprof -list checksum_slowly 'http://{addr}/debug/pprof/profile?seconds=10'   # the hot lines"
    );
    println!(
        "  go tool pprof -http=:8080 'http://{addr}/debug/pprof/profile?seconds=10'   # flame graph in a browser"
    );
    println!("  curl -s http://{addr}/debug/stats   # CPU time, threads, settings");
    println!();
    println!("Press Ctrl-C to stop.");

    args.serve_until_done(profiler);
}
