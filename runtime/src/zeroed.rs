//! Tables allocated as zero pages: resident only as they are written.
//!
//! The registries, the task table and the spawn table are fixed-capacity arrays of
//! atomics sized by `max_stacks` / `max_tasks` (about 10 MiB at the defaults). Built
//! element by element, every page is written at once and stays resident for the life
//! of the process. Allocated zeroed instead (`calloc`, which takes fresh pages from
//! the kernel for blocks this large), a page becomes resident only when a row on it is
//! first written: a service with 50 distinct stacks pays for the pages those touch.
//! Large tables get their own mapping (see [`MAP_FROM`]); the symbolizer decompresses
//! debug sections into one too (`stack/dwarf.rs`).

/// A type whose all-zero bit pattern is a valid value, and its initial state.
///
/// # Safety
///
/// Every field is an integer, an atomic integer or an atomic pointer, and zero in
/// every field is the value a new table row must have (empty, free, null).
pub(crate) unsafe trait Zeroed: Sized {}

// SAFETY: integers and atomic integers are valid at zero.
unsafe impl Zeroed for u8 {}
// SAFETY: as above.
unsafe impl Zeroed for std::sync::atomic::AtomicU64 {}
// SAFETY: as above.
unsafe impl Zeroed for std::sync::atomic::AtomicUsize {}

/// Tables from this size on get their own anonymous mapping rather than a `calloc`
/// block: once glibc has freed a large block it serves blocks up to that size from
/// its arenas (the dynamic mmap threshold), where `calloc` must clear recycled
/// memory and every page is then resident. A mapping's pages are the kernel's zero
/// pages until written, and go back whole when the table is dropped.
const MAP_FROM: usize = 64 * 1024;

/// `len` rows, all zero: resident only as rows are written.
pub(crate) struct Table<T: Zeroed> {
    rows: std::ptr::NonNull<T>,
    len: usize,
    /// Whether `rows` is an anonymous mapping (else a `Box<[T]>`).
    mapped: bool,
}

// SAFETY: a `Table` owns its rows as a `Box<[T]>` would.
unsafe impl<T: Zeroed + Send> Send for Table<T> {}
// SAFETY: as above.
unsafe impl<T: Zeroed + Sync> Sync for Table<T> {}

/// `len` rows, all zero: an anonymous mapping for large tables, else a zeroed block.
pub(crate) fn slice<T: Zeroed>(len: usize) -> Table<T> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    if bytes >= MAP_FROM {
        // SAFETY: a fresh private anonymous mapping; no address hint.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if at != libc::MAP_FAILED
            && let Some(rows) = std::ptr::NonNull::new(at.cast::<T>())
        {
            crate::alloc::own::account(bytes as u64, 0);
            return Table {
                rows,
                len,
                mapped: true,
            };
        }
    }
    // SAFETY: `T: Zeroed` says zero is a valid, initial value of `T`.
    let rows: Box<[T]> = unsafe { Box::new_zeroed_slice(len).assume_init() };
    let rows = std::ptr::NonNull::from(Box::leak(rows));
    Table {
        rows: rows.cast(),
        len,
        mapped: false,
    }
}

impl<T: Zeroed> std::ops::Deref for Table<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `rows` holds `len` initialized rows for the table's life.
        unsafe { std::slice::from_raw_parts(self.rows.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> std::ops::DerefMut for Table<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, borrowed uniquely through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.rows.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> Drop for Table<T> {
    fn drop(&mut self) {
        let bytes = self.len * std::mem::size_of::<T>();
        if self.mapped {
            // SAFETY: the mapping made in `slice`, of `bytes` bytes, used no more.
            unsafe { libc::munmap(self.rows.as_ptr().cast(), bytes) };
            crate::alloc::own::account(0, bytes as u64);
        } else {
            // SAFETY: the block leaked from a `Box<[T]>` of `len` rows in `slice`.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.rows.as_ptr(),
                    self.len,
                ))
            });
        }
    }
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
        let rows: super::Table<AtomicU64> = super::slice(8 << 20);
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
        // Small tables are plain zeroed blocks.
        let small: super::Table<AtomicU64> = super::slice(16);
        assert!(!small.mapped && small.iter().all(|r| r.load(Ordering::Relaxed) == 0));
    }
}
