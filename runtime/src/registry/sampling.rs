//! Go's sampling rules for the block and mutex profiles: each decision returns what
//! to record, or `None` to record nothing.

use crate::rng::XorShift;

use super::COUNT_SCALE;

/// Go 1.17+ block sampling: events of at least `rate` ns are always kept; shorter
/// ones with probability `delay / rate`, then counted `rate / delay` times with
/// `rate` ns of delay, so that expected totals equal the truth. Returns the
/// (count in thousandths, delay) to record.
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
/// `fraction` at record time (the returned value). Decided before the holder's
/// stack is captured.
pub(crate) fn mutex_kept(fraction: i64) -> Option<u64> {
    let fraction = u64::try_from(fraction).ok().filter(|&f| f > 0)?;
    (fraction == 1 || random_below(fraction) == 0).then_some(fraction)
}

thread_local! {
    static RNG: XorShift = const { XorShift::new() };
}

/// A uniform-enough value in `0..bound` from this thread's generator (from the
/// clock while the thread-local is gone, at thread exit).
fn random_below(bound: u64) -> u64 {
    RNG.try_with(|rng| rng.below(bound))
        .unwrap_or_else(|_| XorShift::seeded(crate::clock::now_ns()).below(bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sampling_is_unbiased() {
        // 100k events of 10 us at a 1 ms rate: truth is 1 s and 100k events.
        let (mut count, mut delay) = (0u64, 0u64);
        for _ in 0..100_000 {
            if let Some((c, d)) = block(10_000, 1_000_000) {
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
        assert_eq!(block(5_000, 1_000), Some((COUNT_SCALE, 5_000)));
        assert_eq!(block(5_000, 0), None);
    }

    #[test]
    fn mutex_sampling_keeps_one_in_fraction() {
        let kept = (0..100_000).filter(|_| mutex_kept(10).is_some()).count();
        assert!((8_500..11_500).contains(&kept), "{kept}");
        assert_eq!(mutex_kept(1), Some(1));
        assert_eq!(mutex_kept(0), None);
    }
}
