//! Function names that keep their type.
//!
//! Rust names a trait method `<X as Trait>::method` and an inherent one on a
//! non-path type `<X>::method`. Viewers built for C++ (`go tool pprof`, speedscope)
//! drop everything between `<` and `>` as template arguments, which leaves a bare
//! `::poll` or `::call_once` and merges unrelated frames into one row. The symbolizer
//! therefore names them `X::method` (`core::panic::unwind_safe::AssertUnwindSafe<F>::call_once`,
//! `std::sys::thread::unix::Thread::new::thread_start`), with long generic arguments
//! of `X` trimmed to `<..>`; when `X` is not a path (`&T`, `u8`, a generic
//! parameter), the trait's path stands in (`core::fmt::Write::write_str`). Turbofish
//! arguments (`::<...>`) are dropped for the same reason.

use std::borrow::Cow;

/// Generic arguments of a self type kept as they are up to this length, if they
/// name no path (`<F>`, `<T,S>`); longer ones become `<..>`.
const KEEP_ARGS: usize = 16;

/// `name` with qualified paths rewritten and turbofish arguments dropped.
pub(super) fn short(name: &str) -> Cow<'_, str> {
    if !name.contains('<') {
        return Cow::Borrowed(name);
    }
    match qualified(&drop_turbofish(name)) {
        Some(rewritten) => Cow::Owned(rewritten),
        None => Cow::Borrowed(name),
    }
}

/// Rewrites a leading `<X as T>` or `<X>`; `None` if the brackets do not balance.
fn qualified(name: &str) -> Option<String> {
    if !name.starts_with('<') {
        return Some(name.to_owned());
    }
    let close = matching(name, 0)?;
    let inner = &name[1..close];
    let rest = &name[close + 1..];
    let (self_type, as_trait) = match split_as(inner) {
        Some((self_type, as_trait)) => (self_type, Some(as_trait)),
        None => (inner, None),
    };
    let self_type = qualified(self_type)?;
    let head = if is_path(&self_type) {
        trim_args(&self_type)
    } else {
        match as_trait {
            Some(as_trait) => without_args(as_trait).to_owned(),
            None => self_type,
        }
    };
    Some(format!("{head}{rest}"))
}

/// The index of the `>` closing the `<` at `open` (a `->` arrow is not one).
fn matching(s: &str, open: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `X as T` at its top-level ` as `.
fn split_as(inner: &str) -> Option<(&str, &str)> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && inner[i..].starts_with(" as ") => {
                return Some((&inner[..i], &inner[i + 4..]));
            }
            _ => {}
        }
    }
    None
}

/// A named type path such as `alloc::vec::Vec<T>`: identifiers and `::` up to its
/// generic arguments, with at least one `::`.
fn is_path(ty: &str) -> bool {
    let head = without_args(ty);
    head.contains("::")
        && head.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `ty` up to its first `<`.
fn without_args(ty: &str) -> &str {
    ty.split('<').next().unwrap_or(ty)
}

/// Keeps short generic arguments of a path, `<..>` for long ones.
fn trim_args(ty: &str) -> String {
    let head = without_args(ty);
    let args = &ty[head.len()..];
    if args.is_empty() || (args.len() <= KEEP_ARGS && !args.contains("::")) {
        ty.to_owned()
    } else {
        format!("{head}<..>")
    }
}

/// Removes every `::<...>` (turbofish) segment.
fn drop_turbofish(name: &str) -> Cow<'_, str> {
    if !name.contains("::<") {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("::<") {
        out.push_str(&rest[..at]);
        match matching(rest, at + 2) {
            Some(close) => rest = &rest[close + 1..],
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn trait_methods_keep_their_type() {
        for (raw, want) in [
            (
                "<core::panic::unwind_safe::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once",
                "core::panic::unwind_safe::AssertUnwindSafe<F>::call_once",
            ),
            (
                "<std::sys::thread::unix::Thread>::new::thread_start",
                "std::sys::thread::unix::Thread::new::thread_start",
            ),
            (
                "<alloc::boxed::Box<dyn core::ops::function::FnOnce<(), Output = ()> + core::marker::Send> as core::ops::function::FnOnce<()>>::call_once",
                "alloc::boxed::Box<..>::call_once",
            ),
            (
                "<tokio::runtime::task::core::Core<T,S>>::poll::{{closure}}",
                "tokio::runtime::task::core::Core<T,S>::poll::{{closure}}",
            ),
            (
                "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem",
                "alloc::vec::spec_from_elem::SpecFromElem::from_elem",
            ),
            (
                "<&mut W as core::fmt::Write>::write_str",
                "core::fmt::Write::write_str",
            ),
            (
                "<<F as core::future::into_future::IntoFuture>::IntoFuture as core::future::future::Future>::poll",
                "core::future::into_future::IntoFuture::IntoFuture::poll",
            ),
            (
                "<profiled::sync::RawProfiledMutex as lock_api::mutex::RawMutex>::unlock",
                "profiled::sync::RawProfiledMutex::unlock",
            ),
            (
                "std::panic::catch_unwind::<core::panic::unwind_safe::AssertUnwindSafe<F>, ()>",
                "std::panic::catch_unwind",
            ),
            ("app::hold_long", "app::hold_long"),
            (
                "core::ptr::drop_in_place<lock_api::mutex::MutexGuard<R,T>>",
                "core::ptr::drop_in_place<lock_api::mutex::MutexGuard<R,T>>",
            ),
            ("<broken as", "<broken as"),
        ] {
            assert_eq!(short(raw), want, "{raw}");
        }
    }

    #[test]
    fn arrows_are_not_closing_brackets() {
        assert_eq!(
            short("<app::Handler<fn() -> u8> as core::ops::Fn<()>>::call"),
            "app::Handler<fn() -> u8>::call"
        );
        assert_eq!(
            short("<app::Handler<fn(app::Request) -> u8> as core::ops::Fn<()>>::call"),
            "app::Handler<..>::call"
        );
    }
}
