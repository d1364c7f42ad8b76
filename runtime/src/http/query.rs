//! Query-string handling with Go's `net/http` semantics: `FormValue` returns the
//! first value of a key; malformed pairs are skipped; numbers parse as `strconv.Atoi`
//! ([`super::strconv`]).

/// The decoded query parameters of a request, in order.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=2`. Pairs with bad percent-escapes or a `;` are skipped, as Go's
    /// `url.ParseQuery` skips them (and `FormValue` ignores its error).
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.contains(';'))
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((unescape(key)?, unescape(value)?))
            })
            .collect();
        Query { pairs }
    }

    /// The first value for `key`, or "" when absent, as Go's `FormValue`.
    pub(crate) fn value(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every decoded pair, in order (for the fuzz targets).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// `strconv.Atoi(FormValue(key))` with its error ignored, as Go's handlers do:
    /// unparsable gives 0, out of range gives the clamped extreme.
    pub(crate) fn atoi(&self, key: &str) -> i64 {
        super::strconv::atoi(self.value(key))
    }
}

/// Decodes `%XX` escapes and `+` as space; `None` on a malformed escape or bad UTF-8.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(super::path::unhex(bytes.get(i + 1..i + 3)?)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_bad_pairs_are_skipped() {
        let q = Query::parse(Some("debug=1&debug=2&x=%zz&name=a+b%21&semi=1;2&flag"));
        assert_eq!(q.value("debug"), "1");
        assert_eq!(q.value("x"), "");
        assert_eq!(q.value("name"), "a b!");
        assert_eq!(q.value("semi"), "");
        assert_eq!(q.value("flag"), "");
        assert_eq!(q.value("missing"), "");
    }

    /// Go's `url.QueryUnescape` rejects `%+1` (not two hex digits); Rust's
    /// `from_str_radix` would have decoded it as 0x01.
    #[test]
    fn escapes_need_two_hex_digits() {
        let q = Query::parse(Some("a=%+1&b=%-1&c=%1&d=%4a%4A&e=%+f%2"));
        assert_eq!(q.value("a"), "");
        assert_eq!(q.value("b"), "");
        assert_eq!(q.value("c"), "");
        assert_eq!(q.value("d"), "JJ");
        assert_eq!(q.value("e"), "");
    }
}
