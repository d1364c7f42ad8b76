//! `profiled::thread::spawn` records where threads were started: the threadcreate
//! profile has their spawn stack, counts every other thread under an empty stack, and
//! the goroutine dump says `created by` the spawning function.

use std::sync::mpsc;
use std::thread;

use profiled::Config;
use profiled_tests::{decode, get, sample_types, serve, stack_names};

const SPAWNED: usize = 3;

#[inline(never)]
fn start_workers(done: &mpsc::Receiver<()>) -> Vec<thread::JoinHandle<()>> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handles = (0..SPAWNED)
        .map(|i| {
            let ready = ready_tx.clone();
            profiled::thread::Builder::new()
                .name(format!("wrapped-worker-{i}"))
                .spawn(move || {
                    ready.send(()).unwrap();
                    thread::park();
                })
                .unwrap()
        })
        .collect();
    for _ in 0..SPAWNED {
        ready_rx.recv().unwrap();
    }
    let _ = done.try_recv();
    handles
}

#[inline(never)]
fn spawn_one_plain() -> thread::JoinHandle<()> {
    profiled::thread::spawn(|| {})
}

#[test]
fn threadcreate_has_spawn_stacks_and_counts_other_threads_empty() {
    let (_profiler, addr) = serve(Config::default());
    let (_done_tx, done_rx) = mpsc::channel();
    let workers = start_workers(&done_rx);
    spawn_one_plain().join().unwrap();
    // Give the finished thread time to leave /proc/self/task.
    thread::sleep(std::time::Duration::from_millis(50));

    let profile = decode(&get(addr, "/debug/pprof/threadcreate").body);
    assert_eq!(
        sample_types(&profile),
        [("threadcreate".into(), "count".into())]
    );
    assert_eq!(profile.period, 1);
    let count_where = |function: &str| -> i64 {
        profile
            .sample
            .iter()
            .filter(|s| {
                let names = stack_names(&profile, s);
                // The spawning function is the innermost frame: the wrapper is trimmed.
                names
                    .first()
                    .is_some_and(|n| n.contains(&format!("::{function}")))
            })
            .map(|s| s.value[0])
            .sum()
    };
    assert_eq!(count_where("start_workers"), SPAWNED as i64);
    // Exited wrapped threads stay counted: threadcreate counts creations, as Go's.
    assert_eq!(count_where("spawn_one_plain"), 1);
    // Every other live thread (main, test harness, profiler server, ...) is counted
    // under an empty stack.
    let empty: Vec<_> = profile
        .sample
        .iter()
        .filter(|s| s.location_id.is_empty())
        .collect();
    assert_eq!(empty.len(), 1, "{:#?}", profile.sample);
    let others = profiled::thread_count() as i64 - SPAWNED as i64;
    assert!(
        (others - 2..=others + 2).contains(&empty[0].value[0]),
        "{} threads without spawn stack, expected about {others}",
        empty[0].value[0]
    );

    // Go's count text.
    let text = get(addr, "/debug/pprof/threadcreate?debug=1").text();
    assert!(text.starts_with("threadcreate profile: total "), "{text}");
    assert!(text.contains(&format!("\n{SPAWNED} @ 0x")), "{text}");
    assert!(text.contains("threadcreate::start_workers\t"), "{text}");

    // The dump names each wrapped thread by its full name, with its spawner.
    let dump = get(addr, "/debug/pprof/goroutine?debug=2").text();
    let wrapped: Vec<&str> = dump
        .split("\n\n")
        .filter(|b| b.contains("thread \"wrapped-worker-"))
        .collect();
    assert_eq!(wrapped.len(), SPAWNED, "{dump}");
    for block in wrapped {
        assert!(
            block.contains("\ncreated by threadcreate::start_workers"),
            "{block}"
        );
        assert!(
            block.lines().next().unwrap().contains(", spawned "),
            "{block}"
        );
    }

    for worker in workers {
        worker.thread().unpark();
        worker.join().unwrap();
    }
}
