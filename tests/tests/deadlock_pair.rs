//! Two threads take named locks `a` then `b` and `b` then `a`, and deadlock. The
//! `goroutineleak` profile counts both (`debug=1`), `debug=2` names both locks, both
//! functions and who holds what, `go tool pprof -raw` reads `debug=0` without a
//! warning, `/metrics` shows 2, `/debug/stats` 1 cycle, and the goroutine dump says
//! what each waits for and holds. Its own process: the deadlock stays to the end.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{get, get_until, go_tool_pprof, pprof_complaints, serve, tool_binary};

static A: ProfiledMutex<u64> = profiled_mutex!("a", 0);
static B: ProfiledMutex<u64> = profiled_mutex!("b", 0);
static BOTH_HOLD: Barrier = Barrier::new(2);

#[inline(never)]
fn takes_a_then_b() {
    let _a = A.lock();
    BOTH_HOLD.wait();
    *B.lock() += 1;
}

#[inline(never)]
fn takes_b_then_a() {
    let _b = B.lock();
    BOTH_HOLD.wait();
    *A.lock() += 1;
}

#[test]
fn a_deadlock_of_two_threads_is_reported_everywhere() {
    let (_profiler, addr) = serve(Config::default());
    let first = std::thread::Builder::new()
        .name("a-then-b".into())
        .spawn(takes_a_then_b)
        .unwrap();
    let second = std::thread::Builder::new()
        .name("b-then-a".into())
        .spawn(takes_b_then_a)
        .unwrap();
    let (first_tid, second_tid) = (tid_of("a-then-b"), tid_of("b-then-a"));

    let text = get_until(addr, "/debug/pprof/goroutineleak?debug=1", |body| {
        body.starts_with("goroutineleak profile: total 2\n")
    });
    assert!(
        text.starts_with("goroutineleak profile: total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("takes_a_then_b") && text.contains("takes_b_then_a"),
        "{text}"
    );

    let dump = get(addr, "/debug/pprof/goroutineleak?debug=2").text();
    assert!(
        dump.contains("deadlock: 2 goroutines in a wait-for cycle"),
        "{dump}"
    );
    // Both members, each with the lock it holds and the lock it waits for.
    for (tid, name, holds, waits, function, owner, owner_name) in [
        (
            first_tid,
            "a-then-b",
            "a",
            "b",
            "takes_a_then_b",
            second_tid,
            "b-then-a",
        ),
        (
            second_tid,
            "b-then-a",
            "b",
            "a",
            "takes_b_then_a",
            first_tid,
            "a-then-b",
        ),
    ] {
        let block = dump
            .split("\n\n")
            .find(|block| block.starts_with(&format!("goroutine {tid} [")))
            .unwrap_or_else(|| panic!("no block for {name} ({tid}) in\n{dump}"));
        assert!(block.contains(&format!("thread \"{name}\"")), "{block}");
        assert!(block.contains(function), "{block}");
        let waiting = format!(
            "for lock \"{waits}\" (tests/tests/deadlock_pair.rs:{}) held by goroutine {owner} [thread \"{owner_name}\"]",
            if waits == "a" { 13 } else { 14 }
        );
        assert!(block.contains(&waiting), "{waiting:?} not in\n{block}");
        assert!(
            block.contains(&format!("holding lock \"{holds}\"")),
            "{block}"
        );
        assert!(block.contains(", 1 waiting"), "{block}");
        // Each finding line names the member, the lock it holds and the one it waits for.
        let line = dump
            .lines()
            .find(|line| line.starts_with(&format!("#   goroutine {tid} ")))
            .unwrap_or_else(|| panic!("no finding line for {tid} in\n{dump}"));
        assert!(line.contains(&format!("holds lock \"{holds}\"")), "{line}");
        assert!(line.contains(&format!("for lock \"{waits}\"")), "{line}");
    }

    // The goroutine dump says the same under each thread's header.
    let goroutines = get(addr, "/debug/pprof/goroutine?debug=2").text();
    let header = format!("goroutine {first_tid} [");
    let block = goroutines
        .split("\n\n")
        .find(|block| block.starts_with(&header))
        .unwrap();
    let mut lines = block.lines();
    lines.next();
    let next = lines.next().unwrap();
    assert!(
        next.starts_with("waiting ") && next.contains("for lock \"b\""),
        "{block}"
    );

    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "profiled_deadlocked_threads 2"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("deadlock"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let stats: serde_json::Value = serde_json::from_str(&get(addr, "/debug/stats").text()).unwrap();
    assert_eq!(stats["deadlock"]["deadlocked"], 2, "{}", stats["deadlock"]);
    assert_eq!(stats["deadlock"]["cycles"], 1, "{}", stats["deadlock"]);
    let found = profiled::deadlock::check();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].cause, profiled::deadlock::DeadlockCause::Cycle);
    let mut names: Vec<_> = found[0].members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["a-then-b", "b-then-a"]);

    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/goroutineleak");
        let raw = go_tool_pprof(&go, &["-raw", &url]);
        assert!(raw.success, "{}", raw.stderr);
        assert!(pprof_complaints(&raw.stderr).is_empty(), "{}", raw.stderr);
        assert!(raw.stdout.contains("goroutineleak/count"), "{}", raw.stdout);
        assert!(raw.stdout.contains("takes_a_then_b"), "{}", raw.stdout);
        let top = go_tool_pprof(&go, &["-top", &url]);
        assert!(top.stdout.contains("Type: goroutineleak"), "{}", top.stdout);
    }
    drop((first, second)); // stuck for good: never joined
}

/// The tid of the live thread named `name` (polling until it appears).
fn tid_of(name: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == name {
                return entry.file_name().to_str().unwrap().parse().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "no thread {name}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
