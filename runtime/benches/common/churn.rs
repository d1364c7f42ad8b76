//! The allocation churn both allocator benches run: replace random blocks of a
//! working set, sizes uniform in 16..4096 bytes (free + allocate + touch).

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

/// Blocks in the working set.
pub const SLOTS: usize = 256;

/// Replaces `steps` random blocks of a `SLOTS`-block working set through `alloc`.
pub fn churn<A: GlobalAlloc>(alloc: &A, steps: usize, seed: u64) {
    let mut live: [(*mut u8, usize); SLOTS] = [(std::ptr::null_mut(), 0); SLOTS];
    let mut x = seed | 1;
    for _ in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = (x as usize >> 8) % SLOTS;
        let size = 16 + (x as usize >> 20) % (4096 - 16);
        let (old, old_size) = live[slot];
        if !old.is_null() {
            // SAFETY: `old` came from `alloc` with this layout.
            unsafe { alloc.dealloc(old, Layout::from_size_align(old_size, 8).unwrap()) };
        }
        // SAFETY: size is non-zero; the layout is valid.
        let new = unsafe { alloc.alloc(Layout::from_size_align(size, 8).unwrap()) };
        assert!(!new.is_null());
        // SAFETY: `new` is a fresh block of `size >= 16` bytes.
        unsafe { new.write(x as u8) };
        live[slot] = (black_box(new), size);
    }
    for (ptr, size) in live {
        if !ptr.is_null() {
            // SAFETY: as above.
            unsafe { alloc.dealloc(ptr, Layout::from_size_align(size, 8).unwrap()) };
        }
    }
}
