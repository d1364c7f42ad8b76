//! HOT (while a trace runs): budget per event: a few relaxed stores into this
//! thread's ring, no lock, no format, no I/O, no panic. The ring itself is
//! allocated (cold) on the thread's first event of a trace.
//!
//! Each slot is a tiny seqlock: the writer clears `seq`, writes the fields, then
//! publishes `seq` with Release; a reader accepts a slot whose `seq` is the same
//! non-zero value before and after reading it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use super::Category;

/// Events kept per thread; older ones are overwritten (and counted).
pub(crate) const EVENTS_PER_THREAD: usize = 4096;

struct Slot {
    seq: AtomicU64,
    name_ptr: AtomicUsize,
    name_len: AtomicUsize,
    category: AtomicU8,
    start: AtomicU64,
    end: AtomicU64,
}

/// One thread's events. Written only by its thread, read by the collector.
pub(crate) struct Ring {
    slots: Box<[Slot]>,
    /// Events ever written; the next goes to `written % len`.
    written: AtomicU64,
    pub(crate) tid: i64,
    pub(crate) thread_name: String,
}

/// A copied event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub name: &'static str,
    pub category: Category,
    pub start: u64,
    pub end: u64,
}

impl Ring {
    pub(crate) fn new(tid: i64, thread_name: String) -> Arc<Ring> {
        Arc::new(Ring {
            slots: (0..EVENTS_PER_THREAD)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    name_ptr: AtomicUsize::new(0),
                    name_len: AtomicUsize::new(0),
                    category: AtomicU8::new(0),
                    start: AtomicU64::new(0),
                    end: AtomicU64::new(0),
                })
                .collect(),
            written: AtomicU64::new(0),
            tid,
            thread_name,
        })
    }

    #[inline]
    pub(crate) fn push(&self, event: Event) {
        let index = self.written.load(Ordering::Relaxed);
        let slot = &self.slots[(index % EVENTS_PER_THREAD as u64) as usize];
        slot.seq.store(0, Ordering::Relaxed);
        // Release fence: the cleared seq is visible before the new fields.
        std::sync::atomic::fence(Ordering::Release);
        slot.name_ptr
            .store(event.name.as_ptr() as usize, Ordering::Relaxed);
        slot.name_len.store(event.name.len(), Ordering::Relaxed);
        slot.category.store(event.category as u8, Ordering::Relaxed);
        slot.start.store(event.start, Ordering::Relaxed);
        slot.end.store(event.end, Ordering::Relaxed);
        // Release: a reader that sees this seq (Acquire) sees the fields above.
        slot.seq.store(index + 1, Ordering::Release);
        self.written.store(index + 1, Ordering::Relaxed);
    }

    /// Events ever written to this ring.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// The events still in the ring, oldest first.
    pub(crate) fn events(&self) -> Vec<Event> {
        let mut events: Vec<(u64, Event)> = self
            .slots
            .iter()
            .filter_map(|slot| {
                let seq = slot.seq.load(Ordering::Acquire);
                if seq == 0 {
                    return None;
                }
                let ptr = slot.name_ptr.load(Ordering::Relaxed);
                let len = slot.name_len.load(Ordering::Relaxed);
                let category = Category::from_u8(slot.category.load(Ordering::Relaxed))?;
                let start = slot.start.load(Ordering::Relaxed);
                let end = slot.end.load(Ordering::Relaxed);
                // Acquire fence, then recheck: unchanged seq means a consistent copy.
                std::sync::atomic::fence(Ordering::Acquire);
                if slot.seq.load(Ordering::Relaxed) != seq {
                    return None;
                }
                // SAFETY: (ptr, len) were stored together from a `&'static str`
                // under the same unchanged `seq`, so they describe that string.
                let name = unsafe {
                    std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr as *const u8, len))
                };
                Some((
                    seq,
                    Event {
                        name,
                        category,
                        start,
                        end,
                    },
                ))
            })
            .collect();
        events.sort_by_key(|(seq, _)| *seq);
        events.into_iter().map(|(_, event)| event).collect()
    }
}
