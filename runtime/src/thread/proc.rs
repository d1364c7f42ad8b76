//! What `/proc/self` says about threads: the live tids, each one's name, scheduler
//! state and signal masks, and the mappings a stack can live in (parsed by
//! `procfs.rs`).

use crate::procfs;

/// One thread as `/proc/self/task/<tid>/status` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskStatus {
    /// `comm`: the thread's name, at most 15 bytes.
    pub name: String,
    /// One-letter state, as in `stat`: `R`, `S`, `D`, `T`, `t`, `Z`, `X`, `I`.
    pub state: char,
    /// The state in words, e.g. `sleeping`.
    pub state_name: String,
    /// Signals pending for this thread only (`SigPnd`), bit `n - 1` for signal `n`.
    pub pending: u64,
    /// Signals the thread blocks (`SigBlk`).
    pub blocked: u64,
}

/// Test-only: where `tids`, `thread_count` and `check_task_dir` look instead of
/// `/proc/self/task` (set through `__private::set_proc_task_dir_for_tests`, to
/// simulate a `/proc` that cannot be read).
static TASK_DIR: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

pub(crate) fn set_task_dir(dir: Option<std::path::PathBuf>) {
    *TASK_DIR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = dir;
}

fn task_dir() -> std::path::PathBuf {
    TASK_DIR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| "/proc/self/task".into())
}

/// `Ok` when the thread list can be read; else the error, naming the directory.
/// Dumps check this first, so a `/proc` that cannot be read (no file descriptors
/// left, not mounted) is an error rather than an empty dump.
pub(crate) fn check_task_dir() -> std::io::Result<()> {
    let dir = task_dir();
    match std::fs::read_dir(&dir) {
        Ok(_) => Ok(()),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot list threads: reading {}: {e}", dir.display()),
        )),
    }
}

/// Ids of every live thread of this process, ascending.
pub(crate) fn tids() -> Vec<libc::pid_t> {
    let mut tids: Vec<libc::pid_t> = std::fs::read_dir(task_dir())
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// Number of live threads of this process.
pub(crate) fn thread_count() -> usize {
    std::fs::read_dir(task_dir())
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// The status of thread `tid`; `None` once it has exited.
///
/// One read of `status` gives what `comm` and `stat` give (name, state) plus the
/// signal masks the dump needs.
pub(crate) fn status(tid: libc::pid_t) -> Option<TaskStatus> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    Some(parse_status(&text))
}

pub(crate) fn parse_status(text: &str) -> TaskStatus {
    let mut status = TaskStatus::default();
    for (key, value) in procfs::status_fields(text) {
        match key {
            "Name" => status.name = unescape_name(value),
            "State" => {
                status.state = value.chars().next().unwrap_or('?');
                status.state_name = value
                    .split_once('(')
                    .map(|(_, rest)| rest.trim_end_matches(')').to_owned())
                    .unwrap_or_else(|| value.to_owned());
            }
            "SigPnd" => status.pending = u64::from_str_radix(value.trim(), 16).unwrap_or(0),
            "SigBlk" => status.blocked = u64::from_str_radix(value.trim(), 16).unwrap_or(0),
            _ => {}
        }
    }
    status
}

/// `status` escapes `\n` and `\\` in names.
fn unescape_name(name: &str) -> String {
    name.replace("\\n", "\n").replace("\\\\", "\\")
}

/// The bit of `signal` in a `/proc` signal mask.
pub(crate) fn signal_bit(signal: libc::c_int) -> u64 {
    u32::try_from(signal - 1)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift))
        .unwrap_or(0)
}

/// `[start, end)` of every readable, writable anonymous mapping (thread stacks, signal
/// stacks, `[stack]`, also heap-like memory), ascending: the places a stack can be.
pub(crate) fn stack_ranges() -> Vec<(usize, usize)> {
    std::fs::read_to_string("/proc/self/maps")
        .map(|text| parse_stack_ranges(&text))
        .unwrap_or_default()
}

pub(crate) fn parse_stack_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = procfs::maps_lines(text)
        .filter_map(|line| {
            let path = line.path.trim_end();
            let anonymous = path.is_empty() || path.starts_with("[stack");
            (line.perms.starts_with("rw") && anonymous).then_some((line.start, line.end))
        })
        .filter(|(start, end)| start < end)
        .collect();
    ranges.sort_unstable();
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let text = "Name:\tparked\\\\x\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\n\
                    SigQ:\t0/1000\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n\
                    SigBlk:\t0000000200000000\nSigIgn:\t0000000000001000\n";
        let status = parse_status(text);
        assert_eq!(status.name, "parked\\x");
        assert_eq!(status.state, 'S');
        assert_eq!(status.state_name, "sleeping");
        assert_eq!(status.pending, 0);
        assert_eq!(status.blocked, signal_bit(34));
    }

    #[test]
    fn keeps_anonymous_writable_mappings() {
        let text = "\
55d0c0a00000-55d0c0a20000 r--p 00000000 fd:01 123 /usr/bin/app
55d0c0b00000-55d0c0b10000 rw-p 00000000 fd:01 123 /usr/bin/app
7f0000000000-7f0000001000 ---p 00000000 00:00 0 
7f0000001000-7f0000201000 rw-p 00000000 00:00 0 
7ffd1c5d0000-7ffd1c5f2000 rw-p 00000000 00:00 0                          [stack]
";
        assert_eq!(
            parse_stack_ranges(text),
            [
                (0x7f0000001000, 0x7f0000201000),
                (0x7ffd1c5d0000, 0x7ffd1c5f2000)
            ]
        );
    }

    #[test]
    fn lists_this_thread() {
        // SAFETY: gettid has no preconditions.
        let own = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
        assert!(tids().contains(&own));
        let status = status(own).unwrap();
        assert_eq!(status.state, 'R');
        assert!(thread_count() >= 1);
    }
}
