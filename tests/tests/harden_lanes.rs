//! Cheap endpoints never queue behind heavy ones: while 60 clients POST 1 MiB of
//! addresses to `symbol` at once (each lookup takes a heavy permit), `/metrics`,
//! `/debug/stats`, the index and `cmdline` each answer within 1 s (it took 15.7 s
//! when everything shared one pool).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::get;

#[inline(never)]
fn looked_up_by_sixty_clients() -> u64 {
    std::hint::black_box(3)
}

#[test]
fn cheap_endpoints_answer_within_a_second_while_60_symbol_requests_run() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let pc = looked_up_by_sixty_clients as *const () as usize;
    // Warm the symbolizer and the metrics registry.
    assert!(
        get(addr, &format!("/debug/pprof/symbol?{pc:#x}"))
            .text()
            .contains("looked_up_by")
    );
    assert_eq!(get(addr, "/metrics").status, 200);
    let word = format!("{pc:#x}+");
    let body = word.repeat((1 << 20) / word.len());
    let request = Arc::new(
        format!(
            "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    let heavy: Vec<_> = (0..60)
        .map(|_| {
            let request = Arc::clone(&request);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .unwrap();
                let _ = stream.write_all(&request);
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                // 200 with names, or 503 when the symbol budget is spent.
                String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while heavy.iter().any(|h| !h.is_finished()) && probes < 40 {
        for path in [
            "/metrics",
            "/debug/stats",
            "/debug/pprof/",
            "/debug/pprof/cmdline",
        ] {
            let started = Instant::now();
            let response = get(addr, path);
            let took = started.elapsed();
            assert_eq!(response.status, 200, "{path}: {response:?}");
            assert!(!response.body.is_empty(), "{path}");
            assert!(
                took < Duration::from_secs(1),
                "{path} took {took:?} behind the symbol requests"
            );
            if took > slowest {
                eprintln!("{path}: {took:?}");
            }
            slowest = slowest.max(took);
            probes += 1;
        }
    }
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for h in heavy {
        *statuses.entry(h.join().unwrap()).or_default() += 1;
    }
    eprintln!(
        "{probes} cheap requests during 60 symbol requests, slowest {slowest:?}; symbol answers: {statuses:?}"
    );
    assert!(probes >= 4, "the symbol requests ended before any probe");
    assert!(
        statuses
            .keys()
            .all(|s| s == "HTTP/1.1 200" || s == "HTTP/1.1 503"),
        "{statuses:?}"
    );
    assert!(
        statuses.get("HTTP/1.1 200").copied().unwrap_or(0) > 0,
        "{statuses:?}"
    );
}
