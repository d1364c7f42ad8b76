//! Tracked tasks: 50 tasks parked in `#[profiled] async fn stuck_forever` are listed
//! with their logical chain, spawn site and idle time; finished tasks leave.

use std::time::Duration;

use profiled::profiled;
use profiled::task::TaskState;
use profiled_tests::{decode, stack_names};

#[profiled]
async fn stuck_forever(i: usize) -> usize {
    std::future::pending::<()>().await;
    i
}

#[profiled]
async fn serve_one(i: usize) -> usize {
    stuck_forever(i).await
}

#[inline(never)]
fn spawn_stuck(count: usize) -> Vec<tokio::task::JoinHandle<usize>> {
    (0..count)
        .map(|i| profiled::task::spawn(serve_one(i)))
        .collect()
}

#[test]
fn parked_tasks_are_listed_with_chain_and_idle_time() {
    profiled::set_function_profiling(true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let handles = runtime.block_on(async {
        let handles = spawn_stuck(50);
        let quick = profiled::task::spawn(async { 7 });
        assert_eq!(quick.await.unwrap(), 7);
        tokio::time::sleep(Duration::from_millis(100)).await;
        handles
    });

    assert_eq!(profiled::task_count(), 50);
    let tasks = profiled::task::tasks();
    assert_eq!(tasks.len(), 50);
    for task in &tasks {
        assert_eq!(task.state, TaskState::Idle);
        assert_eq!(
            task.waiting_in,
            ["task_dump::serve_one", "task_dump::stuck_forever"],
            "{task:?}"
        );
        assert!(task.in_state_ns >= 90_000_000, "{task:?}");
        assert!(task.polls >= 1);
        assert!(task.spawned_at.contains("task_dump.rs"), "{task:?}");
        let creator = task.created_by.as_deref().unwrap_or_default();
        assert!(creator.starts_with("task_dump::spawn_stuck"), "{task:?}");
    }

    // The goroutine profile: one sample of count 50 on the logical stack, under a
    // root frame for the spawning code.
    let mut proto = Vec::new();
    profiled::lookup("goroutine")
        .unwrap()
        .write_to(&mut proto, 0)
        .unwrap();
    let profile = decode(&proto);
    let stuck: Vec<_> = profile
        .sample
        .iter()
        .filter(|s| {
            stack_names(&profile, s).first().map(String::as_str) == Some("task_dump::stuck_forever")
        })
        .collect();
    assert_eq!(stuck.len(), 1, "{profile:?}");
    assert_eq!(stuck[0].value, [50]);
    let names = stack_names(&profile, stuck[0]);
    assert_eq!(
        names[..2],
        ["task_dump::stuck_forever", "task_dump::serve_one"]
    );
    assert!(names[2].starts_with("task_dump::spawn_stuck"), "{names:?}");

    // debug=2: one block per task, with its idle time and spawn site.
    let mut dump = Vec::new();
    profiled::lookup("goroutine")
        .unwrap()
        .write_to(&mut dump, 2)
        .unwrap();
    let dump = String::from_utf8(dump).unwrap();
    let task_blocks: Vec<&str> = dump
        .split("\n\n")
        .filter(|block| block.contains(", task \""))
        .collect();
    assert_eq!(task_blocks.len(), 50, "{dump}");
    for block in &task_blocks {
        let header = block.lines().next().unwrap();
        assert!(header.starts_with("goroutine "), "{header}");
        assert!(header.contains("[idle, "), "{header}");
        assert!(
            header.contains(" ms, task \"") || header.contains(" seconds, task \""),
            "{header}"
        );
        assert!(header.contains("task_dump.rs:"), "{header}");
        assert!(block.contains("task_dump::stuck_forever(...)"), "{block}");
        assert!(
            block.contains("created by task_dump::spawn_stuck"),
            "{block}"
        );
    }

    for handle in handles {
        handle.abort();
    }
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    assert_eq!(profiled::task_count(), 0);
}
