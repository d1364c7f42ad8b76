//! Parsing of macro invocations into models that keep the user's spans.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};
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

/// `#[profiled(...)]` arguments as written: `key = value` pairs and anything else
/// the user typed, for `validate` to accept or reject with a span.
pub struct ProfiledArgs {
    pub metas: Vec<syn::Meta>,
}

pub fn parse_profiled_args(input: TokenStream) -> syn::Result<ProfiledArgs> {
    let metas = Punctuated::<syn::Meta, Token![,]>::parse_terminated.parse2(input)?;
    Ok(ProfiledArgs {
        metas: metas.into_iter().collect(),
    })
}

/// A function item as written, with its body kept as tokens (never re-parsed).
#[derive(Clone)]
pub struct FnItem {
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    /// `default` in a specializing impl, kept verbatim.
    pub defaultness: Option<Token![default]>,
    pub sig: syn::Signature,
    /// The brace-delimited body, or `None` for a bodiless trait method.
    pub body: Option<proc_macro2::Group>,
    /// The `;` of a bodiless trait method.
    pub semi: Option<Token![;]>,
}

impl Parse for FnItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        let defaultness = input.parse()?;
        let sig = input.parse()?;
        let (body, semi) = if input.peek(Token![;]) {
            (None, Some(input.parse()?))
        } else {
            let group: proc_macro2::Group = input.parse()?;
            if group.delimiter() != proc_macro2::Delimiter::Brace {
                return Err(syn::Error::new(group.span(), "expected a function body"));
            }
            (Some(group), None)
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(FnItem {
            attrs,
            vis,
            defaultness,
            sig,
            body,
            semi,
        })
    }
}

impl ToTokens for FnItem {
    /// The item exactly as written.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.defaultness.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
        self.semi.to_tokens(tokens);
    }
}

/// Parses the item under `#[profiled]`. Anything that is not a function is an error
/// spanned on the item, naming what it is.
pub fn parse_fn_item(item: TokenStream) -> syn::Result<FnItem> {
    syn::parse2::<FnItem>(item.clone()).map_err(|_| {
        let what = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Struct(_)) => "a struct",
            Ok(syn::Item::Enum(_)) => "an enum",
            Ok(syn::Item::Impl(_)) => "an impl block; put it on the methods instead",
            Ok(syn::Item::Trait(_)) => "a trait; put it on the methods of an impl instead",
            Ok(syn::Item::Mod(_)) => "a module",
            Ok(syn::Item::Const(_)) => "a const",
            Ok(syn::Item::Static(_)) => "a static",
            Ok(syn::Item::Type(_)) => "a type alias",
            Ok(syn::Item::Use(_)) => "a use declaration",
            _ => "this item",
        };
        syn::Error::new_spanned(
            item,
            format!("#[profiled] applies to functions and methods, not to {what}"),
        )
    })
}
