//! `/debug/pprof/trace?seconds=N`: Chrome trace event JSON of #[profiled] calls,
//! contended lock waits and holds, in the requested window only.

use std::thread;
use std::time::Duration;

use profiled::{Config, ProfiledMutex, profiled, profiled_mutex};
use profiled_tests::{contend_once, get, serve};

static GATE: ProfiledMutex<()> = profiled_mutex!("trace-gate", ());

#[profiled(name = "traced_step")]
fn traced_step() {
    thread::sleep(Duration::from_millis(5));
}

#[profiled(name = "before_window")]
fn before_window() {}

fn contend() {
    contend_once(
        || drop(GATE.lock()),
        |ready| {
            let guard = GATE.lock();
            ready.wait();
            thread::sleep(Duration::from_millis(40));
            drop(guard);
        },
    );
}

#[test]
fn trace_records_calls_and_lock_waits_in_its_window() {
    let (_profiler, addr) = serve(Config::default());
    before_window();

    let trace = thread::spawn(move || get(addr, "/debug/pprof/trace?seconds=1"));
    thread::sleep(Duration::from_millis(200));
    // A second trace while one runs gets Go's 500.
    let second = get(addr, "/debug/pprof/trace?seconds=1");
    assert_eq!(second.status, 500);
    assert_eq!(
        second.text(),
        "Could not enable tracing: tracing is already enabled\n"
    );
    for _ in 0..3 {
        traced_step();
    }
    contend();
    let response = trace.join().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"trace.json\"")
    );
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let named = |name: &str, cat: &str| {
        events
            .iter()
            .filter(|e| e["name"] == name && e["cat"] == cat && e["ph"] == "X")
            .collect::<Vec<_>>()
    };
    let steps = named("traced_step", "function");
    assert_eq!(steps.len(), 3, "{json}");
    for step in &steps {
        let dur = step["dur"].as_f64().unwrap();
        assert!((4_000.0..100_000.0).contains(&dur), "{step}");
        assert!(step["ts"].as_f64().unwrap() >= 0.0);
    }
    let waits = named("trace-gate", "lock-wait");
    assert_eq!(waits.len(), 1, "{json}");
    assert!(
        waits[0]["dur"].as_f64().unwrap() >= 30_000.0,
        "{}",
        waits[0]
    );
    assert_eq!(named("trace-gate", "lock-hold").len(), 1, "{json}");
    assert!(named("before_window", "function").is_empty());
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["name"] == "thread_name")
    );

    // Tracing is off again: a call now is not recorded anywhere.
    let again = get(addr, "/debug/pprof/trace?seconds=0.2");
    let json: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert!(
        json["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "traced_step")
    );
}
