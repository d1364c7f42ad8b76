//! Hang-up evasion: a client of a long request (delta profile, trace, CPU profile
//! with seconds=600) that trickles a byte, or sends extra bytes and closes, loses
//! its request within 1 s of that first byte or its close, and the permit (or the
//! CPU profiler) is free for the next client.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::{get, long_requests};

/// Starts `path` and waits until it holds what it needs (`probe` answers `busy`).
fn take(addr: SocketAddr, path: &str, probe: &str, busy: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        if get(addr, probe).status == busy {
            return stream;
        }
        assert!(Instant::now() < deadline, "{path} never took the server");
    }
}

/// Reads the answer to the aborted request; returns it and how long it took.
fn answer_after(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut data = Vec::new();
    let _ = stream.read_to_end(&mut data);
    (String::from_utf8_lossy(&data).into_owned(), since.elapsed())
}

#[test]
fn a_trickling_or_closing_client_loses_its_long_request_within_a_second() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        max_concurrent_heavy_requests: 1,
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    // The first CPU profile loads symbol tables: not while a client waits.
    assert_eq!(get(addr, "/debug/pprof/profile?seconds=1").status, 200);
    let mut slowest = Duration::ZERO;
    for (long, probe, busy) in long_requests(&["mutex", "goroutine", "trace"], 600) {
        for close in [false, true] {
            let mut client = take(addr, &long, probe, busy);
            let sent = Instant::now();
            if close {
                // Extra bytes, then close the sending side.
                client.write_all(b"GET / HTTP/1.1\r\n\r\nextra").unwrap();
                client.shutdown(Shutdown::Write).unwrap();
            } else {
                // One byte, then silence (a trickle).
                client.write_all(b"x").unwrap();
            }
            let (answer, after) = answer_after(&mut client, sent);
            assert!(answer.starts_with("HTTP/1.1 400"), "{long}: {answer}");
            assert!(answer.contains("client hung up"), "{long}: {answer}");
            assert!(
                after < Duration::from_secs(1),
                "{long} (close: {close}) ended after {after:?}"
            );
            slowest = slowest.max(after);
            // What it held is free again (the CPU sampler may take a moment to stop).
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                let next = get(addr, probe);
                if next.status != busy {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{long}: the next request was refused: {next:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    eprintln!("8 long requests lost, slowest {slowest:?} after the client's byte or close");
}
