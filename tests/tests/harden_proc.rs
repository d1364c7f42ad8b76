//! When `/proc` cannot be read (no file descriptors left, not mounted), thread
//! dumps answer 500 naming the error instead of 200 with an empty dump or
//! `total 0`. Simulated with the test-only hook that points the thread list at a
//! directory that does not exist; process-wide, so this file is its own process.

use profiled::{Config, Profiler};
use profiled_tests::get;

#[test]
fn dumps_answer_500_naming_the_error_when_proc_cannot_be_read() {
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let addr = profiler.local_addr().unwrap();
    let healthy = get(addr, "/debug/pprof/goroutine?debug=1");
    assert_eq!(healthy.status, 200);
    assert!(
        healthy.text().starts_with("goroutine profile: total "),
        "{}",
        healthy.text()
    );
    assert!(
        !healthy.text().starts_with("goroutine profile: total 0"),
        "{}",
        healthy.text()
    );

    profiled::__bench::set_proc_task_dir_for_tests(Some("/nonexistent/proc/self/task".into()));
    for path in [
        "/debug/pprof/goroutine?debug=2",
        "/debug/pprof/goroutine?debug=1",
        "/debug/pprof/goroutine",
        "/debug/pprof/threadcreate?debug=1",
    ] {
        let response = get(addr, path);
        assert_eq!(response.status, 500, "{path}: {}", response.text());
        let text = response.text();
        assert!(
            text.starts_with("Could not write profile: cannot list threads"),
            "{path}: {text}"
        );
        assert!(
            text.contains("/nonexistent/proc/self/task"),
            "{path}: {text}"
        );
        assert!(text.contains("No such file or directory"), "{path}: {text}");
    }
    // The API says so too.
    let error = profiled::lookup("goroutine")
        .unwrap()
        .write_to(&mut Vec::new(), 1)
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);

    profiled::__bench::set_proc_task_dir_for_tests(None);
    let again = get(addr, "/debug/pprof/goroutine?debug=2");
    assert_eq!(again.status, 200);
    assert!(again.text().contains("goroutine "), "{}", again.text());
}
