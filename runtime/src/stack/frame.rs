//! What one word of a stored stack is. Stack tables hold plain words: return
//! addresses captured from the real stack, then (after [`SEPARATOR`]) the logical
//! chain of `#[profiled]` frames the stack ran under, each stored as the address of
//! its [`FnSite`] with [`LOGICAL_TAG`] set. Everything that reads stored stacks
//! (symbolization, profile building, task dumps) decodes them here.

use crate::site::FnSite;

/// Marks a stored word as a logical frame: the address of its `FnSite`.
/// User-space code addresses never have the top bit set.
pub(crate) const LOGICAL_TAG: usize = 1 << (usize::BITS - 1);
/// In a stored stack, separates a real stack from the logical chain it ran under.
pub(crate) const SEPARATOR: usize = usize::MAX;
/// Marks a stored word as a label set id: the last word of a stack taken inside a
/// label scope. Site addresses are user-space, so a logical word never has both top
/// bits set; the separator has every bit set, which no `u32` id reaches.
const LABELS_TAG: usize = 0b11 << (usize::BITS - 2);

/// One decoded word of a stored stack.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Frame {
    /// A return address of the real stack.
    Return(usize),
    /// A `#[profiled]` frame of the logical chain.
    Logical(&'static FnSite),
    /// The boundary between the real stack and its logical chain.
    Separator,
    /// The label set the stack was taken under (`crate::labels`).
    Labels(u32),
}

impl Frame {
    /// Decodes a stored word.
    pub(crate) fn from_word(word: usize) -> Frame {
        if word == SEPARATOR {
            return Frame::Separator;
        }
        if word & LOGICAL_TAG == 0 {
            return Frame::Return(word);
        }
        if word & LABELS_TAG == LABELS_TAG {
            return Frame::Labels((word & !LABELS_TAG) as u32);
        }
        // SAFETY: tagged words are only ever produced by `to_word` from a
        // `&'static FnSite`; real return addresses are user-space and never tagged.
        match unsafe { ((word & !LOGICAL_TAG) as *const FnSite).as_ref() } {
            Some(site) => Frame::Logical(site),
            None => Frame::Return(word),
        }
    }

    /// The word stored for this frame.
    pub(crate) fn to_word(self) -> usize {
        match self {
            Frame::Return(address) => address,
            Frame::Logical(site) => (site as *const FnSite as usize) | LOGICAL_TAG,
            Frame::Separator => SEPARATOR,
            Frame::Labels(id) => LABELS_TAG | id as usize,
        }
    }
}

/// The stored word of a logical frame for `site`.
#[inline(always)]
pub(crate) fn encode(site: &'static FnSite) -> usize {
    Frame::Logical(site).to_word()
}

/// The site of a stored logical frame; `None` for a return address or the separator.
pub(crate) fn decode(word: usize) -> Option<&'static FnSite> {
    match Frame::from_word(word) {
        Frame::Logical(site) => Some(site),
        Frame::Return(_) | Frame::Separator | Frame::Labels(_) => None,
    }
}

/// The stored word for label set `id`.
#[inline(always)]
pub(crate) fn labels(id: u32) -> usize {
    Frame::Labels(id).to_word()
}

/// A stored stack without its trailing label word, and the label set id it names
/// (`crate::labels::NONE` when it has none).
pub(crate) fn split_labels(frames: &[usize]) -> (&[usize], u32) {
    match frames.split_last() {
        Some((&last, rest)) => match Frame::from_word(last) {
            Frame::Labels(id) => (rest, id),
            _ => (frames, crate::labels::NONE),
        },
        None => (frames, crate::labels::NONE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: FnSite = FnSite::new(
        "frame::tests::site",
        "frame.rs",
        1,
        crate::site::FnKind::Sync,
    );

    #[test]
    fn words_round_trip() {
        let word = encode(&SITE);
        assert_ne!(word & LOGICAL_TAG, 0);
        assert!(decode(word).is_some_and(|site| std::ptr::eq(site, &SITE)));
        assert!(matches!(
            Frame::from_word(0x5555_1234),
            Frame::Return(0x5555_1234)
        ));
        assert!(matches!(Frame::from_word(SEPARATOR), Frame::Separator));
        assert_eq!(decode(SEPARATOR).map(FnSite::name), None);
        assert_eq!(Frame::Return(0x42).to_word(), 0x42);
        assert_eq!(Frame::Separator.to_word(), SEPARATOR);
        assert!(matches!(Frame::from_word(labels(7)), Frame::Labels(7)));
        assert!(matches!(
            Frame::from_word(labels(u32::MAX)),
            Frame::Labels(u32::MAX)
        ));
        assert!(decode(labels(7)).is_none());
        assert_eq!(split_labels(&[1, 2, labels(9)]), (&[1usize, 2][..], 9));
        assert_eq!(split_labels(&[1, 2]), (&[1usize, 2][..], 0));
    }
}
