//! Stack capture (cold, bounded depth) and cached in-process symbolization.
//!
//! Capture stores raw return addresses. Where the build keeps frame pointers
//! (`-C force-frame-pointers=yes`, detected by `build.rs`), capture walks them with
//! bounds checks against the current thread's stack; otherwise it unwinds with DWARF
//! tables through the `backtrace` crate. Symbolization happens only when a profile is
//! encoded, once per distinct address.

mod frame_pointer;
pub(crate) mod maps;
pub(crate) mod symbolize;

use crate::control;

/// A captured stack: return addresses, innermost first.
pub(crate) struct Stack {
    frames: [usize; control::MAX_STACK_DEPTH_LIMIT],
    len: usize,
}

impl Stack {
    /// Captures the caller's stack, at most `control::max_stack_depth()` frames.
    ///
    /// Frames of `profiled` itself are captured too; they are trimmed when the
    /// profile is symbolized, so callers need not count how deep they are.
    #[inline(never)]
    pub(crate) fn capture() -> Stack {
        let mut stack = Stack {
            frames: [0; control::MAX_STACK_DEPTH_LIMIT],
            len: 0,
        };
        let depth = control::max_stack_depth().min(control::MAX_STACK_DEPTH_LIMIT);
        stack.len = walk(&mut stack.frames[..depth]);
        stack
    }

    /// The captured return addresses, innermost first.
    pub(crate) fn frames(&self) -> &[usize] {
        &self.frames[..self.len]
    }
}

/// Which unwinder this build uses, for `/debug/stats` and docs.
pub(crate) const UNWINDER: &str = if frame_pointer::AVAILABLE {
    "frame-pointer"
} else {
    "dwarf"
};

#[inline(always)]
fn walk(buf: &mut [usize]) -> usize {
    if frame_pointer::AVAILABLE {
        frame_pointer::walk(buf)
    } else {
        dwarf_walk(buf)
    }
}

/// DWARF unwinding through the `backtrace` crate: slower, but needs nothing from the build.
#[inline(never)]
fn dwarf_walk(buf: &mut [usize]) -> usize {
    let mut len = 0;
    backtrace::trace(|frame| {
        if len >= buf.len() {
            return false;
        }
        buf[len] = frame.ip() as usize;
        len += 1;
        true
    });
    len
}
