//! Query-string handling with Go's `net/http` semantics: `FormValue` returns the
//! first value of a key; malformed pairs are skipped; numbers parse as `strconv.Atoi`.

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

    /// `strconv.Atoi(FormValue(key))` with its error ignored, as Go's handlers do:
    /// unparsable gives 0, out of range gives the clamped extreme.
    pub(crate) fn atoi(&self, key: &str) -> i64 {
        atoi(self.value(key))
    }
}

/// Go's `strconv.Atoi` value on success, 0 on syntax errors, ±max on range errors.
/// Rust's `i64::from_str` accepts exactly Go's syntax: optional sign, ASCII digits.
pub(crate) fn atoi(s: &str) -> i64 {
    use std::num::IntErrorKind;
    match s.parse::<i64>() {
        Ok(value) => value,
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => i64::MAX,
        Err(e) if *e.kind() == IntErrorKind::NegOverflow => i64::MIN,
        Err(_) => 0,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: `None` on any error.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// Decodes `%XX` escapes and `+` as space; `None` on a malformed escape or bad UTF-8.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
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

    #[test]
    fn atoi_matches_go() {
        assert_eq!(atoi("1"), 1);
        assert_eq!(atoi("+2"), 2);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi(" 1"), 0);
        assert_eq!(atoi("1.5"), 0);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(atoi("-99999999999999999999"), i64::MIN);
    }

    #[test]
    fn parse_int_rejects_what_go_rejects() {
        assert_eq!(parse_int("30"), Some(30));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("x"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
    }
}
