//! The profiler's own allocations: kept out of the user's `heap` and `allocs`
//! profiles, and counted by component for `/debug/stats` (`self`) and `/metrics`
//! (`profiled_self_bytes`).
//!
//! A thread is the profiler's own when its OS name starts with `profiled-` (every
//! thread the profiler spawns: the HTTP server and its blocking pool, the CPU
//! supervisor, the signal thread), or while a [`Scope`] is entered on it (profiler
//! work on a user's thread: a mounted [`ProfiledService`](crate::ProfiledService),
//! symbolization). Nothing here runs on the allocator's hot path: [`active`] is read
//! at the sampling point and [`account`] at counter flushes, both on the cold path
//! (at most once per 256 KiB or per sample), and scopes flush the thread's counters
//! when they open and close so the bytes in between are attributed exactly.
//! Blocks allocated while a thread is the profiler's own are never sampled, so they
//! are never in the live table and their frees need no special case.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the profiler's own memory is spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Component {
    /// Symbolization: the DWARF index while it is loaded, and the name cache.
    Symbolizer = 0,
    /// The HTTP server, its blocking pool, profile building and encoding.
    Server = 1,
    /// The CPU profiler's supervisor and sample tables.
    Cpu = 2,
    /// The signal thread (SIGUSR1/SIGUSR2).
    Signals = 3,
    /// Any other `profiled-*` thread.
    Other = 4,
}

impl Component {
    /// Every component, in report order.
    pub(crate) const ALL: [Component; 5] = [
        Component::Symbolizer,
        Component::Server,
        Component::Cpu,
        Component::Signals,
        Component::Other,
    ];

    /// The component of a `profiled-*` thread, by the rest of its name.
    fn of_thread(rest: &[u8]) -> Component {
        if rest.starts_with(b"symbol") {
            Component::Symbolizer
        } else if rest.starts_with(b"http") {
            Component::Server
        } else if rest.starts_with(b"cpu") {
            Component::Cpu
        } else if rest.starts_with(b"signal") {
            Component::Signals
        } else {
            Component::Other
        }
    }
}

/// Thread state: `UNKNOWN_*` until the name was read, then `USER` or a component.
const USER: u8 = 0xff;
/// Names are read on the first few cold-path visits: a thread may allocate before
/// `std` has named it. After that many visits with a user's name, it stays a user's.
const NAME_CHECKS: u8 = 4;
const UNKNOWN: u8 = 0xf0;

thread_local! {
    /// `UNKNOWN + checks done`, `USER`, or the `Component` this thread counts for.
    static STATE: Cell<u8> = const { Cell::new(UNKNOWN) };
}

/// Bytes allocated and freed while a component was active, by component. Relaxed:
/// independent statistics.
static ALLOCATED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static FREED: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

/// The component this thread counts for now, `None` for the user's own code.
fn current() -> Option<Component> {
    STATE
        .try_with(|state| {
            let mut value = state.get();
            if (UNKNOWN..UNKNOWN + NAME_CHECKS).contains(&value) {
                value = match own_thread_name() {
                    Some(component) => component as u8,
                    None if value + 1 == UNKNOWN + NAME_CHECKS => USER,
                    None => value + 1,
                };
                state.set(value);
            }
            Component::ALL.get(usize::from(value)).copied()
        })
        .ok()
        .flatten()
}

/// The component of this thread by its OS name (`prctl(PR_GET_NAME)`: no allocation,
/// no lock), `None` for a thread that is not `profiled-*`.
fn own_thread_name() -> Option<Component> {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) into the buffer.
    let ok = unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) } == 0;
    let rest = name.strip_prefix(b"profiled-").filter(|_| ok)?;
    Some(Component::of_thread(rest))
}

/// True while the calling thread works for the profiler: its allocations are
/// counted but never sampled. Cold path only.
pub(super) fn active() -> bool {
    current().is_some()
}

/// Credits a counter flush (`allocated` and `freed` bytes since the last one), or
/// memory mapped outside the allocator (a large zeroed table, `crate::zeroed`), to
/// the calling thread's component, if it has one. Cold path only.
pub(crate) fn account(allocated: u64, freed: u64) {
    if let Some(component) = current() {
        let index = component as usize;
        ALLOCATED[index].fetch_add(allocated, Ordering::Relaxed);
        FREED[index].fetch_add(freed, Ordering::Relaxed);
    }
}

/// Flushes the calling thread's allocation counters, so what it allocated so far is
/// credited to its current component.
fn flush_here() {
    let _ = super::hot::LOCAL.try_with(super::cold::flush);
}

/// Profiler work on any thread: while alive, the thread's allocations are not
/// sampled and are credited to `component`. Nests; each guard restores the state it
/// found.
#[must_use = "the scope ends when the guard is dropped"]
pub(crate) struct Scope {
    previous: u8,
}

/// Enters a [`Scope`] for `component` on the calling thread.
pub(crate) fn scope(component: Component) -> Scope {
    flush_here();
    // A thread whose name was not read yet keeps that state for after the scope.
    let previous = STATE
        .try_with(|state| state.replace(component as u8))
        .unwrap_or(USER);
    Scope { previous }
}

impl Drop for Scope {
    fn drop(&mut self) {
        flush_here();
        let _ = STATE.try_with(|state| state.set(self.previous));
    }
}

/// Polls `F` inside a [`Scope`]: for profiler futures run by a user's executor.
pub(crate) struct Scoped<F> {
    component: Component,
    inner: std::pin::Pin<Box<F>>,
}

impl<F> Scoped<F> {
    /// Wraps `inner`.
    pub(crate) fn new(component: Component, inner: F) -> Scoped<F> {
        Scoped {
            component,
            inner: Box::pin(inner),
        }
    }
}

impl<F: std::future::Future> std::future::Future for Scoped<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let _scope = scope(self.component);
        self.inner.as_mut().poll(cx)
    }
}

/// Bytes allocated minus bytes freed while `component` was active (0 if more were
/// freed: blocks can be freed by another component than the one that allocated them).
pub(crate) fn live_bytes(component: Component) -> u64 {
    let index = component as usize;
    ALLOCATED[index]
        .load(Ordering::Relaxed)
        .saturating_sub(FREED[index].load(Ordering::Relaxed))
}

/// Bytes allocated minus bytes freed by every component together: exact in sum,
/// where one component's blocks freed by another skew the per-component figures.
pub(crate) fn total_live_bytes() -> u64 {
    let sum = |counters: &[AtomicU64; 5]| {
        counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .fold(0u64, u64::wrapping_add)
    };
    sum(&ALLOCATED).saturating_sub(sum(&FREED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_named_profiled_are_the_profilers_own() {
        let named = std::thread::Builder::new()
            .name("profiled-cpu".into())
            .spawn(current)
            .unwrap();
        assert_eq!(named.join().unwrap(), Some(Component::Cpu));
        let user = std::thread::Builder::new()
            .name("worker".into())
            .spawn(|| (0..2 * NAME_CHECKS).map(|_| current()).collect::<Vec<_>>())
            .unwrap();
        assert!(user.join().unwrap().iter().all(Option::is_none));
    }

    #[test]
    fn scopes_nest_and_restore() {
        std::thread::spawn(|| {
            assert_eq!(current(), None);
            {
                let _outer = scope(Component::Server);
                assert_eq!(current(), Some(Component::Server));
                {
                    let _inner = scope(Component::Symbolizer);
                    assert_eq!(current(), Some(Component::Symbolizer));
                }
                assert_eq!(current(), Some(Component::Server));
            }
            assert_eq!(current(), None);
        })
        .join()
        .unwrap();
    }
}
