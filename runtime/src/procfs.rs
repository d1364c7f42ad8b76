//! The one parser of `/proc` text: lines of `maps` and `Key: value` fields of
//! `status`. Readers that want one kind of mapping or one field build on these:
//! `stack/maps.rs` (executable mappings), `thread/proc.rs` (stack ranges, thread
//! status) and `memory.rs` (process status fields).

/// One line of `/proc/<pid>/maps`: `start-end perms offset dev inode [path]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapsLine<'a> {
    pub start: usize,
    pub end: usize,
    /// E.g. `r-xp`.
    pub perms: &'a str,
    /// Hex file offset; `None` on a truncated line.
    pub offset: Option<&'a str>,
    /// The path (which may contain spaces) or pseudo-path such as `[stack]`, with
    /// leading blanks removed; empty for anonymous memory.
    pub path: &'a str,
}

/// Parses every well-formed line of `maps` text.
pub(crate) fn maps_lines(text: &str) -> impl Iterator<Item = MapsLine<'_>> {
    text.lines().filter_map(maps_line)
}

fn maps_line(line: &str) -> Option<MapsLine<'_>> {
    // start-end perms offset dev inode [path]; the path may contain spaces.
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next();
    let _dev = fields.next();
    let _inode = fields.next();
    let path = fields.next().unwrap_or("").trim_start();
    let (start, end) = range.split_once('-')?;
    Some(MapsLine {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        path,
    })
}

/// The `Key: value` fields of `status` text, values without their leading blanks.
pub(crate) fn status_fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        Some((key, value.trim_start_matches([' ', '\t'])))
    })
}

/// The number at the start of field `key` of `/proc/self/status`, in the field's
/// own unit (kB for `VmHWM`, a count for `Threads`); 0 when absent.
pub(crate) fn proc_status_field(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            status_fields(&text)
                .find(|&(name, _)| name == key)
                .and_then(|(_, value)| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_keep_paths_with_spaces() {
        let text = "\
7f1000000000-7f1000100000 r-xp 00001000 fd:01 456 /opt/my lib/libx.so
7ffd1c5d0000-7ffd1c5f2000 rw-p 00000000 00:00 0                          [stack]
7f0000001000-7f0000201000 rw-p 00000000 00:00 0 
not a mapping
";
        let lines: Vec<MapsLine<'_>> = maps_lines(text).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].start, 0x7f1000000000);
        assert_eq!(lines[0].end, 0x7f1000100000);
        assert_eq!(lines[0].perms, "r-xp");
        assert_eq!(lines[0].offset, Some("00001000"));
        assert_eq!(lines[0].path, "/opt/my lib/libx.so");
        assert_eq!(lines[1].path, "[stack]");
        assert_eq!(lines[2].path, "");
    }

    #[test]
    fn status_fields_split_keys_and_values() {
        let text = "Name:\tworker\nThreads:\t7\nVmHWM:\t  1024 kB\n";
        let fields: Vec<(&str, &str)> = status_fields(text).collect();
        assert_eq!(
            fields,
            [("Name", "worker"), ("Threads", "7"), ("VmHWM", "1024 kB")]
        );
    }

    #[test]
    fn reads_this_process_thread_count() {
        assert!(proc_status_field("Threads") >= 1);
        assert_eq!(proc_status_field("NoSuchField"), 0);
    }
}
