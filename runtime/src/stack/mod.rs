//! Stack capture (cold, bounded depth) and cached in-process symbolization.
//!
//! Capture stores raw return addresses. Where the build keeps frame pointers
//! (`-C force-frame-pointers=yes`, detected by `build.rs`), capture walks them with
//! bounds checks against the current thread's stack; otherwise it unwinds with DWARF
//! tables through the `backtrace` crate. Symbolization happens only when a profile is
//! encoded, once per distinct address.

mod dwarf;
pub(crate) mod frame;
pub(crate) mod frame_pointer;
mod index;
pub(crate) mod interrupted;
pub(crate) mod maps;
mod names;
pub(crate) mod symbolize;

use std::mem::MaybeUninit;

use crate::control;

/// A captured stack: return addresses, innermost first.
///
/// Lives on the capturing thread's stack; only the first `len` frames are ever
/// written, so a capture costs what the walk costs, not 2 KiB of zeroing and copying.
pub(crate) struct Stack {
    frames: [MaybeUninit<usize>; control::MAX_STACK_DEPTH_LIMIT],
    /// `frames[..len]` are initialized.
    len: usize,
}

/// A walker: writes return addresses into the buffer, returns how many.
type Unwind = fn(&mut [MaybeUninit<usize>]) -> usize;

impl Stack {
    /// Captures the caller's stack, at most `control::max_stack_depth()` frames, into
    /// a buffer on this frame, and lends it to `f`.
    ///
    /// Lent, not returned: a returned `Stack` was copied whole (2 KiB, a `memcpy`
    /// per capture, 11% of a convoy of lock waits recorded at rate 1). Frames of
    /// `profiled` itself are captured too; they are trimmed when the profile is
    /// symbolized, so callers need not count how deep they are.
    #[inline(always)]
    pub(crate) fn capture<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
        Stack::capture_with(control::max_stack_depth(), walk, f)
    }

    /// Like [`Stack::capture`] but always with DWARF unwinding (for comparison).
    #[inline(always)]
    pub(crate) fn capture_dwarf<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
        Stack::capture_with(control::max_stack_depth(), dwarf_walk, f)
    }

    #[inline(always)]
    fn capture_with<R>(depth: usize, unwind: Unwind, f: impl FnOnce(&mut Stack) -> R) -> R {
        let mut stack = Stack {
            frames: [const { MaybeUninit::uninit() }; control::MAX_STACK_DEPTH_LIMIT],
            len: 0,
        };
        stack.fill(depth, unwind);
        f(&mut stack)
    }

    #[inline(never)]
    fn fill(&mut self, depth: usize, unwind: Unwind) {
        let depth = depth.min(control::MAX_STACK_DEPTH_LIMIT);
        self.len = unwind(&mut self.frames[..depth]).min(depth);
    }

    /// How many more frames the buffer holds.
    pub(crate) fn room(&self) -> usize {
        self.frames.len() - self.len
    }

    /// Appends `frame` if there is room (see [`Stack::room`]).
    #[inline]
    pub(crate) fn push(&mut self, frame: usize) {
        if let Some(slot) = self.frames.get_mut(self.len) {
            slot.write(frame);
            self.len += 1;
        }
    }

    /// Appends the current label set's word when the capturing code runs inside a
    /// label scope: the last word, so samples with different labels stay apart.
    pub(crate) fn push_labels(&mut self) {
        let id = crate::labels::current_id();
        if id != crate::labels::NONE {
            self.push(frame::labels(id));
        }
    }

    /// The captured return addresses, innermost first.
    pub(crate) fn frames(&self) -> &[usize] {
        let written = &self.frames[..self.len];
        // SAFETY: `frames[..len]` were written (`fill`, `push`), and
        // `MaybeUninit<usize>` has the layout of `usize`.
        unsafe { std::slice::from_raw_parts(written.as_ptr().cast::<usize>(), written.len()) }
    }
}

/// Which unwinder this build uses, for `/debug/stats` and docs.
pub(crate) const UNWINDER: &str = if frame_pointer::AVAILABLE {
    "frame-pointer"
} else {
    "dwarf"
};

#[inline(always)]
fn walk(buf: &mut [MaybeUninit<usize>]) -> usize {
    if frame_pointer::AVAILABLE {
        frame_pointer::walk(buf)
    } else {
        dwarf_walk(buf)
    }
}

/// DWARF unwinding through the `backtrace` crate: slower, but needs nothing from the build.
#[inline(never)]
fn dwarf_walk(buf: &mut [MaybeUninit<usize>]) -> usize {
    let mut len = 0;
    backtrace::trace(|frame| {
        let Some(slot) = buf.get_mut(len) else {
            return false;
        };
        slot.write(frame.ip() as usize);
        len += 1;
        true
    });
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn outer_marker(dwarf: bool) -> Vec<usize> {
        std::hint::black_box(inner_marker(dwarf))
    }

    #[inline(never)]
    fn inner_marker(dwarf: bool) -> Vec<usize> {
        let frames = if dwarf {
            Stack::capture_dwarf(|stack| stack.frames().to_vec())
        } else {
            Stack::capture(|stack| stack.frames().to_vec())
        };
        std::hint::black_box(frames)
    }

    fn names(frames: &[usize]) -> Vec<String> {
        frames
            .iter()
            .flat_map(|&frame| symbolize::resolve(frame).to_vec())
            .map(|line| line.function.to_string())
            .collect()
    }

    fn assert_finds_both_markers(frames: &[usize]) {
        let names = names(frames);
        let inner = names.iter().position(|n| n.ends_with("inner_marker"));
        let outer = names.iter().position(|n| n.ends_with("outer_marker"));
        assert!(
            matches!((inner, outer), (Some(i), Some(o)) if i < o),
            "{UNWINDER}: {names:#?}"
        );
    }

    #[test]
    fn default_unwinder_sees_callers_innermost_first() {
        assert_finds_both_markers(&outer_marker(false));
    }

    #[test]
    fn dwarf_unwinder_sees_callers_innermost_first() {
        assert_finds_both_markers(&outer_marker(true));
    }

    #[test]
    fn this_workspace_walks_frame_pointers() {
        // .cargo/config.toml forces frame pointers; build.rs must have noticed.
        assert_eq!(UNWINDER, "frame-pointer");
    }

    #[test]
    fn depth_is_bounded() {
        let depth = |max, unwind| Stack::capture_with(max, unwind, |s| s.frames().len());
        assert_eq!(depth(2, walk), 2);
        assert_eq!(depth(3, dwarf_walk), 3);
        assert!(depth(usize::MAX, walk) <= control::MAX_STACK_DEPTH_LIMIT);
    }
}
