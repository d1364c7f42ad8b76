//! Sampled profiles stay unbiased: with `mutex_fraction = 10` and a 1 ms
//! `block_rate`, totals over many short waits stay within 25% of the truth, which
//! the threads measure themselves.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{decode, get, serve, total, total_for};

static LOCK: ProfiledMutex<u64> = profiled_mutex!("sampled", 0);
/// The clock both threads read: nanoseconds since this instant.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// When the holder last released, in nanoseconds since [`EPOCH`].
static RELEASED_AT: AtomicU64 = AtomicU64::new(0);

fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

const ROUNDS: u32 = 5_000;
/// Each hold lasts this long; waits are a little shorter, well under the 1 ms rate.
const HOLD: Duration = Duration::from_micros(300);

/// Holds the lock for HOLD once the waiter is about to block, ROUNDS times.
#[inline(never)]
fn sampled_holder(turn: &AtomicU32) {
    for round in 0..ROUNDS {
        let guard = LOCK.lock();
        turn.store(round * 2 + 1, Ordering::Release);
        let start = Instant::now();
        while start.elapsed() < HOLD {
            std::hint::spin_loop();
        }
        RELEASED_AT.store(now_ns(), Ordering::Relaxed);
        drop(guard);
        while turn.load(Ordering::Acquire) != round * 2 + 2 {
            std::hint::spin_loop();
        }
    }
}

/// What the waiter measured: its waiting, the part of it the holder's holds caused
/// (up to each release; the rest is the waiter getting back to the CPU, which on a
/// busy machine can be most of it), and how many of its waits lasted long enough to
/// count as contention (10 us and more; some rounds find the lock already free).
struct Measured {
    waited: u64,
    caused: u64,
    contended: u64,
}

/// Waits for each hold; returns what it measured itself.
#[inline(never)]
fn sampled_waiter(turn: &AtomicU32) -> Measured {
    let mut measured = Measured {
        waited: 0,
        caused: 0,
        contended: 0,
    };
    for round in 0..ROUNDS {
        while turn.load(Ordering::Acquire) != round * 2 + 1 {
            std::hint::spin_loop();
        }
        let start = now_ns();
        let mut guard = LOCK.lock();
        let wait = now_ns() - start;
        measured.waited += wait;
        if wait >= 10_000 {
            measured.contended += 1;
            // Stored before the release this lock() waited for (the lock orders it).
            measured.caused += RELEASED_AT.load(Ordering::Relaxed).saturating_sub(start);
        }
        *guard += 1;
        drop(guard);
        turn.store(round * 2 + 2, Ordering::Release);
    }
    measured
}

#[test]
fn sampled_totals_stay_within_a_quarter_of_the_truth() {
    let (_profiler, addr) = serve(Config {
        mutex_fraction: 10,
        block_rate: 1_000_000,
        ..Config::default()
    });

    let turn = Arc::new(AtomicU32::new(0));
    let waiter = {
        let turn = Arc::clone(&turn);
        thread::spawn(move || sampled_waiter(&turn))
    };
    sampled_holder(&turn);
    let Measured {
        waited: truth,
        caused,
        contended,
    } = waiter.join().unwrap();
    let (truth, caused, contended) = (truth as f64, caused as f64, contended as f64);
    assert_eq!(*LOCK.lock(), u64::from(ROUNDS));

    let within = |measured: i64, truth: f64| (measured as f64 - truth).abs() / truth;

    // The mutex profile charges sampled_holder's releases with the waiting up to
    // each release, as Go's does; the waiter's wake-up after it is nobody's, so its
    // own releases (with nobody waiting) owe nothing.
    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let charged = total(&mutex, 1);
    assert!(
        within(charged, caused) <= 0.25,
        "mutex profile charged {charged} ns in all; the holds caused {caused} ns"
    );
    let holder_share = total_for(&mutex, "sampled_holder", 1) as f64 / charged as f64;
    assert!(
        holder_share >= 0.95,
        "sampled_holder's share {holder_share}; waiter {} ns in {} events",
        total_for(&mutex, "sampled_waiter", 1),
        total_for(&mutex, "sampled_waiter", 0)
    );
    // Every kept event counts `fraction` times.
    let contentions = total(&mutex, 0);
    assert_eq!(contentions % 10, 0, "{contentions}");

    let block = decode(&get(addr, "/debug/pprof/block").body);
    let waited = total_for(&block, "sampled_waiter", 1);
    eprintln!(
        "truth {truth} ns in {contended} waits ({caused} ns up to the releases); \
         mutex (fraction 10) {charged} ns, \
         {contentions} contentions; block (rate 1 ms) {waited} ns, {} waits",
        total_for(&block, "sampled_waiter", 0)
    );
    assert!(
        within(waited, truth) <= 0.25,
        "block profile has {waited} ns in sampled_waiter, truth {truth} ns"
    );
    let events = total_for(&block, "sampled_waiter", 0) as f64;
    assert!(
        (events - contended).abs() / contended <= 0.25,
        "block profile counts {events} waits, truth {contended}"
    );
    // The legacy text reports the sampling period, as Go's does.
    let text = get(addr, "/debug/pprof/mutex?debug=1").text();
    assert!(text.contains("\nsampling period=10\n"), "{text}");
}
