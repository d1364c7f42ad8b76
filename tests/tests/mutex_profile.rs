//! The contention slice end to end: a holder in `hold_long` keeps a ProfiledMutex for
//! 100 ms while 3 threads wait in `wait_here`; the mutex profile charges the holder,
//! the block profile the waiters, and `go tool pprof` reads both from the live server.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, sample_types, serve, tool_binary, total,
    total_for,
};

static LOCK: ProfiledMutex<u64> = profiled_mutex!("test-accounts", 0);

const HOLD: Duration = Duration::from_millis(100);
const WAITERS: usize = 3;

#[inline(never)]
fn hold_long(ready: &Barrier) {
    let mut guard = LOCK.lock();
    ready.wait();
    thread::sleep(HOLD);
    *guard += 1;
}

#[inline(never)]
fn wait_here(ready: &Barrier) {
    ready.wait();
    // Give the holder's sleep a head start so every waiter really blocks.
    thread::sleep(Duration::from_millis(2));
    *LOCK.lock() += 1;
}

fn contend() {
    let ready = Arc::new(Barrier::new(WAITERS + 1));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let ready = Arc::clone(&ready);
            thread::spawn(move || wait_here(&ready))
        })
        .collect();
    hold_long(&ready);
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert_eq!(*LOCK.lock(), 1 + WAITERS as u64);
}

#[test]
fn mutex_and_block_profiles_name_holder_and_waiters() {
    let (profiler, addr) = serve(Config::default());

    contend();

    // Mutex profile: the holder's stack is charged 3 waiters x ~100 ms.
    let response = get(addr, "/debug/pprof/mutex");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"mutex\"")
    );
    let mutex = decode(&response.body);
    assert_eq!(
        sample_types(&mutex),
        [
            ("contentions".into(), "count".into()),
            ("delay".into(), "nanoseconds".into())
        ]
    );
    assert_eq!(mutex.period, 1);
    let held = total_for(&mutex, "hold_long", 1);
    assert!(
        held >= 250_000_000,
        "hold_long charged {held} ns; profile: {mutex:?}"
    );
    assert!(held <= 3 * 200_000_000, "hold_long charged {held} ns");
    assert!(total_for(&mutex, "hold_long", 0) >= 1);
    // The holder's stack starts at the user's function, not in profiler internals.
    let leaf = mutex
        .sample
        .iter()
        .map(|s| profiled_tests::stack_names(&mutex, s))
        .find(|names| names.iter().any(|n| n.ends_with("::hold_long")))
        .unwrap();
    assert!(leaf[0].ends_with("::hold_long"), "leaf frames: {leaf:?}");

    // Block profile: each waiter's own wait, about 100 + 100 + 100 ms minus the
    // waiters' short head start.
    let block = decode(&get(addr, "/debug/pprof/block").body);
    let waited = total_for(&block, "wait_here", 1);
    assert!(
        (250_000_000..=420_000_000).contains(&waited),
        "wait_here waited {waited} ns; profile: {block:?}"
    );
    assert_eq!(total_for(&block, "wait_here", 0), WAITERS as i64);
    assert_eq!(total_for(&block, "hold_long", 1), 0);
    assert!(total(&block, 1) >= waited);

    // Legacy text.
    let text = get(addr, "/debug/pprof/mutex?debug=1");
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let text = text.text();
    assert!(
        text.starts_with("--- mutex:\ncycles/second=1000000000\nsampling period=1\n"),
        "{text}"
    );
    assert!(text.contains("::hold_long\t"), "{text}");
    let text = get(addr, "/debug/pprof/block?debug=1").text();
    assert!(
        text.starts_with("--- contention:\ncycles/second=1000000000\n"),
        "{text}"
    );
    assert!(text.contains("::wait_here\t"), "{text}");

    // Folded stacks and flame graphs of the same data.
    let folded = get(addr, "/debug/pprof/mutex?format=folded").text();
    let hold_line = folded
        .lines()
        .find(|l| l.contains("::hold_long "))
        .unwrap_or_else(|| panic!("{folded}"));
    let (stack, value) = hold_line.rsplit_once(' ').unwrap();
    assert!(
        stack.ends_with("mutex_profile::hold_long"),
        "leaf last: {stack}"
    );
    assert!(value.parse::<i64>().unwrap() >= 250_000_000);
    let svg = get(addr, "/debug/pprof/block?format=svg");
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let svg = svg.text();
    assert!(svg.contains("<svg") && svg.contains("wait_here"), "{svg}");
    let bad = get(addr, "/debug/pprof/block?format=png");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.text(),
        "unknown format \"png\": use format=folded or format=svg\n"
    );

    // The named site's aggregates.
    let site = profiled::lock_sites()
        .into_iter()
        .find(|s| s.name == "test-accounts")
        .expect("site listed through inventory");
    assert_eq!(site.contentions, WAITERS as u64);
    assert!(site.wait_ns >= 250_000_000, "{site:?}");
    assert!(site.max_wait_ns >= 90_000_000, "{site:?}");
    assert!(site.contended_hold_ns >= 90_000_000, "{site:?}");

    // The same aggregates in /debug/stats.
    let stats = get(addr, "/debug/stats");
    assert_eq!(stats.header("content-type"), Some("application/json"));
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).unwrap();
    let lock = stats["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "test-accounts")
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(lock["kind"], "mutex");
    assert_eq!(lock["contentions"], WAITERS as u64);
    assert_eq!(stats["settings"]["mutex_fraction"], 1);

    // go tool pprof reads both from the live server, without a warning.
    if let Some(go) = tool_binary("go", "golang-go") {
        for (profile, function) in [("mutex", "hold_long"), ("block", "wait_here")] {
            let url = format!("http://{addr}/debug/pprof/{profile}");
            for mode in ["-raw", "-top"] {
                let run = go_tool_pprof(&go, &[mode, &url]);
                assert!(run.success, "{mode} {profile}: {run:?}");
                assert!(
                    pprof_complaints(&run.stderr).is_empty(),
                    "{mode} {profile} warned: {}",
                    run.stderr
                );
                assert!(
                    run.stdout.contains(function),
                    "{mode} {profile}: {}",
                    run.stdout
                );
            }
            // -top lists the function among the flat entries with its delay.
            let top = go_tool_pprof(&go, &["-top", &url]).stdout;
            eprintln!("go tool pprof -top {url}:\n{top}");
            let line = top
                .lines()
                .find(|l| l.contains(function))
                .unwrap_or_else(|| panic!("{top}"));
            assert!(line.contains("ms") || line.contains('s'), "{line}");
        }
    }
    profiler.stop();
}
