//! Encoders: Go's legacy text formats, as `runtime/pprof` writes them: every
//! `debug=1` form (contention and count text here, heap text in [`heap`]) and the
//! goroutine `debug=2` dump ([`dump`]).

pub(crate) mod dump;
pub(crate) mod heap;

use std::fmt;
use std::io::{self, Write};

use super::{Profile, Sample};

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
        write_record(profile, sample, format_args!("{delay} {count}"), out)?;
    }
    Ok(())
}

/// Go's `debug=1` count text: `<name> profile: total N`, then per stack
/// `count @ pcs` and its `#` frame lines, most frequent first.
pub(crate) fn write_count(profile: &Profile, name: &str, out: &mut dyn Write) -> io::Result<()> {
    // Saturating, as samples' values are merged: a sum must not panic (debug
    // builds) or wrap (release builds).
    let total = profile
        .samples
        .iter()
        .filter_map(|s| s.values.first())
        .fold(0i64, |total, &count| total.saturating_add(count));
    writeln!(out, "{name} profile: total {total}")?;
    for comment in &profile.comments {
        writeln!(out, "# {comment}")?;
    }
    for sample in &profile.samples {
        let count = sample.values.first().copied().unwrap_or(0);
        write!(out, "{count} @")?;
        write_addresses(profile, sample, out)?;
        if !sample.labels.is_empty() {
            // Go's `# labels: {"key":"value", ...}` line (printCountProfile).
            writeln!(out, "# labels: {}", go_labels(&sample.labels))?;
        }
        write_frames(profile, &sample.locations, out)?;
    }
    Ok(())
}

/// One record of Go's legacy text: `<values> @ <pc> <pc> ...`, then its frames.
/// Labels as Go prints them in text profiles and tracebacks: `{"key":"value", ...}`,
/// quoted and escaped so no value can break the line.
pub(crate) fn go_labels(labels: &[(&'static str, String)]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key:?}:{value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn write_record(
    profile: &Profile,
    sample: &Sample,
    values: fmt::Arguments<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write!(out, "{values} @")?;
    write_addresses(profile, sample, out)?;
    write_frames(profile, &sample.locations, out)
}

/// ` <pc> <pc> ...` and the end of the line.
fn write_addresses(profile: &Profile, sample: &Sample, out: &mut dyn Write) -> io::Result<()> {
    for location in sample
        .locations
        .iter()
        .filter_map(|&l| profile.locations.get(l))
    {
        write!(out, " {:#x}", location.address)?;
    }
    writeln!(out)
}

/// One `#\t<pc>\t<function>\t<file>:<line>` line per frame, inlined frames expanded,
/// innermost first, as Go's `printStackRecord`.
fn write_frames(profile: &Profile, locations: &[usize], out: &mut dyn Write) -> io::Result<()> {
    for location in locations.iter().filter_map(|&l| profile.locations.get(l)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(
        profile: &Profile,
        write: impl Fn(&Profile, &mut dyn Write) -> io::Result<()>,
    ) -> String {
        let mut out = Vec::new();
        write(profile, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Found by the `encode` fuzz target (fuzz/README.md): the header's total
    /// overflowed (a panic with overflow checks) on two large counts.
    #[test]
    fn count_text_total_saturates() {
        let rows = [
            (&[][..], vec![8_314_771_153_002_795_666]),
            (&[0x1000][..], vec![8_791_026_472_627_208_034]),
        ];
        let profile = crate::profile::build::with_one_type(&rows, "goroutine", "count");
        let text = text(&profile, |p, out| write_count(p, "goroutine", out));
        assert!(
            text.starts_with(&format!("goroutine profile: total {}\n", i64::MAX)),
            "{text}"
        );
    }

    /// A labelled count record has Go's `# labels:` line between the addresses and
    /// the frames.
    #[test]
    fn count_records_print_their_labels() {
        let rows = [(&[0x1001][..], vec![2])];
        let mut profile = crate::profile::build::with_one_type(&rows, "goroutine", "count");
        profile.locations[0].lines = Default::default();
        profile.samples[0].labels = vec![("route", "/checkout".into()), ("tier", "gold".into())];
        let text = text(&profile, |p, out| write_count(p, "goroutine", out));
        assert_eq!(
            text,
            "goroutine profile: total 2\n2 @ 0x1000\n\
             # labels: {\"route\":\"/checkout\", \"tier\":\"gold\"}\n#\t0x1000\n\n"
        );
    }

    /// A record is its values, ` @`, one address per location, its frame lines and
    /// a blank line; an unresolved location's frame line is its address alone.
    #[test]
    fn records_list_addresses_then_frames() {
        let rows = [(&[0x1001, 0x2001][..], vec![3, 700])];
        let mut profile = crate::profile::build::with_one_type(&rows, "delay", "nanoseconds");
        for location in &mut profile.locations {
            location.lines = Default::default();
        }
        let text = text(&profile, |p, out| {
            write_contention(p, "mutex", Some(5), out)
        });
        assert_eq!(
            text,
            "--- mutex:\ncycles/second=1000000000\nsampling period=5\n\
             700 3 @ 0x1000 0x2000\n#\t0x1000\n#\t0x2000\n\n"
        );
    }
}
