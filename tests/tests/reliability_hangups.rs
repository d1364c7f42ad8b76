//! Clients that hang up mid delta profile, mid trace and mid CPU profile: each
//! long request holds the only heavy-request permit (or the one CPU profiler) while
//! its client waits, and frees it within a second or two of the hang-up, so the
//! next client is served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{decode, get, long_requests, send, serve};

static SHARED: ProfiledMutex<u64> = profiled_mutex!("hangup-shared", 0);
static STOP: AtomicBool = AtomicBool::new(false);

/// Sends the `long` request and returns its open connection once `probe` is refused
/// with `busy`, i.e. once the long request holds what it needs (the heavy-request
/// permit, or the one CPU profiler).
///
/// Both go out on their own connections, so the server may take the probe first:
/// then the probe holds the resource and the long request is the one refused. When
/// the probe is served instead of refused, send the long request again.
fn take_server(
    addr: std::net::SocketAddr,
    long: &str,
    probe: &str,
    busy: u16,
) -> std::net::TcpStream {
    let started = Instant::now();
    loop {
        let client = send(addr, long);
        std::thread::sleep(Duration::from_millis(50));
        let response = get(addr, probe);
        if response.status == busy {
            return client;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the long request never took the server: {probe} answered {response:?}"
        );
    }
}

#[test]
fn each_hang_up_frees_the_server_for_the_next_client() {
    let (_profiler, addr) = serve(Config {
        max_concurrent_heavy_requests: 1,
        max_profile_seconds: 60,
        ..Config::default()
    });
    // Some contention, so the profiles that follow have something in them.
    let worker = std::thread::spawn(|| {
        while !STOP.load(Ordering::Relaxed) {
            *SHARED.lock() += 1;
        }
    });

    // The first CPU profile of a process loads symbol tables (seconds in a debug
    // build); take that cost here, not while a client waits.
    assert_eq!(get(addr, "/debug/pprof/profile?seconds=1").status, 200);

    for (long, probe, busy) in long_requests(&["mutex", "block", "goroutine", "trace"], 30) {
        let client = take_server(addr, &long, probe, busy);

        drop(client);
        let hung_up = Instant::now();
        let (next, freed_after) = loop {
            let asked = hung_up.elapsed();
            let response = get(addr, probe);
            if response.status != busy {
                break (response, asked);
            }
            assert!(
                hung_up.elapsed() < Duration::from_secs(2),
                "{long}: still busy {:?} after the client hung up",
                hung_up.elapsed()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        eprintln!("{long}: free again {freed_after:?} after the hang-up");
        assert_eq!(next.status, 200, "{long}: {next:?}");
        decode(&next.body);
    }
    // Nothing was left running: no CPU profile, and the server still answers.
    assert!(!profiled::stats().process.cpu_profile_running);
    assert_eq!(get(addr, "/debug/pprof/").status, 200);
    STOP.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
