//! The block profile alone (the mutex profile switched off): locks keep no waiter
//! books then, since only the mutex profile needs who else waited (so their sites
//! count no contended hold), and every wait is still recorded, with its length,
//! under the waiter's stack. A sync `ProfiledMutex`
//! and a `profiled::tokio::Mutex`, each held by `hold_*` while `wait_*` waits.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use pprof::protos::Profile;
use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{contend_once, decode, get, serve, stack_names, total};

static SYNC_LOCK: ProfiledMutex<u64> = profiled_mutex!("test-block-only-sync", 0);
static ASYNC_LOCK: profiled::tokio::Mutex<u64> = profiled::tokio_mutex!("test-block-only-async", 0);

const HOLD: Duration = Duration::from_millis(40);

#[inline(never)]
fn hold_sync(ready: &Barrier) {
    let mut guard = SYNC_LOCK.lock();
    ready.wait();
    std::thread::sleep(HOLD);
    *guard += 1;
}

/// Waits for the sync lock; returns how long it took, as the thread saw it.
#[inline(never)]
fn wait_sync() -> Duration {
    let start = Instant::now();
    *SYNC_LOCK.lock() += 1;
    std::hint::black_box(start.elapsed())
}

#[inline(never)]
async fn hold_async(locked: tokio::sync::oneshot::Sender<()>) {
    let mut guard = ASYNC_LOCK.lock().await;
    locked.send(()).unwrap();
    tokio::time::sleep(HOLD).await;
    *guard += 1;
}

/// Waits for the async lock; returns how long it took, as the task saw it.
#[inline(never)]
async fn wait_async() -> Duration {
    let start = Instant::now();
    *ASYNC_LOCK.lock().await += 1;
    std::hint::black_box(start.elapsed())
}

/// Delay (value 1) of the samples whose stack has `function` or its async body.
fn delay_of(profile: &Profile, function: &str) -> i64 {
    let is_fn = |name: &String| {
        let name = name.trim_end_matches("::{{closure}}");
        name == function || name.ends_with(&format!("::{function}"))
    };
    profile
        .sample
        .iter()
        .filter(|s| stack_names(profile, s).iter().any(is_fn))
        .map(|s| s.value[1])
        .sum()
}

#[test]
fn waits_are_recorded_without_the_mutex_profile() {
    let (_profiler, addr) = serve(Config {
        enable_mutex_profiling: false,
        ..Config::default()
    });
    assert_eq!(profiled::mutex_fraction(), 0);
    assert!(profiled::block_rate() > 0);

    let waited_sync = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let into = std::sync::Arc::clone(&waited_sync);
    contend_once(move || *into.lock().unwrap() = wait_sync(), hold_sync);
    let waited_sync = *waited_sync.lock().unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let waited_async = runtime.block_on(async {
        let (locked, is_locked) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(hold_async(locked));
        is_locked.await.unwrap();
        let waited = tokio::spawn(wait_async()).await.unwrap();
        holder.await.unwrap();
        waited
    });

    let block = decode(&get(addr, "/debug/pprof/block").body);
    for (function, waited) in [("wait_sync", waited_sync), ("wait_async", waited_async)] {
        let recorded = Duration::from_nanos(delay_of(&block, function) as u64);
        assert!(
            waited >= HOLD / 2,
            "{function} waited only {waited:?}: the hold did not block it"
        );
        // Recorded from the wait's start to its end: no more than the function saw,
        // and all but the few microseconds around the lock call (a margin for a
        // thread descheduled there on a loaded machine).
        let margin = (waited / 5).max(Duration::from_millis(5));
        assert!(
            recorded <= waited && recorded + margin >= waited,
            "{function}: block profile {recorded:?}, the function waited {waited:?}"
        );
    }
    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    assert_eq!(
        total(&mutex, 1),
        0,
        "the mutex profile is off: nothing charged"
    );

    // The sites count the waits, but no contended hold: that needs the books.
    for name in ["test-block-only-sync", "test-block-only-async"] {
        let site = profiled::lock_sites()
            .into_iter()
            .find(|s| s.name == name)
            .expect("site listed");
        assert_eq!(site.contentions, 1, "{site:?}");
        assert!(site.wait_ns >= (HOLD / 2).as_nanos() as u64, "{site:?}");
        assert_eq!(site.contended_hold_ns, 0, "no books, no hold: {site:?}");
    }
}
