//! Panics inside `#[profiled]` functions (sync and async, holding a profiled lock)
//! and inside code the server runs for a request (a reclaim hook) leave everything
//! working: the logical stack unwinds, the lock is free, the calls are counted, and
//! the server answers every endpoint afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};

use profiled::{Config, ProfiledMutex, profiled, profiled_mutex};
use profiled_tests::{decode, get, serve};

static LEDGER: ProfiledMutex<Vec<u64>> = profiled_mutex!("panics-ledger", Vec::new());

/// Panics on odd input while holding `LEDGER`, inside a nested `#[profiled]` call.
#[profiled]
fn record(value: u64) -> usize {
    let mut ledger = LEDGER.lock();
    ledger.push(value);
    validate(value);
    ledger.len()
}

#[profiled]
fn validate(value: u64) {
    assert!(value.is_multiple_of(2), "odd value {value}");
}

/// Panics on its second poll, after being Pending once, inside an outer async fn.
#[profiled]
async fn fetch(value: u64) -> u64 {
    tokio::task::yield_now().await;
    check(value).await
}

#[profiled]
async fn check(value: u64) -> u64 {
    tokio::task::yield_now().await;
    assert!(value.is_multiple_of(2), "odd value {value}");
    value
}

fn calls(name: &str) -> u64 {
    profiled::functions()
        .into_iter()
        .find(|f| f.name.ends_with(name))
        .unwrap_or_else(|| panic!("no stats for {name}"))
        .calls
}

#[test]
fn panics_leave_functions_locks_and_server_working() {
    let (_profiler, addr) = serve(Config::default());
    // Keep the panics' messages out of the test output.
    std::panic::set_hook(Box::new(|_| {}));

    // Sync: 50 calls, half of them panic with the lock held two frames down.
    let mut panicked = 0;
    for value in 0..50u64 {
        match catch_unwind(|| record(value)) {
            // Every call pushes before it validates, the panicking ones too.
            Ok(len) => assert_eq!(len, value as usize + 1),
            Err(_) => panicked += 1,
        }
        assert!(
            profiled::current_logical_stack().is_empty(),
            "a panic left frames on the logical stack: {:?}",
            profiled::current_logical_stack()
        );
    }
    assert_eq!(panicked, 25);
    assert!(LEDGER.try_lock().is_some(), "a panic left the lock held");
    assert_eq!(
        LEDGER.lock().len(),
        50,
        "every call pushed before validating"
    );
    assert_eq!(calls("::record"), 50);
    assert_eq!(calls("::validate"), 50);

    // Async: a panic on a later poll, on a runtime that keeps going.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut failed = 0;
    for value in 0..20u64 {
        let result = runtime.block_on(AssertUnwindSafe(async { tokio::spawn(fetch(value)).await }));
        match result {
            Ok(got) => assert_eq!(got, value),
            Err(e) => {
                assert!(e.is_panic());
                failed += 1;
            }
        }
        assert!(profiled::current_logical_stack().is_empty());
    }
    assert_eq!(failed, 10);
    assert_eq!(calls("::fetch"), 20);
    assert_eq!(calls("::check"), 20);

    // A reclaim hook runs inside the `/debug/gc` handler: its panic is reported, not
    // fatal, and the other hooks still run.
    profiled::register_reclaim_hook("explodes", || panic!("hook bug"));
    profiled::register_reclaim_hook("works", || {});
    for _ in 0..3 {
        let gc = get(addr, "/debug/gc");
        assert_eq!(gc.status, 200, "{gc:?}");
        let report: serde_json::Value = serde_json::from_slice(&gc.body).unwrap();
        assert_eq!(report["hooks_run"], 1, "{report}");
        assert_eq!(report["hooks_failed"], serde_json::json!(["explodes"]));
    }

    // The server still serves everything, and the profiles saw the panicking code.
    for path in [
        "/debug/pprof/",
        "/debug/stats",
        "/metrics",
        "/debug/pprof/goroutine?debug=2",
    ] {
        assert_eq!(get(addr, path).status, 200, "{path}");
    }
    let mutex = get(addr, "/debug/pprof/mutex");
    assert_eq!(mutex.status, 200);
    decode(&mutex.body);
    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let record_stats = stats["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"].as_str().unwrap().ends_with("::record"))
        .unwrap();
    assert_eq!(record_stats["calls"], 50);
    let _ = std::panic::take_hook();
}
