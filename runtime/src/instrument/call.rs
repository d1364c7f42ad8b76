//! HOT: budget per call: no alloc, no lock, no format, no I/O, no panic; when
//! function profiling is off, one relaxed load and a branch.
//!
//! Sync calls: a guard that pushes a logical frame and reads the tick counter on
//! entry and exit. Futures: a wrapper that does the same around every poll and
//! measures the time between polls (idle, i.e. waiting). Recording a wait in the
//! block profile happens in `wait.rs`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::logical::{self, PollFrame};
use super::wait;
use crate::clock::ticks;
use crate::control::{FUNCTIONS, TRACING, call_switches as state};
use crate::site::FnSite;
use crate::trace::{self, Category};

/// A running sync call of a `#[profiled]` function. Not public API.
#[doc(hidden)]
pub struct SyncCall {
    site: &'static FnSite,
    start: u64,
    state: u8,
}

/// Entry of a sync `#[profiled]` function: `None` (nothing to undo) when function
/// profiling is off. Not public API.
#[doc(hidden)]
#[inline(always)]
pub fn enter(site: &'static FnSite) -> Option<SyncCall> {
    let state = state();
    if state == 0 {
        return None;
    }
    Some(SyncCall::start(site, state))
}

impl SyncCall {
    /// Out of line, like `drop`: the instrumented function itself keeps only a load
    /// and a branch, so with profiling off it needs no larger stack frame.
    #[inline(never)]
    fn start(site: &'static FnSite, state: u8) -> SyncCall {
        logical::push(site);
        SyncCall {
            site,
            start: ticks(),
            state,
        }
    }
}

impl Drop for SyncCall {
    #[inline(never)]
    fn drop(&mut self) {
        let end = ticks();
        logical::pop();
        if self.state & FUNCTIONS != 0 {
            self.site.record_call(end.wrapping_sub(self.start));
        }
        if self.state & TRACING != 0 {
            trace::record(self.site.name(), Category::Function, self.start, end);
        }
    }
}

/// A future instrumented by `#[profiled]`. Not public API.
#[doc(hidden)]
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F> {
    inner: F,
    site: &'static FnSite,
    /// Ticks at the first poll; 0 before it and after completion.
    started: u64,
    /// Ticks when the last poll returned `Pending`; 0 when not waiting.
    pending_since: u64,
    /// The logical chain this future's current wait is recorded under, when this
    /// future is the innermost instrumented one waiting.
    wait: Option<wait::WaitStack>,
}

/// Wraps a future so its polls, busy and idle time are recorded under `site`.
/// Not public API.
#[doc(hidden)]
#[inline]
pub fn instrument<F: Future>(site: &'static FnSite, inner: F) -> Instrumented<F> {
    Instrumented {
        inner,
        site,
        started: 0,
        pending_since: 0,
        wait: None,
    }
}

impl<F> Instrumented<F> {
    /// Ends the current wait at `now`: idle time, and the block event if this future
    /// owned the wait.
    #[inline(always)]
    fn end_wait(&mut self, now: u64) {
        if self.pending_since != 0 {
            let idle = now.wrapping_sub(self.pending_since);
            self.site.record_idle(idle);
            if let Some(stack) = self.wait.take() {
                wait::record(stack, idle);
            }
            self.pending_since = 0;
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`
        // (not here, not in `Drop`); the other fields are plain data, never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let state = state();
        if state & FUNCTIONS == 0 {
            if state & TRACING != 0 {
                let start = ticks();
                let frame = PollFrame::enter(this.site);
                // SAFETY: see above; `this.inner` stays where the pinned `self` put it.
                let result = unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx);
                drop(frame);
                trace::record(this.site.name(), Category::Poll, start, ticks());
                return result;
            }
            this.started = 0;
            this.pending_since = 0;
            this.wait = None;
            // SAFETY: see above; `this.inner` stays where the pinned `self` put it.
            return unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx);
        }
        let start = ticks();
        this.end_wait(start);
        if this.started == 0 {
            this.started = start;
        }
        let frame = PollFrame::enter(this.site);
        // SAFETY: see above; `this.inner` stays where the pinned `self` put it.
        let result = unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx);
        let end = ticks();
        this.site.record_poll(end.wrapping_sub(start));
        match result {
            Poll::Pending => {
                this.pending_since = end;
                if frame.claim_wait() {
                    this.wait = wait::current_chain();
                }
            }
            Poll::Ready(_) => {
                this.site.record_call(end.wrapping_sub(this.started));
                this.started = 0;
            }
        }
        drop(frame);
        if state & TRACING != 0 {
            trace::record(this.site.name(), Category::Poll, start, end);
        }
        result
    }
}

impl<F> Drop for Instrumented<F> {
    fn drop(&mut self) {
        // A future dropped while waiting (cancelled, or its task shut down) waited
        // until now; one dropped after a poll panicked ends here too. Either way the
        // call is over: count it, as a sync call that panics is counted.
        if self.started != 0 {
            let now = ticks();
            self.end_wait(now);
            self.site.record_call(now.wrapping_sub(self.started));
        } else if self.pending_since != 0 {
            self.end_wait(ticks());
        }
    }
}
