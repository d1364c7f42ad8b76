//! `#[profiled]` instrumentation: per-call timing and logical stacks (`call.rs` and
//! `logical.rs`, the hot paths) and async wait recording (`wait.rs`, cold).

mod call;
pub(crate) mod logical;
pub(crate) mod wait;

use std::sync::atomic::{AtomicBool, Ordering};

pub use call::{Instrumented, SyncCall, enter, instrument};

/// Function profiling switch; off until a `Profiler` starts or it is set.
/// Relaxed: a switch, ordering nothing else.
static FUNCTIONS: AtomicBool = AtomicBool::new(false);

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
    FUNCTIONS.store(on, Ordering::Relaxed);
}

/// Whether `#[profiled]` instrumentation is recording.
#[inline(always)]
pub fn function_profiling() -> bool {
    FUNCTIONS.load(Ordering::Relaxed)
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
