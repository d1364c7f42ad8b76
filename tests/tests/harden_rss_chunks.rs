//! Symbol bodies sent as one-byte chunks: each frame is copied into one buffer of
//! at most the 1 MiB body limit, so a request costs at most about twice the limit
//! (it cost 43 MiB before: every one-byte frame kept hyper's read buffer alive).
//! Eight such bodies stalled before their last chunk are held within the budget,
//! then answered 408 by the body timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::rss_kib;

/// `n` one-byte chunks of `+`, without the last (zero) chunk.
fn one_byte_chunks(n: usize) -> Vec<u8> {
    b"1\r\n+\r\n".repeat(n)
}

/// Bytes per body: a quarter of the limit, so that a debug build parses the
/// chunks of all eight well within the 10 s body timeout.
const BODY: usize = 256 << 10;

#[test]
fn one_byte_chunks_cost_at_most_twice_the_body_limit_per_request() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let chunks = one_byte_chunks(BODY);
    let baseline = rss_kib("self");
    let clients = 8;
    let started = Instant::now();
    let mut streams: Vec<TcpStream> = (0..clients)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .unwrap();
            stream
        })
        .collect();
    // Send every body (but its end) from threads, all at once.
    let senders: Vec<_> = streams
        .iter()
        .map(|stream| {
            let mut stream = stream.try_clone().unwrap();
            let chunks = chunks.clone();
            std::thread::spawn(move || stream.write_all(&chunks).is_ok())
        })
        .collect();
    let mut peak = baseline;
    for sender in senders {
        while !sender.is_finished() {
            peak = peak.max(rss_kib("self"));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sender.join().unwrap(),
            "the server closed before the body's end"
        );
    }
    // The server has (nearly) everything; it holds the bodies until the timeout.
    for _ in 0..20 {
        peak = peak.max(rss_kib("self"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = started.elapsed();
    let grown_kib = peak.saturating_sub(baseline);
    eprintln!(
        "{clients} bodies of {BODY} bytes in one-byte chunks, sent in {sent:?}: RSS peak +{grown_kib} KiB"
    );
    // Per request at most twice the body, plus this test's own chunks (6 bytes per
    // body byte, one copy per sender) and 8 MiB of slack. Before: 43 bytes of RSS
    // per body byte (+88 MiB here).
    let bound_kib = (clients * (2 * BODY + 6 * BODY) / 1024 + 8 * 1024) as u64;
    assert!(
        grown_kib < bound_kib,
        "RSS grew by {grown_kib} KiB, bound {bound_kib} KiB"
    );
    // Stalled before the last chunk: 408 within the body timeout.
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
