//! Tracked tasks: 50 tasks parked in `#[profiled] async fn stuck_forever` are listed
//! with their logical chain, spawn site and idle time; finished tasks leave.

use std::time::Duration;

use profiled::profiled;
use profiled::task::TaskState;

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

    for handle in handles {
        handle.abort();
    }
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    assert_eq!(profiled::task_count(), 0);
}
