//! HOT: a future that enters its label scope around each poll; budget per poll as
//! `current.rs`'s scope entry.

use std::pin::Pin;
use std::task::{Context, Poll};

use super::current;

/// Where a [`Scoped`] future's labels come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// A `'static` slice of pairs (cached by address).
    Static(&'static [(&'static str, &'static str)]),
    /// An interned set.
    Set(u32),
}

/// A future that carries labels on every poll: made by [`super::scope`] and
/// [`super::LabelSet::scope`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Scoped<F> {
    source: Source,
    inner: F,
}

impl<F> Scoped<F> {
    pub(crate) fn new(source: Source, inner: F) -> Scoped<F> {
        Scoped { source, inner }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`
        // (there is no `Drop` impl and no accessor); `source` is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        let parent = current::id();
        let merged = match this.source {
            Source::Static(pairs) => current::merged_static(parent, pairs),
            Source::Set(id) => current::merged_set(parent, id),
        };
        let _restore = current::Restore::enter(merged);
        // SAFETY: see above; `this.inner` stays where the pinned `self` put it.
        let result = unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx);
        if result.is_pending() {
            current::note_pending(merged);
        }
        result
    }
}
