//! Process-wide profiling switches, read with one relaxed load on contended paths.
//!
//! They mirror Go's `runtime.SetBlockProfileRate` and `runtime.SetMutexProfileFraction`:
//! a value of zero (or below) switches the profile off. [`crate::Profiler::start`]
//! sets them from [`crate::Config`]; they can also be changed at any time.
//!
//! The byte of call switches is here too: function profiling (`instrument`) and
//! tracing (`trace`) share it, so a `#[profiled]` call reads both with one load.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};

/// Call switches, read with one relaxed load per `#[profiled]` call: bit
/// [`FUNCTIONS`] records stats and waits (`instrument`), bit [`TRACING`] records
/// trace events (`trace`). Relaxed: switches, ordering nothing else.
static CALL_SWITCHES: AtomicU8 = AtomicU8::new(0);
/// Function profiling is on ([`crate::set_function_profiling`]).
pub(crate) const FUNCTIONS: u8 = 1;
/// A trace window is open ([`crate::trace::enabled`]).
pub(crate) const TRACING: u8 = 2;

/// The call switches, for the hot paths.
#[inline(always)]
pub(crate) fn call_switches() -> u8 {
    CALL_SWITCHES.load(Ordering::Relaxed)
}

/// Sets `bit` of the call switches; false when it was set already.
pub(crate) fn switch_on(bit: u8) -> bool {
    CALL_SWITCHES.fetch_or(bit, Ordering::Relaxed) & bit == 0
}

/// Clears `bit` of the call switches.
pub(crate) fn switch_off(bit: u8) {
    CALL_SWITCHES.fetch_and(!bit, Ordering::Relaxed);
}

/// Block profile rate in nanoseconds; 0 = off. Relaxed: a switch, ordering nothing else.
static BLOCK_RATE: AtomicI64 = AtomicI64::new(0);
/// Mutex profile fraction; 0 = off. Relaxed: a switch, ordering nothing else.
static MUTEX_FRACTION: AtomicI64 = AtomicI64::new(0);
/// Frames kept per captured stack.
static MAX_STACK_DEPTH: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_DEPTH);

/// Default number of frames kept per stack.
pub const DEFAULT_STACK_DEPTH: usize = 64;
/// Hard upper bound on frames per stack (the size of the capture buffer).
pub const MAX_STACK_DEPTH_LIMIT: usize = 256;

/// Sets the block profile rate, as Go's `runtime.SetBlockProfileRate`.
///
/// A blocking event (a contended lock acquisition, a condition variable wait) of
/// `d` nanoseconds is recorded when `d >= rate`, and with probability `d / rate`
/// otherwise; sampled events are scaled back so totals stay unbiased. `1` records
/// every event; `0` or below switches block profiling off.
///
/// ```
/// profiled::set_block_rate(1_000_000); // about one event per millisecond blocked
/// assert_eq!(profiled::block_rate(), 1_000_000);
/// profiled::set_block_rate(0);
/// ```
pub fn set_block_rate(rate_ns: i64) {
    if rate_ns > 0 {
        crate::clock::start_calibration();
    }
    BLOCK_RATE.store(rate_ns.max(0), Ordering::Relaxed);
}

/// The current block profile rate in nanoseconds (0 when off).
///
/// ```
/// assert_eq!(profiled::block_rate(), 0); // off until a Profiler starts
/// profiled::set_block_rate(10_000);
/// assert_eq!(profiled::block_rate(), 10_000);
/// ```
pub fn block_rate() -> i64 {
    BLOCK_RATE.load(Ordering::Relaxed)
}

/// Sets the mutex profile fraction, as Go's `runtime.SetMutexProfileFraction`, and
/// returns the previous value.
///
/// On average 1 in `fraction` contended unlocks is recorded, scaled by `fraction` so
/// totals stay unbiased. `1` records every event; `0` or below switches mutex
/// profiling off.
///
/// ```
/// let previous = profiled::set_mutex_fraction(10);
/// assert_eq!(profiled::mutex_fraction(), 10);
/// profiled::set_mutex_fraction(previous);
/// ```
pub fn set_mutex_fraction(fraction: i64) -> i64 {
    if fraction > 0 {
        crate::clock::start_calibration();
    }
    MUTEX_FRACTION.swap(fraction.max(0), Ordering::Relaxed)
}

/// The current mutex profile fraction (0 when off).
///
/// ```
/// assert_eq!(profiled::mutex_fraction(), 0); // off until a Profiler starts
/// profiled::set_mutex_fraction(5);
/// assert_eq!(profiled::mutex_fraction(), 5);
/// ```
pub fn mutex_fraction() -> i64 {
    MUTEX_FRACTION.load(Ordering::Relaxed)
}

pub(crate) fn set_max_stack_depth(depth: usize) {
    MAX_STACK_DEPTH.store(depth.clamp(1, MAX_STACK_DEPTH_LIMIT), Ordering::Relaxed);
}

pub(crate) fn max_stack_depth() -> usize {
    MAX_STACK_DEPTH.load(Ordering::Relaxed)
}

/// True when the mutex profile wants events, so locks keep their waiter books.
#[inline]
pub(crate) fn mutex_profiling() -> bool {
    MUTEX_FRACTION.load(Ordering::Relaxed) > 0
}

/// True when any contention profile wants events; one relaxed load each.
#[inline]
pub(crate) fn contention_profiling() -> bool {
    BLOCK_RATE.load(Ordering::Relaxed) > 0 || MUTEX_FRACTION.load(Ordering::Relaxed) > 0
}
