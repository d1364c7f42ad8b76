//! Without `ProfiledAllocator` as the global allocator, `heap` and `allocs` answer
//! with an error that shows the line to add, never an empty profile.

use profiled::Config;
use profiled_tests::{get, serve};

#[test]
fn heap_without_the_allocator_says_what_to_add() {
    let (_profiler, addr) = serve(Config::default());
    for path in [
        "/debug/pprof/heap",
        "/debug/pprof/allocs",
        "/debug/pprof/heap?debug=1",
    ] {
        let response = get(addr, path);
        assert_eq!(response.status, 501, "{path}: {response:?}");
        assert_eq!(response.header("x-go-pprof"), Some("1"));
        assert!(
            response.text().contains(
                "#[global_allocator] static GLOBAL: profiled::ProfiledAllocator = profiled::ProfiledAllocator::system();"
            ),
            "{}",
            response.text()
        );
    }
    let err = profiled::lookup("heap")
        .unwrap()
        .write_to(&mut Vec::new(), 0)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert!(!profiled::mem_stats().allocator_installed);
}

#[test]
fn disabled_memory_profiling_answers_403() {
    let (_profiler, addr) = serve(Config {
        enable_memory_profiling: false,
        ..Config::default()
    });
    let response = get(addr, "/debug/pprof/heap");
    assert_eq!(response.status, 403, "{response:?}");
    assert!(response.text().contains("enable_memory_profiling = false"));
}
