//! Checks on parsed invocations. Only rejects; never changes what was written.

use syn::{Expr, ExprLit, Lit, LitStr};

use crate::args::{LockArgs, LockKind};

/// A lock invocation that passed validation.
pub struct Lock {
    pub kind: LockKind,
    /// The explicit site name, if one was given.
    pub name: Option<LitStr>,
    /// The protected value, as the user wrote it.
    pub value: Expr,
}

pub fn lock_args(parsed: LockArgs) -> syn::Result<Lock> {
    let macro_name = parsed.kind.macro_name();
    let mut args = parsed.args.into_iter();
    match (args.next(), args.next(), args.next()) {
        (None, _, _) => Err(syn::Error::new(
            parsed.call_site,
            format!(
                "{macro_name}! expects the value to protect: \
                 `{macro_name}!(value)` or `{macro_name}!(\"name\", value)`"
            ),
        )),
        (Some(value), None, _) => Ok(Lock {
            kind: parsed.kind,
            name: None,
            value,
        }),
        (Some(name), Some(value), None) => Ok(Lock {
            kind: parsed.kind,
            name: Some(site_name(name)?),
            value,
        }),
        (Some(_), Some(_), Some(extra)) => Err(syn::Error::new_spanned(
            extra,
            format!(
                "{macro_name}! takes at most two arguments: \
                 `{macro_name}!(value)` or `{macro_name}!(\"name\", value)`"
            ),
        )),
    }
}

fn site_name(name: Expr) -> syn::Result<LitStr> {
    match name {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if lit.value().is_empty() => Err(syn::Error::new_spanned(
            lit,
            "lock name must not be empty; omit it to use file:line",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            "lock name must be a string literal, such as \"accounts\"",
        )),
    }
}
