//! HOT: budget per call: no alloc, no lock, no clock, no format, no I/O, no panic.
//!
//! The current thread's logical stack: the `#[profiled]` frames that are running on
//! it, root first. Sync calls push on entry and pop on exit (also when unwinding);
//! instrumented futures push around each poll, so nested `async fn` polls rebuild
//! the whole async chain each time they run, whatever the executor's real stack.

use std::cell::Cell;
use std::ptr;

use crate::site::FnSite;

/// Frames kept per thread; deeper recursion is counted but not stored.
pub(crate) const CAPACITY: usize = 128;

struct Logical {
    depth: Cell<usize>,
    frames: [Cell<*const FnSite>; CAPACITY],
    /// Set by the innermost instrumented future that returned `Pending` during the
    /// current poll, so outer frames do not record the same wait again.
    claimed: Cell<bool>,
    /// The chain (root first) of the innermost `Pending` claimed on this thread,
    /// copied at the claim so that later polls of sibling futures cannot change it.
    claimed_len: Cell<usize>,
    claimed_frames: [Cell<*const FnSite>; CAPACITY],
}

thread_local! {
    static LOGICAL: Logical = const {
        Logical {
            depth: Cell::new(0),
            frames: [const { Cell::new(ptr::null()) }; CAPACITY],
            claimed: Cell::new(false),
            claimed_len: Cell::new(0),
            claimed_frames: [const { Cell::new(ptr::null()) }; CAPACITY],
        }
    };
}

#[inline(always)]
pub(crate) fn push(site: &'static FnSite) {
    let _ = LOGICAL.try_with(|stack| {
        let depth = stack.depth.get();
        if let Some(slot) = stack.frames.get(depth) {
            slot.set(site);
        }
        stack.depth.set(depth + 1);
    });
}

#[inline(always)]
pub(crate) fn pop() {
    let _ = LOGICAL.try_with(|stack| stack.depth.set(stack.depth.get().saturating_sub(1)));
}

/// Current depth (may exceed [`CAPACITY`] under deep recursion).
pub(crate) fn depth() -> usize {
    LOGICAL.try_with(|stack| stack.depth.get()).unwrap_or(0)
}

/// Calls `f` with each stored frame, root first.
pub(crate) fn for_each(mut f: impl FnMut(&'static FnSite)) {
    let _ = LOGICAL.try_with(|stack| {
        let depth = stack.depth.get().min(CAPACITY);
        for slot in &stack.frames[..depth] {
            // SAFETY: only `push` stores into `frames`, always a `&'static FnSite`,
            // and only slots below `depth` are read.
            if let Some(site) = unsafe { slot.get().as_ref() } {
                f(site);
            }
        }
    });
}

/// Forgets the last claimed wait, before polling a task from its root.
#[cfg(feature = "tokio")]
pub(crate) fn reset_claim() {
    let _ = LOGICAL.try_with(|stack| stack.claimed_len.set(0));
}

/// The chain of the innermost wait claimed since [`reset_claim`], from depth `base`
/// up, innermost first, as stored words (`stack::frame`); empty when none was claimed.
#[cfg(feature = "tokio")]
pub(crate) fn claimed_chain(base: usize, out: &mut [usize]) -> usize {
    LOGICAL
        .try_with(|stack| {
            let top = stack.claimed_len.get();
            if top <= base {
                return 0;
            }
            let mut len = 0;
            for slot in stack.claimed_frames[base..top].iter().rev().take(out.len()) {
                // SAFETY: `claimed_frames` holds copies of `frames` slots below the
                // depth at the claim: `&'static FnSite`s stored by `push`.
                if let Some(site) = unsafe { slot.get().as_ref() } {
                    out[len] = crate::stack::frame::encode(site);
                    len += 1;
                }
            }
            len
        })
        .unwrap_or(0)
}

/// A poll of an instrumented future in progress: pushed on creation, popped on drop
/// (also when the poll panics).
pub(crate) struct PollFrame {
    outer_claimed: bool,
}

impl PollFrame {
    #[inline(always)]
    pub(crate) fn enter(site: &'static FnSite) -> PollFrame {
        push(site);
        let outer_claimed = LOGICAL
            .try_with(|stack| stack.claimed.replace(false))
            .unwrap_or(false);
        PollFrame { outer_claimed }
    }

    /// After the inner future returned `Pending`: true if no deeper instrumented
    /// future already owns this wait, in which case this frame now owns it.
    #[inline(always)]
    pub(crate) fn claim_wait(&self) -> bool {
        claim_wait()
    }
}

/// Claims the wait of the current `Pending` for its innermost owner: an
/// instrumented future, or a `profiled::tokio` wait that records itself (so that
/// no enclosing instrumented future records the same wait again). True if no
/// deeper owner had claimed it.
#[inline(always)]
pub(crate) fn claim_wait() -> bool {
    LOGICAL
        .try_with(|stack| {
            let innermost = !stack.claimed.replace(true);
            if innermost {
                let depth = stack.depth.get().min(CAPACITY);
                for (copy, frame) in stack.claimed_frames.iter().zip(&stack.frames[..depth]) {
                    copy.set(frame.get());
                }
                stack.claimed_len.set(depth);
            }
            innermost
        })
        .unwrap_or(false)
}

impl Drop for PollFrame {
    #[inline(always)]
    fn drop(&mut self) {
        pop();
        let outer = self.outer_claimed;
        let _ = LOGICAL.try_with(|stack| stack.claimed.set(outer || stack.claimed.get()));
    }
}
