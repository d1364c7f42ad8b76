//! Go's `strconv` number parsing as the handlers use it: `Atoi` and `ParseInt` for
//! query parameters, base-0 `ParseUint` for `/debug/pprof/symbol` addresses. The
//! `query` and `symbol` fuzz targets check these against a port of Go's code.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
