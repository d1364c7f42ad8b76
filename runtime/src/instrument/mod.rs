//! `#[profiled]` instrumentation: per-call timing and logical stacks (`call.rs` and
//! `logical.rs`, the hot paths) and async wait recording (`wait.rs`, cold).

mod call;
pub(crate) mod logical;
pub(crate) mod wait;

use std::sync::atomic::{AtomicU8, Ordering};

pub use call::{Instrumented, SyncCall, enter, instrument};

/// Instrumentation switches, read with one relaxed load per call: bit
/// [`FUNCTIONS`] records stats and waits, bit [`TRACING`] records trace events.
/// Relaxed: switches, ordering nothing else.
static STATE: AtomicU8 = AtomicU8::new(0);
pub(crate) const FUNCTIONS: u8 = 1;
pub(crate) const TRACING: u8 = 2;

/// The switches, for the hot paths.
#[inline(always)]
pub(crate) fn state() -> u8 {
    STATE.load(Ordering::Relaxed)
}

/// Sets the tracing bit; false when a trace was already running.
pub(crate) fn start_tracing() -> bool {
    crate::clock::start_calibration();
    STATE.fetch_or(TRACING, Ordering::Relaxed) & TRACING == 0
}

pub(crate) fn stop_tracing() {
    STATE.fetch_and(!TRACING, Ordering::Relaxed);
}

/// Switches `#[profiled]` instrumentation on or off at runtime. When off, an
/// instrumented call costs one relaxed load and a branch.
///
/// ```
/// profiled::set_function_profiling(true);
/// assert!(profiled::function_profiling());
/// profiled::set_function_profiling(false);
/// ```
pub fn set_function_profiling(on: bool) {
    if on {
        crate::clock::start_calibration();
    }
    if on {
        STATE.fetch_or(FUNCTIONS, Ordering::Relaxed);
    } else {
        STATE.fetch_and(!FUNCTIONS, Ordering::Relaxed);
    }
}

/// Whether `#[profiled]` instrumentation is recording.
///
/// ```
/// assert!(!profiled::function_profiling()); // off until a Profiler starts
/// profiled::set_function_profiling(true);
/// assert!(profiled::function_profiling());
/// ```
#[inline(always)]
pub fn function_profiling() -> bool {
    state() & FUNCTIONS != 0
}

/// Names of the `#[profiled]` frames running on the current thread, root first:
/// the sync calls in progress and, inside a poll, the chain of instrumented futures.
///
/// ```
/// use profiled::profiled;
///
/// #[profiled(name = "doc::outer")]
/// fn outer() -> Vec<&'static str> {
///     inner()
/// }
///
/// #[profiled(name = "doc::inner")]
/// fn inner() -> Vec<&'static str> {
///     profiled::current_logical_stack()
/// }
///
/// profiled::set_function_profiling(true);
/// assert_eq!(outer(), ["doc::outer", "doc::inner"]);
/// assert!(profiled::current_logical_stack().is_empty());
/// ```
pub fn current_logical_stack() -> Vec<&'static str> {
    let mut names = Vec::with_capacity(logical::depth().min(logical::CAPACITY));
    logical::for_each(|site| names.push(site.name()));
    names
}
