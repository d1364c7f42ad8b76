//! Named profiles, as Go's `pprof.Lookup(name).WriteTo(w, debug)`.

use std::io::{self, Write};
use std::time::Duration;

use crate::control;
use crate::profile::build::{self, Contention, Snapshot};
use crate::profile::heap::{self, HeapSnapshot};
use crate::profile::{Profile, proto, text};

/// Why `heap` and `allocs` cannot be served, with the line that fixes it.
pub(crate) const NOT_INSTALLED: &str = "heap profiling needs profiled's allocator: add \
    `#[global_allocator] static GLOBAL: profiled::ProfiledAllocator = profiled::ProfiledAllocator::system();` \
    to your binary";

/// A profile this process serves, looked up by its Go name.
///
/// ```
/// let mutex = profiled::lookup("mutex").unwrap();
/// let mut text = Vec::new();
/// mutex.write_to(&mut text, 1).unwrap();
/// assert!(String::from_utf8(text).unwrap().starts_with("--- mutex:\ncycles/second=1000000000\n"));
/// assert!(profiled::lookup("nope").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedProfile {
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Allocs,
    Block,
    Heap,
    Mutex,
}

const ALL: [Kind; 4] = [Kind::Allocs, Kind::Block, Kind::Heap, Kind::Mutex];

/// Looks up a profile by its Go name (`"mutex"`, `"block"`, `"heap"`, `"allocs"`).
pub fn lookup(name: &str) -> Option<NamedProfile> {
    ALL.into_iter()
        .find(|kind| kind.name() == name)
        .map(|kind| NamedProfile { kind })
}

/// Every profile this process serves, sorted by name.
pub fn profiles() -> Vec<NamedProfile> {
    ALL.into_iter().map(|kind| NamedProfile { kind }).collect()
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Allocs => "allocs",
            Kind::Block => "block",
            Kind::Heap => "heap",
            Kind::Mutex => "mutex",
        }
    }

    fn contention(self) -> Contention {
        match self {
            Kind::Block => Contention::Block,
            // Heap kinds never reach the contention tables (see `heap_kind`).
            Kind::Mutex | Kind::Heap | Kind::Allocs => Contention::Mutex,
        }
    }

    /// For `heap` and `allocs`: the default sample type Go sets (`None` = last).
    fn heap_kind(self) -> Option<Option<&'static str>> {
        match self {
            Kind::Heap => Some(None),
            Kind::Allocs => Some(Some("alloc_space")),
            Kind::Block | Kind::Mutex => None,
        }
    }
}

impl NamedProfile {
    /// The profile's Go name, as in `/debug/pprof/<name>`.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// One-line description, as on Go's `/debug/pprof/` index.
    pub fn description(&self) -> &'static str {
        match self.kind {
            Kind::Block => {
                "Stack traces that led to blocking on synchronization primitives \
                 (profiled locks and condition variables)"
            }
            Kind::Mutex => "Stack traces of holders of contended profiled locks",
            Kind::Allocs => "A sampling of all past memory allocations",
            Kind::Heap => "A sampling of memory allocations of live objects",
        }
    }

    /// Number of distinct stacks recorded so far.
    pub fn count(&self) -> usize {
        if self.kind.heap_kind().is_some() {
            return crate::alloc::sampler::heap_rows().len();
        }
        Snapshot::take(self.kind.contention()).len()
    }

    /// True for `heap` and `allocs`, which need [`ProfiledAllocator`](crate::ProfiledAllocator)
    /// as the global allocator.
    pub(crate) fn is_heap(&self) -> bool {
        self.kind.heap_kind().is_some()
    }

    /// Writes the profile: `debug <= 0` as gzip'd `profile.proto`, otherwise as
    /// Go's legacy text, exactly as Go's `Profile.WriteTo`.
    ///
    /// `heap` and `allocs` fail with [`io::ErrorKind::Unsupported`] when
    /// [`ProfiledAllocator`](crate::ProfiledAllocator) is not the global allocator,
    /// rather than writing an empty profile.
    pub fn write_to(&self, out: &mut dyn Write, debug: i64) -> io::Result<()> {
        if let Some(default_sample_type) = self.kind.heap_kind() {
            if !crate::alloc::sampler::installed() {
                return Err(io::Error::new(io::ErrorKind::Unsupported, NOT_INSTALLED));
            }
            let snapshot = HeapSnapshot::take();
            if debug <= 0 {
                return proto::write(&heap::profile(&snapshot, default_sample_type), out);
            }
            return heap::write_text(&snapshot, &crate::memory::mem_stats(), out);
        }
        let snapshot = Snapshot::take(self.kind.contention());
        self.write_snapshot(&snapshot, out, debug)
    }

    /// Writes what was recorded during the next `duration` (a delta profile, as
    /// `?seconds=N`): a snapshot, a wait, a second snapshot, their difference.
    pub fn write_delta(&self, duration: Duration, out: &mut dyn Write) -> io::Result<()> {
        let before = Snapshot::take(self.kind.contention());
        std::thread::sleep(duration);
        let after = Snapshot::take(self.kind.contention());
        self.write_profile(&self.delta_profile(&before, &after), out, 0)
    }

    /// `after - before` of a heap kind, with its duration (Go's delta for `?seconds=N`).
    pub(crate) fn heap_delta(&self, before: &HeapSnapshot, after: &HeapSnapshot) -> Profile {
        let default_sample_type = self.kind.heap_kind().flatten();
        let mut profile = heap::profile(&heap::subtract(after, before), default_sample_type);
        profile.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
        profile
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot::take(self.kind.contention())
    }

    /// The difference `after - before`, without all-zero samples, with its duration.
    pub(crate) fn delta_profile(&self, before: &Snapshot, after: &Snapshot) -> Profile {
        let mut delta = build::subtract(after, before);
        delta.time_nanos = after.time_nanos;
        let mut profile = build::contention(&delta);
        profile.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
        profile
    }

    pub(crate) fn write_snapshot(
        &self,
        snapshot: &Snapshot,
        out: &mut dyn Write,
        debug: i64,
    ) -> io::Result<()> {
        self.write_profile(&build::contention(snapshot), out, debug)
    }

    pub(crate) fn write_profile(
        &self,
        profile: &Profile,
        out: &mut dyn Write,
        debug: i64,
    ) -> io::Result<()> {
        if debug <= 0 {
            return proto::write(profile, out);
        }
        match self.kind {
            Kind::Block => text::write_contention(profile, "contention", None, out),
            Kind::Mutex => {
                text::write_contention(profile, "mutex", Some(control::mutex_fraction()), out)
            }
            // Heap deltas are proto only (`seconds` and `debug` are exclusive).
            Kind::Heap | Kind::Allocs => proto::write(profile, out),
        }
    }
}
