//! `/debug/pprof/symbol` and `/debug/pprof/cmdline`, as Go's `net/http/pprof`
//! serves them: the symbol lookup that `go tool pprof` uses for profiles whose
//! mappings lack function names, and the process's command line.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, Response, StatusCode};

use super::response::{self, Body};
use crate::stack::symbolize;

/// Largest symbol request body accepted; pprof sends a few KiB per batch.
pub(crate) const MAX_SYMBOL_BODY: usize = 1 << 20;

/// Go's `Symbol` handler: reads `0x..+0x..` from a POST body (or the raw query of a
/// GET), answers `0x.. name` per known address, then `num_symbols: 1`.
pub(crate) async fn serve<B>(request: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let words: Bytes = if request.method() == Method::POST {
        match Limited::new(request.into_body(), MAX_SYMBOL_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                return response::go_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body larger than {MAX_SYMBOL_BODY} bytes"),
                );
            }
            Err(error) => {
                return response::go_error(
                    StatusCode::BAD_REQUEST,
                    &format!("reading request: {error}"),
                );
            }
        }
    } else {
        Bytes::copy_from_slice(request.uri().query().unwrap_or("").as_bytes())
    };
    // Symbolization may load debug info: keep it off the event loop.
    let body = tokio::task::spawn_blocking(move || lookup(&words))
        .await
        .unwrap_or_else(|_| "num_symbols: 1\n".to_owned());
    response::text(body)
}

/// The response body for a `+`-separated list of addresses.
pub(crate) fn lookup(words: &[u8]) -> String {
    let mut out = String::new();
    for word in words.split(|&b| b == b'+') {
        let Some(pc) = std::str::from_utf8(word).ok().and_then(parse_uint) else {
            continue;
        };
        if pc == 0 {
            continue;
        }
        if let Some(name) = usize::try_from(pc).ok().and_then(symbolize::function_at) {
            out.push_str(&format!("{pc:#x} {name}\n"));
        }
    }
    out.push_str("num_symbols: 1\n");
    out
}

/// Go's `strconv.ParseUint(s, 0, 64)`: `0x`/`0o`/`0b`/leading-`0` prefixes, and `_`
/// digit separators where Go's integer literals allow them (`1_000`, `0x_ff`; not
/// `0x__1` or `1_`).
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let (digits, radix) = match s.as_bytes() {
        [b'0', b'x' | b'X', _, ..] => (&s[2..], 16),
        [b'0', b'b' | b'B', _, ..] => (&s[2..], 2),
        [b'0', b'o' | b'O', _, ..] => (&s[2..], 8),
        [b'0', _, ..] => (&s[1..], 8),
        _ => (s, 10),
    };
    if digits.contains('_') && !underscores_ok(s) {
        return None;
    }
    let digits = digits.replace('_', "");
    // `from_str_radix` also takes a sign, which Go's ParseUint does not.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Go's `underscoreOK`: each `_` follows a digit or the base prefix and is
/// followed by a digit.
fn underscores_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let hex = bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1], b'x' | b'X');
    let prefixed = bytes.len() >= 2 && bytes[0] == b'0' && b"xXbBoO".contains(&bytes[1]);
    // What came last: a digit (or the prefix), an underscore, or anything else.
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = if prefixed { Saw::Digit } else { Saw::Start };
    for &b in &bytes[if prefixed { 2 } else { 0 }..] {
        if b.is_ascii_digit() || hex && b.is_ascii_hexdigit() {
            saw = Saw::Digit;
        } else if b == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// Go's `Cmdline` handler: the arguments joined by NUL bytes.
pub(crate) fn cmdline() -> Response<Body> {
    let args: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    response::text(args.join("\0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go_parse_uint_base_0() {
        assert_eq!(parse_uint("0x10"), Some(16));
        assert_eq!(parse_uint("0X1f"), Some(31));
        assert_eq!(parse_uint("010"), Some(8));
        assert_eq!(parse_uint("0b11"), Some(3));
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint("0"), Some(0));
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("zz"), None);
        assert_eq!(parse_uint("0xffffffffffffffffff"), None);
    }

    /// Found by the `symbol` fuzz target (fuzz/README.md): Go's base-0 ParseUint
    /// takes `_` separators as in Go literals, anywhere a digit precedes and follows.
    #[test]
    fn underscores_follow_go_literal_rules() {
        assert_eq!(parse_uint("1_000"), Some(1000));
        assert_eq!(parse_uint("0x_ff"), Some(255));
        assert_eq!(parse_uint("0_7"), Some(7));
        assert_eq!(parse_uint("0b1_0"), Some(2));
        assert_eq!(parse_uint("0x__1"), None);
        assert_eq!(parse_uint("0x1_"), None);
        assert_eq!(parse_uint("_1"), None);
        assert_eq!(parse_uint("0x_"), None);
        assert_eq!(parse_uint("0_"), None);
        assert_eq!(parse_uint("1__0"), None);
        assert_eq!(parse_uint("+1_0"), None);
        assert_eq!(parse_uint("0x+1"), None);
    }

    #[test]
    fn answers_known_addresses_and_skips_junk() {
        #[inline(never)]
        fn target() -> u32 {
            7
        }
        let pc = target as *const () as usize as u64;
        let body = lookup(format!("{pc:#x}+junk+0+0x1").as_bytes());
        let first = body.lines().next().unwrap();
        assert!(first.starts_with(&format!("{pc:#x} ")), "{body}");
        assert!(first.ends_with("::target"), "{body}");
        assert!(body.ends_with("num_symbols: 1\n"));
        assert_eq!(lookup(b""), "num_symbols: 1\n");
    }
}
