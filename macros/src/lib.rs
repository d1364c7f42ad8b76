//! Procedural macros for [`profiled`](https://docs.rs/profiled).
//!
//! Use them through the `profiled` crate (`use profiled::{profiled, profiled_mutex};`):
//! the code they generate names `::profiled::__private`, which only that crate provides.
//!
//! Layout: `args` parses invocations into a model that keeps spans, `validate`
//! rejects what is not accepted, and `expand` generates code and never fails.

mod args;
mod expand;
mod validate;

use proc_macro::TokenStream;

/// Builds a [`ProfiledMutex`] whose contention is reported under a named, static site.
///
/// `profiled_mutex!(value)` names the site `file:line`; `profiled_mutex!("name", value)`
/// names it explicitly. The result is a constant expression when `value` is one, so it
/// can initialise a `static`.
///
/// [`ProfiledMutex`]: https://docs.rs/profiled/*/profiled/type.ProfiledMutex.html
#[proc_macro]
pub fn profiled_mutex(input: TokenStream) -> TokenStream {
    lock_macro(input, args::LockKind::Mutex)
}

/// Builds a [`ProfiledRwLock`] whose contention is reported under a named, static site.
///
/// Same forms as `profiled_mutex!`: `profiled_rwlock!(value)` or
/// `profiled_rwlock!("name", value)`.
///
/// [`ProfiledRwLock`]: https://docs.rs/profiled/*/profiled/type.ProfiledRwLock.html
#[proc_macro]
pub fn profiled_rwlock(input: TokenStream) -> TokenStream {
    lock_macro(input, args::LockKind::RwLock)
}

/// Instruments a function: calls, wall time and a logical stack frame (sync), or
/// polls, busy and idle time and async wait profiling (`async fn`, `impl Future`).
///
/// See the `profiled` crate's documentation of `#[profiled]` for arguments and
/// examples.
#[proc_macro_attribute]
pub fn profiled(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: proc_macro2::TokenStream = item.into();
    let parsed_item = match args::parse_fn_item(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            // Not a function: the error, and the item untouched so IDEs keep working.
            let mut out = error.to_compile_error();
            out.extend(item);
            return out.into();
        }
    };
    let checked = args::parse_profiled_args(args.into())
        .and_then(|parsed| validate::profiled(parsed, parsed_item.clone()));
    match checked {
        Ok(profiled) => expand::function(&profiled).into(),
        Err(error) => {
            let mut out = error.to_compile_error();
            out.extend(expand::unchanged(&parsed_item));
            out.into()
        }
    }
}

fn lock_macro(input: TokenStream, kind: args::LockKind) -> TokenStream {
    let parsed = args::parse_lock_args(input.into(), kind).and_then(validate::lock_args);
    match parsed {
        Ok(lock) => expand::lock(&lock).into(),
        Err(error) => error.to_compile_error().into(),
    }
}
