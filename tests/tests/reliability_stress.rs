//! 60 s of CPU profiles, heap and allocs profiles and thread dumps, all at once,
//! under a 2-thread allocation-heavy load with heap sampling at a high rate: every
//! request answers correctly and in time, nothing deadlocks (the allocator, the
//! signal handlers, the CPU sampler and the encoders all meet here), and the
//! allocating threads keep going.

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

const RUN: Duration = Duration::from_secs(60);
/// A request that takes longer than this counts as stuck.
const STUCK: Duration = Duration::from_secs(30);

static STOP: AtomicBool = AtomicBool::new(false);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

/// Allocates and frees vectors of 16..4096 bytes, keeping a window of 256 alive.
#[inline(never)]
fn churn(seed: u64) {
    let mut kept: Vec<Vec<u8>> = (0..256).map(|_| Vec::new()).collect();
    let mut x = seed | 1;
    let mut bytes = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        for _ in 0..1024 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 16 + (x % 4081) as usize;
            kept[(x >> 20) as usize % 256] = black_box(vec![x as u8; len]);
            bytes += len as u64;
        }
        ALLOCATED.fetch_add(bytes, Ordering::Relaxed);
        bytes = 0;
    }
}

#[test]
fn cpu_heap_and_dumps_together_under_allocation_load() {
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: 4096,
        max_concurrent_heavy_requests: 8,
        ..Config::default()
    });
    let workers: Vec<_> = (0..2u64)
        .map(|seed| thread::spawn(move || churn(0x9e37_79b9 + seed)))
        .collect();

    let started = Instant::now();
    let failures = Mutex::new(Vec::<String>::new());
    // (client, requests served, slowest request)
    let served = Mutex::new(Vec::new());
    let clients: [(&str, &[&str]); 3] = [
        ("cpu", &["/debug/pprof/profile?seconds=2"]),
        (
            "heap",
            &[
                "/debug/pprof/heap",
                "/debug/pprof/allocs",
                "/debug/pprof/heap?debug=1",
                "/debug/pprof/heap?seconds=1",
                "/debug/pprof/heap?gc=1",
            ],
        ),
        (
            "dumps",
            &[
                "/debug/pprof/goroutine?debug=2",
                "/debug/pprof/goroutine",
                "/debug/pprof/goroutine?debug=1",
                "/debug/pprof/threadcreate",
            ],
        ),
    ];
    thread::scope(|scope| {
        for (name, paths) in clients {
            let (failures, served) = (&failures, &served);
            scope.spawn(move || {
                let mut count = 0usize;
                let mut slowest = Duration::ZERO;
                while started.elapsed() < RUN {
                    let path = paths[count % paths.len()];
                    let asked = Instant::now();
                    let response = get(addr, path);
                    let took = asked.elapsed();
                    slowest = slowest.max(took);
                    count += 1;
                    let problem = if response.status != 200 {
                        Some(format!("status {}: {}", response.status, response.text()))
                    } else if took > STUCK {
                        Some(format!("took {took:?}"))
                    } else if path.contains("debug=") {
                        response.body.is_empty().then(|| "empty".to_owned())
                    } else {
                        std::panic::catch_unwind(|| decode(&response.body))
                            .is_err()
                            .then(|| "not a pprof profile".to_owned())
                    };
                    if let Some(problem) = problem {
                        failures.lock().unwrap().push(format!("{path}: {problem}"));
                    }
                }
                served.lock().unwrap().push((name, count, slowest));
            });
        }
        // The allocating threads must keep going throughout: a deadlock in the
        // allocator or a signal handler would stop them.
        scope.spawn(|| {
            let mut last = ALLOCATED.load(Ordering::Relaxed);
            while started.elapsed() < RUN {
                thread::sleep(Duration::from_secs(5));
                let now = ALLOCATED.load(Ordering::Relaxed);
                if now == last {
                    failures.lock().unwrap().push(format!(
                        "allocating threads stalled at {:?}",
                        started.elapsed()
                    ));
                }
                last = now;
            }
        });
    });
    STOP.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }

    let served = served.into_inner().unwrap();
    eprintln!(
        "in {:?}: {served:?}; {} MiB allocated",
        started.elapsed(),
        ALLOCATED.load(Ordering::Relaxed) >> 20
    );
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    for (name, count, _) in &served {
        assert!(*count >= 10, "{name} served only {count} requests");
    }
    let stats = profiled::stats();
    assert!(stats.memory.sampled_allocs > 1000, "{:?}", stats.memory);
    assert!(!stats.process.cpu_profile_running);
}
