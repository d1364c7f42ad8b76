//! 100 clients POST 1 MiB of addresses to `symbol` and never read the ~6 MB
//! answers. The symbol endpoint holds at most its 16 MiB memory budget (bodies
//! being read plus answers not yet written), so resident memory stays bounded
//! (it grew by 664 MiB before the budget); the rest wait for budget or get 503.
//! Afterwards, once the write timeout has closed the non-readers, the endpoint
//! serves again.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use profiled::{Config, Profiler};
use profiled_tests::{get, rss_kib};

#[inline(never)]
fn a_function_whose_name_makes_each_answer_line_long_enough_to_matter() -> u64 {
    std::hint::black_box(11)
}

#[test]
fn clients_that_never_read_large_answers_cost_a_bounded_amount_of_memory() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let pc =
        a_function_whose_name_makes_each_answer_line_long_enough_to_matter as *const () as usize;
    let word = format!("{pc:#x}+");
    let body = word.repeat((1 << 20) / word.len());
    let request = Arc::new(
        format!(
            "POST /debug/pprof/symbol HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    drop(body);
    // One warm-up lookup (symbol tables), then the baseline.
    assert!(
        get(addr, &format!("/debug/pprof/symbol?{pc:#x}"))
            .text()
            .contains("a_function_whose_name")
    );
    let baseline = rss_kib("self");
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib("self"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let request = Arc::clone(&request);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                let _ = stream.write_all(&request);
                // Never read; hold the connection past the write timeout.
                std::thread::sleep(Duration::from_secs(25));
                drop(stream);
            })
        })
        .collect();
    let started = Instant::now();
    for client in clients {
        client.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let grown_mib = peak.load(Ordering::Relaxed).saturating_sub(baseline) / 1024;
    eprintln!(
        "100 non-reading symbol clients over {:?}: RSS peak +{grown_mib} MiB over a {} MiB baseline",
        started.elapsed(),
        baseline / 1024
    );
    // The 16 MiB budget, hyper's buffers for 100 connections, this test's own
    // 1 MiB request, and what malloc keeps of freed answers in each thread's arena
    // (peaks measured: +34 to +62 MiB; +664 MiB before the budget).
    assert!(grown_mib < 96, "RSS grew by {grown_mib} MiB");
    let again = get(addr, &format!("/debug/pprof/symbol?{pc:#x}"));
    assert_eq!(again.status, 200);
    assert!(
        again.text().contains("a_function_whose_name"),
        "{}",
        again.text()
    );
}
