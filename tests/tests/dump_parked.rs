//! Dumps of 100 parked threads: every one answers with its stack. Prints the median
//! and worst capture latency, to set against `dump_stress` (100 *runnable* threads on
//! 2 cores, where a signalled thread waits for its time slice); asserts nothing about
//! time.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const PARKED: usize = 100;
const DUMPS: usize = 50;

#[inline(never)]
fn parked_until_told(stop: mpsc::Receiver<()>) {
    let _ = stop.recv();
}

#[test]
fn dumps_of_parked_threads_are_complete() {
    let (senders, threads): (Vec<_>, Vec<_>) = (0..PARKED)
        .map(|_| {
            let (tx, rx) = mpsc::channel();
            (tx, thread::spawn(move || parked_until_told(rx)))
        })
        .unzip();
    thread::sleep(Duration::from_millis(200));

    let mut latencies = Vec::new();
    for _ in 0..DUMPS {
        let (listed, with_stack, elapsed) = profiled::__bench::thread_dump_summary();
        assert!(listed > PARKED, "{listed} threads listed");
        assert_eq!(with_stack, listed, "every parked thread answers");
        latencies.push(elapsed);
    }
    latencies.sort();
    eprintln!(
        "dumps of {} threads ({PARKED} parked): median {:?}, worst {:?}",
        PARKED + 1,
        latencies[DUMPS / 2],
        latencies[DUMPS - 1]
    );

    drop(senders);
    for thread in threads {
        thread.join().unwrap();
    }
}
