//! The registry never grows: with room for 16 stacks, contention from 40 distinct
//! stacks keeps at most 16 and reports the rest as dropped in the profile.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use profiled::{Config, ProfiledMutex};
use profiled_tests::{decode, get, serve};

/// Waits for `lock` from a stack `depth` frames deeper than its caller, so every
/// depth is a distinct stack.
#[inline(never)]
fn wait_at_depth(lock: &ProfiledMutex<()>, depth: usize) {
    if depth == 0 {
        drop(lock.lock());
    } else {
        wait_at_depth(lock, depth - 1);
    }
    std::hint::black_box(depth);
}

#[test]
fn full_registry_drops_and_reports() {
    let (_profiler, addr) = serve(Config {
        max_stacks: 16,
        ..Config::default()
    });

    let lock = Arc::new(ProfiledMutex::new(()));
    for depth in 0..40 {
        let ready = Arc::new(Barrier::new(2));
        let waiter = {
            let (lock, ready) = (Arc::clone(&lock), Arc::clone(&ready));
            thread::spawn(move || {
                ready.wait();
                thread::sleep(Duration::from_millis(1));
                wait_at_depth(&lock, depth);
            })
        };
        let guard = lock.lock();
        ready.wait();
        thread::sleep(Duration::from_millis(5));
        drop(guard);
        waiter.join().unwrap();
    }

    let block = decode(&get(addr, "/debug/pprof/block").body);
    assert!(block.sample.len() <= 16, "{} samples", block.sample.len());
    let comments: Vec<&str> = block
        .comment
        .iter()
        .map(|&i| block.string_table[i as usize].as_str())
        .collect();
    assert!(
        comments
            .iter()
            .any(|c| c.contains("events dropped: stack table full")),
        "{comments:?}"
    );
    let text = get(addr, "/debug/pprof/block?debug=1").text();
    assert!(text.contains("# profiled: "), "{text}");
}
