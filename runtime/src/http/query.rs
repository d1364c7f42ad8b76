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

    /// Every decoded pair, in order (for the fuzz targets).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// `strconv.Atoi(FormValue(key))` with its error ignored, as Go's handlers do:
    /// unparsable gives 0, out of range gives the clamped extreme.
    pub(crate) fn atoi(&self, key: &str) -> i64 {
        atoi(self.value(key))
    }
}

/// Go's `strconv.Atoi` value on success, 0 on syntax errors, ±max on range errors.
pub(crate) fn atoi(s: &str) -> i64 {
    match go_parse_int(s) {
        Ok(value) => value,
        Err(Some(clamped)) => clamped,
        Err(None) => 0,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: `None` on any error.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    go_parse_int(s).ok()
}

/// `strconv.ParseInt(s, 10, 64)` as Go computes it: `Err(None)` for a syntax error,
/// `Err(Some(±max))` for a range error. Go reads the digits as a `uint64` and
/// fails on the first non-digit or the first `uint64` overflow, whichever comes
/// first, then range-checks the sign: so `-9223372036854775809x` is a syntax error
/// (Rust's `i64::from_str` calls it an overflow) and `99999999999999999999x` a range
/// error.
fn go_parse_int(s: &str) -> Result<i64, Option<i64>> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(None);
    }
    let clamped = if negative { i64::MIN } else { i64::MAX };
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(None);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(Some(clamped))?;
    }
    if negative {
        0i64.checked_sub_unsigned(n).ok_or(Some(clamped))
    } else {
        i64::try_from(n).map_err(|_| Some(clamped))
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
                out.push(unhex(bytes.get(i + 1..i + 3)?)?);
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
        assert_eq!(unhex(b"ff"), Some(0xff));
        assert_eq!(unhex(b"+f"), None);
        assert_eq!(unhex(b"f"), None);
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
        assert_eq!(atoi("-9223372036854775808"), i64::MIN);
        assert_eq!(atoi("9223372036854775807"), i64::MAX);
        assert_eq!(atoi("+-1"), 0);
        assert_eq!(atoi("-"), 0);
    }

    /// Found by the `query` fuzz target (fuzz/README.md): Go reports a syntax error,
    /// so `Atoi` gives 0, when a non-digit follows digits that fit a `uint64` but
    /// not an `int64`; it reports a range error (±max) only when the `uint64`
    /// overflows before the first non-digit.
    #[test]
    fn atoi_sees_garbage_before_int64_overflow_as_go() {
        assert_eq!(atoi("-9223372036854775809%A"), 0);
        assert_eq!(atoi("9223372036854775808x"), 0);
        assert_eq!(atoi("99999999999999999999x"), i64::MAX);
        assert_eq!(atoi("-99999999999999999999x"), i64::MIN);
        assert_eq!(parse_int("9223372036854775808x"), None);
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
