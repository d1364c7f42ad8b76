//! Encoder: gzip'd `profile.proto`, as `go tool pprof` and every pprof client read it.
//!
//! Strings are interned in first-use order ("" first, then sample types, period
//! type, mappings, functions, comments), functions are keyed by (name, file) and
//! numbered in first-use order, so the bytes depend only on the model.

use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use pprof::protos::{self, Message};

use super::{Profile, ValueType};

/// Writes `profile` as gzip-compressed `profile.proto`.
pub(crate) fn write(profile: &Profile, out: &mut dyn Write) -> io::Result<()> {
    let bytes = encode(profile).encode_to_vec();
    // Go's runtime/pprof writes profiles with gzip.BestSpeed too.
    let mut gz = GzEncoder::new(out, Compression::fast());
    gz.write_all(&bytes)?;
    gz.finish()?;
    Ok(())
}

#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        let mut strings = Strings::default();
        strings.intern("");
        strings
    }

    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }

    fn value_type(&mut self, vt: ValueType) -> protos::ValueType {
        protos::ValueType {
            ty: self.intern(vt.ty),
            unit: self.intern(vt.unit),
        }
    }
}

fn encode(profile: &Profile) -> protos::Profile {
    let mut strings = Strings::new();
    let sample_type = profile
        .header
        .sample_types
        .iter()
        .map(|&vt| strings.value_type(vt))
        .collect();
    let period_type = Some(strings.value_type(profile.header.period_type));

    let mapping: Vec<protos::Mapping> = profile
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| protos::Mapping {
            id: i as u64 + 1,
            memory_start: m.start,
            memory_limit: m.limit,
            file_offset: m.offset,
            filename: strings.intern(&m.path),
            build_id: strings.intern(&m.build_id),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
        })
        .collect();
    let mapping_of = |address: u64| {
        profile
            .mappings
            .iter()
            .position(|m| (m.start..m.limit).contains(&address))
            .map_or(0, |i| i as u64 + 1)
    };

    let mut functions: Vec<protos::Function> = Vec::new();
    let mut function_ids: HashMap<(i64, i64), u64> = HashMap::default();
    let location = profile
        .locations
        .iter()
        .enumerate()
        .map(|(i, loc)| protos::Location {
            id: i as u64 + 1,
            mapping_id: mapping_of(loc.address),
            address: loc.address,
            line: loc
                .lines
                .iter()
                .map(|line| {
                    let name = strings.intern(&line.function);
                    let file = strings.intern(&line.file);
                    let function_id = *function_ids.entry((name, file)).or_insert_with(|| {
                        let id = functions.len() as u64 + 1;
                        functions.push(protos::Function {
                            id,
                            name,
                            system_name: name,
                            filename: file,
                            start_line: 0,
                        });
                        id
                    });
                    protos::Line {
                        function_id,
                        line: i64::from(line.line),
                    }
                })
                .collect(),
            is_folded: false,
        })
        .collect();

    let sample = profile
        .samples
        .iter()
        .map(|s| protos::Sample {
            location_id: s.locations.iter().map(|&i| i as u64 + 1).collect(),
            value: s.values.clone(),
            label: s
                .labels
                .iter()
                .map(|(key, value)| protos::Label {
                    key: strings.intern(key),
                    str: strings.intern(value),
                    num: 0,
                    num_unit: 0,
                })
                .collect(),
        })
        .collect();
    let comment = profile.comments.iter().map(|c| strings.intern(c)).collect();
    let default_sample_type = profile
        .header
        .default_sample_type
        .map_or(0, |ty| strings.intern(ty));

    protos::Profile {
        sample_type,
        sample,
        mapping,
        location,
        function: functions,
        string_table: strings.table,
        drop_frames: 0,
        keep_frames: 0,
        time_nanos: profile.header.time_nanos,
        duration_nanos: profile.header.duration_nanos,
        period_type,
        period: profile.header.period,
        comment,
        default_sample_type,
    }
}
