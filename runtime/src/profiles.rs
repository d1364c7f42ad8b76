//! Named profiles, as Go's `pprof.Lookup(name).WriteTo(w, debug)`.

use std::io::{self, Write};
use std::time::Duration;

use crate::control;
use crate::profile::build::{self, Contention, Snapshot};
use crate::profile::goroutine::{self, CountSnapshot};
use crate::profile::heap::{self, HeapSnapshot};
use crate::profile::{Profile, folded, proto, text};

/// The error text of `heap` and `allocs` without profiled's allocator installed.
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
    Goroutine,
    Heap,
    Mutex,
    Threadcreate,
}

const ALL: [Kind; 6] = [
    Kind::Allocs,
    Kind::Block,
    Kind::Goroutine,
    Kind::Heap,
    Kind::Mutex,
    Kind::Threadcreate,
];

/// How a profile is written: Go's (proto for `debug <= 0`, legacy text otherwise),
/// folded stacks, or a flame graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Go { debug: i64 },
    Folded,
    Svg,
}

/// Looks up a profile by its Go name (`"mutex"`, `"block"`, `"goroutine"`,
/// `"threadcreate"`, `"heap"`, `"allocs"`).
///
/// ```
/// let block = profiled::lookup("block").unwrap();
/// assert_eq!(block.name(), "block");
/// assert!(profiled::lookup("profile").is_none()); // the CPU profile is served over HTTP only
/// ```
pub fn lookup(name: &str) -> Option<NamedProfile> {
    ALL.into_iter()
        .find(|kind| kind.name() == name)
        .map(|kind| NamedProfile { kind })
}

/// Every profile this process serves, sorted by name.
///
/// ```
/// let names: Vec<_> = profiled::profiles().iter().map(|p| p.name()).collect();
/// assert_eq!(names, ["allocs", "block", "goroutine", "heap", "mutex", "threadcreate"]);
/// ```
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
            Kind::Goroutine => "goroutine",
            Kind::Threadcreate => "threadcreate",
        }
    }

    /// For `heap` and `allocs`: the default sample type Go sets (`None` = last).
    fn heap_kind(self) -> Option<Option<&'static str>> {
        match self {
            Kind::Heap => Some(None),
            Kind::Allocs => Some(Some("alloc_space")),
            _ => None,
        }
    }

    /// The contention table behind this profile; `None` for count profiles.
    fn contention(self) -> Option<Contention> {
        match self {
            Kind::Block => Some(Contention::Block),
            Kind::Mutex => Some(Contention::Mutex),
            Kind::Goroutine | Kind::Threadcreate | Kind::Heap | Kind::Allocs => None,
        }
    }
}

/// A point-in-time copy of any profile's data, for delta profiles.
#[derive(Clone, Debug)]
pub(crate) enum ProfileSnapshot {
    Contention(Snapshot),
    Counts(CountSnapshot),
    Heap(HeapSnapshot),
}

impl NamedProfile {
    /// The profile's Go name, as in `/debug/pprof/<name>`.
    ///
    /// ```
    /// assert_eq!(profiled::lookup("mutex").unwrap().name(), "mutex");
    /// ```
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// One-line description, as on Go's `/debug/pprof/` index.
    ///
    /// ```
    /// let mutex = profiled::lookup("mutex").unwrap();
    /// assert_eq!(mutex.description(), "Stack traces of holders of contended profiled locks");
    /// ```
    pub fn description(&self) -> &'static str {
        match self.kind {
            Kind::Block => {
                "Stack traces that led to blocking on synchronization primitives \
                 (profiled locks and condition variables)"
            }
            Kind::Mutex => "Stack traces of holders of contended profiled locks",
            Kind::Goroutine => {
                "Stack traces of all current threads, and of tasks spawned through \
                 profiled::task (their #[profiled] chain)"
            }
            Kind::Threadcreate => {
                "Stack traces that led to the creation of new OS threads \
                 (through profiled::thread); other threads counted with an empty stack"
            }
            Kind::Allocs => "A sampling of all past memory allocations",
            Kind::Heap => "A sampling of memory allocations of live objects",
        }
    }

    /// `heap` or `allocs`.
    pub(crate) fn is_heap(&self) -> bool {
        self.kind.heap_kind().is_some()
    }

    /// Number of distinct stacks recorded so far; for `goroutine` the number of live
    /// threads, for `threadcreate` the number of threads counted, as Go's index shows.
    ///
    /// ```
    /// assert!(profiled::lookup("goroutine").unwrap().count() >= 1); // this thread, at least
    /// ```
    pub fn count(&self) -> usize {
        if self.is_heap() {
            return crate::alloc::sampler::heap_rows().len();
        }
        match self.kind.contention() {
            Some(contention) => Snapshot::take(contention).len(),
            None if self.kind == Kind::Goroutine => {
                crate::threads::proc::thread_count() + crate::task::task_count()
            }
            None => usize::try_from(CountSnapshot::threadcreate().total()).unwrap_or(0),
        }
    }

    /// Writes the profile: `debug <= 0` as gzip'd `profile.proto`, otherwise as
    /// Go's legacy text, exactly as Go's `Profile.WriteTo` (`goroutine` with
    /// `debug >= 2`: a full dump of every thread, as Go's).
    ///
    /// `heap` and `allocs` fail with [`io::ErrorKind::Unsupported`] when
    /// [`ProfiledAllocator`](crate::ProfiledAllocator) is not the global allocator,
    /// rather than writing an empty profile.
    ///
    /// ```
    /// let mut text = Vec::new();
    /// profiled::lookup("goroutine").unwrap().write_to(&mut text, 1).unwrap();
    /// assert!(String::from_utf8(text).unwrap().starts_with("goroutine profile: total "));
    ///
    /// let mut proto = Vec::new();
    /// profiled::lookup("block").unwrap().write_to(&mut proto, 0).unwrap();
    /// assert_eq!(proto[..2], [0x1f, 0x8b]); // gzip'd profile.proto
    ///
    /// // This doctest has no ProfiledAllocator as its global allocator:
    /// let error = profiled::lookup("heap").unwrap().write_to(&mut Vec::new(), 0).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
    /// ```
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
        match self.kind.contention() {
            Some(contention) => self.write_snapshot(&Snapshot::take(contention), out, debug),
            None if self.kind == Kind::Goroutine && debug >= 2 => {
                let (records, comments) = goroutine::records();
                goroutine::write_dump(&records, &comments, out)
            }
            None => {
                let ProfileSnapshot::Counts(counts) = self.snapshot() else {
                    return Ok(());
                };
                self.write_profile(&counts.profile(self.name()), out, debug)
            }
        }
    }

    /// Writes the profile as folded stacks (`root;...;leaf value` per line), the
    /// input of flamegraph.pl and inferno.
    ///
    /// ```
    /// let mut folded = Vec::new();
    /// profiled::lookup("block").unwrap().write_folded(&mut folded).unwrap();
    /// ```
    pub fn write_folded(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_output(&self.profile_of(&self.snapshot()), out, Output::Folded)
    }

    /// Writes the profile as a flame graph SVG.
    ///
    /// ```
    /// let mut svg = Vec::new();
    /// profiled::lookup("mutex").unwrap().write_svg(&mut svg).unwrap();
    /// assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    /// ```
    pub fn write_svg(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_output(&self.profile_of(&self.snapshot()), out, Output::Svg)
    }

    /// The profile model of a snapshot.
    pub(crate) fn profile_of(&self, snapshot: &ProfileSnapshot) -> Profile {
        match snapshot {
            ProfileSnapshot::Contention(snapshot) => build::contention(snapshot),
            ProfileSnapshot::Counts(counts) => counts.profile(self.name()),
            ProfileSnapshot::Heap(snapshot) => {
                heap::profile(snapshot, self.kind.heap_kind().flatten())
            }
        }
    }

    /// Writes `profile` in `output`.
    pub(crate) fn write_output(
        &self,
        profile: &Profile,
        out: &mut dyn Write,
        output: Output,
    ) -> io::Result<()> {
        match output {
            Output::Go { debug } => self.write_profile(profile, out, debug),
            Output::Folded => folded::write(profile, out),
            Output::Svg => {
                let title = format!("{} profile ({})", self.name(), self.description());
                folded::write_svg(profile, &title, out)
            }
        }
    }

    /// Writes what was recorded during the next `duration` (a delta profile, as
    /// `?seconds=N`): a snapshot, a wait, a second snapshot, their difference.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut delta = Vec::new();
    /// let mutex = profiled::lookup("mutex").unwrap();
    /// mutex.write_delta(Duration::from_millis(50), &mut delta).unwrap(); // waits 50 ms
    /// assert_eq!(delta[..2], [0x1f, 0x8b]);
    /// ```
    pub fn write_delta(&self, duration: Duration, out: &mut dyn Write) -> io::Result<()> {
        let before = self.snapshot();
        std::thread::sleep(duration);
        let after = self.snapshot();
        self.write_profile(&self.delta_profile(&before, &after), out, 0)
    }

    pub(crate) fn snapshot(&self) -> ProfileSnapshot {
        if self.is_heap() {
            return ProfileSnapshot::Heap(HeapSnapshot::take());
        }
        match self.kind.contention() {
            Some(contention) => ProfileSnapshot::Contention(Snapshot::take(contention)),
            None if self.kind == Kind::Goroutine => {
                let (records, comments) = goroutine::records();
                ProfileSnapshot::Counts(CountSnapshot::of_records(&records, comments))
            }
            None => ProfileSnapshot::Counts(CountSnapshot::threadcreate()),
        }
    }

    /// The difference `after - before`, without all-zero samples, with its duration.
    pub(crate) fn delta_profile(
        &self,
        before: &ProfileSnapshot,
        after: &ProfileSnapshot,
    ) -> Profile {
        match (before, after) {
            (ProfileSnapshot::Contention(before), ProfileSnapshot::Contention(after)) => {
                let mut delta = build::subtract(after, before);
                delta.time_nanos = after.time_nanos;
                let mut profile = build::contention(&delta);
                profile.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
                profile
            }
            (ProfileSnapshot::Heap(before), ProfileSnapshot::Heap(after)) => {
                let default_sample_type = self.kind.heap_kind().flatten();
                let mut profile =
                    heap::profile(&heap::subtract(after, before), default_sample_type);
                profile.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
                profile
            }
            (ProfileSnapshot::Counts(before), ProfileSnapshot::Counts(after)) => {
                let mut profile = after.minus(before).profile(self.name());
                profile.duration_nanos = after.time_nanos.saturating_sub(before.time_nanos);
                profile
            }
            // Snapshots of one profile always have the same shape.
            (_, after) => self.profile_of(after),
        }
    }

    /// godeltaprof's difference (`delta_heap`, `delta_mutex`, `delta_block`, and
    /// pushes): as [`NamedProfile::delta_profile`], except that the heap's in-use
    /// values stay absolute.
    pub(crate) fn godelta_profile(
        &self,
        before: &ProfileSnapshot,
        after: &ProfileSnapshot,
    ) -> Profile {
        match (before, after) {
            (ProfileSnapshot::Heap(before), ProfileSnapshot::Heap(after)) => {
                heap::godelta(after, before, self.kind.heap_kind().flatten())
            }
            _ => self.delta_profile(before, after),
        }
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
            Kind::Goroutine | Kind::Threadcreate => {
                goroutine::write_count_text(profile, self.name(), out)
            }
            // Heap deltas are proto only (`seconds` and `debug` are exclusive).
            Kind::Heap | Kind::Allocs => proto::write(profile, out),
        }
    }
}
