//! Event tables for the mutex and block profiles, with Go's sampling rules.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::StackId;

/// Counts are kept in thousandths so that block-profile unsampling (`rate / delay`
/// per kept event, as Go does with a float) keeps its fraction.
pub(crate) const COUNT_SCALE: u64 = 1000;

struct Totals {
    count_milli: AtomicU64,
    delay_ns: AtomicU64,
}

/// Cumulative (count, delay) per stack id for one profile.
pub(crate) struct EventTable {
    cells: Box<[Totals]>,
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
            cells: (0..capacity)
                .map(|_| Totals {
                    count_milli: AtomicU64::new(0),
                    delay_ns: AtomicU64::new(0),
                })
                .collect(),
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

/// Sampling decisions, each returning the (count, delay) to record or `None`.
pub(crate) struct Sampler;

impl Sampler {
    /// Go 1.17+ block sampling: events of at least `rate` ns are always kept; shorter
    /// ones with probability `delay / rate`, then counted `rate / delay` times with
    /// `rate` ns of delay, so that expected totals equal the truth.
    pub(crate) fn block(delay_ns: u64, rate: i64) -> Option<(u64, u64)> {
        let rate = u64::try_from(rate).ok().filter(|&r| r > 0)?;
        let delay = delay_ns.max(1);
        if delay >= rate {
            return Some((COUNT_SCALE, delay));
        }
        if random_below(rate) > delay {
            return None;
        }
        Some((rate.saturating_mul(COUNT_SCALE) / delay, rate))
    }

    /// Go 1.20+ mutex sampling: kept with probability 1/`fraction` and scaled by
    /// `fraction` at record time. Decided before the holder's stack is captured.
    pub(crate) fn mutex_kept(fraction: i64) -> Option<u64> {
        let fraction = u64::try_from(fraction).ok().filter(|&f| f > 0)?;
        (fraction == 1 || random_below(fraction) == 0).then_some(fraction)
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A uniform-enough value in `0..bound` from a per-thread xorshift64* generator.
fn random_below(bound: u64) -> u64 {
    let x = RNG
        .try_with(|rng| {
            let mut x = rng.get();
            if x == 0 {
                // Seed from the thread-local's address and the clock; never zero.
                x = (rng as *const Cell<u64> as u64) ^ crate::clock::now_ns() | 1;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            rng.set(x);
            x
        })
        .unwrap_or_else(|_| crate::clock::now_ns());
    let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    ((u128::from(r) * u128::from(bound)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sampling_is_unbiased() {
        // 100k events of 10 us at a 1 ms rate: truth is 1 s and 100k events.
        let (mut count, mut delay) = (0u64, 0u64);
        for _ in 0..100_000 {
            if let Some((c, d)) = Sampler::block(10_000, 1_000_000) {
                count += c;
                delay += d;
            }
        }
        let seconds = delay as f64 / 1e9;
        let events = count as f64 / COUNT_SCALE as f64;
        assert!((0.85..1.15).contains(&seconds), "{seconds}");
        assert!((85_000.0..115_000.0).contains(&events), "{events}");
    }

    #[test]
    fn long_block_events_are_always_kept() {
        assert_eq!(Sampler::block(5_000, 1_000), Some((COUNT_SCALE, 5_000)));
        assert_eq!(Sampler::block(5_000, 0), None);
    }

    #[test]
    fn mutex_sampling_keeps_one_in_fraction() {
        let kept = (0..100_000)
            .filter(|_| Sampler::mutex_kept(10).is_some())
            .count();
        assert!((8_500..11_500).contains(&kept), "{kept}");
        assert_eq!(Sampler::mutex_kept(1), Some(1));
        assert_eq!(Sampler::mutex_kept(0), None);
    }

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
