//! The thread-dump signal: its handler and the preallocated memory the handler writes.
//!
//! Budget of the handler and everything it reaches: no allocation, no lock, no
//! formatting, no I/O, no panic (no slice indexing, no unwrap). Only atomics, loads from
//! memory proven mapped by the bounds checks below, and the async-signal-safe
//! `getpid`/`gettid` syscalls. `errno` is saved and restored.
//!
//! Protocol (the requester is serialized by `dump::DUMP_LOCK`):
//! 1. The requester writes the process's stack-like mappings into [`RANGES`], fills a
//!    [`Slot`] per thread (tid, wanted depth) and publishes it with a Release store of
//!    [`tag`]`(generation, REQUESTED)`.
//! 2. It sends the signal with `rt_tgsigqueueinfo`, whose payload names the slot and
//!    the generation (`generation << 32 | index`).
//! 3. The handler claims the slot with a CAS `REQUESTED -> WRITING` for exactly that
//!    generation (a stray, late or forged signal finds nothing to claim and returns),
//!    checks the slot's tid is its own, walks the interrupted frame-pointer chain into
//!    the slot, and publishes `DONE` with a Release store.
//! 4. At the deadline the requester turns unclaimed `REQUESTED` slots back to `FREE`
//!    with a CAS, so a signal delivered later claims nothing. A slot still `WRITING`
//!    stays reserved until its handler finishes; ranges are not rewritten while any
//!    slot is `WRITING`.
//!
//! Slots live in chunks that are allocated by the requester and never freed, so a
//! late handler never writes into freed memory.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::control::MAX_STACK_DEPTH_LIMIT;
use crate::stack::interrupted::{self, RangeTable};

/// Slot states, in the low two bits of [`Slot::state`]; the generation is above them.
pub(super) const FREE: u64 = 0;
pub(super) const REQUESTED: u64 = 1;
pub(super) const WRITING: u64 = 2;
pub(super) const DONE: u64 = 3;
const STATE_MASK: u64 = 3;

const SLOTS_PER_CHUNK: usize = 64;
const MAX_CHUNKS: usize = 64;
/// Most threads one dump signals; the rest are listed with their /proc state only.
pub(super) const MAX_SLOTS: usize = SLOTS_PER_CHUNK * MAX_CHUNKS;

/// One thread's capture: written by that thread's handler, read by the requester.
pub(super) struct Slot {
    /// [`tag`]`(generation, FREE/REQUESTED/WRITING/DONE)`.
    pub(super) state: AtomicU64,
    /// The thread this slot is for; the handler compares it with its own tid.
    pub(super) tid: AtomicI32,
    /// Frames wanted (at most [`MAX_STACK_DEPTH_LIMIT`]).
    pub(super) depth: AtomicUsize,
    /// Frames written.
    pub(super) len: AtomicUsize,
    /// 1 when the interrupted stack pointer lay in no known mapping (only the pc kept).
    pub(super) no_range: AtomicUsize,
    /// Return addresses, innermost first; the first is the interrupted pc + 1.
    pub(super) frames: [AtomicUsize; MAX_STACK_DEPTH_LIMIT],
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU64::new(FREE),
            tid: AtomicI32::new(0),
            depth: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            no_range: AtomicUsize::new(0),
            frames: [const { AtomicUsize::new(0) }; MAX_STACK_DEPTH_LIMIT],
        }
    }
}

/// Chunks of [`SLOTS_PER_CHUNK`] slots; null until allocated, then never freed.
static CHUNKS: [AtomicPtr<Slot>; MAX_CHUNKS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS];

/// The mappings that bound the handler's walk, written by the requester only while
/// no slot is `WRITING`.
static RANGES: RangeTable = RangeTable::new();

/// The slot at `index`, if its chunk exists. Async-signal-safe.
pub(super) fn slot(index: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(index / SLOTS_PER_CHUNK)?;
    // Acquire: pairs with the Release in `ensure_slots`, so the chunk is initialized.
    let base = chunk.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    // SAFETY: `base` points to a leaked, initialized array of SLOTS_PER_CHUNK slots that
    // is never freed, and `index % SLOTS_PER_CHUNK` is within it.
    Some(unsafe { &*base.add(index % SLOTS_PER_CHUNK) })
}

/// Makes sure slots `0..count` exist (requester only); returns how many exist.
pub(super) fn ensure_slots(count: usize) -> usize {
    let chunks = count.div_ceil(SLOTS_PER_CHUNK).min(MAX_CHUNKS);
    for chunk in &CHUNKS[..chunks] {
        if chunk.load(Ordering::Acquire).is_null() {
            let slots: Box<[Slot]> = (0..SLOTS_PER_CHUNK).map(|_| Slot::new()).collect();
            let base = Box::leak(slots).as_mut_ptr();
            // Release: publishes the initialized slots to handlers that Acquire-load it.
            // Only the requester (serialized) stores here, so no CAS is needed.
            chunk.store(base, Ordering::Release);
        }
    }
    count.min(chunks * SLOTS_PER_CHUNK)
}

/// Slots claimed and not released: `REQUESTED` or `WRITING` (for tests and stats).
pub(super) fn slots_in_use() -> usize {
    (0..MAX_SLOTS)
        .map_while(slot)
        .filter(|slot| {
            let state = slot.state.load(Ordering::Acquire) & STATE_MASK;
            state == REQUESTED || state == WRITING
        })
        .count()
}

/// True when some handler is still writing a slot (its ranges must not change).
pub(super) fn any_writing() -> bool {
    (0..MAX_SLOTS)
        .map_while(slot)
        .any(|slot| slot.state.load(Ordering::Acquire) & STATE_MASK == WRITING)
}

/// Replaces the bounding ranges. Callers make sure no slot is `WRITING`; handlers see
/// the new ranges through the Release store of each slot's `REQUESTED` state.
pub(super) fn set_ranges(ranges: &[(usize, usize)]) {
    RANGES.set(ranges);
}

/// The signal number in use, or why there is none. Installed once, never removed.
pub(super) fn installed_signal() -> Result<libc::c_int, &'static str> {
    static SIGNAL: OnceLock<Result<libc::c_int, &'static str>> = OnceLock::new();
    *SIGNAL.get_or_init(install)
}

/// Picks the highest real-time signal below `SIGRTMAX` whose disposition is still the
/// default (nobody else uses it) and installs [`handler`] for it.
fn install() -> Result<libc::c_int, &'static str> {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    for signal in (min + 1..max).rev() {
        // SAFETY: sigaction with a null new action only reads the current disposition
        // into `old`, a valid, writable sigaction.
        let free = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_DFL
        };
        if !free {
            continue;
        }
        // SAFETY: `action` is fully initialized: our handler with the SA_SIGINFO
        // signature, the mask below, and flags that restart interrupted syscalls and
        // use the thread's alternate stack.
        let ok = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            interrupted::block_asynchronous_signals(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        };
        if ok {
            return Ok(signal);
        }
    }
    Err("no free real-time signal for thread dumps")
}

/// True when `signal`'s disposition is still our handler (someone may have replaced it;
/// then signalling could kill the process, so dumps stop signalling).
pub(super) fn still_installed(signal: libc::c_int) -> bool {
    // SAFETY: reads the current disposition into a valid, writable sigaction.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == handler as *const () as libc::sighandler_t
    }
}

/// Layout of the kernel's `siginfo_t` for `SI_QUEUE` on 64-bit Linux: 128 bytes.
#[repr(C)]
struct QueuedInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: usize,
    _rest: [u8; 128 - 32],
}

/// Sends `signal` to thread `tid` of this process with the payload naming `index` and
/// `generation`. Returns false if the thread is gone or the send failed.
pub(super) fn send(signal: libc::c_int, tid: libc::pid_t, index: usize, generation: u32) -> bool {
    let info = QueuedInfo {
        signo: signal,
        errno: 0,
        code: libc::SI_QUEUE,
        _pad: 0,
        // SAFETY: getpid and getuid have no preconditions.
        pid: unsafe { libc::getpid() },
        // SAFETY: as above.
        uid: unsafe { libc::getuid() },
        value: (usize::try_from(generation).unwrap_or(0) << 32) | (index & 0xffff_ffff),
        _rest: [0; 96],
    };
    // SAFETY: rt_tgsigqueueinfo reads 128 bytes of siginfo from `info`, which is a valid
    // 128-byte repr(C) struct; sending to our own thread group with SI_QUEUE is allowed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            libc::getpid(),
            tid,
            signal,
            &info as *const QueuedInfo,
        )
    };
    rc == 0
}

/// The signal handler. See the module docs for its budget.
extern "C" fn handler(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno, valid for reads and writes.
    let saved_errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid siginfo and ucontext to SA_SIGINFO handlers.
    unsafe { capture(info, context) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// # Safety
/// `info` and `context` are null or the pointers the kernel passed to the handler.
unsafe fn capture(info: *const libc::siginfo_t, context: *const libc::c_void) {
    if info.is_null() || context.is_null() {
        return;
    }
    // SAFETY: non-null and provided by the kernel for this delivery.
    let info = unsafe { &*info };
    // Only our own queued requests: a plain `kill` of this number carries no payload.
    // SAFETY: si_pid is valid to read for SI_QUEUE signals, checked first.
    if info.si_code != libc::SI_QUEUE || unsafe { info.si_pid() } != unsafe { libc::getpid() } {
        return;
    }
    // SAFETY: si_value is the payload of an SI_QUEUE signal.
    let value = unsafe { info.si_ptr() } as usize;
    let index = value & 0xffff_ffff;
    let generation = (value >> 32) as u32;
    let Some(slot) = slot(index) else {
        return;
    };
    // Acquire: pairs with the requester's Release store of REQUESTED, making tid,
    // depth and the ranges it wrote before visible here.
    if slot
        .state
        .compare_exchange(
            tag(generation, REQUESTED),
            tag(generation, WRITING),
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return; // late, stray or abandoned request
    }
    // SAFETY: the gettid syscall has no preconditions and is async-signal-safe.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
    let mut len = 0;
    let mut no_range = 0;
    if tid == slot.tid.load(Ordering::Relaxed) {
        // SAFETY: `context` is the kernel's ucontext_t for this delivery.
        let (pc, fp, sp) = unsafe { interrupted::registers(context) };
        (len, no_range) = walk(slot, pc, fp, sp);
        len = append_labels(slot, len);
    }
    slot.len.store(len, Ordering::Relaxed);
    slot.no_range.store(no_range, Ordering::Relaxed);
    // Release: publishes frames, len and no_range to the requester's Acquire load.
    slot.state.store(tag(generation, DONE), Ordering::Release);
}

/// Appends the thread's label set (a plain thread-local load) after `len` frames,
/// for the goroutine profile and the dump's header.
fn append_labels(slot: &Slot, len: usize) -> usize {
    let id = crate::labels::current_id();
    match slot.frames.get(len) {
        Some(cell) if len > 0 && id != crate::labels::NONE => {
            cell.store(crate::stack::frame::labels(id), Ordering::Relaxed);
            len + 1
        }
        _ => len,
    }
}

/// Walks the interrupted thread's frame-pointer chain into `slot` with the walk the
/// CPU profiler shares (see [`interrupted::walk`]); returns (frames, no range).
fn walk(slot: &Slot, pc: usize, fp: usize, sp: usize) -> (usize, usize) {
    let depth = slot
        .depth
        .load(Ordering::Relaxed)
        .min(MAX_STACK_DEPTH_LIMIT);
    let Some(frames) = slot.frames.get(..depth) else {
        return (0, 0);
    };
    let (len, missing) = interrupted::walk(frames, pc, fp, sp, RANGES.end_of(sp));
    (len, usize::from(missing))
}

/// A slot state tagged with its dump's generation, as [`Slot::state`] holds it.
pub(super) const fn tag(generation: u32, state: u64) -> u64 {
    (generation as u64) << 2 | state
}

/// Slot state without the generation.
pub(super) fn state_of(value: u64) -> u64 {
    value & STATE_MASK
}
