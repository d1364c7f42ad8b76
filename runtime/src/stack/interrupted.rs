//! Walking the stack of a thread interrupted by a signal, from inside its handler:
//! the thread dump signal (`threads/signal.rs`) and the CPU profiler's `SIGPROF`
//! (`cpu/handler.rs`) share this walk.
//!
//! Budget of everything here that a handler reaches: no allocation, no lock, no
//! formatting, no I/O, no panic (no slice indexing, no unwrap). Only atomics and loads
//! from memory proven mapped by the bounds checks below.

use std::sync::atomic::{AtomicUsize, Ordering, fence};

/// Most stack-like mappings a [`RangeTable`] can bound a walk with.
pub(crate) const MAX_RANGES: usize = 8192;

/// Sorted, non-overlapping `[start, end)` pairs of readable, writable anonymous
/// mappings (thread stacks, signal stacks, `[stack]`), that bound a walk.
///
/// One writer at a time (the caller serializes [`RangeTable::set`]); any number of
/// handlers read it. A sequence counter (a seqlock) lets a handler that reads while
/// the table is being rewritten see that its lookup was torn and keep only the pc.
pub(crate) struct RangeTable {
    /// Odd while [`RangeTable::set`] runs.
    sequence: AtomicUsize,
    count: AtomicUsize,
    pairs: [AtomicUsize; 2 * MAX_RANGES],
}

impl RangeTable {
    /// An empty table: every lookup fails until [`RangeTable::set`].
    pub(crate) const fn new() -> RangeTable {
        RangeTable {
            sequence: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            pairs: [const { AtomicUsize::new(0) }; 2 * MAX_RANGES],
        }
    }

    /// Replaces the ranges (sorted, as `threads::proc::stack_ranges` returns them).
    /// Callers serialize calls.
    pub(crate) fn set(&self, ranges: &[(usize, usize)]) {
        // Relaxed increment then a Release fence: the odd value is visible before any
        // of the stores below (the seqlock writer protocol).
        self.sequence.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        let kept = ranges.len().min(MAX_RANGES);
        for (pair, &(start, end)) in self.pairs.chunks_exact(2).zip(&ranges[..kept]) {
            if let [low, high] = pair {
                low.store(start, Ordering::Relaxed);
                high.store(end, Ordering::Relaxed);
            }
        }
        self.count.store(kept, Ordering::Relaxed);
        // Release: the stores above happen before the even value is seen.
        self.sequence.fetch_add(1, Ordering::Release);
    }

    /// End of the range containing `sp`, by binary search; `None` when no range
    /// holds it or the table was being rewritten. Async-signal-safe.
    pub(crate) fn end_of(&self, sp: usize) -> Option<usize> {
        // Acquire: pairs with the writer's final Release increment.
        let before = self.sequence.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let found = self.search(sp);
        // Acquire fence: the loads of the search happen before the re-check below.
        fence(Ordering::Acquire);
        (self.sequence.load(Ordering::Relaxed) == before)
            .then_some(found)
            .flatten()
    }

    fn search(&self, sp: usize) -> Option<usize> {
        let (mut low, mut high) = (0, self.count.load(Ordering::Relaxed).min(MAX_RANGES));
        while low < high {
            let mid = low + (high - low) / 2;
            let start = self.pairs.get(2 * mid)?.load(Ordering::Relaxed);
            let end = self.pairs.get(2 * mid + 1)?.load(Ordering::Relaxed);
            if sp < start {
                high = mid;
            } else if sp >= end {
                low = mid + 1;
            } else {
                return Some(end);
            }
        }
        None
    }
}

/// Walks an interrupted thread's frame-pointer chain into `frames`: the pc first
/// (stored as pc + 1, since symbolization looks up `return address - 1`), then each
/// saved return address, at most `frames.len()` in all. Every frame record read lies
/// in `[sp, end)` of the mapping that holds the interrupted stack pointer, is
/// aligned, and lies strictly above the previous one, so the walk ends and never
/// reads unmapped memory. With no `end` (no known mapping) only the pc is kept.
///
/// Returns (frames written, whether `end` was missing). Async-signal-safe.
pub(crate) fn walk(
    frames: &[AtomicUsize],
    pc: usize,
    fp: usize,
    sp: usize,
    end: Option<usize>,
) -> (usize, bool) {
    let Some(first) = frames.first() else {
        return (0, false);
    };
    if pc == 0 {
        return (0, false);
    }
    first.store(pc.wrapping_add(1), Ordering::Relaxed);
    let Some(end) = end else {
        return (1, true);
    };
    let rest = frames.get(1..).unwrap_or_default();
    // SAFETY: `[sp, end)` is the mapping holding the interrupted thread's live stack
    // (this thread is running on or above it, so it stays mapped).
    let walked = unsafe {
        super::frame_pointer::walk_records(fp, sp, end, rest.len(), |i, ret| {
            if let Some(cell) = rest.get(i) {
                cell.store(ret, Ordering::Relaxed);
            }
        })
    };
    (1 + walked, false)
}

/// Words above the stack pointer that [`leaf_caller`] looks at.
const LEAF_SCAN_WORDS: usize = 32;

/// The return address into frame-pointer code of a thread interrupted in code that
/// keeps no frame pointers (libc: a thread blocked in `read` is interrupted at the
/// syscall inside libc's `read`): the frame-pointer chain skips the function that
/// called into libc, whose return address sits on the stack between `sp` and the
/// next frame record. The first word there that points into `code` (this
/// executable's text, built with frame pointers) just after a call instruction is
/// taken as that return address. `None` when `pc` is in `code` itself or nothing
/// fits. x86_64 only. Async-signal-safe: every read lies in `[sp, end)` or in `code`.
pub(crate) fn leaf_caller(
    pc: usize,
    fp: usize,
    sp: usize,
    end: Option<usize>,
    code: &RangeTable,
) -> Option<usize> {
    if !cfg!(target_arch = "x86_64") || code.end_of(pc).is_some() {
        return None;
    }
    let end = end?;
    let word = std::mem::size_of::<usize>();
    let limit = if fp > sp && fp <= end { fp } else { end };
    let limit = limit.min(sp.saturating_add(LEAF_SCAN_WORDS * word));
    let mut at = sp;
    while at.checked_add(word).is_some_and(|next| next <= limit) && at.is_multiple_of(word) {
        // SAFETY: [at, at + word) is aligned and inside [sp, end), the live stack of
        // the interrupted thread.
        let candidate = unsafe { (at as *const usize).read_volatile() };
        if follows_call(candidate, code) {
            return Some(candidate);
        }
        at += word;
    }
    None
}

/// True when `ret` lies in `code` right after an x86_64 call instruction
/// (`call rel32`, or `call r/m64` in its 2, 3 or 6 byte forms).
fn follows_call(ret: usize, code: &RangeTable) -> bool {
    let Some(code_end) = code.end_of(ret) else {
        return false;
    };
    let Some(first) = ret.checked_sub(7) else {
        return false;
    };
    // The 7 bytes before `ret` must lie in the same mapping as `ret`.
    if code.end_of(first) != Some(code_end) {
        return false;
    }
    // SAFETY: [ret - 7, ret) lies in the executable mapping that holds `ret`, which
    // is mapped readable (r-x) for the life of the process.
    let byte = |back: usize| unsafe { ((ret - back) as *const u8).read_volatile() };
    let modrm_is_call = |modrm: u8| (modrm >> 3) & 7 == 2;
    byte(5) == 0xe8
        || (byte(2) == 0xff && modrm_is_call(byte(1)) && byte(1) >> 6 == 3)
        || (byte(3) == 0xff && modrm_is_call(byte(2)) && byte(2) >> 6 == 1)
        || (byte(6) == 0xff && modrm_is_call(byte(5)))
}

/// (pc, frame pointer, stack pointer) of the interrupted context.
///
/// # Safety
/// `context` points to the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn registers(context: *const libc::c_void) -> (usize, usize, usize) {
    // SAFETY: guaranteed by the caller.
    let gregs = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    let reg = |index: libc::c_int| {
        usize::try_from(index)
            .ok()
            .and_then(|i| gregs.get(i))
            .map_or(0, |&value| value as usize)
    };
    (reg(libc::REG_RIP), reg(libc::REG_RBP), reg(libc::REG_RSP))
}

/// (pc, frame pointer, stack pointer) of the interrupted context.
///
/// # Safety
/// `context` points to the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn registers(context: *const libc::c_void) -> (usize, usize, usize) {
    // SAFETY: guaranteed by the caller.
    let mcontext = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext };
    let fp = mcontext.regs.get(29).copied().unwrap_or(0);
    (mcontext.pc as usize, fp as usize, mcontext.sp as usize)
}

/// Other architectures: no walk (a zero pc makes [`walk`] write nothing).
///
/// # Safety
/// None needed; kept unsafe for one signature across architectures.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) unsafe fn registers(_context: *const libc::c_void) -> (usize, usize, usize) {
    (0, 0, 0)
}

/// Fills `mask` with every signal but the synchronous faults, for a handler's
/// `sa_mask`. While a handler runs on the small alternate stack, another handler must
/// not nest on top of it. Blocked signals wait the few microseconds until the handler
/// returns. Faults stay deliverable: blocking a synchronous fault would kill the
/// process.
///
/// # Safety
/// `mask` must be valid for writes.
pub(crate) unsafe fn block_asynchronous_signals(mask: &mut libc::sigset_t) {
    // SAFETY: `mask` is a valid sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigfillset(mask);
        for fault in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigdelset(mask, fault);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_range_holding_an_address() {
        static TABLE: RangeTable = RangeTable::new();
        assert_eq!(TABLE.end_of(0x1500), None);
        TABLE.set(&[(0x1000, 0x2000), (0x3000, 0x4000)]);
        assert_eq!(TABLE.end_of(0x1500), Some(0x2000));
        assert_eq!(TABLE.end_of(0x3000), Some(0x4000));
        assert_eq!(TABLE.end_of(0x2000), None);
        assert_eq!(TABLE.end_of(0x4000), None);
    }

    #[test]
    fn a_walk_without_a_range_keeps_the_pc_only() {
        let frames: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
        assert_eq!(walk(&frames, 0x1234, 0, 0, None), (1, true));
        assert_eq!(frames[0].load(Ordering::Relaxed), 0x1235);
        assert_eq!(walk(&frames, 0, 0, 0, None), (0, false));
    }

    #[test]
    fn a_walk_follows_frame_records_within_the_range() {
        // Frame records on a fake stack: [next fp, return address] each.
        let mut stack = [0usize; 8];
        let start = stack.as_ptr() as usize;
        let word = std::mem::size_of::<usize>();
        stack[..6].copy_from_slice(&[start + 2 * word, 0xaaa, start + 4 * word, 0xbbb, 0, 0]);
        std::hint::black_box(&stack);
        let frames: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
        let (len, missing) = walk(&frames, 0x100, start, start, Some(start + 8 * word));
        assert!(!missing);
        let got: Vec<usize> = frames[..len]
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .collect();
        // The pc + 1, then each record's return address until a zero one ends the walk.
        assert_eq!(got, [0x101, 0xaaa, 0xbbb]);
        // Bounded: one frame allowed, one written.
        assert_eq!(
            walk(&frames[..1], 0x100, start, start, Some(start + 8 * word)).0,
            1
        );
    }
}
