//! Tables allocated as zero pages: resident only as they are written.
//!
//! The registries, the task table and the spawn table are fixed-capacity arrays of
//! atomics sized by `max_stacks` / `max_tasks` (about 10 MiB at the defaults). Built
//! element by element, every page is written at once and stays resident for the life
//! of the process. Allocated zeroed instead (`calloc`, which takes fresh pages from
//! the kernel for blocks this large), a page becomes resident only when a row on it is
//! first written: a service with 50 distinct stacks pays for the pages those touch.

/// A type whose all-zero bit pattern is a valid value, and its initial state.
///
/// # Safety
///
/// Every field is an integer, an atomic integer or an atomic pointer, and zero in
/// every field is the value a new table row must have (empty, free, null).
pub(crate) unsafe trait Zeroed: Sized {}

// SAFETY: integers and atomic integers are valid at zero.
unsafe impl Zeroed for std::sync::atomic::AtomicU64 {}
// SAFETY: as above.
unsafe impl Zeroed for std::sync::atomic::AtomicUsize {}

/// `len` rows, all zero, in one zeroed allocation.
pub(crate) fn slice<T: Zeroed>(len: usize) -> Box<[T]> {
    // SAFETY: `T: Zeroed` says zero is a valid, initial value of `T`.
    unsafe { Box::new_zeroed_slice(len).assume_init() }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Pages of `rows` the kernel has resident (`mincore`).
    fn resident_pages(rows: &[AtomicU64]) -> usize {
        let page = 4096;
        let start = rows.as_ptr() as usize / page * page;
        let end = (rows.as_ptr() as usize + std::mem::size_of_val(rows)).div_ceil(page) * page;
        let mut flags = vec![0u8; (end - start) / page];
        // SAFETY: `start..end` covers the live allocation `rows`, page-aligned; `flags`
        // has one byte per page.
        let ok =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, flags.as_mut_ptr()) };
        assert_eq!(ok, 0, "{}", std::io::Error::last_os_error());
        flags.iter().filter(|&&f| f & 1 != 0).count()
    }

    #[test]
    fn rows_start_at_zero_and_only_written_pages_are_resident() {
        // 64 MiB of rows: 16,384 pages.
        let rows: Box<[AtomicU64]> = super::slice(8 << 20);
        assert!(
            resident_pages(&rows) < 16,
            "{} pages resident",
            resident_pages(&rows)
        );
        for at in (0..rows.len()).step_by(rows.len() / 8) {
            rows[at].store(7, Ordering::Relaxed);
        }
        let resident = resident_pages(&rows);
        assert!((8..24).contains(&resident), "{resident} pages resident");
        assert_eq!(
            rows.iter()
                .filter(|r| r.load(Ordering::Relaxed) == 7)
                .count(),
            8
        );
        assert_eq!(rows[1].load(Ordering::Relaxed), 0);
    }
}
