//! The plain profile model and its pure encoders: gzip'd `profile.proto`
//! ([`proto`]), Go's legacy text for every `debug=1` and the goroutine `debug=2` dump
//! ([`text`]), and folded stacks and flame graph SVG ([`folded`]).
//!
//! A [`Profile`] is made whole by [`build::from_rows`], which takes its [`Header`]:
//! it is symbolized and ordered before any encoder sees it, so every encoder is a
//! pure function of the model and output is deterministic for a given snapshot.
//! Where the rows come from is the business of `crate::named` (and the CPU profile).

pub(crate) mod build;
pub(crate) mod folded;
pub(crate) mod proto;
pub(crate) mod text;

use std::io::{self, Write};

use crate::memory::MemStats;
use crate::stack::maps::Mapping;
use crate::stack::symbolize::Lines;

/// A (type, unit) pair such as ("delay", "nanoseconds").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ValueType {
    pub ty: &'static str,
    pub unit: &'static str,
}

impl ValueType {
    /// The pair (`ty`, `unit`).
    pub(crate) const fn new(ty: &'static str, unit: &'static str) -> ValueType {
        ValueType { ty, unit }
    }
}

/// What a profile is a profile of: an input of [`build::from_rows`], never patched
/// afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// One per value of each sample.
    pub sample_types: Vec<ValueType>,
    /// The sample type `go tool pprof` shows by default; `None` means the last one.
    pub default_sample_type: Option<&'static str>,
    pub period_type: ValueType,
    pub period: i64,
    /// When the (last) snapshot was taken.
    pub time_nanos: i64,
    /// For delta profiles, the time between the two snapshots; 0 otherwise.
    pub duration_nanos: i64,
}

impl Header {
    /// Go's count-profile header (`printCountProfile`): one sample type
    /// `<name>/count`, which is also the period type, period 1.
    pub(crate) fn count(name: &'static str, time_nanos: i64, duration_nanos: i64) -> Header {
        let count = ValueType::new(name, "count");
        Header {
            sample_types: vec![count],
            default_sample_type: None,
            period_type: count,
            period: 1,
            time_nanos,
            duration_nanos,
        }
    }
}

/// A code location: one return address and its symbolized lines.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    /// Address inside the call instruction (return address - 1).
    pub address: u64,
    /// Innermost (inlined) first, caller last; empty when unresolved.
    pub lines: Lines,
}

/// One stack and its values, one per sample type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Indexes into [`Profile::locations`], innermost first.
    pub locations: Vec<usize>,
    pub values: Vec<i64>,
    /// String labels (key, value), e.g. the logical chain of a wait.
    pub labels: Vec<(&'static str, String)>,
}

/// A symbolized profile ready for any encoder.
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub header: Header,
    pub samples: Vec<Sample>,
    pub locations: Vec<Location>,
    pub mappings: Vec<Mapping>,
    pub comments: Vec<String>,
}

/// Which of Go's legacy text forms (`debug=1`) a profile is written in.
#[derive(Clone, Debug)]
pub(crate) enum TextForm {
    /// Go's contention text: `--- <header>:` (`mutex`, or `contention` for the
    /// block profile), `sampling period=N` for the mutex profile only.
    Contention {
        header: &'static str,
        sampling_period: Option<i64>,
    },
    /// Go's count text: `<name> profile: total N` (goroutine, threadcreate).
    Count { name: &'static str },
    /// Go's heap text: `heap profile: ... @ heap/<2*rate>`, then the memory
    /// statistics. The profile's values are the raw sampled ones.
    Heap { rate: usize, stats: MemStats },
}

/// How a finished [`Profile`] is written.
#[derive(Clone, Debug)]
pub(crate) enum Encoding {
    /// gzip'd `profile.proto`.
    Proto,
    /// Go's legacy text.
    Text(TextForm),
    /// Folded stacks, one `root;...;leaf value` line per sample.
    Folded,
    /// A flame graph SVG with this title.
    Svg { title: String },
}

/// Writes `profile` in `encoding`: the one entry point of every encoder, for any
/// source of a finished profile (named profiles, the CPU profile).
pub(crate) fn encode(
    profile: &Profile,
    encoding: &Encoding,
    out: &mut dyn Write,
) -> io::Result<()> {
    match encoding {
        Encoding::Proto => proto::write(profile, out),
        Encoding::Text(TextForm::Contention {
            header,
            sampling_period,
        }) => text::write_contention(profile, header, *sampling_period, out),
        Encoding::Text(TextForm::Count { name }) => text::write_count(profile, name, out),
        Encoding::Text(TextForm::Heap { rate, stats }) => {
            text::heap::write(profile, *rate, stats, out)
        }
        Encoding::Folded => folded::write(profile, out),
        Encoding::Svg { title } => folded::write_svg(profile, title, out),
    }
}

/// A finished model and how it is written: what a named profile's pipeline ends in.
/// One is made per request, so the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Document {
    /// A profile in one encoding.
    Profile(Profile, Encoding),
    /// Go's `goroutine?debug=2` full dump.
    Dump(text::dump::Dump),
}

impl Document {
    /// Writes the document.
    pub(crate) fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Document::Profile(profile, encoding) => encode(profile, encoding, out),
            Document::Dump(dump) => text::dump::write(dump, out),
        }
    }

    /// The document's bytes.
    pub(crate) fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        self.write(&mut body)?;
        Ok(body)
    }
}
