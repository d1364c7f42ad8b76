//! Symbol request bodies: `lookup` and Go's `strconv.ParseUint(s, 0, 64)` port, then
//! the same bytes POSTed (and sent as a GET query) to `/debug/pprof/symbol` through
//! `ProfiledService::handle` (see fuzz/README.md).

#![no_main]

#[path = "common/go.rs"]
mod go;
#[path = "common/service.rs"]
mod service;

use bytes::Bytes;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use profiled::__fuzz;

/// Code addresses the input may name by a one-byte index (`@N`), so that lookups
/// hit real symbols and not only unmapped memory.
fn known_addresses() -> [usize; 4] {
    [
        known_addresses as *const () as usize,
        __fuzz::symbol_lookup as *const () as usize,
        go::parse_uint as *const () as usize,
        std::process::abort as *const () as usize,
    ]
}

fuzz_target!(|data: &[u8]| {
    let words = expand(data);
    let body = __fuzz::symbol_lookup(&words);
    check_body(&words, &body);

    // The same words through the service: POST body, and GET's raw query.
    let services = service::services();
    let post = hyper::Request::post("/debug/pprof/symbol")
        .body(Full::new(Bytes::from(words.clone())))
        .expect("request");
    let answer = services.serve(false, false, post);
    service::check(&answer, "");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, body.as_bytes(), "POST answers as lookup");

    if let Ok(uri) = hyper::Uri::try_from(format!(
        "/debug/pprof/symbol?{}",
        String::from_utf8_lossy(&words)
    )) {
        let get = hyper::Request::get(uri)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let answer = services.serve(false, false, get);
        service::check(&answer, "");
        assert_eq!(answer.status, 200);
        assert!(answer.body.ends_with(b"num_symbols: 1\n"));
    }
});

/// Replaces `@` followed by a byte with a known code address (plus the next byte as
/// offset), in hex, so inputs can reach real symbols.
fn expand(data: &[u8]) -> Vec<u8> {
    let known = known_addresses();
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'@' && i + 2 < data.len() {
            let pc = known[usize::from(data[i + 1]) % known.len()] + usize::from(data[i + 2]);
            out.extend_from_slice(format!("{pc:#x}").as_bytes());
            i += 3;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// One `0x<pc> <name>` line per word that parses (as Go's `ParseUint(s, 0, 64)`) to
/// a non-zero address with a symbol, in order, then `num_symbols: 1`.
fn check_body(words: &[u8], body: &str) {
    let parsed: Vec<u64> = words
        .split(|&b| b == b'+')
        .filter_map(|word| std::str::from_utf8(word).ok())
        .filter_map(|word| {
            let ours = __fuzz::parse_uint(word);
            assert_eq!(ours, go::parse_uint(word, 0).ok(), "ParseUint({word:?}, 0)");
            ours
        })
        .filter(|&pc| pc != 0)
        .collect();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.last(), Some(&"num_symbols: 1"), "{body:?}");
    assert!(body.ends_with('\n'));
    let mut candidates = parsed.iter();
    for line in &lines[..lines.len() - 1] {
        let (pc, name) = line.split_once(' ').expect("`0x<pc> <name>`");
        assert!(!name.is_empty() && !name.contains('\n'));
        let pc = u64::from_str_radix(pc.strip_prefix("0x").expect("hex pc"), 16).unwrap();
        assert!(
            candidates.any(|&candidate| candidate == pc),
            "{pc:#x} answered but not asked for, or out of order"
        );
    }
}
