//! Straight ports of the Go standard library functions whose semantics `profiled`
//! copies, used as oracles: `strconv.ParseUint`/`ParseInt`/`Atoi` and
//! `url.ParseQuery`/`QueryUnescape` (Go 1.22). The only deliberate difference: Rust
//! strings are UTF-8, so a value that unescapes to invalid UTF-8 is skipped here as
//! `profiled` skips it (Go would keep the bytes).

#![allow(dead_code)]

/// `strconv.ParseUint(s, base, 64)` for base 0 or 2..=36: `Err(true)` is a range
/// error (value `u64::MAX`), `Err(false)` a syntax error.
pub fn parse_uint(s: &str, base: u32) -> Result<u64, bool> {
    let s0 = s;
    if s.is_empty() {
        return Err(false);
    }
    let b = s.as_bytes();
    let base0 = base == 0;
    let mut digits = b;
    let mut base = base;
    if base == 0 {
        base = 10;
        if b[0] == b'0' {
            if b.len() >= 3 && lower(b[1]) == b'b' {
                base = 2;
                digits = &b[2..];
            } else if b.len() >= 3 && lower(b[1]) == b'o' {
                base = 8;
                digits = &b[2..];
            } else if b.len() >= 3 && lower(b[1]) == b'x' {
                base = 16;
                digits = &b[2..];
            } else {
                base = 8;
                digits = &b[1..];
            }
        }
    }
    let cutoff = u64::MAX / u64::from(base) + 1;
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            _ if lower(c).is_ascii_lowercase() => lower(c) - b'a' + 10,
            _ => return Err(false),
        };
        if u32::from(d) >= base {
            return Err(false);
        }
        if n >= cutoff {
            return Err(true);
        }
        n *= u64::from(base);
        let Some(n1) = n.checked_add(u64::from(d)) else {
            return Err(true);
        };
        n = n1;
    }
    if underscores && !underscore_ok(s0) {
        return Err(false);
    }
    Ok(n)
}

fn lower(c: u8) -> u8 {
    c | (b'x' - b'X')
}

/// Go's `underscoreOK`: underscores only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let mut s = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !s.is_empty() && (s[0] == b'-' || s[0] == b'+') {
        s = &s[1..];
    }
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&lower(c)) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// `strconv.ParseInt(s, 10, 64)`: value on success, `Err(Some(clamped))` on a range
/// error, `Err(None)` on a syntax error.
pub fn parse_int10(s: &str) -> Result<i64, Option<i64>> {
    if s.is_empty() {
        return Err(None);
    }
    let (neg, rest) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let un = match parse_uint(rest, 10) {
        Ok(un) => un,
        Err(true) => u64::MAX,
        Err(false) => return Err(None),
    };
    let cutoff = 1u64 << 63;
    if !neg && un >= cutoff {
        return Err(Some(i64::MAX));
    }
    if neg && un > cutoff {
        return Err(Some(i64::MIN));
    }
    let n = if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    };
    Ok(n)
}

/// `n, _ := strconv.Atoi(s)`: the clamped value on a range error, 0 on a syntax one.
pub fn atoi_ignoring_error(s: &str) -> i64 {
    match parse_int10(s) {
        Ok(n) => n,
        Err(Some(clamped)) => clamped,
        Err(None) => 0,
    }
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `url.QueryUnescape` (`+` is a space), then UTF-8 validation.
pub fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() {
                    return None;
                }
                out.push(unhex(b[i + 1])? << 4 | unhex(b[i + 2])?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `url.ParseQuery`, keeping pairs in order (Go's map keeps each key's values in
/// order, and `FormValue` reads the first).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for key in query.split('&') {
        if key.contains(';') || key.is_empty() {
            continue;
        }
        let (key, value) = key.split_once('=').unwrap_or((key, ""));
        let (Some(key), Some(value)) = (query_unescape(key), query_unescape(value)) else {
            continue;
        };
        pairs.push((key, value));
    }
    pairs
}
