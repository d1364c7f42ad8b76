//! The profile encoders: rows of fuzzed stacks and values are built into a profile
//! as the contention profiles are, written as gzip'd `profile.proto` and decoded
//! back with flate2 + prost (pprof's protos), which must be well formed and keep
//! the inputs' totals; the `debug=1` text, folded and (sometimes) SVG encoders run
//! on the same profile (see fuzz/README.md).

#![no_main]

use std::collections::HashSet;
use std::hint::black_box;
use std::io::Read;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use pprof::protos::{Message, Profile};
use profiled::__fuzz::{self, FnSite, TextFormat};

/// Logical sites; names with the characters folded output and SVG must escape.
static SITES: [FnSite; 4] = [
    FnSite::new("app::handler", "src/app.rs", 10, profiled::FnKind::Async),
    FnSite::new("semi;colon space", "src/a b.rs", 0, profiled::FnKind::Sync),
    FnSite::new("<svg>&\"quote\"", "", 7, profiled::FnKind::Async),
    FnSite::new("ünïcødé::λ", "src/ü.rs", u32::MAX, profiled::FnKind::Sync),
];

const TYPES: [(&str, &str); 4] = [
    ("contentions", "count"),
    ("delay", "nanoseconds"),
    ("alloc_space", "bytes"),
    ("samples", "count"),
];

/// Functions whose code addresses (plus a small offset) make symbolized frames.
#[inline(never)]
fn pool_a(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7) ^ black_box(0x5555)
}
#[inline(never)]
fn pool_b(x: u64) -> u64 {
    (0..black_box(x) % 7).fold(x, |acc, i| acc.wrapping_add(i * i))
}
#[inline(never)]
fn pool_c(x: u64) -> u64 {
    if black_box(x) > 10 {
        pool_a(x)
    } else {
        pool_b(x)
    }
}

#[derive(Arbitrary, Debug)]
enum Frame {
    /// A code address inside a pool function.
    Code { function: u8, offset: u8 },
    /// An address nothing maps (no symbol): the encoders show it as hex.
    Unmapped(u16),
}

#[derive(Arbitrary, Debug)]
struct Row {
    frames: Vec<Frame>,
    /// Indexes into `SITES`: present means a logical chain after the separator.
    chain: Option<Vec<u8>>,
    values: Vec<i64>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    types: u8,
    default_type: Option<u8>,
    text: u8,
    svg: bool,
    comments: Vec<String>,
    rows: Vec<Row>,
}

fn frame_address(frame: &Frame) -> usize {
    match *frame {
        Frame::Code { function, offset } => {
            let pool = [pool_a as fn(u64) -> u64, pool_b, pool_c];
            pool[usize::from(function) % pool.len()] as usize + usize::from(offset % 24)
        }
        Frame::Unmapped(page) => 0x1000 + usize::from(page) * 8,
    }
}

fuzz_target!(|input: Input| {
    let n_types = 1 + usize::from(input.types) % TYPES.len();
    let types = &TYPES[..n_types];
    let default_type = input
        .default_type
        .map(|i| TYPES[usize::from(i) % TYPES.len()].0);
    let text = match input.text % 3 {
        0 => TextFormat::Contention {
            header: "mutex",
            sampling_period: Some(5),
        },
        1 => TextFormat::Contention {
            header: "contention",
            sampling_period: None,
        },
        _ => TextFormat::Count { name: "goroutine" },
    };

    let mut rows = Vec::new();
    let mut distinct = HashSet::new();
    let mut totals = vec![0i128; n_types];
    for row in input.rows.iter().take(64) {
        let mut frames: Vec<usize> = row.frames.iter().take(32).map(frame_address).collect();
        let real = frames.clone();
        let mut chain = Vec::new();
        if let Some(sites) = &row.chain {
            frames.push(__fuzz::SEPARATOR);
            for &i in sites.iter().take(8) {
                let i = usize::from(i) % SITES.len();
                chain.push(i);
                frames.push(__fuzz::logical_frame(&SITES[i]));
            }
        }
        let values: Vec<i64> = (0..n_types)
            .map(|i| row.values.get(i).copied().unwrap_or(0))
            .collect();
        for (total, &v) in totals.iter_mut().zip(&values) {
            *total += i128::from(v);
        }
        distinct.insert((real, row.chain.as_ref().map(|_| chain)));
        rows.push((frames, values));
    }
    // Totals are exact unless merged values saturated: check them when no partial
    // sum can leave i64.
    let magnitude: i128 = rows
        .iter()
        .flat_map(|(_, values)| values.iter().map(|&v| i128::from(v).abs()))
        .sum();
    let exact = magnitude <= i128::from(i64::MAX);

    let encoded = __fuzz::encode_rows(
        &rows,
        types,
        default_type,
        input.comments.iter().take(4).cloned().collect(),
        text,
        input.svg && rows.len() <= 16,
    )
    .expect("encoding into memory cannot fail");

    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(encoded.proto.as_slice())
        .read_to_end(&mut raw)
        .expect("valid gzip");
    let profile = Profile::decode(raw.as_slice()).expect("valid profile.proto");
    check_well_formed(&profile, n_types);
    assert_eq!(
        profile.sample.len(),
        distinct.len(),
        "one sample per distinct stack"
    );
    if exact {
        for (i, &total) in totals.iter().enumerate() {
            let sum: i128 = profile.sample.iter().map(|s| i128::from(s.value[i])).sum();
            assert_eq!(sum, total, "total of {}", types[i].0);
        }
    }

    let text = std::str::from_utf8(&encoded.text).expect("UTF-8 text");
    let folded = std::str::from_utf8(&encoded.folded).expect("UTF-8 folded");
    for line in folded.lines() {
        // `root;...;leaf value`: one space, before a positive value.
        let (stack, value) = line.rsplit_once(' ').expect("folded line has a value");
        assert!(!stack.contains(' '), "{line:?}");
        assert!(value.parse::<i64>().is_ok_and(|v| v > 0), "{line:?}");
    }
    if let Some(svg) = &encoded.svg {
        let svg = std::str::from_utf8(svg).expect("UTF-8 SVG");
        assert!(svg.contains("<svg"));
    }
    black_box(text);
});

/// Every id and string index the profile refers to exists.
fn check_well_formed(p: &Profile, n_types: usize) {
    let strings = p.string_table.len() as i64;
    let string = |i: i64| assert!((0..strings).contains(&i), "string {i} of {strings}");
    assert_eq!(p.string_table.first().map(String::as_str), Some(""));
    assert_eq!(p.sample_type.len(), n_types);
    for vt in p.sample_type.iter().chain(&p.period_type) {
        string(vt.ty);
        string(vt.unit);
    }
    string(p.default_sample_type);
    p.comment.iter().for_each(|&c| string(c));
    for (i, m) in p.mapping.iter().enumerate() {
        assert_eq!(m.id, i as u64 + 1);
        string(m.filename);
        string(m.build_id);
    }
    for (i, f) in p.function.iter().enumerate() {
        assert_eq!(f.id, i as u64 + 1);
        string(f.name);
        string(f.system_name);
        string(f.filename);
    }
    for (i, l) in p.location.iter().enumerate() {
        assert_eq!(l.id, i as u64 + 1);
        assert!(l.mapping_id <= p.mapping.len() as u64);
        for line in &l.line {
            assert!((1..=p.function.len() as u64).contains(&line.function_id));
        }
    }
    for s in &p.sample {
        assert_eq!(s.value.len(), n_types);
        for &id in &s.location_id {
            assert!((1..=p.location.len() as u64).contains(&id));
        }
        for label in &s.label {
            string(label.key);
            string(label.str);
        }
    }
}
