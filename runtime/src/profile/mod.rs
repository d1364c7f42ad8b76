//! The plain profile model, built from registry snapshots and written by separate
//! encoders: gzip'd `profile.proto` ([`proto`]), Go's legacy text ([`text`]), and
//! folded stacks and flame graph SVG ([`folded`]).
//!
//! The model is symbolized and ordered before any encoder sees it, so every encoder
//! is a pure function of the model and output is deterministic for a given snapshot.

pub(crate) mod build;
pub(crate) mod folded;
pub(crate) mod goroutine;
pub(crate) mod heap;
pub(crate) mod proto;
pub(crate) mod text;

use crate::stack::maps::Mapping;
use crate::stack::symbolize::Lines;

/// A (type, unit) pair such as ("delay", "nanoseconds").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ValueType {
    pub ty: &'static str,
    pub unit: &'static str,
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
    pub sample_types: Vec<ValueType>,
    /// The sample type `go tool pprof` shows by default; `None` means the last one.
    pub default_sample_type: Option<&'static str>,
    pub period_type: ValueType,
    pub period: i64,
    pub time_nanos: i64,
    pub duration_nanos: i64,
    pub samples: Vec<Sample>,
    pub locations: Vec<Location>,
    pub mappings: Vec<Mapping>,
    pub comments: Vec<String>,
}
