//! Named profiles, as Go's `pprof.Lookup(name).WriteTo(w, debug)`.
//!
//! Each profile's file owns its snapshot and how a snapshot becomes the model
//! ([`Source`]); this file holds the table of them, as Go's `runtime/pprof` holds
//! its `&Profile{name, count, write}` values, and the one pipeline every request
//! runs: snapshot → model → encode, or for a delta (`?seconds=N`) snapshot, wait,
//! snapshot, subtract → model → encode.
//!
//! | profile | file |
//! |---|---|
//! | `mutex`, `block` | [`contention`] |
//! | `heap`, `allocs` | [`heap`] |
//! | `goroutine` | [`goroutine`] (with the `debug=2` dump) |
//! | `goroutineleak` | [`goroutineleak`] (deadlocks and waits that can never end) |
//! | `threadcreate` | [`threadcreate`] |
//!
//! (The name `named` is Go's: these are the profiles `pprof.Lookup` finds by name;
//! the CPU profile is a timed collection served over HTTP only.)

mod contention;
mod counts;
pub(crate) mod goroutine;
mod goroutineleak;
mod heap;
mod threadcreate;

use std::io::{self, Write};
use std::time::Duration;

use contention::Contention;
use heap::HeapProfile;

use crate::profile::{Document, Encoding, Profile, TextForm};

/// The error text of `heap` and `allocs` without profiled's allocator installed.
pub(crate) const NOT_INSTALLED: &str = "heap profiling needs profiled's allocator: add \
    `#[global_allocator] static GLOBAL: profiled::ProfiledAllocator = profiled::ProfiledAllocator::system();` \
    to your binary";

/// What each profile's file defines.
pub(crate) trait Source {
    /// Go's name, as in `/debug/pprof/<name>`.
    const NAME: &'static str;
    /// One line for the index page.
    const DESCRIPTION: &'static str;
    /// Served only with [`ProfiledAllocator`](crate::ProfiledAllocator) installed.
    const NEEDS_ALLOCATOR: bool = false;
    /// The profile's data at one instant (or, after [`Source::subtract`], over an
    /// interval).
    type Snapshot: Send + 'static;
    /// What the index page shows as the profile's count.
    fn count() -> usize;
    /// Copies the profile's data now.
    fn snapshot() -> Self::Snapshot;
    /// `after - before`, with the interval as its duration.
    fn subtract(after: &Self::Snapshot, before: &Self::Snapshot) -> Self::Snapshot;
    /// The finished model of `snapshot`, in the form `output` asks for.
    fn model(snapshot: &Self::Snapshot, output: Output) -> Document;
    /// godeltaprof's difference (`delta_mutex`, `delta_block`, `delta_heap`, and
    /// pushes): [`Source::subtract`], except where a profile says otherwise (the
    /// heap keeps its in-use values absolute).
    fn godelta(after: &Self::Snapshot, before: &Self::Snapshot, output: Output) -> Document {
        Self::model(&Self::subtract(after, before), output)
    }
}

/// The previous snapshot of one godeltaprof-style consumer of a profile (an
/// endpoint, or the pusher): `None` before its first call.
pub(crate) type GodeltaState = Option<Box<dyn std::any::Any + Send>>;

/// One row of the table: a [`Source`] with its types erased.
struct Row {
    name: &'static str,
    description: &'static str,
    needs_allocator: bool,
    count: fn() -> usize,
    /// Snapshot and model, now.
    now: fn(Output) -> Document,
    /// Takes a delta's first snapshot.
    delta: fn(Output) -> Delta,
    /// The difference since the snapshot in the state, which it replaces.
    godelta: fn(&mut GodeltaState, Output) -> Document,
}

const fn row<S: Source>() -> Row {
    Row {
        name: S::NAME,
        description: S::DESCRIPTION,
        needs_allocator: S::NEEDS_ALLOCATOR,
        count: S::count,
        now: now::<S>,
        delta: delta::<S>,
        godelta: godelta::<S>,
    }
}

fn now<S: Source>(output: Output) -> Document {
    S::model(&S::snapshot(), output)
}

fn delta<S: Source>(output: Output) -> Delta {
    let before = S::snapshot();
    Delta(Box::new(move || {
        S::model(&S::subtract(&S::snapshot(), &before), output)
    }))
}

fn godelta<S: Source>(state: &mut GodeltaState, output: Output) -> Document {
    let now = S::snapshot();
    let document = match state.as_ref().and_then(|b| b.downcast_ref::<S::Snapshot>()) {
        Some(before) => S::godelta(&now, before, output),
        // The first call: everything since the process started.
        None => S::model(&now, output),
    };
    *state = Some(Box::new(now));
    document
}

/// Every named profile, sorted by name.
static TABLE: [Row; 7] = [
    row::<HeapProfile<heap::Allocs>>(),
    row::<Contention<contention::Block>>(),
    row::<goroutine::Goroutine>(),
    row::<goroutineleak::GoroutineLeak>(),
    row::<HeapProfile<heap::Heap>>(),
    row::<Contention<contention::Mutex>>(),
    row::<threadcreate::Threadcreate>(),
];

/// A delta profile between its first snapshot and [`Delta::finish`].
pub(crate) struct Delta(Box<dyn FnOnce() -> Document + Send>);

impl Delta {
    /// Takes the second snapshot and models the difference.
    pub(crate) fn finish(self) -> Document {
        (self.0)()
    }
}

/// How a profile is asked for: Go's (proto for `debug <= 0`, legacy text
/// otherwise), folded stacks, or a flame graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Go { debug: i64 },
    Folded,
    Svg,
}

impl Output {
    /// The encoding of a finished profile for this output: `text` is the profile's
    /// legacy text form, `title` names its flame graph.
    pub(crate) fn encoding(
        self,
        text: impl FnOnce() -> TextForm,
        title: impl FnOnce() -> String,
    ) -> Encoding {
        match self {
            Output::Go { debug } if debug <= 0 => Encoding::Proto,
            Output::Go { .. } => Encoding::Text(text()),
            Output::Folded => Encoding::Folded,
            Output::Svg => Encoding::Svg { title: title() },
        }
    }
}

/// `profile` as a [`Source`] `S` writes it for `output`, with legacy text `text`.
fn document<S: Source>(profile: Profile, output: Output, text: TextForm) -> Document {
    Document::Profile(profile, output.encoding(|| text, title::<S>))
}

/// The title of `S`'s flame graph.
fn title<S: Source>() -> String {
    format!("{} profile ({})", S::NAME, S::DESCRIPTION)
}

/// A profile this process serves, looked up by its Go name.
///
/// ```
/// let mutex = profiled::lookup("mutex").unwrap();
/// let mut text = Vec::new();
/// mutex.write_to(&mut text, 1).unwrap();
/// assert!(String::from_utf8(text).unwrap().starts_with("--- mutex:\ncycles/second=1000000000\n"));
/// assert!(profiled::lookup("nope").is_none());
/// ```
#[derive(Clone, Copy)]
pub struct NamedProfile {
    row: &'static Row,
}

impl PartialEq for NamedProfile {
    fn eq(&self, other: &Self) -> bool {
        self.row.name == other.row.name
    }
}

impl Eq for NamedProfile {}

impl std::fmt::Debug for NamedProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedProfile")
            .field("name", &self.row.name)
            .finish()
    }
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
    profiles()
        .into_iter()
        .find(|profile| profile.name() == name)
}

/// Every profile this process serves, sorted by name.
///
/// ```
/// let names: Vec<_> = profiled::profiles().iter().map(|p| p.name()).collect();
/// assert_eq!(names, ["allocs", "block", "goroutine", "goroutineleak", "heap", "mutex", "threadcreate"]);
/// ```
pub fn profiles() -> Vec<NamedProfile> {
    TABLE.iter().map(|row| NamedProfile { row }).collect()
}

impl NamedProfile {
    /// The profile's Go name, as in `/debug/pprof/<name>`.
    ///
    /// ```
    /// assert_eq!(profiled::lookup("mutex").unwrap().name(), "mutex");
    /// ```
    pub fn name(&self) -> &'static str {
        self.row.name
    }

    /// One-line description, as on Go's `/debug/pprof/` index.
    ///
    /// ```
    /// let mutex = profiled::lookup("mutex").unwrap();
    /// assert_eq!(mutex.description(), "Stack traces of holders of contended profiled locks");
    /// ```
    pub fn description(&self) -> &'static str {
        self.row.description
    }

    /// Whether the profile can be taken now: `goroutine` and `threadcreate` list the
    /// threads from `/proc`, and say why when they cannot (never an empty dump, or
    /// `total 0`, for a process that has threads).
    pub(crate) fn check(&self) -> io::Result<()> {
        if matches!(self.name(), "goroutine" | "threadcreate") {
            crate::thread::proc::check_task_dir()?;
        }
        Ok(())
    }

    /// `heap` or `allocs`: served only with profiled's allocator installed.
    pub(crate) fn needs_allocator(&self) -> bool {
        self.row.needs_allocator
    }

    /// Number of distinct stacks recorded so far; for `goroutine` the number of live
    /// threads, for `threadcreate` the number of threads counted, as Go's index shows.
    ///
    /// ```
    /// assert!(profiled::lookup("goroutine").unwrap().count() >= 1); // this thread, at least
    /// ```
    pub fn count(&self) -> usize {
        (self.row.count)()
    }

    /// The finished model of the profile now, for `output`.
    pub(crate) fn document(&self, output: Output) -> Document {
        (self.row.now)(output)
    }

    /// godeltaprof's stateful delta: what happened since the previous call with
    /// `state` (everything, on the first), which keeps only the newest snapshot.
    pub(crate) fn godelta(&self, state: &mut GodeltaState, output: Output) -> Document {
        (self.row.godelta)(state, output)
    }

    /// Takes the first snapshot of a delta profile for `output`.
    pub(crate) fn start_delta(&self, output: Output) -> Delta {
        (self.row.delta)(output)
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
        if self.needs_allocator() && !crate::alloc::installed() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, NOT_INSTALLED));
        }
        self.check()?;
        self.write_now(Output::Go { debug }, out)
    }

    /// Writes the profile as folded stacks (`root;...;leaf value` per line), the
    /// input of flamegraph.pl and inferno.
    ///
    /// ```
    /// let mut folded = Vec::new();
    /// profiled::lookup("block").unwrap().write_folded(&mut folded).unwrap();
    /// ```
    pub fn write_folded(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_now(Output::Folded, out)
    }

    /// Writes the profile as a flame graph SVG.
    ///
    /// ```
    /// let mut svg = Vec::new();
    /// profiled::lookup("mutex").unwrap().write_svg(&mut svg).unwrap();
    /// assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    /// ```
    pub fn write_svg(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_now(Output::Svg, out)
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
        // Profile building is the profiler's own memory, on whatever thread calls it.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Server);
        let delta = self.start_delta(Output::Go { debug: 0 });
        std::thread::sleep(duration);
        delta.finish().write(out)
    }

    fn write_now(&self, output: Output, out: &mut dyn Write) -> io::Result<()> {
        // Profile building is the profiler's own memory, on whatever thread calls it.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Server);
        self.document(output).write(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_choose_go_encodings() {
        let text = || || TextForm::Count { name: "goroutine" };
        let title = || "t".to_owned();
        assert!(matches!(
            Output::Go { debug: 0 }.encoding(text(), title),
            Encoding::Proto
        ));
        assert!(matches!(
            Output::Go { debug: -1 }.encoding(text(), title),
            Encoding::Proto
        ));
        assert!(matches!(
            Output::Go { debug: 2 }.encoding(text(), title),
            Encoding::Text(TextForm::Count { name: "goroutine" })
        ));
        assert!(matches!(
            Output::Folded.encoding(text(), title),
            Encoding::Folded
        ));
        assert!(matches!(
            Output::Svg.encoding(text(), title),
            Encoding::Svg { title } if title == "t"
        ));
    }

    #[test]
    fn the_table_is_sorted_and_names_are_unique() {
        let names: Vec<&str> = TABLE.iter().map(|row| row.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(
            TABLE
                .iter()
                .filter(|row| row.needs_allocator)
                .map(|row| row.name)
                .collect::<Vec<_>>(),
            ["allocs", "heap"]
        );
    }
}
