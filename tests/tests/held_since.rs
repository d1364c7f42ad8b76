//! A dump's `holding lock "X" for T` is the age of the hold in progress, not of an
//! earlier one. A hold that began after a waiter acquired and released without
//! anyone waiting on it used to inherit that earlier hold's start: the release had
//! no books to settle, so it left the start stamped. So did a write hold after a
//! writer gave up on readers (a timeout): no exclusive release cleared the stamp it
//! left. Sync and tokio mutexes and rwlocks, with both profiles at rate 1 and with
//! both off. Its own process: it sets the rates.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, ProfiledRwLock, profiled_mutex, profiled_rwlock};
use profiled_tests::{get_until, serve};

static LEDGER: ProfiledMutex<u64> = profiled_mutex!("held-since-ledger", 0);
static CACHE: profiled::tokio::Mutex<u64> = profiled::tokio_mutex!("held-since-cache", 0);
static PRICES: ProfiledRwLock<u64> = profiled_rwlock!("held-since-prices", 0);
static ROUTES: profiled::tokio::RwLock<u64> = profiled::tokio_rwlock!("held-since-routes", 0);

/// How long a writer waits on readers before it gives up.
const GIVE_UP: Duration = Duration::from_millis(50);

/// How long ago an earlier hold began, against which the current one is compared.
const EARLIER: Duration = Duration::from_millis(1500);

/// The `holding <what> "<name>" ...` line of the goroutine dump, once one is there.
fn holding_line(addr: std::net::SocketAddr, what: &str, name: &str) -> String {
    let wanted = format!("holding {what} \"{name}\"");
    let dump = get_until(addr, "/debug/pprof/goroutine?debug=2", |dump| {
        dump.contains(&wanted)
    });
    let line = dump.lines().find(|line| line.contains(&wanted));
    line.unwrap_or_else(|| panic!("no {wanted:?} in\n{dump}"))
        .trim()
        .to_owned()
}

/// The hold's age in a `holding ... for 120 ms, 1 waiting` line; `None` when the
/// line gives none (the start is not known).
fn age(line: &str) -> Option<Duration> {
    let after = line.split(" for ").nth(1)?;
    let after = after.strip_prefix("at least ").unwrap_or(after);
    let (number, rest) = after.split_once(' ')?;
    let number: f64 = number.parse().ok()?;
    Some(if rest.starts_with("ms") {
        Duration::from_secs_f64(number / 1e3)
    } else {
        assert!(rest.starts_with('s'), "{line}");
        Duration::from_secs_f64(number)
    })
}

/// Takes a lock in a thread with `hold` (which reports the lock held on its first
/// channel and releases when its second says so), makes `wait` wait for it in
/// another, and checks that the dump's `holding <what> "<name>"` line gives that
/// hold its own age (or none): at most the time since `hold` was started, plus
/// half of `EARLIER` for rounding. An earlier hold's start is `EARLIER` older. (On
/// a loaded machine the dump can come a second after the hold began; that age is
/// true, and allowed.)
fn sync_hold_is_dumped_young(
    addr: std::net::SocketAddr,
    (what, name): (&str, &str),
    hold: fn(mpsc::Sender<()>, mpsc::Receiver<()>),
    wait: fn(),
) {
    let (held, release) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let started = Instant::now();
    let holder = std::thread::spawn(move || hold(held.0, release.1));
    held.1.recv().unwrap();
    let waiter = std::thread::spawn(wait);
    let line = holding_line(addr, what, name);
    let at_most = started.elapsed() + EARLIER / 2;
    release.0.send(()).unwrap();
    holder.join().unwrap();
    waiter.join().unwrap();
    let age = age(&line);
    assert!(
        age.is_none_or(|age| age < at_most),
        "{line} (at most {at_most:?})"
    );
}

/// [`sync_hold_is_dumped_young`] for tasks on `runtime`.
fn tokio_hold_is_dumped_young<H, W>(
    addr: std::net::SocketAddr,
    runtime: &tokio::runtime::Runtime,
    (what, name): (&str, &str),
    hold: impl FnOnce(mpsc::Sender<()>, tokio::sync::oneshot::Receiver<()>) -> H,
    wait: W,
) where
    H: std::future::Future<Output = ()> + Send + 'static,
    W: std::future::Future + Send + 'static,
    W::Output: Send + 'static,
{
    let (held, release) = (mpsc::channel::<()>(), tokio::sync::oneshot::channel::<()>());
    let entered = runtime.enter();
    let started = Instant::now();
    let holder = profiled::task::spawn(hold(held.0, release.1));
    held.1.recv().unwrap();
    let waiter = profiled::task::spawn(wait);
    drop(entered);
    let line = holding_line(addr, what, name);
    let at_most = started.elapsed() + EARLIER / 2;
    release.0.send(()).unwrap();
    runtime.block_on(async {
        holder.await.unwrap();
        waiter.await.unwrap();
    });
    let age = age(&line);
    assert!(
        age.is_none_or(|age| age < at_most),
        "{line} (at most {at_most:?})"
    );
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A hold that waited and was released with nobody waiting, `EARLIER` ago; then an
/// uncontended hold with a waiter, whose age the dump must give as under `EARLIER`.
fn sync_mutex_dump_ages_the_current_hold(addr: std::net::SocketAddr) {
    let held = mpsc::channel::<()>();
    let first = std::thread::spawn(move || {
        let guard = LEDGER.lock();
        held.0.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(guard);
    });
    held.1.recv().unwrap();
    // Waits for `first`, then holds without anyone waiting.
    drop(LEDGER.lock());
    first.join().unwrap();
    std::thread::sleep(EARLIER);
    sync_hold_is_dumped_young(
        addr,
        ("lock", "held-since-ledger"),
        |held, release| {
            let guard = LEDGER.lock();
            held.send(()).unwrap();
            release.recv().unwrap();
            drop(guard);
        },
        || *LEDGER.lock() += 1,
    );
}

/// The same for a tokio mutex, with tasks on a two-worker runtime.
fn tokio_mutex_dump_ages_the_current_hold(addr: std::net::SocketAddr) {
    let runtime = two_workers();
    runtime.block_on(async {
        let held = tokio::sync::oneshot::channel::<()>();
        let first = profiled::task::spawn(async move {
            let guard = CACHE.lock().await;
            held.0.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(guard);
        });
        held.1.await.unwrap();
        // Waits for `first`, then holds without anyone waiting.
        drop(CACHE.lock().await);
        first.await.unwrap();
    });
    std::thread::sleep(EARLIER);
    tokio_hold_is_dumped_young(
        addr,
        &runtime,
        ("async lock", "held-since-cache"),
        |held, release| async move {
            let guard = CACHE.lock().await;
            held.send(()).unwrap();
            release.await.unwrap();
            drop(guard);
        },
        async { *CACHE.lock().await += 1 },
    );
}

/// A writer that gave up on a reader `EARLIER` ago; then an uncontended write hold
/// with a waiting reader, whose age the dump must give as under `EARLIER`.
fn sync_rwlock_dump_ages_the_write_hold_after_a_writer_gave_up(addr: std::net::SocketAddr) {
    let reading = PRICES.read();
    let writer = std::thread::spawn(|| PRICES.try_write_for(GIVE_UP).is_none());
    assert!(writer.join().unwrap(), "the writer got in past a reader");
    drop(reading);
    std::thread::sleep(EARLIER);
    sync_hold_is_dumped_young(
        addr,
        ("rwlock", "held-since-prices"),
        |held, release| {
            let guard = PRICES.write();
            held.send(()).unwrap();
            release.recv().unwrap();
            drop(guard);
        },
        || assert_eq!(*PRICES.read(), 0),
    );
}

/// The same for a tokio rwlock, the writer given up by `tokio::time::timeout`.
fn tokio_rwlock_dump_ages_the_write_hold_after_a_writer_gave_up(addr: std::net::SocketAddr) {
    let runtime = two_workers();
    runtime.block_on(async {
        let reading = ROUTES.read().await;
        let writer = profiled::task::spawn(async {
            tokio::time::timeout(GIVE_UP, ROUTES.write()).await.is_err()
        });
        assert!(writer.await.unwrap(), "the writer got in past a reader");
        drop(reading);
    });
    std::thread::sleep(EARLIER);
    tokio_hold_is_dumped_young(
        addr,
        &runtime,
        ("async rwlock", "held-since-routes"),
        |held, release| async move {
            let guard = ROUTES.write().await;
            held.send(()).unwrap();
            release.await.unwrap();
            drop(guard);
        },
        async { *ROUTES.read().await },
    );
}

#[test]
fn a_dump_gives_the_age_of_the_hold_in_progress() {
    let (_profiler, addr) = serve(Config::default());
    for rates in [1, 0] {
        profiled::set_block_rate(rates);
        profiled::set_mutex_fraction(rates);
        sync_mutex_dump_ages_the_current_hold(addr);
        tokio_mutex_dump_ages_the_current_hold(addr);
        sync_rwlock_dump_ages_the_write_hold_after_a_writer_gave_up(addr);
        tokio_rwlock_dump_ages_the_write_hold_after_a_writer_gave_up(addr);
    }
}
