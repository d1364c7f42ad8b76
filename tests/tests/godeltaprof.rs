//! godeltaprof's stateful delta endpoints (grafana/pyroscope-go): `delta_mutex` and
//! `delta_block` return what happened since the previous call of that endpoint;
//! `delta_heap` counts the allocations since then while its in-use values stay
//! absolute; each answers as a file download of `application/octet-stream`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use profiled::{Config, ProfiledAllocator, ProfiledMutex, profiled_mutex};
use profiled_tests::{
    HttpResponse, decode, get, go_tool_pprof, pprof_complaints, serve, stack_names, tool_binary,
    total, total_for,
};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

static BOOKS: ProfiledMutex<u64> = profiled_mutex!("godelta-books", 0);

/// Holds `BOOKS` for 5 ms while `waiter` waits, `rounds` times. The holder says
/// when it holds the lock, so the waiter always waits, however loaded the machine.
fn contend(rounds: usize, holder: fn(&std::sync::mpsc::Sender<()>), waiter: fn()) {
    for _ in 0..rounds {
        let (held, holding) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || holder(&held));
        holding.recv().unwrap();
        waiter();
        thread.join().unwrap();
    }
}

#[inline(never)]
fn first_holder(held: &std::sync::mpsc::Sender<()>) {
    let _books = BOOKS.lock();
    held.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(5));
}

#[inline(never)]
fn second_holder(held: &std::sync::mpsc::Sender<()>) {
    let _books = BOOKS.lock();
    held.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(5));
}

#[inline(never)]
fn first_waiter() {
    *BOOKS.lock() += 1;
}

#[inline(never)]
fn second_waiter() {
    *BOOKS.lock() += 1;
}

const LEAK: usize = 32 << 20;

#[inline(never)]
fn leak_32_mib() -> Vec<Vec<u8>> {
    (0..LEAK / 65536)
        .map(|i| black_box(vec![i as u8; 65536]))
        .collect()
}

fn functions(response: &HttpResponse) -> Vec<String> {
    let profile = decode(&response.body);
    profile
        .sample
        .iter()
        .filter(|s| s.value.iter().any(|&v| v != 0))
        .flat_map(|s| stack_names(&profile, s))
        .collect()
}

fn assert_download(response: &HttpResponse, name: &str) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        response.header("Content-Disposition"),
        Some(format!(r#"attachment; filename="{name}.pprof.gz""#).as_str())
    );
    assert_eq!(response.body[..2], [0x1f, 0x8b]);
}

static RECLAIMS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn delta_endpoints_hold_what_happened_since_their_previous_call() {
    let (profiler, addr) = serve(Config {
        mem_profile_rate: 64 * 1024,
        ..Config::default()
    });

    // delta_mutex / delta_block: call, contend with the first pair, call, contend
    // with the second pair, call.
    for endpoint in ["delta_mutex", "delta_block"] {
        assert_download(&get(addr, &format!("/debug/pprof/{endpoint}")), endpoint);
    }
    contend(20, first_holder, first_waiter);
    let mutex_1 = get(addr, "/debug/pprof/delta_mutex");
    let block_1 = get(addr, "/debug/pprof/delta_block");
    contend(20, second_holder, second_waiter);
    let mutex_2 = get(addr, "/debug/pprof/delta_mutex");
    let block_2 = get(addr, "/debug/pprof/delta_block");
    for (response, name) in [
        (&mutex_1, "delta_mutex"),
        (&mutex_2, "delta_mutex"),
        (&block_1, "delta_block"),
        (&block_2, "delta_block"),
    ] {
        assert_download(response, name);
    }
    let has = |response: &HttpResponse, f: &str| functions(response).iter().any(|n| n.ends_with(f));
    assert!(has(&mutex_1, "first_holder") && !has(&mutex_1, "second_holder"));
    assert!(
        has(&mutex_2, "second_holder") && !has(&mutex_2, "first_holder"),
        "the second call holds only what came after the first"
    );
    assert!(has(&block_1, "first_waiter") && !has(&block_1, "second_waiter"));
    assert!(has(&block_2, "second_waiter") && !has(&block_2, "first_waiter"));
    // 20 holds of 5 ms, each waited for by one thread for about 4 ms.
    let delay = total_for(&decode(&mutex_2.body), "second_holder", 1) as f64 / 1e9;
    assert!(
        (0.04..=0.5).contains(&delay),
        "second_holder charged {delay} s"
    );
    // Go's own seconds= deltas are still served (stateless).
    assert_eq!(get(addr, "/debug/pprof/mutex?seconds=1").status, 200);

    // delta_heap: the 32 MiB allocated and freed between two calls count in
    // alloc_space, while inuse_space, absolute, is back near where it was.
    profiled::register_reclaim_hook("godelta-test", || {
        RECLAIMS.fetch_add(1, Ordering::SeqCst);
    });
    let before = get(addr, "/debug/pprof/delta_heap?gc=1");
    assert_download(&before, "delta_heap");
    assert!(
        RECLAIMS.load(Ordering::SeqCst) >= 1,
        "gc=1 runs the reclaim hooks first"
    );
    let inuse_before = total(&decode(&before.body), 3);
    let leaked = leak_32_mib();
    let during = get(addr, "/debug/pprof/delta_heap");
    drop(leaked);
    let after = get(addr, "/debug/pprof/delta_heap");
    for response in [&during, &after] {
        assert_download(response, "delta_heap");
    }
    let during = decode(&during.body);
    let after_profile = decode(&after.body);
    let mib = |v: i64| v as f64 / (1 << 20) as f64;
    let leak_alloc = mib(total_for(&during, "leak_32_mib", 1));
    let leak_inuse = mib(total_for(&during, "leak_32_mib", 3));
    assert!(
        (27.0..=37.0).contains(&leak_alloc),
        "alloc_space of the leak: {leak_alloc} MiB"
    );
    assert!(
        (27.0..=37.0).contains(&leak_inuse),
        "inuse_space while it is held: {leak_inuse} MiB"
    );
    assert!(
        mib(total_for(&after_profile, "leak_32_mib", 1)) < 1.0,
        "the next delta counts no new allocation by leak_32_mib"
    );
    assert!(
        mib(total_for(&after_profile, "leak_32_mib", 3)) < 1.0,
        "inuse_space is absolute: back near 0 once freed"
    );
    let inuse_after = total(&after_profile, 3);
    assert!(
        mib(inuse_after - inuse_before).abs() < 8.0,
        "in-use total {} -> {} MiB",
        mib(inuse_before),
        mib(inuse_after)
    );
    assert_eq!(
        after_profile.default_sample_type, 0,
        "delta_heap keeps heap's default sample type (inuse_space, the last)"
    );

    if let Some(go) = tool_binary("go", "golang-go") {
        let path = std::env::temp_dir().join(format!("godelta-{}.pb.gz", std::process::id()));
        std::fs::write(&path, &after.body).unwrap();
        let run = go_tool_pprof(&go, &["-raw", path.to_str().unwrap()]);
        assert!(
            run.success && pprof_complaints(&run.stderr).is_empty(),
            "{}",
            run.stderr
        );
    }
    profiler.stop();
}
