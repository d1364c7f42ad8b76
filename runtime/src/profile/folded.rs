//! Encoders beyond Go: folded stacks (`?format=folded`, one `root;...;leaf value`
//! line per sample, as flamegraph.pl and inferno read them) and flame graph SVG
//! (`?format=svg`, drawn by inferno).

use std::io::{self, Write};

use super::Profile;

/// The index of the value folded output and flame graphs show: the profile's
/// default sample type, else the last one (as `go tool pprof` picks).
fn value_index(profile: &Profile) -> usize {
    profile
        .header
        .default_sample_type
        .and_then(|ty| {
            profile
                .header
                .sample_types
                .iter()
                .position(|vt| vt.ty == ty)
        })
        .unwrap_or(profile.header.sample_types.len().saturating_sub(1))
}

/// One folded line per sample with a non-zero value, root first, inlined frames
/// expanded (caller before callee). Frames without symbols show their address.
pub(crate) fn lines(profile: &Profile) -> Vec<String> {
    stacks(profile)
        .into_iter()
        .map(|(stack, value)| format!("{stack} {value}"))
        .collect()
}

/// [`lines`] as (`root;...;leaf`, positive value) pairs.
fn stacks(profile: &Profile) -> Vec<(String, i64)> {
    let index = value_index(profile);
    profile
        .samples
        .iter()
        .filter_map(|sample| {
            let value = *sample.values.get(index)?;
            if value <= 0 {
                return None;
            }
            let mut frames: Vec<String> = Vec::new();
            for &location in sample.locations.iter().rev() {
                let location = &profile.locations[location];
                if location.lines.is_empty() {
                    frames.push(format!("{:#x}", location.address));
                }
                for line in location.lines.iter().rev() {
                    // ';' separates frames and ' ' ends the stack in folded text.
                    frames.push(line.function.replace(';', ":").replace(' ', "\u{a0}"));
                }
            }
            if frames.is_empty() {
                frames.push("[unknown]".into());
            }
            Some((frames.join(";"), value))
        })
        .collect()
}

/// Writes folded stacks.
pub(crate) fn write(profile: &Profile, out: &mut dyn Write) -> io::Result<()> {
    for line in lines(profile) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Writes a flame graph of the profile titled `title`.
pub(crate) fn write_svg(profile: &Profile, title: &str, out: &mut dyn Write) -> io::Result<()> {
    // inferno adds the values up in a u64: when their total does not fit, scale them
    // all down by the same divisor (the graph is proportional, so it looks the same).
    let stacks = stacks(profile);
    let total: u128 = stacks.iter().map(|&(_, value)| value as u128).sum();
    let divisor = total / u128::from(u64::MAX) + 1;
    let lines: Vec<String> = stacks
        .into_iter()
        .filter_map(|(stack, value)| {
            let value = value as u128 / divisor;
            (value > 0).then(|| format!("{stack} {value}"))
        })
        .collect();
    let unit = profile
        .header
        .sample_types
        .get(value_index(profile))
        .map_or("samples", |vt| vt.unit);
    if lines.is_empty() {
        return write_empty_svg(title, out);
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = unit.to_owned();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)
        .map_err(io::Error::other)
}

/// inferno refuses empty input; an empty profile still deserves a page that says so.
fn write_empty_svg(title: &str, out: &mut dyn Write) -> io::Result<()> {
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    write!(
        out,
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"1200\" height=\"80\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <text x=\"600\" y=\"30\" text-anchor=\"middle\" font-size=\"17\">{title}</text>\n\
         <text x=\"600\" y=\"60\" text-anchor=\"middle\" font-size=\"14\">No samples yet</text>\n\
         </svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `encode` fuzz target (fuzz/README.md): inferno sums the folded
    /// values in a u64, which overflowed (a panic with overflow checks) for samples
    /// whose values add up past `u64::MAX`.
    #[test]
    fn flame_graph_of_huge_values_scales_them() {
        let rows = [
            (&[0x1000][..], vec![i64::MAX]),
            (&[0x2000][..], vec![i64::MAX]),
            (&[0x3000][..], vec![i64::MAX - 1]),
            (&[0x4000][..], vec![1]),
        ];
        let profile = crate::profile::build::with_one_type(&rows, "delay", "nanoseconds");
        let mut svg = Vec::new();
        write_svg(&profile, "huge", &mut svg).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("0x2fff"), "{svg}");
        // Folded text keeps the real values.
        assert!(lines(&profile).contains(&format!("0x1fff {}", i64::MAX)));
    }
}
