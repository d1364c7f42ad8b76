//! Encoder: Go's legacy heap text (`heap?debug=1`, `allocs?debug=1`), as
//! `runtime/pprof`'s `writeHeapInternal` writes it.

use std::io::{self, Write};

use super::write_record;
use crate::memory::MemStats;
use crate::profile::Profile;

/// Writes a `heap profile:` header with the totals and `heap/<2*rate>`, one record
/// per sample (values: alloc objects, alloc bytes, in-use objects, in-use bytes, raw
/// as sampled; the model orders them by in-use bytes, as Go sorts), the profile's
/// comments, then the memory statistics.
pub(crate) fn write(
    profile: &Profile,
    rate: usize,
    stats: &MemStats,
    out: &mut dyn Write,
) -> io::Result<()> {
    let value =
        |sample: &crate::profile::Sample, i: usize| sample.values.get(i).copied().unwrap_or(0);
    let mut total = [0i64; 4];
    for sample in &profile.samples {
        for (i, t) in total.iter_mut().enumerate() {
            *t = t.saturating_add(value(sample, i));
        }
    }
    writeln!(
        out,
        "heap profile: {}: {} [{}: {}] @ heap/{}",
        total[2],
        total[3],
        total[0],
        total[1],
        rate.saturating_mul(2)
    )?;
    for sample in &profile.samples {
        let v = |i| value(sample, i);
        write_record(
            profile,
            sample,
            format_args!("{}: {} [{}: {}]", v(2), v(3), v(0), v(1)),
            out,
        )?;
    }
    for comment in &profile.comments {
        writeln!(out, "# {comment}")?;
    }
    writeln!(out)?;
    writeln!(out, "# profiled.MemStats")?;
    writeln!(out, "# Alloc = {}", stats.alloc)?;
    writeln!(out, "# TotalAlloc = {}", stats.total_alloc)?;
    writeln!(out, "# Sys = {}", stats.sys)?;
    writeln!(out, "# Mallocs = {}", stats.mallocs)?;
    writeln!(out, "# Frees = {}", stats.frees)?;
    writeln!(out, "# HeapAlloc = {}", stats.alloc)?;
    writeln!(out, "# HeapObjects = {}", stats.heap_objects)?;
    writeln!(out, "# RSS = {}", stats.rss)?;
    writeln!(out, "# MemProfileRate = {}", stats.mem_profile_rate)?;
    writeln!(out, "# SampledAllocs = {}", stats.sampled_allocs)?;
    writeln!(out, "# DroppedSamples = {}", stats.dropped_samples)?;
    writeln!(out, "# MaxRSS = {}", stats.max_rss)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sums_raw_values_and_doubles_the_rate() {
        let rows = [
            (&[0x1001][..], vec![1, 2, 3, 4]),
            (&[0x2001][..], vec![10, 20, 30, 40]),
        ];
        let profile = crate::profile::build::with_one_type(&rows, "alloc_objects", "count");
        let mut out = Vec::new();
        write(&profile, 512, &MemStats::default(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("heap profile: 33: 44 [11: 22] @ heap/1024\n"),
            "{text}"
        );
        assert!(text.contains("\n30: 40 [10: 20] @ 0x2000\n"), "{text}");
        assert!(text.ends_with("# MaxRSS = 0\n"), "{text}");
    }
}
