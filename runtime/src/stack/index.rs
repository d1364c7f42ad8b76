//! The DWARF index of this process's loaded objects: which object an address is in,
//! and each object's [`Dwarf`] (`dwarf.rs`: a unit table, and contexts over only the
//! units the addresses asked about need).
//!
//! The symbolizer releases every object's mapped file and parsed units when idle
//! (`symbolize.rs`); the object list and unit tables stay. An object whose file cannot
//! be opened for a transient reason (`EMFILE`, `ENOMEM`, ...) is retried later, and
//! the addresses it leaves unnamed are not cached.

use std::ffi::{CStr, c_int, c_void};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::dwarf::Dwarf;

/// How long a transient failure to open an object keeps it from being retried.
const RETRY_AFTER: Duration = Duration::from_millis(if cfg!(test) { 20 } else { 1000 });

/// One source line as found, before interning.
pub(super) struct RawLine {
    pub(super) function: String,
    pub(super) file: String,
    pub(super) line: u32,
}

/// What looking up an address gave.
pub(super) enum Outcome {
    /// The lines (innermost first), possibly none: final, cacheable.
    Found(Vec<RawLine>),
    /// The object's file could not be read now: try again later, cache nothing.
    Unavailable,
}

enum State {
    Unopened,
    Open(Box<Dwarf>),
    /// Not a readable object file (the vDSO, a deleted library): nothing to find.
    Missing,
    /// Opening failed for a reason that may pass.
    Failed(Instant),
}

/// A loaded object: its executable segments at run time and where its debug info is.
struct Object {
    /// Run-time address ranges of its executable segments.
    ranges: Vec<(usize, usize)>,
    /// Run-time address minus the address in the file.
    bias: usize,
    /// The file with its symbols: a `/usr/lib/debug/.build-id/` file where there is
    /// one, else the object itself.
    path: PathBuf,
    state: State,
}

/// The objects of the process and, once used, their `addr2line` loaders.
pub(super) struct Index {
    objects: Vec<Object>,
    /// When the objects were last listed: an address in none of them lists them again
    /// (a library loaded since), at most once per [`RETRY_AFTER`].
    listed: Instant,
}

impl Index {
    /// Lists the loaded objects (no file is opened yet).
    pub(super) fn new() -> Index {
        let mut objects: Vec<Object> = Vec::new();
        // SAFETY: the callback only reads the `dl_phdr_info` it is given, for the
        // duration of the call, and `data` is the `Vec` above, borrowed for the call.
        unsafe { libc::dl_iterate_phdr(Some(collect), (&raw mut objects).cast()) };
        Index {
            objects,
            listed: Instant::now(),
        }
    }

    /// The lines of code address `pc` (the address itself, not a return address).
    pub(super) fn resolve(&mut self, pc: usize) -> Outcome {
        self.resolve_many(&[pc])
            .pop()
            .unwrap_or(Outcome::Unavailable)
    }

    /// The lines of each code address, in order: one pass per object over all of its
    /// addresses, so the units they need are parsed together.
    pub(super) fn resolve_many(&mut self, pcs: &[usize]) -> Vec<Outcome> {
        if self.listed.elapsed() >= RETRY_AFTER
            && pcs.iter().any(|&pc| self.object_at(pc).is_none())
        {
            self.rescan();
        }
        let mut outcomes: Vec<Outcome> = pcs.iter().map(|_| Outcome::Found(Vec::new())).collect();
        let mut by_object: Vec<Vec<usize>> = vec![Vec::new(); self.objects.len()];
        for (at, &pc) in pcs.iter().enumerate() {
            if let Some(object) = self.object_at(pc) {
                by_object[object].push(at);
            }
        }
        for (object, ats) in self.objects.iter_mut().zip(by_object) {
            if ats.is_empty() {
                continue;
            }
            object.open();
            let State::Open(dwarf) = &mut object.state else {
                if !matches!(object.state, State::Missing) {
                    for at in ats {
                        outcomes[at] = Outcome::Unavailable;
                    }
                }
                continue;
            };
            let probes: Vec<u64> = ats
                .iter()
                .map(|&at| pcs[at].wrapping_sub(object.bias) as u64)
                .collect();
            for (at, lines) in ats.into_iter().zip(dwarf.resolve_many(&probes)) {
                outcomes[at] = lines.map_or(Outcome::Unavailable, Outcome::Found);
            }
        }
        outcomes
    }

    /// Drops every object's mapped file and parsed units.
    pub(super) fn release(&mut self) {
        for object in &mut self.objects {
            if let State::Open(dwarf) = &mut object.state {
                dwarf.release();
            }
        }
    }

    /// Drops every object's parsed units, keeping the mapped files and decompressed
    /// sections.
    pub(super) fn release_parsed(&mut self) {
        for object in &mut self.objects {
            if let State::Open(dwarf) = &mut object.state {
                dwarf.release_parsed();
            }
        }
    }

    /// Whether any object holds parsed units.
    pub(super) fn is_parsed(&self) -> bool {
        self.objects
            .iter()
            .any(|o| matches!(&o.state, State::Open(dwarf) if dwarf.is_parsed()))
    }

    /// Whether any object's file is mapped (its parsed units held).
    pub(super) fn is_mapped(&self) -> bool {
        self.objects
            .iter()
            .any(|o| matches!(&o.state, State::Open(dwarf) if dwarf.is_mapped()))
    }

    /// Gives the pages of the mapped files back to the kernel (they are in the page
    /// cache: the next lookup faults in what it needs), keeping what was parsed.
    pub(super) fn advise_unneeded(&self) {
        for object in &self.objects {
            if let State::Open(dwarf) = &object.state {
                dwarf.advise_unneeded();
            }
        }
    }

    fn object_at(&self, pc: usize) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.ranges
                .iter()
                .any(|&(start, end)| (start..end).contains(&pc))
        })
    }

    /// Lists the loaded objects again (a library loaded since), keeping what the
    /// objects still loaded have parsed.
    fn rescan(&mut self) {
        let mut fresh = Index::new().objects;
        for object in &mut fresh {
            if let Some(known) = self
                .objects
                .iter_mut()
                .find(|o| o.bias == object.bias && o.path == object.path)
            {
                object.state = std::mem::replace(&mut known.state, State::Unopened);
            }
        }
        self.objects = fresh;
        self.listed = Instant::now();
    }
}

impl Object {
    /// Opens the object's file, unless it is open, missing, or failed just now.
    fn open(&mut self) {
        let retry = match self.state {
            State::Unopened => true,
            State::Failed(at) => at.elapsed() >= RETRY_AFTER,
            State::Open(_) | State::Missing => false,
        };
        if retry {
            self.state = match open(&self.path) {
                Ok(dwarf) => State::Open(Box::new(dwarf)),
                Err(e) if is_permanent(&*e) => State::Missing,
                Err(_) => State::Failed(Instant::now()),
            };
        }
    }
}

#[cfg(not(test))]
fn open(path: &std::path::Path) -> Result<Dwarf, Box<dyn std::error::Error>> {
    Dwarf::open(path)
}

/// Tests make opening fail on demand, as `EMFILE` would.
#[cfg(test)]
fn open(path: &std::path::Path) -> Result<Dwarf, Box<dyn std::error::Error>> {
    if tests::FAIL_OPEN.with(std::cell::Cell::get) {
        return Err(Box::new(std::io::Error::from_raw_os_error(libc::EMFILE)));
    }
    Dwarf::open(path)
}

/// Whether an error opening an object will not pass by retrying: no such file, no
/// permission, or not a parsable object.
fn is_permanent(error: &(dyn std::error::Error + 'static)) -> bool {
    match error.downcast_ref::<std::io::Error>() {
        Some(io) => matches!(
            io.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        ),
        None => true,
    }
}

/// A Rust (legacy or v0) name demangled without its hash, others as they are.
pub(super) fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => name.to_owned(),
    }
}

/// `dl_iterate_phdr` callback: records one object.
///
/// # Safety
///
/// `info` points to a valid `dl_phdr_info` and `data` to a `Vec<Object>`.
unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    let (info, objects) = unsafe { (&*info, &mut *data.cast::<Vec<Object>>()) };
    let bias = info.dlpi_addr as usize;
    let headers = if info.dlpi_phdr.is_null() {
        &[][..]
    } else {
        // SAFETY: the loader gives `dlpi_phnum` program headers at `dlpi_phdr`.
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
    };
    let ranges: Vec<(usize, usize)> = headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0)
        .map(|h| {
            let start = bias.wrapping_add(h.p_vaddr as usize);
            (start, start.wrapping_add(h.p_memsz as usize))
        })
        .collect();
    let name = if info.dlpi_name.is_null() {
        Default::default()
    } else {
        // SAFETY: a non-null `dlpi_name` is a NUL-terminated string of the loader's.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_string_lossy()
    };
    // The main program comes first, with an empty name.
    let file = if name.is_empty() && objects.is_empty() {
        PathBuf::from("/proc/self/exe")
    } else {
        PathBuf::from(&*name)
    };
    let debug_file = headers
        .iter()
        .filter(|h| h.p_type == libc::PT_NOTE)
        .find_map(|h| {
            let start = bias.wrapping_add(h.p_vaddr as usize) as *const u8;
            // SAFETY: a PT_NOTE segment of a loaded object is mapped and readable
            // for `p_memsz` bytes.
            let notes = unsafe { std::slice::from_raw_parts(start, h.p_memsz as usize) };
            build_id(notes)
        })
        .map(|id| debug_path(&id))
        .filter(|path| path.is_file());
    if !ranges.is_empty() {
        objects.push(Object {
            ranges,
            bias,
            path: debug_file.unwrap_or(file),
            state: State::Unopened,
        });
    }
    0
}

/// The GNU build ID in a run of ELF notes.
fn build_id(mut notes: &[u8]) -> Option<Vec<u8>> {
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    let align = |n: usize| n.div_ceil(4) * 4;
    while notes.len() >= 12 {
        let (name_size, desc_size, kind) = (word(notes, 0)?, word(notes, 4)?, word(notes, 8)?);
        let name = notes.get(12..12 + name_size)?;
        let desc_at = 12 + align(name_size);
        let desc = notes.get(desc_at..desc_at + desc_size)?;
        if kind == 3 && name == b"GNU\0" {
            return Some(desc.to_vec());
        }
        notes = notes.get(desc_at + align(desc_size)..)?;
    }
    None
}

/// Where Debian and Fedora install separate debug info for a build ID.
fn debug_path(id: &[u8]) -> PathBuf {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let (dir, file) = hex.split_at(2.min(hex.len()));
    PathBuf::from(format!("/usr/lib/debug/.build-id/{dir}/{file}.debug"))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    thread_local! {
        /// Set by a test: opening any object fails on this thread, as with `EMFILE`.
        pub(in crate::stack) static FAIL_OPEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn parses_a_gnu_build_id_note() {
        let mut note = Vec::new();
        for word in [4u32, 3, 3] {
            note.extend_from_slice(&word.to_ne_bytes());
        }
        note.extend_from_slice(b"GNU\0\xab\xcd\xef\0");
        assert_eq!(build_id(&note), Some(vec![0xab, 0xcd, 0xef]));
        assert_eq!(build_id(&note[..14]), None);
        assert_eq!(
            debug_path(&[0xab, 0xcd, 0xef]),
            PathBuf::from("/usr/lib/debug/.build-id/ab/cdef.debug")
        );
    }

    #[test]
    fn a_failure_to_open_is_retried_and_names_come_back() {
        let here = a_failure_to_open_is_retried_and_names_come_back as *const () as usize;
        let mut index = Index::new();
        FAIL_OPEN.with(|fail| fail.set(true));
        assert!(matches!(index.resolve(here + 4), Outcome::Unavailable));
        FAIL_OPEN.with(|fail| fail.set(false));
        // Within the retry delay it stays failed; after it, the file is opened.
        std::thread::sleep(RETRY_AFTER * 2);
        let Outcome::Found(lines) = index.resolve(here + 4) else {
            panic!("still unavailable after the retry delay");
        };
        assert!(
            lines.iter().any(|l| l
                .function
                .ends_with("a_failure_to_open_is_retried_and_names_come_back")),
            "{:?}",
            lines.iter().map(|l| &l.function).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lists_this_program_first() {
        let index = Index::new();
        let here = lists_this_program_first as *const () as usize;
        let first = &index.objects[0];
        assert!(first.ranges.iter().any(|&(s, e)| (s..e).contains(&here)));
    }
}
