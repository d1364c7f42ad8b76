//! `/debug/pprof/symbol`, as Go's `net/http/pprof` serves it: the symbol lookup
//! that `go tool pprof` uses for profiles whose mappings lack function names.

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
        let Some(pc) = std::str::from_utf8(word)
            .ok()
            .and_then(super::strconv::parse_uint)
        else {
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

#[cfg(test)]
mod tests {
    use super::*;

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
