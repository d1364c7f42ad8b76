//! Executable mappings of this process, from `/proc/self/maps`, with ELF build IDs.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// One executable, file-backed mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub start: u64,
    pub limit: u64,
    pub offset: u64,
    pub path: String,
    /// Lower-case hex GNU build ID, empty when the file has none.
    pub build_id: String,
}

/// Reads the executable mappings of the current process. Empty if unreadable.
pub(crate) fn executable_mappings() -> Vec<Mapping> {
    std::fs::read_to_string("/proc/self/maps")
        .map(|text| parse_maps(&text))
        .unwrap_or_default()
        .into_iter()
        .map(|mut mapping| {
            mapping.build_id = build_id(&mapping.path);
            mapping
        })
        .collect()
}

/// Parses `/proc/<pid>/maps` text, keeping executable mappings backed by a file.
pub(crate) fn parse_maps(text: &str) -> Vec<Mapping> {
    crate::procfs::maps_lines(text)
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: crate::procfs::MapsLine<'_>) -> Option<Mapping> {
    if !line.perms.contains('x') || !line.path.starts_with('/') {
        return None;
    }
    Some(Mapping {
        start: line.start as u64,
        limit: line.end as u64,
        offset: u64::from_str_radix(line.offset?, 16).ok()?,
        path: line.path.trim_end_matches(" (deleted)").to_owned(),
        build_id: String::new(),
    })
}

/// The GNU build ID of an ELF file, cached per path; empty when absent or unreadable.
/// A file that could not be opened for a reason that may pass (`EMFILE`) is not
/// cached, so its build ID comes back.
fn build_id(path: &str) -> String {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(id) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return id.clone();
    }
    let Ok(read) = read_build_id(path) else {
        return String::new();
    };
    let id = read.unwrap_or_default();
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned(), id.clone());
    id
}

/// `Err` when the file could not be opened now (but exists or may be readable later).
fn read_build_id(path: &str) -> Result<Option<String>, std::io::Error> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parse_build_id(file))
}

fn parse_build_id(file: std::fs::File) -> Option<String> {
    use object::Object;
    // ReadCache reads only the headers and the note section, not the whole file.
    let data = object::ReadCache::new(file);
    let elf = object::File::parse(&data).ok()?;
    let id = elf.build_id().ok()??;
    Some(id.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_executable_file_mappings() {
        let text = "\
55d0c0a00000-55d0c0a20000 r--p 00000000 fd:01 123 /usr/bin/app
55d0c0a20000-55d0c0b00000 r-xp 00020000 fd:01 123 /usr/bin/app
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
7ffd1c5f2000-7ffd1c5f4000 r-xp 00000000 00:00 0                          [vdso]
7f1000000000-7f1000100000 r-xp 00001000 fd:01 456 /opt/my lib/libx.so (deleted)
";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].start, 0x55d0c0a20000);
        assert_eq!(maps[0].limit, 0x55d0c0b00000);
        assert_eq!(maps[0].offset, 0x20000);
        assert_eq!(maps[0].path, "/usr/bin/app");
        assert_eq!(maps[1].path, "/opt/my lib/libx.so");
    }

    #[test]
    fn reads_this_test_binary_build_id() {
        let maps = executable_mappings();
        let exe = std::env::current_exe().unwrap();
        let own = maps
            .iter()
            .find(|m| std::path::Path::new(&m.path) == exe)
            .expect("the test binary is mapped executable");
        // Debian's gcc links with --build-id: 20 bytes of SHA-1 as 40 hex digits.
        assert_eq!(own.build_id.len(), 40, "build id {:?}", own.build_id);
    }
}
