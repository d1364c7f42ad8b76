//! Token authentication (`Config::auth_token`): `Authorization: Bearer <token>`, or
//! HTTP basic auth with the token as the password (any user name), which is what
//! Grafana Alloy's and Prometheus' `basic_auth` blocks send.

use hyper::Request;

/// True when the request carries `Authorization: Bearer <token>`, or `Basic` with
/// `<token>` as the password; compared in constant time for tokens of the same
/// length.
pub(crate) fn authorized<B>(request: &Request<B>, token: &str) -> bool {
    let Some(value) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    if scheme.eq_ignore_ascii_case("basic") {
        return base64_decode(given.trim()).is_some_and(|pair| {
            pair.iter()
                .position(|&b| b == b':')
                .is_some_and(|colon| constant_time_eq(&pair[colon + 1..], token.as_bytes()))
        });
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

/// Standard base64 with padding (RFC 4648), as basic auth sends it; `None` when
/// malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i + 1 == bytes.len() / 4;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - padding] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * padding as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - padding]);
    }
    Some(out)
}

/// Compares without early exit, so timing reveals at most the length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(base64_decode("Zg"), None);
        assert_eq!(base64_decode("Z==="), None);
        assert_eq!(base64_decode("Zg==Zg=="), None);
        assert_eq!(base64_decode("Z!=="), None);
    }

    #[test]
    fn compares_tokens_exactly() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn takes_only_a_bearer_token() {
        let with = |value: &str| {
            Request::get("/")
                .header(hyper::header::AUTHORIZATION, value)
                .body(())
                .unwrap()
        };
        assert!(authorized(&with("Bearer s3cret"), "s3cret"));
        assert!(authorized(&with("bearer  s3cret "), "s3cret"));
        assert!(!authorized(&with("Basic s3cret"), "s3cret"));
        // Basic auth with the token as the password (Alloy's basic_auth block).
        assert!(authorized(&with("Basic YWxsb3k6czNjcmV0"), "s3cret")); // alloy:s3cret
        assert!(authorized(&with("basic OnMzY3JldA=="), "s3cret")); // :s3cret
        assert!(!authorized(&with("Basic YWxsb3k6czNjcmVU"), "s3cret")); // alloy:s3creT
        assert!(!authorized(&with("Basic czNjcmV0"), "s3cret")); // no colon
        assert!(!authorized(&with("Basic YWxsb3k6czNjcmV0="), "s3cret")); // bad length
        assert!(!authorized(&with("Bearer"), "s3cret"));
        assert!(!authorized(&Request::get("/").body(()).unwrap(), "s3cret"));
    }
}
