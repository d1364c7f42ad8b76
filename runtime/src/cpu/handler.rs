//! The `SIGPROF` handler and the preallocated ring it writes samples into.
//!
//! Budget of the handler and everything it reaches: no allocation, no lock, no
//! formatting, no I/O, no symbolization, no panic (no slice indexing, no unwrap).
//! Only atomics, the shared bounded frame-pointer walk (`stack::interrupted`), the
//! thread's logical `#[profiled]` chain and label set (const, drop-free thread
//! locals: plain loads), and the async-signal-safe `gettid` syscall. `errno` is saved and restored.
//!
//! Which signals count: while a profile runs, its cookie (set by [`arm`]) is non-zero. With
//! per-thread timers, only `SI_TIMER` signals whose `sigev_value` is that cookie
//! count (a timer of an earlier profile, deleted with a signal still queued, carries
//! an older cookie). With the `setitimer` fallback only kernel-sent (`SI_KERNEL`)
//! signals count. A `kill -PROF`, `SI_USER`, never counts, profile or not: it is
//! ignored and counted as stray.
//!
//! The ring: [`RING_SLOTS`] fixed-size records, allocated at the first profile and
//! never freed (so a late handler never writes freed memory). A handler claims the
//! slot at `HEAD % RING_SLOTS` with a CAS `FREE -> WRITING`, fills it and publishes
//! it `READY` with a Release store; the supervisor drains `READY` slots and frees
//! them. A slot not yet drained (the ring is full) makes the sample lost: counted,
//! never waited for.

use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::instrument::logical;
use crate::labels;
use crate::stack::frame;
use crate::stack::interrupted::{self, RangeTable};

/// Records in the ring (1.3 MiB): at 1,000 Hz on two busy cores, half a second of
/// samples, while the supervisor drains it every 10 ms.
pub(super) const RING_SLOTS: usize = 1024;
/// Real frames kept per sample.
pub(super) const REAL_FRAMES: usize = 128;
/// `#[profiled]` frames kept per sample (root first), after a separator.
pub(super) const LOGICAL_FRAMES: usize = 31;
/// Real frames, separator, chain, label set.
const SLOT_FRAMES: usize = REAL_FRAMES + 1 + LOGICAL_FRAMES + 1;

const FREE: u32 = 0;
const WRITING: u32 = 1;
const READY: u32 = 2;

/// How timer signals are told apart from stray ones.
pub(super) const MODE_TIMERS: u32 = 1;
pub(super) const MODE_ITIMER: u32 = 2;

/// One sample, written by the handler of the sampled thread.
pub(super) struct Slot {
    state: AtomicU32,
    tid: AtomicI32,
    /// Expiries this sample stands for: 1 + the timer's overrun.
    count: AtomicU64,
    len: AtomicUsize,
    frames: [AtomicUsize; SLOT_FRAMES],
}

/// The ring; null until the first profile, then never freed. Slots start zeroed:
/// `FREE`, with no sample.
static RING: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());
/// Next slot to claim (wraps).
static HEAD: AtomicUsize = AtomicUsize::new(0);
/// Non-zero while a profile runs: the `sigev_value` its timers carry.
static COOKIE: AtomicUsize = AtomicUsize::new(0);
/// [`MODE_TIMERS`] or [`MODE_ITIMER`], for the running profile.
static MODE: AtomicU32 = AtomicU32::new(0);
/// Frames the handler walks (at most [`REAL_FRAMES`]).
static DEPTH: AtomicUsize = AtomicUsize::new(64);
/// Expiries that found the ring full (this profile; reset at each start).
static LOST: AtomicU64 = AtomicU64::new(0);
/// Signals counted: accepted samples with their overruns (this profile).
static EXPIRIES: AtomicU64 = AtomicU64::new(0);
/// `SIGPROF`s ignored because they came from no timer of ours (whole process life).
static STRAY: AtomicU64 = AtomicU64::new(0);
/// Stack-like mappings bounding the walk, kept fresh by the supervisor.
pub(super) static RANGES: RangeTable = RangeTable::new();
/// This executable's text (code with frame pointers), for [`interrupted::leaf_caller`].
pub(super) static CODE: RangeTable = RangeTable::new();

/// Allocates the ring if it does not exist yet (cold; the caller is serialized by
/// the one-profile-at-a-time rule).
pub(super) fn ensure_ring() {
    if RING.load(Ordering::Acquire).is_null() {
        // Zeroed memory is a ring of FREE slots (every field is an atomic whose zero
        // is its initial value), and a large zeroed allocation is fresh pages that
        // become resident only as samples are written: no up-front cost.
        let layout = std::alloc::Layout::array::<Slot>(RING_SLOTS).ok();
        // SAFETY: the layout has a non-zero size; the memory is never freed.
        let base = layout.map_or(std::ptr::null_mut(), |layout| unsafe {
            std::alloc::alloc_zeroed(layout).cast::<Slot>()
        });
        if base.is_null() {
            return; // no ring: every sample is counted as lost
        }
        // Release: publishes the zeroed slots to handlers that Acquire-load it.
        RING.store(base, Ordering::Release);
    }
}

fn slot(index: usize) -> Option<&'static Slot> {
    // Acquire: pairs with the Release in `ensure_ring`.
    let base = RING.load(Ordering::Acquire);
    if base.is_null() || index >= RING_SLOTS {
        return None;
    }
    // SAFETY: `base` points to a leaked, initialized array of RING_SLOTS slots that is
    // never freed, and `index < RING_SLOTS`.
    Some(unsafe { &*base.add(index) })
}

/// Starts counting signals carrying `cookie` (non-zero) in `mode`, walking `depth`
/// frames. Counters of the previous profile are reset.
pub(super) fn arm(cookie: usize, mode: u32, depth: usize) {
    LOST.store(0, Ordering::Relaxed);
    EXPIRIES.store(0, Ordering::Relaxed);
    DEPTH.store(depth.clamp(1, REAL_FRAMES), Ordering::Relaxed);
    MODE.store(mode, Ordering::Relaxed);
    // Release: a handler that sees the cookie sees the mode and depth too.
    COOKIE.store(cookie, Ordering::Release);
}

/// Stops counting: every later signal is stray.
pub(super) fn disarm() {
    COOKIE.store(0, Ordering::Release);
}

/// (expiries counted, expiries lost to a full ring) in the current or last profile.
pub(super) fn counts() -> (u64, u64) {
    (
        EXPIRIES.load(Ordering::Relaxed),
        LOST.load(Ordering::Relaxed),
    )
}

/// `SIGPROF`s ignored over the life of the process.
pub(crate) fn stray_signals() -> u64 {
    STRAY.load(Ordering::Relaxed)
}

/// A drained sample: thread, expiries, frames (real, then separator and chain).
pub(super) struct Drained<'a> {
    pub tid: libc::pid_t,
    pub count: u64,
    pub frames: &'a [usize],
}

/// Hands every `READY` slot to `f` and frees it (supervisor only).
pub(super) fn drain(mut f: impl FnMut(Drained<'_>)) {
    let mut frames = [0usize; SLOT_FRAMES];
    for index in 0..RING_SLOTS {
        let Some(slot) = slot(index) else {
            return;
        };
        // Acquire: pairs with the handler's Release store of READY.
        if slot.state.load(Ordering::Acquire) != READY {
            continue;
        }
        let len = slot.len.load(Ordering::Relaxed).min(SLOT_FRAMES);
        for (copy, cell) in frames.iter_mut().zip(&slot.frames[..len]) {
            *copy = cell.load(Ordering::Relaxed);
        }
        let sample = Drained {
            tid: slot.tid.load(Ordering::Relaxed),
            count: slot.count.load(Ordering::Relaxed),
            frames: &frames[..len],
        };
        // Release: our reads of the slot happen before a handler reuses it.
        slot.state.store(FREE, Ordering::Release);
        f(sample);
    }
}

/// The kernel's `siginfo_t` for `SI_TIMER` on 64-bit Linux: 128 bytes.
#[repr(C)]
struct TimerInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    timer_id: libc::c_int,
    overrun: libc::c_int,
    value: usize,
    _rest: [u8; 128 - 32],
}

/// The handler. See the module docs for its budget.
pub(super) extern "C" fn handler(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno, valid for reads and writes.
    let saved_errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid siginfo and ucontext to SA_SIGINFO handlers.
    unsafe { sample(info, context) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// # Safety
/// `info` and `context` are null or the pointers the kernel passed to the handler.
unsafe fn sample(info: *const libc::siginfo_t, context: *const libc::c_void) {
    if info.is_null() || context.is_null() {
        return;
    }
    // SAFETY: the kernel's siginfo is 128 bytes, the size and layout of TimerInfo.
    let info = unsafe { &*info.cast::<TimerInfo>() };
    // Acquire: pairs with `arm`'s Release store.
    let cookie = COOKIE.load(Ordering::Acquire);
    let count = match MODE.load(Ordering::Relaxed) {
        MODE_TIMERS if cookie != 0 && info.code == libc::SI_TIMER && info.value == cookie => {
            1 + u64::try_from(info.overrun).unwrap_or(0)
        }
        MODE_ITIMER if cookie != 0 && info.code == libc::SI_KERNEL => 1,
        _ => {
            STRAY.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    EXPIRIES.fetch_add(count, Ordering::Relaxed);
    let index = HEAD.fetch_add(1, Ordering::Relaxed) % RING_SLOTS;
    let Some(slot) = slot(index) else {
        LOST.fetch_add(count, Ordering::Relaxed);
        return;
    };
    // Acquire: pairs with the supervisor's Release store of FREE.
    if slot
        .state
        .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        LOST.fetch_add(count, Ordering::Relaxed);
        return;
    }
    // SAFETY: `context` is the kernel's ucontext_t for this delivery.
    let (pc, fp, sp) = unsafe { interrupted::registers(context) };
    let depth = DEPTH.load(Ordering::Relaxed).min(REAL_FRAMES);
    let end = RANGES.end_of(sp);
    let (mut len, _) = match slot.frames.get(..depth) {
        Some(frames) => interrupted::walk(frames, pc, fp, sp, end),
        None => (0, false),
    };
    if let Some(caller) = interrupted::leaf_caller(pc, fp, sp, end, &CODE) {
        len = insert_caller(slot, len, depth, caller);
    }
    len = append_chain(slot, len);
    len = append_labels(slot, len);
    // SAFETY: the gettid syscall has no preconditions and is async-signal-safe.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
    slot.tid.store(tid, Ordering::Relaxed);
    slot.count.store(count, Ordering::Relaxed);
    slot.len.store(len, Ordering::Relaxed);
    // Release: publishes the sample to the supervisor's Acquire load.
    slot.state.store(READY, Ordering::Release);
}

/// Puts `caller` second (after the pc), unless the chain already has it there.
fn insert_caller(slot: &Slot, len: usize, depth: usize, caller: usize) -> usize {
    let Some(second) = slot.frames.get(1) else {
        return len;
    };
    if depth < 2 || len < 1 || (len > 1 && second.load(Ordering::Relaxed) == caller) {
        return len;
    }
    let new_len = (len + 1).min(depth);
    let mut i = new_len - 1;
    while i > 1 {
        if let (Some(to), Some(from)) = (slot.frames.get(i), slot.frames.get(i - 1)) {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        i -= 1;
    }
    second.store(caller, Ordering::Relaxed);
    new_len.max(2)
}

/// Appends a separator and the thread's `#[profiled]` chain (root first, at most
/// [`LOGICAL_FRAMES`]) after `len` real frames; returns the new length.
fn append_chain(slot: &Slot, len: usize) -> usize {
    if len == 0 || logical::depth() == 0 {
        return len;
    }
    let Some(separator) = slot.frames.get(len) else {
        return len;
    };
    separator.store(frame::SEPARATOR, Ordering::Relaxed);
    let mut end = len + 1;
    let limit = (len + 1 + LOGICAL_FRAMES).min(SLOT_FRAMES);
    logical::for_each(|site| {
        if end < limit
            && let Some(cell) = slot.frames.get(end)
        {
            cell.store(frame::encode(site), Ordering::Relaxed);
            end += 1;
        }
    });
    end
}

/// Appends the thread's label set (a plain thread-local load) as the last word.
fn append_labels(slot: &Slot, len: usize) -> usize {
    let id = labels::current_id();
    match slot.frames.get(len) {
        Some(cell) if len > 0 && id != labels::NONE => {
            cell.store(frame::labels(id), Ordering::Relaxed);
            len + 1
        }
        _ => len,
    }
}

/// What `SIGPROF`'s disposition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Disposition {
    /// Our handler.
    Ours,
    /// `SIG_DFL` or `SIG_IGN`: nobody uses it.
    Unused,
    /// Someone else's handler.
    Foreign,
}

pub(super) fn disposition() -> Disposition {
    // SAFETY: sigaction with a null new action only reads the current disposition into
    // `old`, a valid, writable sigaction.
    let current = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut old) != 0 {
            return Disposition::Foreign;
        }
        old.sa_sigaction
    };
    if current == handler as *const () as libc::sighandler_t {
        Disposition::Ours
    } else if current == libc::SIG_DFL || current == libc::SIG_IGN {
        Disposition::Unused
    } else {
        Disposition::Foreign
    }
}

/// Installs the handler unless another one is there; true when ours is installed.
/// Once installed it stays for the life of the process, so a `SIGPROF` that arrives
/// late (or is sent by hand) is ignored instead of killing the process.
pub(super) fn install() -> bool {
    match disposition() {
        Disposition::Ours => true,
        Disposition::Foreign => false,
        Disposition::Unused => {
            // SAFETY: `action` is fully initialized: our handler with the SA_SIGINFO
            // signature, a mask of every asynchronous signal, and flags that restart
            // interrupted syscalls (a wall-clock profile interrupts blocked threads)
            // and use the thread's alternate stack when it has one.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
                interrupted::block_asynchronous_signals(&mut action.sa_mask);
                libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()) == 0
            }
        }
    }
}
