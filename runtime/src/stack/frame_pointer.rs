//! Frame-pointer stack walk: a few loads per frame, bounds-checked against the
//! current thread's stack so a frame without a frame pointer ends the walk instead of
//! reading arbitrary memory.

use std::cell::Cell;

/// Whether this build keeps frame pointers on an architecture we can walk.
pub(super) const AVAILABLE: bool = cfg!(all(
    profiled_frame_pointers,
    any(target_arch = "x86_64", target_arch = "aarch64")
));

thread_local! {
    /// Highest address of this thread's stack, 0 until first looked up.
    static STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

/// Walks the frame-pointer chain of the calling thread into `buf`; returns the count.
#[inline(never)]
pub(super) fn walk(buf: &mut [std::mem::MaybeUninit<usize>]) -> usize {
    let fp = frame_pointer();
    let max = buf.len();
    // SAFETY: everything between our own frame and the top of the stack, `[fp, top)`,
    // is this thread's live stack above us: mapped and readable.
    unsafe {
        walk_records(fp, fp, stack_top(), max, |i, ret| {
            if let Some(slot) = buf.get_mut(i) {
                slot.write(ret);
            }
        })
    }
}

/// Follows a frame-pointer chain from the frame record at `fp`, calling
/// `push(i, return_address)` for at most `max` return addresses; returns how many.
///
/// A frame record is two words: the saved frame pointer, then the return address.
/// Only records that lie in `[low, high)` and are aligned are read, and each must lie
/// strictly above the previous one (frames grow towards lower addresses), so the walk
/// ends, and a frame without a frame pointer ends it instead of reading arbitrary
/// memory. Async-signal-safe: no allocation, no lock, no panic (the thread-dump
/// handler uses it with its own bounds).
///
/// # Safety
/// `[low, high)` must be mapped and readable while the walk runs.
#[inline(always)]
pub(crate) unsafe fn walk_records(
    mut fp: usize,
    low: usize,
    high: usize,
    max: usize,
    mut push: impl FnMut(usize, usize),
) -> usize {
    let word = std::mem::size_of::<usize>();
    let mut len = 0;
    while len < max {
        let in_bounds = fp >= low
            && fp.is_multiple_of(std::mem::align_of::<usize>())
            && fp
                .checked_add(2 * word)
                .is_some_and(|record_end| record_end <= high);
        if !in_bounds {
            break;
        }
        // SAFETY: `fp` is aligned and [fp, fp + 2 words) lies within [low, high),
        // which the caller guarantees is mapped and readable. Volatile: the memory
        // may be another thread's live stack (the dump handler's case).
        let (next, ret) = unsafe {
            let record = fp as *const usize;
            (record.read_volatile(), record.add(1).read_volatile())
        };
        if ret == 0 {
            break;
        }
        push(len, ret);
        len += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    len
}

#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register; no memory access, no side effects.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    // SAFETY: reads the frame-pointer register; no memory access, no side effects.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// Top (highest address) of the calling thread's stack, cached per thread.
fn stack_top() -> usize {
    STACK_TOP
        .try_with(|top| {
            if top.get() == 0 {
                top.set(query_stack_top());
            }
            top.get()
        })
        // During thread teardown the cache is gone: an empty range ends the walk at once.
        .unwrap_or(0)
}

fn query_stack_top() -> usize {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread on success;
    // we only read it after success and destroy it afterwards.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return 0;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if rc != 0 {
            return 0;
        }
        (addr as usize).saturating_add(size)
    }
}
