//! `profiled::tokio` end to end, on a multi-thread runtime with 2 workers: a Mutex
//! held across an `.await` is charged to its holder (mutex profile) and waited for
//! by its readers (block profile); a Semaphore pool, a full bounded channel and a
//! waiter dropped by a timeout are all waits under the waiting function's stack.
//! The scenarios run one at a time (they share the process's profiles and its two
//! cores) and each looks only at its own functions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use pprof::protos::Profile;
use profiled::tokio::{Mutex, Semaphore, mpsc};
use profiled::{Config, Profiler};
use profiled_tests::{decode, get, stack_names, total};

static CACHE: Mutex<u64> = profiled::tokio_mutex!("test-async-cache", 0);
static GATE: Mutex<u64> = profiled::tokio_mutex!("test-async-gate", 0);

/// One scenario at a time.
static SERIAL: StdMutex<()> = StdMutex::new(());

fn profiler() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let profiler = Profiler::start(Config {
            listen_addr: "127.0.0.1:0".into(),
            ..Config::default()
        })
        .expect("start profiler");
        let addr = profiler.local_addr().unwrap();
        std::mem::forget(profiler); // serves for the whole process
        addr
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Whether a frame name is `function` itself or its async body (`function::{{closure}}`).
fn is_fn(name: &str, function: &str) -> bool {
    let name = name.trim_end_matches("::{{closure}}");
    name == function || name.ends_with(&format!("::{function}"))
}

/// Delay (value 1) of the samples whose stack has `function`.
fn delay_of(profile: &Profile, function: &str) -> i64 {
    profile
        .sample
        .iter()
        .filter(|s| stack_names(profile, s).iter().any(|n| is_fn(n, function)))
        .map(|s| s.value[1])
        .sum()
}

fn profile(addr: SocketAddr, name: &str) -> Profile {
    decode(&get(addr, &format!("/debug/pprof/{name}")).body)
}

fn within(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance * expected
}

const HOLD: Duration = Duration::from_millis(20);
const READERS: usize = 8;

#[inline(never)]
async fn refresh_cache(locked: tokio::sync::oneshot::Sender<()>) {
    let mut guard = CACHE.lock().await;
    locked.send(()).unwrap();
    tokio::time::sleep(HOLD).await; // held across an .await: the culprit
    *guard += 1;
    drop(guard);
}

#[inline(never)]
async fn read_cache() -> u64 {
    *CACHE.lock().await
}

#[test]
fn mutex_held_across_await_is_charged_to_its_holder() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    // Deltas over this scenario: the other scenarios' events stay out.
    let (mutex_before, block_before) = (profile(addr, "mutex"), profile(addr, "block"));
    let (mut charged, mut waited, mut mutex_total) = (0, 0, 0);
    // Rounds until the profile has enough to judge (each round adds 8 x 20 ms).
    for _ in 0..3 {
        runtime().block_on(async {
            let (locked, is_locked) = tokio::sync::oneshot::channel();
            let holder = tokio::spawn(refresh_cache(locked));
            is_locked.await.unwrap();
            let readers: Vec<_> = (0..READERS).map(|_| tokio::spawn(read_cache())).collect();
            holder.await.unwrap();
            for reader in readers {
                assert!(reader.await.unwrap() >= 1, "readers read after the refresh");
            }
        });
        let mutex = profile(addr, "mutex");
        let block = profile(addr, "block");
        charged = delay_of(&mutex, "refresh_cache") - delay_of(&mutex_before, "refresh_cache");
        mutex_total = total(&mutex, 1) - total(&mutex_before, 1);
        waited = delay_of(&block, "read_cache") - delay_of(&block_before, "read_cache");
        if waited as f64 >= (READERS as u32 * HOLD).as_nanos() as f64 / 2.0 {
            break;
        }
    }
    if std::env::var_os("SHOW_STACKS").is_some() {
        for name in ["mutex", "block"] {
            let p = profile(addr, name);
            for sample in &p.sample {
                eprintln!("{name} {:?} {:?}", sample.value, stack_names(&p, sample));
            }
        }
    }
    eprintln!("refresh_cache charged {charged} of {mutex_total} ns; read_cache waited {waited} ns");
    assert!(
        charged as f64 >= 0.8 * mutex_total as f64,
        "refresh_cache charged {charged} ns of {mutex_total} ns"
    );
    assert!(
        within(mutex_total as f64, waited as f64, 0.25),
        "mutex profile {mutex_total} ns vs read_cache's waiting {waited} ns"
    );
    assert!(
        waited as f64 >= 0.5 * (READERS as u32 * HOLD).as_nanos() as f64,
        "8 readers each waited most of 20 ms: {waited} ns"
    );

    // Listed by name with its kind, in /debug/stats and /metrics.
    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let site = stats["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "test-async-cache")
        .expect("the named tokio mutex is listed");
    assert_eq!(site["kind"], "async_mutex");
    assert!(
        site["contentions"].as_u64().unwrap() >= READERS as u64,
        "{site}"
    );
    assert!(
        site["contended_hold_ns"].as_u64().unwrap() >= 10_000_000,
        "{site}"
    );
    let metrics = String::from_utf8(get(addr, "/metrics").body).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("profiled_lock_contentions_total{")
                && l.contains("lock=\"test-async-cache\"")
                && l.contains("kind=\"async_mutex\"")),
        "{metrics}"
    );
}

const PERMITS: usize = 2;
const QUERIES: usize = 10;
const QUERY: Duration = Duration::from_millis(10);

/// Returns how long it waited for its permit, and how long it held it, by its own
/// clock.
#[inline(never)]
async fn query_db(pool: Arc<Semaphore>) -> (Duration, Duration) {
    let asked = Instant::now();
    let permit = pool.acquire().await.unwrap();
    let waited = asked.elapsed();
    let held = Instant::now();
    tokio::time::sleep(QUERY).await;
    let held = held.elapsed();
    drop(permit);
    (waited, held)
}

#[test]
fn semaphore_pool_waits_are_recorded_per_round() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    let before = delay_of(&profile(addr, "block"), "query_db");
    let runs: Vec<(Duration, Duration)> = runtime().block_on(async {
        let pool = Arc::new(Semaphore::new(PERMITS));
        let tasks: Vec<_> = (0..QUERIES)
            .map(|_| tokio::spawn(query_db(Arc::clone(&pool))))
            .collect();
        let mut runs = Vec::new();
        for task in tasks {
            runs.push(task.await.unwrap());
        }
        assert_eq!(pool.available_permits(), PERMITS);
        runs
    });
    let waited = delay_of(&profile(addr, "block"), "query_db") - before;
    // What the tasks measured: on a quiet machine, 5 rounds of one hold each where
    // in round r 10 - 2r tasks wait, so on average (10 - 2) / 2 = 4 waiters per
    // round, each for one hold; on a busy one, also the hand-offs' scheduling delay
    // (a whole run measured 441 ms against 5 x 4 x 16.7 ms of holds under load).
    let truth = runs.iter().map(|r| r.0).sum::<Duration>().as_nanos() as f64;
    let hold = runs.iter().map(|r| r.1).sum::<Duration>().as_nanos() as f64 / QUERIES as f64;
    assert!(
        within(waited as f64, truth, 0.25),
        "query_db waited {waited} ns; the tasks measured {truth} ns (holds of {hold} ns)"
    );
    eprintln!("query_db waited {waited} ns; measured {truth} ns, hold {hold} ns");
    let rounds = (QUERIES / PERMITS) as f64;
    let nominal = rounds * (QUERIES - PERMITS) as f64 / 2.0 * QUERY.as_nanos() as f64;
    assert!(
        waited as f64 >= 0.75 * nominal,
        "at least (10-2)/2 x 10 ms per round: {waited} ns vs {nominal}"
    );
}

const MESSAGES: usize = 10;
const CONSUME: Duration = Duration::from_millis(5);

#[inline(never)]
async fn produce(tx: mpsc::Sender<usize>) -> Duration {
    let mut in_send = Duration::ZERO;
    for i in 0..MESSAGES {
        let start = Instant::now();
        tx.send(i).await.unwrap();
        in_send += start.elapsed();
    }
    in_send
}

#[inline(never)]
async fn consume(mut rx: mpsc::Receiver<usize>) -> Vec<usize> {
    let mut got = Vec::new();
    while let Some(i) = rx.recv().await {
        tokio::time::sleep(CONSUME).await; // the slow consumer
        got.push(i);
    }
    got
}

#[test]
fn full_channel_send_is_a_wait_of_the_sender() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    let (in_send, got) = runtime().block_on(async {
        let (tx, rx) = profiled::tokio_channel!("test-async-jobs", 1);
        let consumer = tokio::spawn(consume(rx));
        let in_send = tokio::spawn(produce(tx)).await.unwrap();
        (in_send, consumer.await.unwrap())
    });
    assert_eq!(got, (0..MESSAGES).collect::<Vec<_>>());
    let block = profile(addr, "block");
    let waited = delay_of(&block, "produce");
    let in_send = in_send.as_nanos() as f64;
    eprintln!("produce waited {waited} ns, in send {in_send} ns");
    assert!(
        in_send >= (CONSUME * (MESSAGES as u32 - 3)).as_nanos() as f64,
        "the sender really waited: {in_send} ns"
    );
    assert!(
        within(waited as f64, in_send, 0.25),
        "produce waited {waited} ns in the block profile; it spent {in_send} ns in send().await"
    );
    // The sender's waits are not the consumer's.
    assert!(
        block
            .sample
            .iter()
            .filter(|s| stack_names(&block, s).iter().any(|n| is_fn(n, "produce")))
            .all(|s| !stack_names(&block, s).iter().any(|n| is_fn(n, "consume"))),
        "produce's stacks do not contain consume"
    );
    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let site = stats["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "test-async-jobs")
        .expect("the named channel is listed");
    assert_eq!(site["kind"], "channel");
}

const PATIENCE: Duration = Duration::from_millis(10);
const GATE_HOLD: Duration = Duration::from_millis(60);

#[inline(never)]
async fn hold_then_release(locked: tokio::sync::oneshot::Sender<()>) {
    let mut guard = GATE.lock().await;
    locked.send(()).unwrap();
    tokio::time::sleep(GATE_HOLD).await;
    *guard += 1;
    drop(guard);
}

#[inline(never)]
async fn impatient() -> bool {
    tokio::time::timeout(PATIENCE, GATE.lock()).await.is_err()
}

#[test]
fn waiter_dropped_by_timeout_records_its_wait() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    let before = profile(addr, "mutex");
    let charged_before = delay_of(&before, "hold_then_release");
    runtime().block_on(async {
        let (locked, is_locked) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(hold_then_release(locked));
        is_locked.await.unwrap();
        assert!(
            tokio::spawn(impatient()).await.unwrap(),
            "the wait timed out"
        );
        holder.await.unwrap();
        // The lock is still correct: free, then taken and released as usual.
        let guard = GATE.try_lock().expect("free after the holder left");
        assert_eq!(*guard, 1);
        drop(guard);
        *GATE.lock().await += 1;
        assert_eq!(*GATE.lock().await, 2);
    });
    let block = profile(addr, "block");
    let waited = delay_of(&block, "impatient") as f64;
    let patience = PATIENCE.as_nanos() as f64;
    assert!(
        waited >= 0.8 * patience && waited <= 4.0 * patience,
        "impatient waited {waited} ns, about its 10 ms timeout"
    );
    eprintln!("impatient waited {waited} ns");
    // Its holder is charged what it waited, not the whole hold.
    let charged = (delay_of(&profile(addr, "mutex"), "hold_then_release") - charged_before) as f64;
    assert!(
        within(charged, waited, 0.25),
        "hold_then_release charged {charged} ns for a {waited} ns wait"
    );
}

static LEDGER: Mutex<u64> = Mutex::const_new(0);
const LEDGER_HOLD: Duration = Duration::from_millis(30);

#[inline(never)]
async fn hold_ledger(locked: tokio::sync::oneshot::Sender<()>) {
    let guard = LEDGER.lock().await;
    locked.send(()).unwrap();
    tokio::time::sleep(LEDGER_HOLD).await;
    drop(guard);
}

#[profiled::profiled]
async fn audited_read() -> u64 {
    *LEDGER.lock().await
}

#[test]
fn a_wait_inside_a_profiled_fn_is_recorded_once_with_its_logical_chain() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    let before = delay_of(&profile(addr, "block"), "audited_read");
    let started = Instant::now();
    runtime().block_on(async {
        let (locked, is_locked) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(hold_ledger(locked));
        is_locked.await.unwrap();
        tokio::spawn(audited_read()).await.unwrap();
        holder.await.unwrap();
    });
    let elapsed = started.elapsed().as_nanos() as f64;
    let block = profile(addr, "block");
    let waited = (delay_of(&block, "audited_read") - before) as f64;
    eprintln!("audited_read waited {waited} ns in {elapsed} ns");
    assert!(
        waited >= 0.5 * LEDGER_HOLD.as_nanos() as f64 && waited <= elapsed,
        "the wait counts once, not once per frame: {waited} ns of {elapsed} ns"
    );
    // Recorded under the real stack, with the logical chain as its label.
    let label = |s: &pprof::protos::Sample| -> Option<String> {
        s.label
            .iter()
            .find(|l| block.string_table[l.key as usize] == "logical_stack")
            .map(|l| block.string_table[l.str as usize].clone())
    };
    let sample = block
        .sample
        .iter()
        .find(|s| {
            stack_names(&block, s)
                .iter()
                .any(|n| is_fn(n, "audited_read"))
        })
        .expect("a sample under audited_read's real frames");
    assert_eq!(
        label(sample).as_deref(),
        Some("tokio_sync::audited_read"),
        "{sample:?}"
    );
}

static CONFIG: profiled::tokio::RwLock<u64> = profiled::tokio_rwlock!("test-async-config", 0);
static SIGNAL: profiled::tokio::Notify = profiled::tokio_notify!("test-async-signal");
const PAUSE: Duration = Duration::from_millis(20);

#[inline(never)]
async fn rewrite_config(locked: tokio::sync::oneshot::Sender<()>) {
    let mut config = CONFIG.write().await;
    locked.send(()).unwrap();
    tokio::time::sleep(PAUSE).await;
    *config += 1;
    drop(config);
}

#[inline(never)]
async fn read_config() -> u64 {
    *CONFIG.read().await
}

#[inline(never)]
async fn await_signal() {
    SIGNAL.notified().await
}

#[inline(never)]
async fn await_reply(reply: profiled::tokio::oneshot::Receiver<u64>) -> u64 {
    reply.await.unwrap()
}

#[test]
fn rwlock_notify_and_oneshot_waits_are_recorded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let addr = profiler();
    let (mutex_before, block_before) = (profile(addr, "mutex"), profile(addr, "block"));
    runtime().block_on(async {
        let (locked, is_locked) = tokio::sync::oneshot::channel();
        let writer = tokio::spawn(rewrite_config(locked));
        is_locked.await.unwrap();
        let readers: Vec<_> = (0..3).map(|_| tokio::spawn(read_config())).collect();
        writer.await.unwrap();
        for reader in readers {
            assert_eq!(reader.await.unwrap(), 1);
        }

        let waiter = tokio::spawn(await_signal());
        let (reply, replied) = profiled::tokio::oneshot::channel();
        let asker = tokio::spawn(await_reply(replied));
        tokio::time::sleep(PAUSE).await;
        SIGNAL.notify_one();
        reply.send(7).unwrap();
        waiter.await.unwrap();
        assert_eq!(asker.await.unwrap(), 7);
    });
    let (mutex, block) = (profile(addr, "mutex"), profile(addr, "block"));
    let delta =
        |p: &Profile, before: &Profile, f: &str| (delay_of(p, f) - delay_of(before, f)) as f64;
    let pause = PAUSE.as_nanos() as f64;
    let readers = delta(&block, &block_before, "read_config");
    let charged = delta(&mutex, &mutex_before, "rewrite_config");
    eprintln!("read_config waited {readers} ns; rewrite_config charged {charged} ns");
    assert!(
        readers >= 0.5 * 3.0 * pause,
        "3 readers waited for the writer: {readers} ns"
    );
    assert!(
        within(charged, readers, 0.25),
        "the writer is charged the readers' waiting: {charged} vs {readers} ns"
    );
    for function in ["await_signal", "await_reply"] {
        let waited = delta(&block, &block_before, function);
        assert!(
            waited >= 0.5 * pause && waited <= 20.0 * pause,
            "{function} waited {waited} ns for a {pause} ns pause"
        );
    }
    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let kind = |name: &str| {
        stats["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| l["kind"].clone())
    };
    assert_eq!(kind("test-async-config"), Some("async_rwlock".into()));
    assert_eq!(kind("test-async-signal"), Some("notify".into()));
}

static DOORS: Mutex<u64> = profiled::tokio_mutex!("test-async-doors", 0);

/// One `blocking_lock` that waits about `PAUSE` for the main thread's hold.
fn wait_for_doors() {
    let guard = DOORS.blocking_lock();
    let (started, has_started) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        started.send(()).unwrap();
        *DOORS.blocking_lock() += 1;
    });
    has_started.recv().unwrap();
    std::thread::sleep(PAUSE);
    drop(guard);
    waiter.join().unwrap();
}

/// With the profiles off, a `blocking_lock` that waits is in the wait table only: it
/// adds nothing to its site's totals (as the sync locks' unrecorded waits do). It
/// used to add the clock's whole count as one wait, its start being unread (0).
#[test]
fn an_unrecorded_blocking_wait_leaves_the_site_totals_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let site = || {
        profiled::lock_sites()
            .into_iter()
            .find(|s| s.name == "test-async-doors")
            .unwrap()
    };
    let rates = (profiled::block_rate(), profiled::mutex_fraction());
    profiled::set_block_rate(0);
    profiled::set_mutex_fraction(0);
    wait_for_doors();
    let unrecorded = site();
    // Recorded, the same wait counts its own length.
    profiled::set_block_rate(1);
    profiled::set_mutex_fraction(1);
    wait_for_doors();
    let recorded = site();
    profiled::set_block_rate(rates.0);
    profiled::set_mutex_fraction(rates.1);

    assert_eq!(*DOORS.blocking_lock(), 2);
    assert_eq!(
        (
            unrecorded.contentions,
            unrecorded.wait_ns,
            unrecorded.max_wait_ns
        ),
        (0, 0, 0),
        "profiles off"
    );
    let pause = PAUSE.as_nanos() as u64;
    assert_eq!(recorded.contentions, 1);
    assert!(
        recorded.wait_ns >= pause / 2 && recorded.wait_ns <= 20 * pause,
        "waited {} ns for a {pause} ns pause",
        recorded.wait_ns
    );
}
