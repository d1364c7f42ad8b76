//! Event tables for the mutex and block profiles: cumulative (count, delay) per
//! stack id. Go's sampling rules, which decide what is added, are in `sampling.rs`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::StackId;

/// Counts are kept in thousandths so that block-profile unsampling (`rate / delay`
/// per kept event, as Go does with a float) keeps its fraction.
pub(crate) const COUNT_SCALE: u64 = 1000;

// SAFETY: atomic integers; all zero is no events.
unsafe impl crate::zeroed::Zeroed for Totals {}

struct Totals {
    count_milli: AtomicU64,
    delay_ns: AtomicU64,
}

/// Cumulative (count, delay) per stack id for one profile.
pub(crate) struct EventTable {
    cells: crate::zeroed::Table<Totals>,
    dropped: AtomicU64,
}

/// One row of a table snapshot: counts in thousandths, delay in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventRow {
    pub stack: StackId,
    pub count_milli: u64,
    pub delay_ns: u64,
}

impl EventTable {
    pub(crate) fn new(capacity: usize) -> EventTable {
        EventTable {
            // Zero pages: resident as stacks record events.
            cells: crate::zeroed::slice(capacity),
            dropped: AtomicU64::new(0),
        }
    }

    /// Heap bytes of the table (fixed at creation).
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<[Totals]>(&self.cells)
    }

    /// Adds to a stack's totals; relaxed, as these are independent counters.
    pub(crate) fn add(&self, stack: Option<StackId>, count_milli: u64, delay_ns: u64) {
        match stack.and_then(|id| self.cells.get(id)) {
            Some(cell) => {
                cell.count_milli.fetch_add(count_milli, Ordering::Relaxed);
                cell.delay_ns.fetch_add(delay_ns, Ordering::Relaxed);
            }
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events that were not recorded because their stack did not fit.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Every stack with a non-zero total, in stack-id order.
    pub(crate) fn snapshot(&self) -> Vec<EventRow> {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(stack, cell)| {
                let count_milli = cell.count_milli.load(Ordering::Relaxed);
                let delay_ns = cell.delay_ns.load(Ordering::Relaxed);
                (count_milli != 0 || delay_ns != 0).then_some(EventRow {
                    stack,
                    count_milli,
                    delay_ns,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_counts_dropped() {
        let table = EventTable::new(4);
        table.add(Some(2), 1000, 7);
        table.add(None, 1000, 7);
        table.add(Some(9), 1000, 7);
        assert_eq!(table.dropped(), 2);
        assert_eq!(
            table.snapshot(),
            vec![EventRow {
                stack: 2,
                count_milli: 1000,
                delay_ns: 7
            }]
        );
    }
}
