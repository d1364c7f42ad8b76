//! Clocks for the contended paths. Never used on an uncontended fast path.

use std::time::{SystemTime, UNIX_EPOCH};

/// Monotonic nanoseconds (CLOCK_MONOTONIC). Only differences are meaningful.
#[inline]
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported
    // on Linux, and clock_gettime is async-signal-safe and does not allocate.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Wall-clock nanoseconds since the Unix epoch, for profile timestamps.
pub(crate) fn unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Fast monotonic ticks for per-call timing: the time-stamp counter on x86_64
/// (about 10 ns to read on the CI machine, against 25 ns for `clock_gettime`),
/// nanoseconds elsewhere. Assumes an invariant TSC, as every x86_64 server CPU of
/// the last decade has (Linux then uses it as its own clock source).
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions; it only reads the time-stamp counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        now_ns()
    }
}

/// Starts the tick-to-nanosecond calibration (a first (ticks, ns) pair), so later
/// conversions need not wait for it.
pub(crate) fn start_calibration() {
    anchor();
}

fn anchor() -> (u64, u64) {
    static ANCHOR: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    *ANCHOR.get_or_init(|| (ticks(), now_ns()))
}

/// Converts a tick count to nanoseconds, by the ratio of ticks to nanoseconds
/// measured over at least 10 ms since the calibration anchor (waiting for that span
/// the first time), then cached.
#[inline]
pub(crate) fn ticks_to_ns(ticks_count: u64) -> u64 {
    if cfg!(not(target_arch = "x86_64")) {
        return ticks_count;
    }
    (ticks_count as f64 * ns_per_tick()) as u64
}

/// Converts nanoseconds to ticks (see [`ticks_to_ns`]).
#[inline]
pub(crate) fn ns_to_ticks(ns: u64) -> u64 {
    if cfg!(not(target_arch = "x86_64")) {
        return ns;
    }
    (ns as f64 / ns_per_tick()) as u64
}

fn ns_per_tick() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    // f64 bits; 0 until calibrated. Relaxed: a value computed idempotently.
    static NS_PER_TICK: AtomicU64 = AtomicU64::new(0);
    let cached = NS_PER_TICK.load(Ordering::Relaxed);
    if cached != 0 {
        return f64::from_bits(cached);
    }
    let (t0, n0) = anchor();
    loop {
        let (t1, n1) = (ticks(), now_ns());
        let elapsed = n1.saturating_sub(n0);
        if elapsed >= 10_000_000 && t1 > t0 {
            let ratio = elapsed as f64 / (t1 - t0) as f64;
            NS_PER_TICK.store(ratio.to_bits(), Ordering::Relaxed);
            return ratio;
        }
        std::thread::sleep(std::time::Duration::from_nanos(
            10_000_000 - elapsed.min(10_000_000),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_wall_time() {
        start_calibration();
        let (t0, n0) = (ticks(), now_ns());
        std::thread::sleep(std::time::Duration::from_millis(30));
        let (t1, n1) = (ticks(), now_ns());
        let measured = ticks_to_ns(t1 - t0) as f64;
        let truth = (n1 - n0) as f64;
        assert!(
            (measured - truth).abs() / truth < 0.05,
            "{measured} vs {truth}"
        );
    }
}
