//! 1,100 stalled connections (a symbol POST that promises 100 bytes and sends 3)
//! against the default cap of 128: normal clients are served all along, and the
//! server never holds more than the cap. When every open connection is busy
//! serving, a new one gets 503 at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use profiled::{Config, DEFAULT_MAX_CONNECTIONS, Profiler};
use profiled_tests::get;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Raises the soft descriptor limit so this process can hold 1,100 client sockets
/// as well as the server's; returns the new soft limit.
fn raise_nofile() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill, then to set.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max.min(4096);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

#[test]
fn normal_clients_are_served_while_1100_stalled_connections_are_attempted() {
    let soft = raise_nofile();
    let stalled_count = if soft >= 2048 {
        1100
    } else {
        (soft as usize / 2).min(1100)
    };
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let baseline = open_fds();
    let mut stalled = Vec::new();
    let mut served = 0;
    let mut slowest = Duration::ZERO;
    for i in 0..stalled_count {
        // Refused or reset connections still count as attempted.
        if let Ok(mut stream) = TcpStream::connect(addr) {
            let _ = stream.write_all(
                format!(
                    "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\n0x1"
                )
                .as_bytes(),
            );
            stalled.push(stream);
        }
        if i % 100 == 99 {
            let started = Instant::now();
            let metrics = get(addr, "/metrics");
            slowest = slowest.max(started.elapsed());
            assert_eq!(metrics.status, 200, "after {} stalled: {metrics:?}", i + 1);
            assert!(metrics.text().contains("# TYPE"), "{}", metrics.text());
            served += 1;
        }
    }
    // Let the server take in the last ones.
    std::thread::sleep(Duration::from_millis(500));
    let cmdline = get(addr, "/debug/pprof/cmdline");
    assert_eq!(cmdline.status, 200);
    assert!(cmdline.text().contains("harden_conn_cap"));
    // Descriptors: ours (the clients') plus the server's, which the cap bounds.
    let server_side = open_fds().saturating_sub(baseline + stalled.len());
    eprintln!(
        "{} stalled connections attempted, {} kept open by the client; server-side sockets: \
         {server_side}; {served} normal clients served, slowest {slowest:?}",
        stalled_count,
        stalled.len()
    );
    assert!(
        server_side <= DEFAULT_MAX_CONNECTIONS + 8,
        "the server holds {server_side} sockets, past the cap of {DEFAULT_MAX_CONNECTIONS}"
    );
    assert_eq!(served, stalled_count / 100);
    // Most stalled connections were closed by the server (evicted), not kept.
    let mut closed = 0;
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let mut byte = [0u8; 512];
        let open = matches!(
            stream.read(&mut byte),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        );
        if !open {
            closed += 1;
        }
    }
    assert!(
        closed >= stalled.len() - DEFAULT_MAX_CONNECTIONS - 8,
        "only {closed} of {} stalled connections were closed",
        stalled.len()
    );
}

#[test]
fn past_the_cap_with_every_connection_serving_a_new_one_gets_503_at_once() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        max_connections: 2,
        max_profile_seconds: 60,
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    // Two long requests: both connections are serving.
    let mut long = Vec::new();
    for path in [
        "/debug/pprof/mutex?seconds=30",
        "/debug/pprof/block?seconds=30",
    ] {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        long.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let refused = get(addr, "/debug/pprof/cmdline");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(
        refused.text().contains("too many connections"),
        "{}",
        refused.text()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(long);
    // Once the long requests are gone (their clients hung up), clients are served.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = get(addr, "/debug/pprof/cmdline");
        if response.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {response:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
