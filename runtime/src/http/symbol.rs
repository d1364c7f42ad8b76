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

/// Go's `strconv.ParseUint(s, 0, 64)`: `0x`/`0o`/`0b`/leading-`0` prefixes, `_`
/// separators only with a prefix.
fn parse_uint(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(hex) = lower.strip_prefix("0x") {
        (hex.replace('_', ""), 16)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (bin.replace('_', ""), 2)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        (oct.replace('_', ""), 8)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (lower[1..].replace('_', ""), 8)
    } else {
        (lower.clone(), 10)
    };
    if digits.is_empty() || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
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
