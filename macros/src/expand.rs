//! Code generation. Never fails: everything it sees has been validated.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::args::LockKind;
use crate::validate::Lock;

/// Expands a lock macro into a block that declares the static site, lists it with
/// `inventory`, and builds the lock around the user's value.
///
/// Every generated name is absolute into `::profiled::__private`; the user's value
/// keeps its own spans so type errors point at it.
pub fn lock(lock: &Lock) -> TokenStream {
    let site = quote_spanned!(Span::mixed_site()=> __PROFILED_LOCK_SITE);
    let name = match &lock.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::file!(), ":", ::core::line!())),
    };
    let (kind, constructor) = match lock.kind {
        LockKind::Mutex => (quote!(Mutex), quote!(mutex_with_site)),
        LockKind::RwLock => (quote!(RwLock), quote!(rwlock_with_site)),
    };
    let value = &lock.value;
    quote! {
        {
            static #site: ::profiled::__private::LockSite = ::profiled::__private::LockSite::new(
                #name,
                ::core::file!(),
                ::core::line!(),
                ::profiled::__private::LockKind::#kind,
            );
            ::profiled::__private::inventory::submit! {
                ::profiled::__private::LockSiteRef(&#site)
            }
            ::profiled::__private::#constructor(&#site, #value)
        }
    }
}

/// Expands `#[profiled]`: the item keeps its attributes, visibility and signature;
/// its body gains a static site (listed with `inventory`) and is timed (sync) or
/// wrapped in an instrumented future (async shapes). The user's body tokens are
/// emitted as they were, so their spans, coercions and `?` keep working.
pub fn function(profiled: &crate::validate::Profiled) -> TokenStream {
    use crate::validate::FnShape;

    let item = &profiled.item;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let defaultness = &item.defaultness;
    let sig = &item.sig;
    let body = &profiled.body;
    let site = quote!(__PROFILED_FN_SITE);
    let ident = &sig.ident;
    let name = match &profiled.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#ident)
        )),
    };
    let kind = match profiled.shape {
        FnShape::Sync => quote!(Sync),
        _ => quote!(Async),
    };
    let declare_site = quote! {
        static #site: ::profiled::__private::FnSite = ::profiled::__private::FnSite::new(
            #name,
            ::core::file!(),
            ::core::line!(),
            ::profiled::__private::FnKind::#kind,
        );
        ::profiled::__private::inventory::submit! {
            ::profiled::__private::FnSiteRef(&#site)
        }
    };
    let call = quote_spanned!(Span::mixed_site()=> __profiled_call);
    let ret = quote_spanned!(Span::mixed_site()=> __profiled_ret);
    let labels_guard = quote_spanned!(Span::mixed_site()=> __profiled_labels);
    // `labels(...)`: a static slice of pairs (its address keys the scope cache),
    // entered around the call guard (sync) or around the instrumented future, so
    // the call's own waits carry the labels too.
    let pairs = quote!(__PROFILED_LABELS);
    let (declare_labels, enter_labels) = if profiled.labels.is_empty() {
        (quote!(), quote!())
    } else {
        let count = profiled.labels.len();
        let entries = profiled
            .labels
            .iter()
            .map(|(key, value)| quote!((#key, #value)));
        (
            quote! {
                static #pairs: [(&str, &str); #count] = [#(#entries),*];
            },
            quote! {
                let #labels_guard = ::profiled::__private::labels_enter(&#pairs);
            },
        )
    };
    let scoped = |future: TokenStream| {
        if profiled.labels.is_empty() {
            future
        } else {
            quote!(::profiled::__private::labels_scope(&#pairs, #future))
        }
    };
    let instrumented_body = match profiled.shape {
        FnShape::Sync => quote! {
            #enter_labels
            let #call = ::profiled::__private::enter(&#site);
            #body
        },
        FnShape::Async => {
            // Annotating the inner block's result with the declared return type lets
            // `?` and coercions infer as they would in the original body; `impl Trait`
            // cannot be named in a `let`, so it is left to inference.
            let annotated = match &sig.output {
                syn::ReturnType::Type(_, ty) if !mentions_impl_trait(ty) => quote! {
                    let #ret: #ty = #body;
                    #ret
                },
                _ => quote!(#body),
            };
            let future = scoped(quote! {
                ::profiled::__private::instrument(&#site, async move { #annotated })
            });
            quote!(#future.await)
        }
        FnShape::ImplFuture => scoped(quote! {
            ::profiled::__private::instrument(&#site, #body)
        }),
        FnShape::BoxedFuture => {
            let future = scoped(quote!(::profiled::__private::instrument(&#site, #body)));
            quote!(::std::boxed::Box::pin(#future))
        }
    };
    // The new body's braces take the original body's span, so the item still spans
    // only user code: lints such as `dead_code` treat it as the user's, not as
    // macro output (which they would skip).
    let mut new_body = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            #declare_site
            #declare_labels
            #instrumented_body
        },
    );
    new_body.set_span(body.span());
    quote! {
        #(#attrs)*
        #vis #defaultness #sig #new_body
    }
}

/// Re-emits the item exactly as written, for use beside a compile error.
pub fn unchanged(item: &crate::args::FnItem) -> TokenStream {
    quote::ToTokens::to_token_stream(item)
}

fn mentions_impl_trait(ty: &syn::Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}
