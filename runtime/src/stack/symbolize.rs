//! In-process symbolization with a bounded per-address cache, and trimming of
//! `profiled`'s own frames from the top of captured stacks.
//!
//! What stays resident is proportional to the addresses symbolized: a cache of at
//! most two [`GENERATION`]s of addresses (lines, inlined frames, one shared copy of
//! each name and path). The DWARF index that answers new addresses (`index.rs` and
//! `dwarf.rs`, through `addr2line`) parses only the units those addresses need, and
//! unmaps the files and frees what it parsed [`INDEX_IDLE`] after the last lookup,
//! keeping only the objects' small unit tables. A failure to read an object
//! file (`EMFILE`) is not cached: names come back with the next profile. Function
//! names keep their type (`names.rs`). All of it is the profiler's own memory:
//! never sampled into the user's heap profile, reported in `/debug/stats` `self`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{index, names};
use crate::alloc::own;

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

/// Addresses one generation of the cache holds; two generations are kept. CPU
/// profiles bring new addresses (any instruction can be a sample), so without a
/// bound a long-lived process that is profiled now and then would grow the cache
/// forever. When the current generation is full it becomes the previous one (whose
/// addresses are forgotten unless asked for again), so a working set of up to one
/// generation stays cached through any number of profiles.
pub(crate) const GENERATION: usize = if cfg!(test) { 64 } else { 16_384 };

/// The DWARF index's mapped files and parsed units are released after this long
/// without a new address to resolve. Shorter than the fleet engines' scrape and push
/// intervals (Parca 10 s, Alloy and pushes 15 s), so continuous profiling holds them
/// only while a profile is symbolized: bringing them back costs a map, the
/// decompression of compressed sections, and the parsing of the units new addresses
/// need (the unit tables stay). With a full `addr2line` context per object, every
/// unit parsed up front, a 1 s idle time cost the pushing `contention` example 1.17x
/// CPU and a 20 s one kept 70 MB of heap under a 15 s scrape (BENCHMARKS.md).
pub(crate) const INDEX_IDLE: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(2)
};

/// Resolved addresses in two generations, and one shared copy of each function name
/// and file path (thousands of addresses share a few hundred of them).
#[derive(Default)]
struct Cache {
    current: HashMap<usize, Resolved>,
    previous: HashMap<usize, Resolved>,
    strings: HashSet<Arc<str>>,
    /// Estimated heap bytes of each generation (entries, lines and new strings).
    current_bytes: usize,
    previous_bytes: usize,
}

impl Cache {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = s.into();
        self.current_bytes += 2 * std::mem::size_of::<Arc<str>>() + 16 + s.len();
        self.strings.insert(Arc::clone(&shared));
        shared
    }

    fn get(&mut self, return_address: usize) -> Option<Resolved> {
        if let Some(resolved) = self.current.get(&return_address) {
            return Some(resolved.clone());
        }
        let resolved = self.previous.remove(&return_address)?;
        self.keep(return_address, resolved.clone());
        Some(resolved)
    }

    fn keep(&mut self, return_address: usize, resolved: Resolved) {
        if self.current.len() >= GENERATION {
            self.previous = std::mem::take(&mut self.current);
            self.previous_bytes = std::mem::take(&mut self.current_bytes);
            self.strings.clear();
        }
        self.current_bytes += entry_bytes(&resolved);
        self.current.insert(return_address, resolved);
    }

    fn insert(&mut self, return_address: usize, raw: Vec<index::RawLine>) -> Resolved {
        let lines: Lines = raw
            .iter()
            .map(|line| Line {
                function: self.intern(&names::short(&line.function)),
                file: self.intern(&line.file),
                line: line.line,
            })
            .collect();
        self.insert_lines(return_address, lines)
    }

    fn insert_lines(&mut self, return_address: usize, lines: Lines) -> Resolved {
        let first_user = lines.iter().position(|line| !is_internal(line));
        let resolved = Resolved {
            user: match first_user {
                Some(0) | None => Arc::clone(&lines),
                Some(first) => lines[first..].into(),
            },
            all_internal: !lines.is_empty() && first_user.is_none(),
            lines,
        };
        self.keep(return_address, resolved.clone());
        resolved
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    fn contains(&self, return_address: usize) -> bool {
        self.current.contains_key(&return_address) || self.previous.contains_key(&return_address)
    }
}

/// Heap bytes of one cache entry: its hash-table slot and its lines.
fn entry_bytes(resolved: &Resolved) -> usize {
    let slot = std::mem::size_of::<(usize, Resolved)>() + 8;
    let lines = |l: &Lines| 16 + std::mem::size_of_val::<[Line]>(l);
    let user = if Arc::ptr_eq(&resolved.lines, &resolved.user) {
        0
    } else {
        lines(&resolved.user)
    };
    slot + lines(&resolved.lines) + user
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The DWARF index (kept once built: the object list and unit tables are small), and
/// when it was last used.
struct Loaded {
    index: index::Index,
    last_used: Instant,
}

fn loaded() -> &'static Mutex<Option<Loaded>> {
    static INDEX: Mutex<Option<Loaded>> = Mutex::new(None);
    &INDEX
}

/// Whether the thread that releases an idle index runs. Changed only with
/// [`loaded`]'s lock held, or (when set) right after releasing it.
static REAPER: AtomicBool = AtomicBool::new(false);

/// Runs `work` on the index, building it first if there is none.
fn with_index<R>(work: impl FnOnce(&mut index::Index) -> R) -> R {
    let mut guard = loaded().lock().unwrap_or_else(|e| e.into_inner());
    let loaded = guard.get_or_insert_with(|| Loaded {
        index: index::Index::new(),
        last_used: Instant::now(),
    });
    let result = work(&mut loaded.index);
    loaded.last_used = Instant::now();
    drop(guard);
    if !REAPER.swap(true, Ordering::AcqRel) {
        let spawned = std::thread::Builder::new()
            .name("profiled-symbolizer".into())
            .spawn(reap_when_idle);
        if spawned.is_err() {
            // No thread: the index stays until `free_os_memory` or the next miss.
            REAPER.store(false, Ordering::Release);
        }
    }
    result
}

/// Until when a periodic consumer (the push thread) expects to symbolize again; see
/// [`expect_next_pass_within`].
fn next_pass_due() -> &'static Mutex<Option<Instant>> {
    static DUE: Mutex<Option<Instant>> = Mutex::new(None);
    &DUE
}

/// Tells the symbolizer that another pass comes within `period` (the push thread,
/// after each round). Until then an idle index still releases its parsed units after
/// [`INDEX_IDLE`], but keeps its files mapped and their compressed sections
/// decompressed: a distribution's debug file (Debian's `libc6-dbg`: 8 MB of zlib
/// sections) is then inflated once per push schedule, not once per round. Files
/// without compressed sections hold no memory this way (their pages are the page
/// cache's, given back after each pass).
#[cfg_attr(not(feature = "push"), allow(dead_code))]
pub(crate) fn expect_next_pass_within(period: Duration) {
    *lock(next_pass_due()) = Instant::now().checked_add(period);
}

/// The reaper thread: releases the parsed units once idle for [`INDEX_IDLE`], the
/// mapped files too unless a pass is expected soon ([`expect_next_pass_within`]),
/// returns the freed memory to the OS, and exits once everything is released.
fn reap_when_idle() {
    loop {
        std::thread::sleep(INDEX_IDLE / 2);
        let mut guard = loaded().lock().unwrap_or_else(|e| e.into_inner());
        let Some(loaded) = guard.as_mut().filter(|l| l.index.is_mapped()) else {
            REAPER.store(false, Ordering::Release);
            return;
        };
        if loaded.last_used.elapsed() < INDEX_IDLE {
            continue;
        }
        let expected = lock(next_pass_due()).is_some_and(|due| Instant::now() < due);
        if expected {
            if loaded.index.is_parsed() {
                loaded.index.release_parsed();
                drop(guard);
                crate::memory::trim();
            }
            continue;
        }
        loaded.index.release();
        REAPER.store(false, Ordering::Release);
        drop(guard);
        crate::memory::trim();
        return;
    }
}

/// Resolves every return address not cached yet in one pass over the debug info, so
/// that the units they need are parsed together (a profile's frames, before they are
/// looked up one by one).
pub(crate) fn prefetch(return_addresses: impl IntoIterator<Item = usize>) {
    if baseline() {
        return;
    }
    let mut missing: Vec<usize> = {
        let cache = lock(cache());
        return_addresses
            .into_iter()
            .filter(|&a| super::frame::decode(a).is_none() && !cache.contains(a))
            .collect()
    };
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return;
    }
    let _own = own::scope(own::Component::Symbolizer);
    let pcs: Vec<usize> = missing.iter().map(|a| a.wrapping_sub(1)).collect();
    let outcomes = with_index(|index| {
        let outcomes = index.resolve_many(&pcs);
        // A profile's pass read pages all over the files: give them back at once.
        index.advise_unneeded();
        outcomes
    });
    let mut cache = lock(cache());
    for (address, outcome) in missing.into_iter().zip(outcomes) {
        if let index::Outcome::Found(raw) = outcome {
            cache.insert(address, raw);
        }
    }
}

/// Resolves a return address captured by [`super::Stack`].
///
/// The address looked up is `return_address - 1`, inside the call instruction, so
/// the line is the call's and inlining is resolved at the call site.
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
    resolved_with(return_address, baseline())
}

fn resolved_with(return_address: usize, baseline: bool) -> Resolved {
    if let Some(site) = super::frame::decode(return_address) {
        let lines = logical_lines(site);
        return Resolved {
            user: Arc::clone(&lines),
            lines,
            all_internal: false,
        };
    }
    if let Some(resolved) = lock(cache()).get(return_address) {
        return resolved;
    }
    // The symbolizer's own memory: not sampled, counted as its own.
    let _own = own::scope(own::Component::Symbolizer);
    if baseline {
        let lines = backtrace_lines(return_address);
        return lock(cache()).insert_lines(return_address, lines);
    }
    // Resolved without the cache's lock: the first symbolization is slow.
    match with_index(|index| index.resolve(return_address.wrapping_sub(1))) {
        index::Outcome::Found(raw) => lock(cache()).insert(return_address, raw),
        // Not cached: the next profile tries again.
        index::Outcome::Unavailable => Resolved {
            lines: Lines::default(),
            user: Lines::default(),
            all_internal: false,
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The function containing code address `pc` (innermost when inlined), as Go's
/// `runtime.FuncForPC(pc).Name()`; `None` when no symbol covers it. Not cached:
/// the `symbol` endpoint may ask for any number of addresses.
pub(crate) fn function_at(pc: usize) -> Option<String> {
    let _own = own::scope(own::Component::Symbolizer);
    if baseline() {
        let mut name = None;
        // `backtrace::resolve` looks up `address - 1`: hand it `pc + 1` to get `pc`.
        backtrace::resolve(pc.wrapping_add(1) as *mut std::ffi::c_void, |symbol| {
            if name.is_none() {
                name = symbol.name().map(|n| format!("{n:#}"));
            }
        });
        return name;
    }
    match with_index(|index| index.resolve(pc)) {
        index::Outcome::Found(raw) => raw
            .first()
            .map(|line| names::short(&line.function).into_owned()),
        index::Outcome::Unavailable => None,
    }
}

/// Drops the symbolizer's caches and its DWARF index (for `free_os_memory`).
pub(crate) fn clear() {
    let _own = own::scope(own::Component::Symbolizer);
    let dropped = lock(loaded()).take();
    drop(dropped);
    *lock(cache()) = Cache::default();
    backtrace::clear_symbol_cache();
}

/// For the `symbolize` bench: drops the address cache and releases the index as the
/// reaper does, keeping the unit tables.
pub(crate) fn forget_addresses() {
    let _own = own::scope(own::Component::Symbolizer);
    if let Some(loaded) = lock(loaded()).as_mut() {
        loaded.index.release();
    }
    *lock(cache()) = Cache::default();
}

/// For the `symbolize` bench: resolves every return address with this symbolizer (a
/// [`prefetch`] pass, then each address, as a profile is built) or (`baseline`) the
/// `backtrace` crate's, after dropping every cache if `cold`; returns the lines found.
pub(crate) fn bench_resolve(return_addresses: &[usize], baseline: bool, cold: bool) -> usize {
    if cold {
        clear();
    }
    if !baseline {
        // As a profile is built: one pass for the addresses not cached.
        prefetch(return_addresses.iter().copied());
    }
    return_addresses
        .iter()
        .map(|&address| resolved_with(address, baseline).lines.len())
        .sum()
}

/// What the symbolizer holds now, for `/debug/stats`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// Addresses cached.
    pub addresses: usize,
    /// Estimated heap bytes of the address cache.
    pub cache_bytes: usize,
    /// Whether debug info is mapped and parsed units are held (released when idle).
    pub index_loaded: bool,
}

/// What the symbolizer holds now.
pub(crate) fn usage() -> Usage {
    let (addresses, cache_bytes) = {
        let cache = lock(cache());
        (cache.len(), cache.current_bytes + cache.previous_bytes)
    };
    Usage {
        addresses,
        cache_bytes,
        index_loaded: lock(loaded()).as_ref().is_some_and(|l| l.index.is_mapped()),
    }
}

/// `PROFILED_SYMBOLIZER=backtrace`: today's baseline, the `backtrace` crate's
/// resolver with its caches kept for the process's life (for benchmarks only).
fn baseline() -> bool {
    static BASELINE: OnceLock<bool> = OnceLock::new();
    *BASELINE
        .get_or_init(|| std::env::var_os("PROFILED_SYMBOLIZER").is_some_and(|v| v == "backtrace"))
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

/// The baseline: `backtrace::resolve` looks up `address - 1`, as for a return address.
fn backtrace_lines(return_address: usize) -> Lines {
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
mod tests;
