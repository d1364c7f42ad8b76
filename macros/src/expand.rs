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
