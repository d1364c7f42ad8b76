//! `/debug/pprof/symbol`, as Go's `net/http/pprof` serves it: the symbol lookup
//! that `go tool pprof` uses for profiles whose mappings lack function names.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::peer::Peer;
use super::response::{self, Body};
use crate::stack::symbolize;

/// Largest symbol request body accepted; pprof sends a few KiB per batch.
pub(crate) const MAX_SYMBOL_BODY: usize = 1 << 20;
/// A symbol request body must arrive whole within this time (else 408).
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Memory the symbol endpoint holds at once, across all its requests: bodies (each
/// reserves its `Content-Length`, or [`MAX_SYMBOL_BODY`] when chunked, before it is
/// read) and answers until written out. A request that cannot reserve its body
/// within [`BUDGET_WAIT`], or whose answer outgrows what is left, gets 503.
pub(crate) const SYMBOL_MEMORY_BUDGET: usize = 16 << 20;
/// Longest symbol answer; addresses past it are left out (pprof asks in batches of
/// a few KiB, whose answers are far smaller).
pub(crate) const MAX_SYMBOL_ANSWER: usize = 8 << 20;
/// How long a symbol request waits for its share of [`SYMBOL_MEMORY_BUDGET`].
const BUDGET_WAIT: Duration = Duration::from_secs(10);
/// The answer reserves budget in steps of this many bytes.
const BUDGET_STEP: usize = 64 << 10;

static BUDGET: Semaphore = Semaphore::const_new(SYMBOL_MEMORY_BUDGET);

/// `n` bytes of [`BUDGET`], waiting at most [`BUDGET_WAIT`].
async fn reserve(n: usize) -> Option<SemaphorePermit<'static>> {
    let n = u32::try_from(n).ok()?;
    tokio::time::timeout(BUDGET_WAIT, BUDGET.acquire_many(n))
        .await
        .ok()?
        .ok()
}

fn over_budget() -> Response<Body> {
    response::go_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "symbol lookups are using all of their {SYMBOL_MEMORY_BUDGET}-byte memory budget; retry later"
        ),
    )
}

/// An answer and the budget it holds until hyper has written (and dropped) it.
struct Budgeted {
    text: Vec<u8>,
    _permit: SemaphorePermit<'static>,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.text
    }
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads `body` into one buffer of at most `limit` bytes. Each frame is copied out
/// at once, so a body of one-byte chunks does not keep a read buffer per chunk
/// alive; the buffer never grows past `limit`.
async fn read_body<B>(body: B, limit: usize) -> Result<Vec<u8>, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.into().to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let needed = out.len() + data.len();
        if needed > limit {
            return Err(BodyError::TooLarge);
        }
        if needed > out.capacity() {
            let grown = needed.max(out.len() * 2).clamp(4096, limit);
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// Go's `Symbol` handler: reads `0x..+0x..` from a POST body (or the raw query of a
/// GET), answers `0x.. name` per known address, then `num_symbols: 1`.
pub(crate) async fn serve<B>(request: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (words, reserved) = if request.method() == Method::POST {
        // What the body will take: its declared length, else the limit.
        let declared = hyper::body::Body::size_hint(request.body()).upper();
        let expected = declared
            .and_then(|n| usize::try_from(n).ok())
            .map_or(MAX_SYMBOL_BODY, |n| n.min(MAX_SYMBOL_BODY))
            .max(1);
        let Some(reserved) = reserve(expected).await else {
            return over_budget();
        };
        let peer = request.extensions().get::<Peer>().cloned();
        let _waiting = peer.as_ref().map(Peer::reading_body);
        let read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            read_body(request.into_body(), MAX_SYMBOL_BODY),
        );
        match read.await {
            Ok(Ok(body)) => (body, Some(reserved)),
            Ok(Err(BodyError::TooLarge)) => {
                return response::go_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body larger than {MAX_SYMBOL_BODY} bytes"),
                );
            }
            Ok(Err(BodyError::Read(error))) => {
                return response::go_error(
                    StatusCode::BAD_REQUEST,
                    &format!("reading request: {error}"),
                );
            }
            Err(_) => return response::body_timeout(BODY_READ_TIMEOUT),
        }
    } else {
        (
            request.uri().query().unwrap_or("").as_bytes().to_vec(),
            None,
        )
    };
    // Symbolization may load debug info: keep it off the event loop, in the heavy
    // lane so cheap endpoints never wait behind it.
    let looked_up = super::pool::heavy(move || {
        let mut permit = reserved;
        let mut held = permit.as_ref().map_or(0, |p| p.num_permits());
        // The answer takes more budget as it grows past what the body reserved,
        // without waiting (a lookup holding a heavy permit must not wait on budget
        // that requests queued for a heavy permit hold).
        let mut grow = |len: usize| {
            if permit.is_none() || len <= held {
                return true;
            }
            let step = BUDGET_STEP.max(len - held);
            match u32::try_from(step)
                .ok()
                .and_then(|n| BUDGET.try_acquire_many(n).ok())
            {
                Some(more) => {
                    held += step;
                    if let Some(permit) = permit.as_mut() {
                        permit.merge(more);
                    }
                    true
                }
                None => false,
            }
        };
        let answer = answer(&words, MAX_SYMBOL_ANSWER, &mut grow);
        drop(words);
        (answer, permit)
    })
    .await;
    match looked_up {
        Ok((Some(text), Some(permit))) => response::text_bytes(Bytes::from_owner(Budgeted {
            text,
            _permit: permit,
        })),
        Ok((Some(text), None)) => response::text_bytes(Bytes::from(text)),
        Ok((None, _)) => over_budget(),
        Err(_) => response::text("num_symbols: 1\n".to_owned()),
    }
}

/// The response body for a `+`-separated list of addresses.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn lookup(words: &[u8]) -> String {
    let answer = answer(words, MAX_SYMBOL_ANSWER, &mut |_| true).unwrap_or_default();
    String::from_utf8(answer).unwrap_or_default()
}

const LAST_LINE: &str = "num_symbols: 1\n";

/// The answer to `words`, at most `cap` bytes (plus the last line); `grow(len)` is
/// asked before the answer reaches `len` bytes and may refuse (then `None`).
fn answer(words: &[u8], cap: usize, grow: &mut dyn FnMut(usize) -> bool) -> Option<Vec<u8>> {
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
            // `0x` + 16 digits + space + name + newline, and room for the last line.
            let needed = out.len() + name.len() + 20 + LAST_LINE.len();
            if needed > cap {
                break;
            }
            if needed > out.capacity() {
                // Grow as a String would, but ask first for what it will allocate.
                let capacity = needed.max(out.capacity() * 2).clamp(4096, cap);
                if !grow(capacity) {
                    return None;
                }
                out.reserve_exact(capacity - out.len());
            }
            let _ = writeln!(out, "{pc:#x} {name}");
        }
    }
    out.push_str(LAST_LINE);
    Some(out.into_bytes())
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
