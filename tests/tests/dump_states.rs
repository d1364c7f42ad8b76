//! States in dumps are true: 64 threads parked on a channel, dumped 200 times
//! through `goroutine?debug=2`: none is ever reported `running` (the dump signal
//! makes a thread run its handler; its state is read before the signal), and no
//! thread but the profiler's and this test's is.

use std::sync::mpsc;
use std::time::Duration;

use profiled::Config;
use profiled_tests::{get, serve};

const PARKED: usize = 64;
const DUMPS: usize = 200;

#[inline(never)]
fn parked_on_a_channel(stop: mpsc::Receiver<()>) {
    let _ = stop.recv();
}

#[test]
fn parked_threads_are_never_reported_running() {
    let (_profiler, addr) = serve(Config::default());
    let senders: Vec<_> = (0..PARKED)
        .map(|i| {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name(format!("parked-{i}"))
                .spawn(move || parked_on_a_channel(rx))
                .unwrap();
            tx
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut others_running = Vec::new();
    for round in 0..DUMPS {
        let dump = get(addr, "/debug/pprof/goroutine?debug=2").text();
        let headers: Vec<&str> = dump
            .lines()
            .filter(|l| l.starts_with("goroutine "))
            .collect();
        let parked: Vec<&&str> = headers.iter().filter(|h| h.contains("\"parked-")).collect();
        assert_eq!(parked.len(), PARKED, "round {round}:\n{dump}");
        let running: Vec<&&&str> = parked.iter().filter(|h| h.contains("[running")).collect();
        assert!(running.is_empty(), "round {round}: {running:?}");
        // The first block is the thread serving the dump. Besides it, only threads
        // that really run may be `running`: the profiler's others (the server's I/O
        // thread writes the previous response meanwhile; the symbolizer's reaper
        // wakes each second and takes the index lock the dumps' symbolization holds:
        // seen running once in a clean-clone run) and this test's own.
        others_running.extend(
            headers
                .iter()
                .skip(1)
                .filter(|h| h.contains("[running"))
                .filter(|h| !h.contains("\"profiled-") && !h.contains("parked_threads"))
                .map(|h| h.to_string()),
        );
    }
    drop(senders);
    assert!(
        others_running.is_empty(),
        "threads reported running besides the profiler's: {others_running:?}"
    );
}
