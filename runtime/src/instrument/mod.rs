//! `#[profiled]` instrumentation: per-call timing and logical stacks (`call.rs` and
//! `logical.rs`, the hot paths) and async wait recording (`wait.rs`, cold).

mod call;
pub(crate) mod logical;
pub(crate) mod wait;

pub use call::{Instrumented, SyncCall, enter, instrument};

use crate::control::{self, FUNCTIONS};

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
        control::switch_on(FUNCTIONS);
    } else {
        control::switch_off(FUNCTIONS);
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
    control::call_switches() & FUNCTIONS != 0
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
