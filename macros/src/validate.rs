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
            "name must not be empty; omit it to use the default",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            "name must be a string literal, such as \"accounts\"",
        )),
    }
}

/// How an instrumented function produces its result.
pub enum FnShape {
    /// A plain function: timed per call.
    Sync,
    /// An `async fn`: its body becomes an instrumented future.
    Async,
    /// Returns `impl Future`: the returned future is instrumented.
    ImplFuture,
    /// Returns `Pin<Box<dyn Future ...>>` (as `async-trait` expands methods): the
    /// returned future is instrumented and boxed again.
    BoxedFuture,
}

/// A `#[profiled]` function that passed validation.
pub struct Profiled {
    /// The explicit `name = "..."`, if given.
    pub name: Option<LitStr>,
    /// `labels(key = "value", ...)`: keys (as written, unraw) and values.
    pub labels: Vec<(String, LitStr)>,
    pub item: crate::args::FnItem,
    pub body: proc_macro2::Group,
    pub shape: FnShape,
}

const ACCEPTED: &str = "accepted: `name = \"...\"`, `labels(key = \"value\", ...)`";

pub fn profiled(
    args: crate::args::ProfiledArgs,
    item: crate::args::FnItem,
) -> syn::Result<Profiled> {
    let mut name: Option<LitStr> = None;
    let mut labels: Option<Vec<(String, LitStr)>> = None;
    for meta in args.metas {
        let key = meta.path();
        if key.is_ident("labels") {
            if labels.is_some() {
                return Err(syn::Error::new_spanned(
                    key,
                    "duplicate #[profiled] argument `labels`; put every pair in one `labels(...)`",
                ));
            }
            labels = Some(label_pairs(&meta)?);
            continue;
        }
        if !key.is_ident("name") {
            return Err(syn::Error::new_spanned(
                key,
                format!(
                    "unknown #[profiled] argument `{}`; {ACCEPTED}",
                    quote::ToTokens::to_token_stream(key)
                ),
            ));
        }
        let syn::Meta::NameValue(pair) = &meta else {
            return Err(syn::Error::new_spanned(
                &meta,
                format!("#[profiled] argument `name` needs a value; {ACCEPTED}"),
            ));
        };
        if name.is_some() {
            return Err(syn::Error::new_spanned(
                key,
                "duplicate #[profiled] argument `name`",
            ));
        }
        name = Some(site_name(pair.value.clone())?);
    }
    if let Some(constness) = &item.sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "#[profiled] cannot instrument a `const fn`: profiling needs runtime state; \
             remove `const` or the attribute",
        ));
    }
    let Some(body) = item.body.clone() else {
        return Err(syn::Error::new_spanned(
            &item.sig,
            "#[profiled] needs a function body; put it on the method's implementation",
        ));
    };
    let shape = if item.sig.asyncness.is_some() {
        FnShape::Async
    } else if returns_impl_future(&item.sig.output) {
        FnShape::ImplFuture
    } else if returns_boxed_future(&item.sig.output) {
        FnShape::BoxedFuture
    } else {
        FnShape::Sync
    };
    Ok(Profiled {
        name,
        labels: labels.unwrap_or_default(),
        item,
        body,
        shape,
    })
}

const LABELS_FORM: &str =
    "expected `labels(key = \"value\", ...)`, such as `labels(route = \"/checkout\")`";

/// The pairs of `labels(key = "value", ...)`: keys are identifiers, each once;
/// values are string literals.
fn label_pairs(meta: &syn::Meta) -> syn::Result<Vec<(String, LitStr)>> {
    use syn::ext::IdentExt;

    let syn::Meta::List(list) = meta else {
        return Err(syn::Error::new_spanned(meta, LABELS_FORM));
    };
    let pairs = list.parse_args_with(
        syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
    )?;
    if pairs.is_empty() {
        return Err(syn::Error::new_spanned(
            list,
            format!("`labels` needs at least one pair; {LABELS_FORM}"),
        ));
    }
    let mut seen: Vec<(String, LitStr)> = Vec::new();
    for pair in pairs {
        let Some(key) = pair.path.get_ident() else {
            return Err(syn::Error::new_spanned(
                &pair.path,
                "a label key must be a plain identifier, such as `route`",
            ));
        };
        let key = key.unraw().to_string();
        let value = match &pair.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => lit.clone(),
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "a label value must be a string literal, such as \"/checkout\"; \
                     for values known at run time use `profiled::labels::LabelSet`",
                ));
            }
        };
        if seen.iter().any(|(k, _)| *k == key) {
            return Err(syn::Error::new_spanned(
                &pair.path,
                format!("duplicate label key `{key}`"),
            ));
        }
        seen.push((key, value));
    }
    Ok(seen)
}

fn is_future_bound(bound: &syn::TypeParamBound) -> bool {
    matches!(bound, syn::TypeParamBound::Trait(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
}

fn returns_impl_future(output: &syn::ReturnType) -> bool {
    matches!(output, syn::ReturnType::Type(_, ty)
        if matches!(&**ty, syn::Type::ImplTrait(t) if t.bounds.iter().any(is_future_bound)))
}

/// `Pin<Box<dyn Future<Output = T> + ...>>`, the shape `async-trait` expands to.
fn returns_boxed_future(output: &syn::ReturnType) -> bool {
    let syn::ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Some(boxed) = single_generic_of(ty, "Pin") else {
        return false;
    };
    let Some(dyn_future) = single_generic_of(boxed, "Box") else {
        return false;
    };
    matches!(dyn_future, syn::Type::TraitObject(t) if t.bounds.iter().any(is_future_bound))
}

/// For `Name<T>` (any path prefix), the type `T`.
fn single_generic_of<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}
