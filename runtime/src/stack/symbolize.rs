//! In-process symbolization with a per-address cache, and trimming of `profiled`'s own
//! frames from the top of captured stacks.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::{Arc, Mutex, OnceLock};

/// One source line of a location; several for inlined calls, innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// Demangled function name without the hash suffix.
    pub function: Arc<str>,
    /// Source file, empty when unknown.
    pub file: Arc<str>,
    /// Source line, 0 when unknown.
    pub line: u32,
}

/// Symbolized lines of one code address, innermost (inlined) first, caller last.
pub(crate) type Lines = Arc<[Line]>;

/// What the cache keeps per address: its lines, and the same without the
/// profiler's own inlined frames on top.
#[derive(Clone)]
struct Resolved {
    lines: Lines,
    user: Lines,
    all_internal: bool,
}

/// Addresses the cache holds at most. CPU profiles bring new addresses (any
/// instruction can be a sample), so without a bound a long-lived process that is
/// profiled now and then would grow the cache forever. When full, it starts over.
const MAX_CACHED_ADDRESSES: usize = if cfg!(test) { 64 } else { 32_768 };

/// Resolved addresses, and one shared copy of each function name and file path
/// (thousands of addresses share a few hundred of them).
#[derive(Default)]
struct Cache {
    by_address: HashMap<usize, Resolved>,
    strings: HashSet<Arc<str>>,
}

impl Cache {
    fn intern(&mut self, s: &Arc<str>) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return Arc::clone(shared);
        }
        self.strings.insert(Arc::clone(s));
        Arc::clone(s)
    }

    fn insert(&mut self, return_address: usize, lines: Lines) -> Resolved {
        if self.by_address.len() >= MAX_CACHED_ADDRESSES {
            self.by_address.clear();
            self.strings.clear();
        }
        let lines: Lines = lines
            .iter()
            .map(|line| Line {
                function: self.intern(&line.function),
                file: self.intern(&line.file),
                line: line.line,
            })
            .collect();
        let first_user = lines.iter().position(|line| !is_internal(line));
        let resolved = Resolved {
            user: match first_user {
                Some(0) | None => Arc::clone(&lines),
                Some(first) => lines[first..].into(),
            },
            all_internal: !lines.is_empty() && first_user.is_none(),
            lines,
        };
        self.by_address.insert(return_address, resolved.clone());
        resolved
    }
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Resolves a return address captured by [`super::Stack`].
///
/// The address looked up is `return_address - 1` (the `backtrace` crate subtracts
/// the one), inside the call instruction, so the line is the call's and inlining is
/// resolved at the call site.
// Used by tests since the CPU profile stopped looking for the `pprof` crate's handler.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn resolve(return_address: usize) -> Lines {
    resolved(return_address).lines
}

/// The lines of a return address without the profiler's own inlined frames on top
/// (so a lock call inlined into `hold_long` is attributed to `hold_long` itself),
/// and whether every line is the profiler's own; then all lines are kept, and the
/// frame is for the caller to trim.
pub(crate) fn resolve_user(return_address: usize) -> (Lines, bool) {
    let resolved = resolved(return_address);
    (resolved.user, resolved.all_internal)
}

fn resolved(return_address: usize) -> Resolved {
    if let Some(site) = crate::instrument::logical::decode(return_address) {
        let lines = logical_lines(site);
        return Resolved {
            user: Arc::clone(&lines),
            lines,
            all_internal: false,
        };
    }
    if let Some(resolved) = cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .by_address
        .get(&return_address)
    {
        return resolved.clone();
    }
    // Resolved without the cache's lock: the first symbolization is slow.
    let lines = resolve_uncached(return_address);
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(return_address, lines)
}

/// The function containing code address `pc` (innermost when inlined), as Go's
/// `runtime.FuncForPC(pc).Name()`; `None` when no symbol covers it.
pub(crate) fn function_at(pc: usize) -> Option<String> {
    let mut name = None;
    // `backtrace::resolve` looks up `address - 1`: hand it `pc + 1` to get `pc`.
    backtrace::resolve(pc.wrapping_add(1) as *mut std::ffi::c_void, |symbol| {
        if name.is_none() {
            name = symbol.name().map(|n| format!("{n:#}"));
        }
    });
    name
}

/// A logical frame (a `#[profiled]` function in an async chain) as one line.
fn logical_lines(site: &crate::site::FnSite) -> Lines {
    vec![Line {
        function: site.name().into(),
        file: site.file().into(),
        line: site.line(),
    }]
    .into()
}

/// `backtrace::resolve` looks up `address - 1`, as for a return address.
fn resolve_uncached(return_address: usize) -> Lines {
    let mut lines = Vec::new();
    backtrace::resolve(return_address as *mut std::ffi::c_void, |symbol| {
        let Some(name) = symbol.name() else {
            return;
        };
        lines.push(Line {
            function: format!("{name:#}").into(),
            file: symbol
                .filename()
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default()
                .into(),
            line: symbol.lineno().unwrap_or(0),
        });
    });
    lines.into()
}

/// Crates whose frames are the profiler's machinery, not the user's code.
const INTERNAL_CRATES: [&str; 5] = [
    "profiled::",
    "lock_api::",
    "parking_lot::",
    "parking_lot_core::",
    "backtrace::",
];

/// Wrappers through which a guard is dropped; the generic argument names whose drop.
const DROP_WRAPPERS: [&str; 2] = ["core::ptr::drop_in_place<", "core::mem::drop<"];

/// Source directories of the same crates, for builds whose debug info has only line
/// tables (`debug = "line-tables-only"`), where function names lack their paths.
const INTERNAL_SOURCES: [&str; 8] = [
    "/lock_api-",
    "/lock_api/src/",
    "/parking_lot-",
    "/parking_lot/src/",
    "/parking_lot_core-",
    "/parking_lot_core/src/",
    "/backtrace-",
    "/backtrace/src/",
];

/// True for a line of the profiler's own machinery (capture, lock internals, guards),
/// judged by function name and, for line-tables-only builds, by source file.
pub(crate) fn is_internal(line: &Line) -> bool {
    is_internal_function(&line.function) || is_internal_file(&line.file)
}

fn is_internal_file(file: &str) -> bool {
    file.starts_with(concat!(env!("CARGO_MANIFEST_DIR"), "/src/"))
        || INTERNAL_SOURCES.iter().any(|dir| file.contains(dir))
}

fn is_internal_function(function: &str) -> bool {
    let mut name = function;
    for wrapper in DROP_WRAPPERS {
        if let Some(rest) = name.strip_prefix(wrapper) {
            name = rest;
        }
    }
    let name = name.trim_start_matches(['<', '&']);
    INTERNAL_CRATES.iter().any(|krate| name.starts_with(krate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn long_function(x: u64) -> u64 {
        let mut acc = x;
        for i in 0..64u64 {
            acc = std::hint::black_box(acc.wrapping_mul(31).rotate_left((i % 7) as u32) ^ i);
        }
        acc
    }

    #[test]
    fn the_cache_is_bounded_and_shares_names() {
        std::hint::black_box(long_function(1));
        let base = long_function as *const () as usize;
        let first = resolve(base + 8);
        let second = resolve(base + 9);
        assert!(first[0].function.contains("long_function"), "{first:?}");
        assert!(Arc::ptr_eq(&first[0].function, &second[0].function));
        for offset in 0..3 * MAX_CACHED_ADDRESSES {
            resolve(base + 16 + offset);
            let held = cache().lock().unwrap().by_address.len();
            assert!(held <= MAX_CACHED_ADDRESSES, "{held} addresses cached");
        }
    }

    fn line(function: &str, file: &str) -> Line {
        Line {
            function: function.into(),
            file: file.into(),
            line: 1,
        }
    }

    #[test]
    fn recognises_internal_frames_by_name() {
        for name in [
            "profiled::stack::Stack::capture",
            "<profiled::sync::RawProfiledMutex as lock_api::mutex::RawMutex>::unlock",
            "lock_api::mutex::Mutex<R,T>::lock",
            "core::ptr::drop_in_place<lock_api::mutex::MutexGuard<profiled::RawProfiledMutex,u64>>",
            "core::mem::drop<lock_api::mutex::MutexGuard<profiled::RawProfiledMutex,u64>>",
        ] {
            assert!(is_internal(&line(name, "")), "{name}");
        }
        for name in [
            "app::hold_long",
            "profiled_tests::helper",
            "core::ptr::drop_in_place<app::Thing>",
        ] {
            assert!(!is_internal(&line(name, "/src/app.rs")), "{name}");
        }
    }

    #[test]
    fn recognises_internal_frames_by_file_when_names_are_short() {
        let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/stack/mod.rs");
        assert!(is_internal(&line("capture", own)));
        assert!(is_internal(&line(
            "lock",
            "/root/.cargo/registry/src/index.crates.io-1/lock_api-0.5.0/src/mutex.rs"
        )));
        assert!(!is_internal(&line("hold_long", "/work/app/src/main.rs")));
    }
}
