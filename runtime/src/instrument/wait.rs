//! COLD: recording async waits in the block profile, under the logical chain of the
//! innermost instrumented future that returned `Pending`.

use crate::registry::{self, StackId, sampling};
use crate::stack::{Stack, frame};
use crate::{clock, control};

use super::logical;

/// A logical chain interned in the stack table, waiting to be charged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitStack(StackId);

/// Interns the current thread's logical chain (innermost first) when block
/// profiling is on; `None` when off or when the table is full.
#[cold]
#[inline(never)]
pub(crate) fn current_chain() -> Option<WaitStack> {
    if control::block_rate() <= 0 {
        return None;
    }
    let mut frames = [0usize; logical::CAPACITY + 1];
    let mut len = 0;
    logical::for_each(|site| {
        frames[len] = frame::encode(site);
        len += 1;
    });
    frames[..len].reverse();
    let labels = crate::labels::current_id();
    if labels != crate::labels::NONE {
        frames[len] = frame::labels(labels);
        len += 1;
    }
    registry::get().intern(&frames[..len]).map(WaitStack)
}

/// Records a wait of `idle_ticks` under `stack`, sampled by the block rate.
#[cold]
#[inline(never)]
pub(crate) fn record(stack: WaitStack, idle_ticks: u64) {
    let delay = clock::ticks_to_ns(idle_ticks);
    if let Some((count_milli, delay)) = sampling::block(delay, control::block_rate()) {
        registry::get().block.add(Some(stack.0), count_milli, delay);
    }
}

/// Lends `f` the caller's stack for a lock or wait event: its real frames, then the
/// logical chain and labels ([`append_chain`]). Inlined, so the capture starts in the
/// caller and the buffer is the caller's own local, never moved.
#[inline(always)]
pub(crate) fn with_stack<R>(f: impl FnOnce(&Stack) -> R) -> R {
    Stack::capture(|stack| {
        append_chain(stack);
        f(stack)
    })
}

/// Appends the current logical chain, if any, to a captured real stack, after a
/// separator, so a lock wait inside `#[profiled]` code carries the chain as a label;
/// then the current label set, so the event carries the scope's labels. A chain
/// needs room for the separator and one frame; what does not fit is left out.
fn append_chain(stack: &mut Stack) {
    if logical::depth() != 0 && stack.room() >= 2 {
        stack.push(frame::SEPARATOR);
        logical::for_each(|site| stack.push(frame::encode(site)));
    }
    stack.push_labels();
}
