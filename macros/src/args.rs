//! Parsing of macro invocations into models that keep the user's spans.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Token};

/// Which lock a lock macro builds.
#[derive(Clone, Copy)]
pub enum LockKind {
    Mutex,
    RwLock,
}

impl LockKind {
    pub fn macro_name(self) -> &'static str {
        match self {
            LockKind::Mutex => "profiled_mutex",
            LockKind::RwLock => "profiled_rwlock",
        }
    }
}

/// `profiled_mutex!(...)` / `profiled_rwlock!(...)` as written, before validation.
pub struct LockArgs {
    pub kind: LockKind,
    /// Every comma-separated argument, in order.
    pub args: Vec<Expr>,
    /// Span of the whole invocation, for errors about missing arguments.
    pub call_site: Span,
}

struct ExprList(Punctuated<Expr, Token![,]>);

impl Parse for ExprList {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(ExprList)
    }
}

pub fn parse_lock_args(input: TokenStream, kind: LockKind) -> syn::Result<LockArgs> {
    let list = ExprList::parse.parse2(input)?;
    Ok(LockArgs {
        kind,
        args: list.0.into_iter().collect(),
        call_site: Span::call_site(),
    })
}
