//! Encoder: Go's legacy text format (`?debug=1`), as `runtime/pprof` writes it.

use std::io::{self, Write};

use super::Profile;

/// Writes a contention profile as Go's `debug=1` text.
///
/// `header` is `mutex` or `contention` (Go's name for the block profile). Values are
/// nanoseconds, so `cycles/second` is 1e9 and each record's cycles are nanoseconds.
/// `sampling_period` is printed for the mutex profile only, as Go does.
pub(crate) fn write_contention(
    profile: &Profile,
    header: &str,
    sampling_period: Option<i64>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "--- {header}:")?;
    writeln!(out, "cycles/second=1000000000")?;
    if let Some(period) = sampling_period {
        writeln!(out, "sampling period={period}")?;
    }
    for comment in &profile.comments {
        writeln!(out, "# {comment}")?;
    }
    for sample in &profile.samples {
        let count = sample.values.first().copied().unwrap_or(0);
        let delay = sample.values.get(1).copied().unwrap_or(0);
        write!(out, "{delay} {count} @")?;
        for &location in &sample.locations {
            write!(out, " {:#x}", profile.locations[location].address)?;
        }
        writeln!(out)?;
        write_frames(profile, &sample.locations, out)?;
    }
    Ok(())
}

/// One `#\t<pc>\t<function>\t<file>:<line>` line per frame, inlined frames expanded,
/// innermost first, as Go's `printStackRecord`.
pub(crate) fn write_frames(
    profile: &Profile,
    locations: &[usize],
    out: &mut dyn Write,
) -> io::Result<()> {
    for &location in locations {
        let location = &profile.locations[location];
        if location.lines.is_empty() {
            writeln!(out, "#\t{:#x}", location.address)?;
        }
        for line in location.lines.iter() {
            writeln!(
                out,
                "#\t{:#x}\t{}\t{}:{}",
                location.address, line.function, line.file, line.line
            )?;
        }
    }
    writeln!(out)
}
