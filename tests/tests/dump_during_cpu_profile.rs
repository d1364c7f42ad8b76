//! Thread dumps while a CPU profile samples at its highest rate. A SIGPROF that
//! arrives while a thread runs the dump handler used to nest on the handler's small
//! alternate signal stack and overflow it (a segfault); the dump handler now blocks
//! other asynchronous signals while it runs.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn busy() {
    let mut x = 1u64;
    while !STOP.load(Ordering::Relaxed) {
        for _ in 0..1000 {
            x = black_box(x.rotate_left(7) ^ 0x9e37_79b9);
        }
    }
}

#[test]
fn dumps_survive_a_cpu_profile_at_1000_hz() {
    let workers: Vec<_> = (0..4).map(|_| thread::spawn(busy)).collect();
    let session = profiled::__bench::start_cpu_profile(profiled::MAX_CPU_PROFILE_HZ)
        .expect("no other CPU profile runs in this process");
    let started = Instant::now();
    let mut dumps = 0;
    while started.elapsed() < Duration::from_secs(8) {
        let (listed, with_stack, _) = profiled::__bench::thread_dump_summary();
        assert!(listed >= 5, "{listed} threads listed");
        assert!(with_stack >= 1);
        dumps += 1;
    }
    drop(session);
    STOP.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    eprintln!("{dumps} dumps during a 1000 Hz CPU profile");
}
