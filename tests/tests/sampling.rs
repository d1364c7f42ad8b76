//! Sampled profiles stay unbiased: with `mutex_fraction = 10` and a 1 ms
//! `block_rate`, totals over many short waits stay within 25% of the truth, which
//! the waiter measures itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{decode, get, serve, total, total_for};

static LOCK: ProfiledMutex<u64> = profiled_mutex!("sampled", 0);

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
        drop(guard);
        while turn.load(Ordering::Acquire) != round * 2 + 2 {
            std::hint::spin_loop();
        }
    }
}

/// Waits for each hold; returns the nanoseconds it measured itself and how many
/// of its waits lasted long enough to count as contention (10 us and more; on a
/// busy machine some rounds find the lock already free).
#[inline(never)]
fn sampled_waiter(turn: &AtomicU32) -> (u64, u64) {
    let mut waited = 0u64;
    let mut contended = 0u64;
    for round in 0..ROUNDS {
        while turn.load(Ordering::Acquire) != round * 2 + 1 {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        let mut guard = LOCK.lock();
        let wait = start.elapsed().as_nanos() as u64;
        waited += wait;
        contended += u64::from(wait >= 10_000);
        *guard += 1;
        drop(guard);
        turn.store(round * 2 + 2, Ordering::Release);
    }
    (waited, contended)
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
    let (truth, contended) = waiter.join().unwrap();
    let truth = truth as f64;
    let contended = contended as f64;
    assert_eq!(*LOCK.lock(), u64::from(ROUNDS));

    let within = |measured: i64| (measured as f64 - truth).abs() / truth;

    // The mutex profile charges every nanosecond of waiting to some holder: most to
    // sampled_holder, the wake-up hand-off after each unlock to the next holder.
    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let charged = total(&mutex, 1);
    assert!(
        within(charged) <= 0.25,
        "mutex profile charged {charged} ns in all, truth {truth} ns"
    );
    let holder_share = total_for(&mutex, "sampled_holder", 1) as f64 / charged as f64;
    assert!(holder_share >= 0.6, "sampled_holder's share {holder_share}");
    // Every kept event counts `fraction` times.
    let contentions = total(&mutex, 0);
    assert_eq!(contentions % 10, 0, "{contentions}");

    let block = decode(&get(addr, "/debug/pprof/block").body);
    let waited = total_for(&block, "sampled_waiter", 1);
    eprintln!(
        "truth {truth} ns in {contended} waits; mutex (fraction 10) {charged} ns, \
         {contentions} contentions; block (rate 1 ms) {waited} ns, {} waits",
        total_for(&block, "sampled_waiter", 0)
    );
    assert!(
        within(waited) <= 0.25,
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
