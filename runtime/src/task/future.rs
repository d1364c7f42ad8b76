//! HOT: budget per poll: no alloc, no lock, no format, no I/O, no panic; a few
//! relaxed atomics on the task's slot, and interning the wait's logical chain
//! (cold) when the task goes idle inside `#[profiled]` code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::slots;
use crate::instrument::logical;

/// A spawned future tracked in the task table while it lives.
pub(crate) struct TaskFuture<F> {
    inner: F,
    slot: Option<usize>,
}

impl<F> TaskFuture<F> {
    pub(crate) fn new(inner: F, slot: Option<usize>) -> TaskFuture<F> {
        TaskFuture { inner, slot }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned and never moved out (not in `Drop`
        // either); `slot` is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(slot) = this.slot else {
            return inner.poll(cx);
        };
        let tasks = slots::get();
        // The task is the owner of the async locks it takes while polled.
        let _polling = crate::deadlock::owner::polling(tasks.start_poll(slot));
        let base = logical::depth();
        logical::reset_claim();
        crate::labels::reset_pending();
        let start = crate::clock::ticks();
        let result = inner.poll(cx);
        // The labels of the scope it waits in (its inherited ones at least).
        if let Some(labels) = crate::labels::take_pending() {
            tasks.set_labels(slot, labels);
        }
        if crate::trace::enabled() {
            crate::trace::record(
                "task poll",
                crate::trace::Category::TaskPoll,
                start,
                crate::clock::ticks(),
            );
        }
        let chain = if result.is_pending() {
            intern_claimed_chain(base)
        } else {
            None
        };
        tasks.end_poll(slot, chain);
        result
    }
}

impl<F> Drop for TaskFuture<F> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slots::get().unregister(slot);
        }
    }
}

/// Interns the chain of the wait the task stopped at, if it stopped in `#[profiled]`
/// code.
#[cold]
#[inline(never)]
fn intern_claimed_chain(base: usize) -> Option<usize> {
    let mut frames = [0usize; logical::CAPACITY];
    let len = logical::claimed_chain(base, &mut frames);
    if len == 0 {
        return None;
    }
    crate::registry::get().stacks.intern(&frames[..len])
}
