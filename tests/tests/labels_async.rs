//! Labels follow futures across `.await` points while a multi-thread runtime moves
//! them between workers, never leak onto other tasks of the same workers, are
//! inherited by `profiled::task::spawn` and `profiled::thread::spawn`, and nested
//! scopes add to and override outer ones. The allocs profile shows the bytes
//! allocated after each `.await` under the future's labels; the goroutine profile
//! and the `debug=2` dump show a parked thread's labels, a parked task's inherited
//! ones and those of the scope a task waits in.

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use profiled::labels::{self, LabelSet};
use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, stack_names, total_for_label};

/// The goroutine profile and dump of a thread and a task parked inside scopes.
fn goroutines_carry_labels(addr: std::net::SocketAddr, runtime: &tokio::runtime::Runtime) {
    let (wake_thread, parked) = std::sync::mpsc::channel::<()>();
    let thread = labels::with(&[("job", "parked-thread")], || {
        profiled::thread::spawn(move || parked.recv())
    });
    let (wake_task, parked) = tokio::sync::oneshot::channel::<()>();
    // Spawned from inside a scope (entered with the runtime's context), the task
    // inherits the scope's labels.
    let _runtime = runtime.enter();
    let task = labels::with(&[("job", "parked-task")], || {
        profiled::task::spawn(async move {
            let _ = parked.await;
        })
    });
    // A task spawned outside any scope that waits inside its own.
    let (wake_inner, parked) = tokio::sync::oneshot::channel::<()>();
    let inner = profiled::task::spawn(labels::scope(&[("job", "inner-task")], async move {
        let _ = parked.await;
    }));
    std::thread::sleep(Duration::from_millis(200));
    let goroutine = decode(&get(addr, "/debug/pprof/goroutine").body);
    let dump = get(addr, "/debug/pprof/goroutine?debug=2").text();
    let _ = wake_thread.send(());
    let _ = wake_task.send(());
    let _ = wake_inner.send(());
    thread.join().unwrap().unwrap();
    runtime.block_on(task).unwrap();
    runtime.block_on(inner).unwrap();

    for job in ["parked-thread", "parked-task", "inner-task"] {
        assert_eq!(total_for_label(&goroutine, "job", job, 0), 1, "{job}");
    }
    for job in ["parked-thread", "parked-task", "inner-task"] {
        let header = format!("labels:{{\"job\":\"{job}\"}}]:");
        assert_eq!(
            dump.lines()
                .filter(|line| line.starts_with("goroutine ") && line.ends_with(&header))
                .count(),
            1,
            "one header with {header} in:\n{dump}"
        );
    }
}

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

const ROUNDS: usize = 200;
const BYTES: usize = 64 * 1024;

#[inline(never)]
fn allocate_after_await() -> usize {
    black_box(vec![3u8; BYTES]).len()
}

fn route() -> Option<String> {
    labels::current().get("route")
}

/// Woken from a plain thread, so the runtime may resume the task on any worker.
async fn remote_wake() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_micros(200));
        let _ = tx.send(());
    });
    let _ = rx.await;
}

#[test]
fn labels_follow_futures_spawns_and_nested_scopes() {
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: 4096,
        ..Config::default()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();

    // Unlabelled tasks on the same workers must never see the scope's labels.
    let stop = Arc::new(AtomicBool::new(false));
    let leaks = Arc::new(AtomicUsize::new(0));
    let bystanders: Vec<_> = (0..4)
        .map(|_| {
            let (stop, leaks) = (Arc::clone(&stop), Arc::clone(&leaks));
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if !labels::current().is_empty() {
                        leaks.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
            })
        })
        .collect();

    let tenant = String::from("acme-corp");
    let tenant = LabelSet::new(&[("tenant", &tenant)]);
    let request = tenant.scope(labels::scope(&[("route", "/checkout")], async {
        let mut workers = HashSet::new();
        let mut bytes = 0;
        for _ in 0..ROUNDS {
            remote_wake().await;
            workers.insert(std::thread::current().id());
            assert_eq!(route().as_deref(), Some("/checkout"), "after an .await");
            assert_eq!(
                labels::current().get("tenant").as_deref(),
                Some("acme-corp")
            );
            bytes += allocate_after_await();
        }

        // Nested: adds `tier`, overrides `route`; the outer set comes back after.
        let nested = labels::scope(&[("route", "/browse"), ("tier", "gold")], async {
            remote_wake().await;
            labels::current().pairs()
        })
        .await;
        assert_eq!(
            nested,
            [
                ("route", "/browse".to_owned()),
                ("tenant", "acme-corp".to_owned()),
                ("tier", "gold".to_owned()),
            ]
        );
        assert_eq!(route().as_deref(), Some("/checkout"));
        assert_eq!(labels::current().get("tier"), None);

        // Spawns inherit the spawner's labels, and a child scope overrides them.
        let task = profiled::task::spawn(async {
            remote_wake().await;
            (route(), labels::current().get("tenant"))
        });
        assert_eq!(
            task.await.unwrap(),
            (Some("/checkout".to_owned()), Some("acme-corp".to_owned()))
        );
        let blocking = profiled::task::spawn_blocking(route);
        assert_eq!(blocking.await.unwrap().as_deref(), Some("/checkout"));
        let thread = profiled::thread::spawn(|| {
            let inherited = route();
            let overridden = labels::with(&[("route", "/thread")], route);
            (inherited, overridden, route())
        });
        assert_eq!(
            thread.join().unwrap(),
            (
                Some("/checkout".to_owned()),
                Some("/thread".to_owned()),
                Some("/checkout".to_owned())
            )
        );
        (workers.len(), bytes)
    }));
    let (workers, bytes) = runtime.block_on(async { tokio::spawn(request).await.unwrap() });
    stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for bystander in bystanders {
            bystander.await.unwrap();
        }
    });
    eprintln!("the labelled future ran on {workers} workers");
    assert!(workers >= 2, "the future never moved between workers");
    assert_eq!(
        leaks.load(Ordering::Relaxed),
        0,
        "labels leaked onto other tasks"
    );
    // Plain spawns (not profiled's) outside any scope have no labels.
    assert!(
        std::thread::spawn(|| labels::current().is_empty())
            .join()
            .unwrap()
    );
    assert!(labels::current().is_empty());

    // The bytes allocated after each .await are the scope's, within sampling error.
    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    let labelled = total_for_label(&allocs, "tenant", "acme-corp", 1);
    eprintln!("allocs: {labelled} bytes under tenant=acme-corp, {bytes} allocated");
    assert!(
        (labelled as f64 / bytes as f64 - 1.0).abs() <= 0.2,
        "{labelled} bytes labelled tenant=acme-corp, {bytes} allocated after awaits"
    );
    let after_await = |labelled_only: bool| {
        allocs
            .sample
            .iter()
            .filter(|s| {
                stack_names(&allocs, s)
                    .iter()
                    .any(|n| n.ends_with("allocate_after_await"))
            })
            .filter(|s| {
                !labelled_only
                    || s.label.iter().any(|l| {
                        allocs.string_table[l.key as usize] == "route"
                            && allocs.string_table[l.str as usize] == "/checkout"
                    })
            })
            .map(|s| s.value[1])
            .sum::<i64>()
    };
    assert!(after_await(false) > 0);
    assert_eq!(
        after_await(true),
        after_await(false),
        "every byte of allocate_after_await is labelled route=/checkout"
    );

    goroutines_carry_labels(addr, &runtime);
}
