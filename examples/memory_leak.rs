//! A service-like workload that leaks memory you can find with `go tool pprof`.
//!
//! ```text
//! cargo run --release --example memory_leak [-- --addr 127.0.0.1:6060] [--seconds N]
//! ```
//!
//! Handlers allocate and free buffers all the time (`handle_request`: lots of
//! allocation, nothing kept). One of them, `remember_session`, stores every session
//! in a map that is never pruned: the heap profile's `inuse_space` names it, while
//! `alloc_space` (the `allocs` profile) shows where the churn is.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use profiled::ProfiledAllocator;

// The one line that enables the heap profiles.
#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

/// Sessions by id; nothing ever removes them.
static SESSIONS: Mutex<Option<HashMap<u64, Vec<u8>>>> = Mutex::new(None);
/// A cache the reclaim hook can clear (`curl .../debug/gc`).
static RENDER_CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The culprit: keeps ~4 KiB per session forever.
#[inline(never)]
fn remember_session(id: u64) {
    let state = vec![(id % 251) as u8; 2048 + (id % 4096) as usize];
    SESSIONS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(id, state);
}

/// Allocation churn: builds and drops a response.
#[inline(never)]
fn handle_request(i: u64) -> usize {
    let mut body = Vec::new();
    for k in 0..64u64 {
        body.extend_from_slice(format!("item {k} of request {i}\n").as_bytes());
    }
    let words: Vec<String> = body
        .split(|&b| b == b' ')
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if i.is_multiple_of(100) {
        let mut cache = RENDER_CACHE.lock().unwrap();
        cache.push(body.clone());
        if cache.len() > 100 {
            cache.remove(0);
        }
    }
    words.len()
}

fn main() {
    let args = profiled_examples::DemoArgs::parse("memory_leak", "127.0.0.1:6060");
    let (profiler, addr) = args.start_profiler("memory_leak");
    profiled::register_reclaim_hook("render cache", || RENDER_CACHE.lock().unwrap().clear());

    for worker in 0..2u64 {
        thread::spawn(move || {
            let mut i = worker;
            loop {
                black_box(handle_request(i));
                // About 1 MB/s leaked in all: visible in seconds, not an OOM in minutes.
                if i.is_multiple_of(8) {
                    remember_session(i);
                }
                i += 2;
                thread::sleep(Duration::from_millis(1));
            }
        });
    }

    println!("memory_leak: serving profiles on http://{addr}/debug/pprof/");
    println!();
    println!("Try:");
    println!(
        "  go tool pprof -top -sample_index=inuse_space http://{addr}/debug/pprof/heap   # what is kept: remember_session"
    );
    println!(
        "  go tool pprof -top -sample_index=alloc_space http://{addr}/debug/pprof/allocs # what churns: handle_request"
    );
    println!(
        "  curl -s -o growth.pb.gz 'http://{addr}/debug/pprof/heap?seconds=10' && go tool pprof -top -sample_index=inuse_space growth.pb.gz   # growth over 10 s"
    );
    println!("  curl -s 'http://{addr}/debug/pprof/heap?debug=1' | head -20   # Go's legacy text");
    println!("  curl -s http://{addr}/debug/stats   # allocator counters, RSS");
    println!(
        "  curl -s http://{addr}/debug/freeOSMemory   # run reclaim hooks, malloc_trim, RSS before/after"
    );
    println!();
    println!("Press Ctrl-C to stop.");

    args.serve_until_done(profiler);
}
