//! Sync `#[profiled]` functions: nested calls are counted and timed; recursion and
//! panics unwinding through instrumented frames keep the logical stack balanced.

use std::panic;
use std::time::Duration;

use profiled::{FunctionStats, current_logical_stack, profiled};

/// Returns the logical stack seen by itself and by each of its 3 children.
#[profiled]
fn parent() -> Vec<Vec<&'static str>> {
    let mut seen: Vec<_> = (0..3).map(|_| child()).collect();
    seen.insert(0, current_logical_stack());
    seen
}

#[profiled]
fn child() -> Vec<&'static str> {
    std::thread::sleep(Duration::from_millis(10));
    current_logical_stack()
}

#[profiled(name = "fib")]
fn fib(n: u64) -> u64 {
    // fib(25) runs at depth 1; each recursion adds one frame, so fib(n) is at
    // most 26 - n frames deep, all of them fib.
    let stack = current_logical_stack();
    assert!(!stack.is_empty() && stack.len() as u64 <= 26 - n);
    assert!(stack.iter().all(|name| *name == "fib"));
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[profiled]
fn boom(depth: u32) -> u32 {
    if depth == 0 {
        panic!("boom");
    }
    boom(depth - 1) + 1
}

#[profiled]
fn catches() -> Vec<&'static str> {
    let caught = panic::catch_unwind(|| boom(5));
    assert!(caught.is_err());
    current_logical_stack()
}

fn stats(name: &str) -> FunctionStats {
    profiled::functions()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn nested_recursive_and_panicking_calls() {
    profiled::set_function_profiling(true);

    let both = vec!["sync_functions::parent", "sync_functions::child"];
    assert_eq!(
        parent(),
        [
            vec!["sync_functions::parent"],
            both.clone(),
            both.clone(),
            both
        ]
    );
    assert!(current_logical_stack().is_empty());
    let parent_stats = stats("sync_functions::parent");
    let child_stats = stats("sync_functions::child");
    assert_eq!(parent_stats.calls, 1);
    assert_eq!(child_stats.calls, 3);
    assert!(child_stats.total_ns >= 30_000_000, "{child_stats:?}");
    assert!(child_stats.max_ns >= 10_000_000, "{child_stats:?}");
    assert!(
        parent_stats.total_ns >= child_stats.total_ns,
        "{parent_stats:?}"
    );
    assert!(parent_stats.total_ns < child_stats.total_ns + 20_000_000);
    assert_eq!(parent_stats.kind, profiled::FnKind::Sync);
    assert_eq!(parent_stats.polls, 0);

    // Recursion: 2 * fib(26) - 1 calls.
    assert_eq!(fib(25), 75_025);
    assert!(current_logical_stack().is_empty());
    assert_eq!(stats("fib").calls, 242_785);

    // A panic unwinding through six instrumented frames pops all of them.
    panic::set_hook(Box::new(|_| {}));
    assert_eq!(catches(), ["sync_functions::catches"]);
    let _ = panic::take_hook();
    assert!(current_logical_stack().is_empty());
    assert_eq!(stats("sync_functions::boom").calls, 6);

    // Switched off: nothing is counted and no frame is pushed.
    profiled::set_function_profiling(false);
    assert!(parent().iter().all(|seen| seen.is_empty()));
    assert_eq!(stats("sync_functions::parent").calls, 1);
    assert_eq!(stats("sync_functions::child").calls, 3);
    profiled::set_function_profiling(true);
    assert_eq!(parent()[0], ["sync_functions::parent"]);
    assert_eq!(stats("sync_functions::parent").calls, 2);
}
