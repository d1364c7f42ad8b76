//! Deadlocks beyond two plain mutexes, each found by the locks it involves (the
//! deadlocked threads and tasks stay for the life of this process, so each test
//! looks only at its own): three threads in a cycle through an `RwLock` writer;
//! tasks on `profiled::tokio::Mutex`; a thread that exits after `mem::forget` of a
//! guard, whose waiters are leaked with the owner shown as exited; and the
//! background check's callback, called once per new deadlock.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use profiled::deadlock::{Deadlock, DeadlockCause};
use profiled::{Config, ProfiledMutex, ProfiledRwLock, profiled_mutex, profiled_rwlock};
use profiled_tests::{get, serve};

/// The deadlocks `check` finds that involve lock `name`, waiting up to 10 s.
fn deadlocks_with(name: &str, members: usize) -> Vec<Deadlock> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Deadlock> = profiled::deadlock::check()
            .into_iter()
            .filter(|d| d.members.iter().any(|m| m.waits_for.name == name))
            .collect();
        if found.iter().any(|d| d.members.len() == members) || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One shared profiler for the tests of this process.
fn server() -> std::net::SocketAddr {
    static SERVER: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
    *SERVER.get_or_init(|| {
        let (profiler, addr) = serve(Config::default());
        std::mem::forget(profiler);
        addr
    })
}

static X: ProfiledMutex<u64> = profiled_mutex!("x", 0);
static Y: ProfiledRwLock<u64> = profiled_rwlock!("y", 0);
static Z: ProfiledMutex<u64> = profiled_mutex!("z", 0);
static THREE_HOLD: Barrier = Barrier::new(3);

#[inline(never)]
fn holds_x_wants_y() {
    let _x = X.lock();
    THREE_HOLD.wait();
    *Y.write() += 1;
}

#[inline(never)]
fn writes_y_wants_z() {
    let _y = Y.write();
    THREE_HOLD.wait();
    *Z.lock() += 1;
}

#[inline(never)]
fn holds_z_wants_x() {
    let _z = Z.lock();
    THREE_HOLD.wait();
    *X.lock() += 1;
}

#[test]
fn three_threads_in_a_cycle_through_a_writer() {
    let addr = server();
    for (name, work) in [
        ("x-then-y", holds_x_wants_y as fn()),
        ("y-then-z", writes_y_wants_z),
        ("z-then-x", holds_z_wants_x),
    ] {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(work)
            .unwrap();
    }
    let found = deadlocks_with("y", 3);
    assert_eq!(found.len(), 1, "{found:?}");
    let cycle = &found[0];
    assert_eq!(cycle.cause, DeadlockCause::Cycle);
    assert_eq!(cycle.members.len(), 3, "{cycle}");
    // Each member waits for a lock the next one holds.
    for (i, member) in cycle.members.iter().enumerate() {
        let next = &cycle.members[(i + 1) % 3];
        assert_eq!(member.held_by, Some(next.goroutine), "{cycle}");
        assert_eq!(next.holds, vec![member.waits_for.clone()], "{cycle}");
    }
    let writer = cycle.members.iter().find(|m| m.name == "y-then-z").unwrap();
    assert_eq!(writer.holds[0].kind, "rwlock", "{cycle}");
    assert_eq!(writer.waits_for.name, "z");

    let dump = get(addr, "/debug/pprof/goroutineleak?debug=2").text();
    for function in ["holds_x_wants_y", "writes_y_wants_z", "holds_z_wants_x"] {
        assert!(dump.contains(function), "{function} not in\n{dump}");
    }
    assert!(dump.contains("holds rwlock \"y\""), "{dump}");
    assert!(dump.contains("for rwlock \"y\""), "{dump}");
}

static PAIR: profiled::tokio::Mutex<u64> = profiled::tokio_mutex!("async-p", 0);
static QUEUE: profiled::tokio::Mutex<u64> = profiled::tokio_mutex!("async-q", 0);

#[test]
fn tasks_in_a_cycle_on_async_mutexes() {
    let addr = server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let both = Arc::new(tokio::sync::Barrier::new(2));
    let (first, second) = (Arc::clone(&both), both);
    runtime.block_on(async {
        profiled::task::spawn(async move {
            let _p = PAIR.lock().await;
            first.wait().await;
            *QUEUE.lock().await += 1;
        });
        profiled::task::spawn(async move {
            let _q = QUEUE.lock().await;
            second.wait().await;
            *PAIR.lock().await += 1;
        });
    });
    let found = deadlocks_with("async-p", 2);
    assert_eq!(found.len(), 1, "{found:?}");
    let cycle = &found[0];
    assert_eq!(cycle.members.len(), 2, "{cycle}");
    assert!(cycle.members.iter().all(|m| m.task), "{cycle}");
    let mut waits: Vec<_> = cycle.members.iter().map(|m| m.waits_for.name).collect();
    waits.sort();
    assert_eq!(waits, ["async-p", "async-q"]);
    assert!(
        cycle
            .members
            .iter()
            .all(|m| m.waits_for.kind == "async lock")
    );

    // The tasks' blocks in the goroutine dump say what they wait for.
    let dump = get(addr, "/debug/pprof/goroutine?debug=2").text();
    assert!(dump.contains("for async lock \"async-q\""), "{dump}");
    assert!(dump.contains("holding async lock \"async-p\""), "{dump}");
    // The runtime's workers are idle, not stuck: the tasks are.
    std::mem::forget(runtime);
}

static FORGOTTEN: ProfiledMutex<u64> = profiled_mutex!("forgotten", 0);

#[test]
fn waiters_on_a_guard_forgotten_by_an_exited_thread_are_leaked() {
    let addr = server();
    let owner = std::thread::Builder::new()
        .name("forgetful".into())
        .spawn(|| {
            std::mem::forget(FORGOTTEN.lock());
            profiled_tests_tid()
        })
        .unwrap();
    let owner_tid = owner.join().unwrap();
    for name in ["leaked-1", "leaked-2"] {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(|| *FORGOTTEN.lock() += 1)
            .unwrap();
    }
    let found = deadlocks_with("forgotten", 2);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].cause,
        DeadlockCause::OwnerExited {
            goroutine: owner_tid
        }
    );
    let mut names: Vec<_> = found[0].members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["leaked-1", "leaked-2"]);
    let dump = get(addr, "/debug/pprof/goroutineleak?debug=2").text();
    assert!(
        dump.contains(&format!(
            "for lock \"forgotten\" (tests/tests/deadlock_cycles.rs:{}) held by goroutine {owner_tid} [thread, exited]",
            line_of("static FORGOTTEN")
        )),
        "{dump}"
    );
    assert!(dump.contains("which exited"), "{dump}");
}

static WATCHED_A: ProfiledMutex<u64> = profiled_mutex!("watched-a", 0);
static WATCHED_B: ProfiledMutex<u64> = profiled_mutex!("watched-b", 0);

#[test]
fn the_background_check_calls_back_once_per_new_deadlock() {
    server();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    profiled::deadlock::on_deadlock(move |deadlock| {
        if deadlock
            .members
            .iter()
            .any(|m| m.waits_for.name.starts_with("watched"))
        {
            record.lock().unwrap().push(deadlock.to_string());
        }
    });
    // A second profiler only for its background check (serving on its own port).
    let (_watching, _) = serve(Config {
        deadlock_check_interval: Some(Duration::from_millis(20)),
        ..Config::default()
    });
    let both = Arc::new(Barrier::new(2));
    for (name, first, second) in [
        ("watch-ab", &WATCHED_A, &WATCHED_B),
        ("watch-ba", &WATCHED_B, &WATCHED_A),
    ] {
        let both = Arc::clone(&both);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _held = first.lock();
                both.wait();
                *second.lock() += 1;
            })
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Many more checks: the same deadlock is not reported again.
    std::thread::sleep(Duration::from_millis(300));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("watch-ab") && seen[0].contains("watch-ba"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("lock \"watched-a\"") && seen[0].contains("lock \"watched-b\""));
}

fn profiled_tests_tid() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

/// The line of this file that starts with `prefix`.
fn line_of(prefix: &str) -> usize {
    include_str!("deadlock_cycles.rs")
        .lines()
        .position(|line| line.starts_with(prefix))
        .unwrap()
        + 1
}
