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
/// ```
/// use profiled::{profiled_mutex, ProfiledMutex};
///
/// static SESSIONS: ProfiledMutex<Vec<u64>> = profiled_mutex!("sessions", Vec::new());
/// static HITS: ProfiledMutex<u64> = profiled_mutex!(0); // named after its file:line
///
/// SESSIONS.lock().push(7);
/// *HITS.lock() += 1;
/// // Named sites are listed (and in /debug/stats and /metrics) before any contention.
/// let sessions = profiled::lock_sites().into_iter().find(|s| s.name == "sessions").unwrap();
/// assert_eq!(sessions.kind, profiled::LockKind::Mutex);
/// assert!(profiled::lock_sites().iter().any(|s| s.name.ends_with(&format!(":{}", s.line))));
/// ```
///
/// The name must be a non-empty string literal:
///
/// ```compile_fail
/// static LOCK: profiled::ProfiledMutex<u64> = profiled::profiled_mutex!("", 0);
/// ```
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
/// ```
/// use std::collections::HashMap;
/// use profiled::{profiled_rwlock, ProfiledRwLock};
///
/// static PRICES: ProfiledRwLock<Option<HashMap<u64, u64>>> = profiled_rwlock!("prices", None);
///
/// PRICES.write().get_or_insert_with(HashMap::new).insert(1, 250);
/// let price = PRICES.read().as_ref().and_then(|prices| prices.get(&1).copied());
/// assert_eq!(price, Some(250));
/// let site = profiled::lock_sites().into_iter().find(|s| s.name == "prices").unwrap();
/// assert_eq!(site.kind, profiled::LockKind::RwLock);
/// ```
///
/// ```compile_fail
/// // The name is a string literal, not an identifier.
/// static PRICES: profiled::ProfiledRwLock<u64> = profiled::profiled_rwlock!(prices, 0);
/// ```
///
/// [`ProfiledRwLock`]: https://docs.rs/profiled/*/profiled/type.ProfiledRwLock.html
#[proc_macro]
pub fn profiled_rwlock(input: TokenStream) -> TokenStream {
    lock_macro(input, args::LockKind::RwLock)
}

/// Instruments a function: calls, wall time and a logical stack frame (sync), or
/// polls, busy and idle time and async wait profiling (`async fn`, `impl Future`).
///
/// Works on free functions, methods, trait impl methods, generic and `unsafe` fns,
/// `async fn`, functions returning `impl Future`, and `async-trait` methods.
/// Signatures, `?`, coercions and error spans stay as written.
///
/// ```
/// use profiled::profiled;
///
/// #[profiled]
/// fn parse(line: &str) -> usize {
///     line.split(',').count()
/// }
///
/// #[profiled(name = "render")] // the name in profiles and stats; default: module path::fn
/// fn render(fields: usize) -> Vec<&'static str> {
///     profiled::current_logical_stack()
/// }
///
/// #[profiled]
/// async fn handle(line: &str) -> usize {
///     parse(line) // an async fn's idle time (Pending) goes to the block profile
/// }
///
/// profiled::set_function_profiling(true); // Profiler::start does this
/// assert_eq!(render(parse("a,b,c")), ["render"]);
/// let parse_stats = profiled::functions().into_iter().find(|f| f.name.ends_with("::parse")).unwrap();
/// assert_eq!(parse_stats.calls, 1);
/// # drop(handle("x"));
/// ```
///
/// # `labels(key = "value", ...)`
///
/// Runs the body inside a [profile label] scope, as
/// `profiled::labels::with(&[("route", "/checkout")], || body)` (sync) or
/// `profiled::labels::scope(...)` around the returned future (async shapes): every
/// sample taken in the call, and in what it spawns through `profiled`, carries the
/// labels. Keys are identifiers, values string literals.
///
/// ```
/// use profiled::profiled;
///
/// #[profiled(labels(route = "/checkout", tier = "gold"))]
/// fn checkout() -> Option<String> {
///     profiled::labels::current().get("route")
/// }
///
/// #[profiled(name = "browse", labels(route = "/browse"))]
/// async fn browse() -> Option<String> {
///     profiled::labels::current().get("route") // on every poll, whichever thread polls
/// }
///
/// assert_eq!(checkout().as_deref(), Some("/checkout"));
/// assert!(profiled::labels::current().is_empty()); // the scope ended with the call
/// # drop(browse());
/// ```
///
/// A value must be a string literal (values known at run time go through
/// `profiled::labels::LabelSet`):
///
/// ```compile_fail
/// const ROUTE: &str = "/checkout";
/// #[profiled::profiled(labels(route = ROUTE))]
/// fn handler() {}
/// ```
///
/// The arguments are `name = "..."` and `labels(...)`; anything else is a compile
/// error:
///
/// ```compile_fail
/// #[profiled::profiled(level = "debug")]
/// fn handler() {}
/// ```
///
/// [profile label]: https://docs.rs/profiled/*/profiled/labels/index.html
///
/// See the `profiled` crate's documentation for what is recorded.
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
