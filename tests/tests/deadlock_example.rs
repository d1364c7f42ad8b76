//! The `deadlock` example does what the README says: its tellers deadlock, and
//! `goroutineleak` shows the cycle of two and the auditor behind it, by function and
//! lock name; `/metrics` counts 3.

use std::time::{Duration, Instant};

use profiled_tests::{get, start_example_for};

#[test]
fn the_deadlock_example_deadlocks_and_says_so() {
    let Some(example) = start_example_for("deadlock", 60, &[]) else {
        return;
    };
    let addr = example.addr;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = get(addr, "/debug/pprof/goroutineleak?debug=1").text();
        if text.starts_with("goroutineleak profile: total 3\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        text.starts_with("goroutineleak profile: total 3\n"),
        "{text}"
    );
    let dump = get(addr, "/debug/pprof/goroutineleak?debug=2").text();
    for wanted in [
        "deadlock: 2 goroutines in a wait-for cycle",
        "[thread \"to-savings\"] holds lock \"checking\"",
        "[thread \"to-checking\"] holds lock \"savings\"",
        "behind: goroutine",
        "[thread \"auditor\"] waits",
        "deadlock::transfer",
        "deadlock::audit",
    ] {
        assert!(dump.contains(wanted), "{wanted:?} not in\n{dump}");
    }
    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "profiled_deadlocked_threads 3"),
        "{metrics}"
    );
}
