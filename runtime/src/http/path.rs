//! Request paths and URLs as Go's `net/http` treats them: percent-decoding
//! (`url.PathUnescape`, whose `%XX` rule the query parser shares), `cleanPath`, and
//! percent-encoding for `Location` headers.

/// Percent-decodes a request path as Go's `url.PathUnescape`; `None` when malformed.
pub(crate) fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(unhex(bytes.get(i + 1..i + 3)?)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The byte of a `%XX` escape's two hex digits, as Go's `unhex`: exactly two of
/// `0-9a-fA-F` (`u8::from_str_radix` would also take a sign, as in `%+1`).
pub(crate) fn unhex(pair: &[u8]) -> Option<u8> {
    let [high, low] = pair else {
        return None;
    };
    if !high.is_ascii_hexdigit() || !low.is_ascii_hexdigit() {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    Some(digit(*high)? << 4 | digit(*low)?)
}

/// Percent-encodes a decoded path for a `Location` header.
pub(crate) fn encode(path: &str) -> String {
    percent_encode(path, |byte| {
        byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte)
    })
}

/// Percent-encodes every byte that is not visible ASCII (`!`..=`~`).
pub(crate) fn escape_non_ascii(s: &str) -> String {
    percent_encode(s, |byte| byte.is_ascii_graphic())
}

/// `s` with every byte that `keep` refuses written as `%XX`.
fn percent_encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if keep(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Go's `cleanPath`: `path.Clean`, keeping a trailing slash.
pub(crate) fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut cleaned = format!("/{}", parts.join("/"));
    if path.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths_like_go() {
        assert_eq!(clean("/debug/pprof/"), "/debug/pprof/");
        assert_eq!(clean("/debug//pprof/./mutex"), "/debug/pprof/mutex");
        assert_eq!(clean("/debug/pprof/../pprof/"), "/debug/pprof/");
        assert_eq!(clean("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn decodes_paths_like_go() {
        assert_eq!(
            decode("/debug/pprof/mu%74ex").unwrap(),
            "/debug/pprof/mutex"
        );
        assert_eq!(decode("/a+b").unwrap(), "/a+b");
        assert!(decode("/bad%zz").is_none());
        assert!(decode("/bad%").is_none());
        assert!(decode("/bad%ff").is_none());
        assert!(decode("/bad%+1").is_none());
        assert_eq!(encode("/a b/é"), "/a%20b/%C3%A9");
    }

    #[test]
    fn unhex_takes_exactly_two_hex_digits() {
        assert_eq!(unhex(b"ff"), Some(0xff));
        assert_eq!(unhex(b"4A"), Some(0x4a));
        assert_eq!(unhex(b"+f"), None);
        assert_eq!(unhex(b"f"), None);
        assert_eq!(unhex(b"fff"), None);
    }

    #[test]
    fn escapes_all_but_visible_ascii() {
        assert_eq!(
            escape_non_ascii("/a?b=\u{1ae} x\u{7f}"),
            "/a?b=%C6%AE%20x%7F"
        );
        assert_eq!(escape_non_ascii("/ok?%41=\"<>\""), "/ok?%41=\"<>\"");
    }
}
