//! Someone else's `SIGPROF` handler is never replaced: Profiler::start leaves it,
//! and a CPU profile is refused with a clear 500 instead.

use std::sync::atomic::{AtomicU64, Ordering};

use profiled::{Config, Profiler};
use profiled_tests::get;

static THEIRS: AtomicU64 = AtomicU64::new(0);

extern "C" fn their_handler(_: libc::c_int) {
    THEIRS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_foreign_sigprof_handler_is_kept_and_the_profile_refused() {
    // SAFETY: installs a plain handler that only bumps an atomic.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = their_handler as *const () as libc::sighandler_t;
        assert_eq!(
            libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()),
            0
        );
    }
    let profiler = Profiler::start(Config {
        listen_addr: "127.0.0.1:0".into(),
        ..Config::default()
    })
    .unwrap();
    let response = get(
        profiler.local_addr().unwrap(),
        "/debug/pprof/profile?seconds=1",
    );
    assert_eq!(response.status, 500, "{response:?}");
    assert_eq!(
        response.text(),
        "Could not enable CPU profiling: another SIGPROF handler is installed in this process (not profiled's); it was left in place\n"
    );
    assert!(!profiled::stats().process.cpu_profile_running);
    // Theirs still runs.
    // SAFETY: kill with our own pid and a valid signal number.
    unsafe { libc::kill(libc::getpid(), libc::SIGPROF) };
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(THEIRS.load(Ordering::Relaxed), 1);
}
