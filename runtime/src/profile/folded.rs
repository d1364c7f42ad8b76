//! Encoders beyond Go: folded stacks (`?format=folded`, one `root;...;leaf value`
//! line per sample, as flamegraph.pl and inferno read them) and flame graph SVG
//! (`?format=svg`, drawn by inferno).

use std::io::{self, Write};

use super::Profile;

/// The index of the value folded output and flame graphs show: the profile's
/// default sample type, else the last one (as `go tool pprof` picks).
fn value_index(profile: &Profile) -> usize {
    profile
        .default_sample_type
        .and_then(|ty| profile.sample_types.iter().position(|vt| vt.ty == ty))
        .unwrap_or(profile.sample_types.len().saturating_sub(1))
}

/// One folded line per sample with a non-zero value, root first, inlined frames
/// expanded (caller before callee). Frames without symbols show their address.
pub(crate) fn lines(profile: &Profile) -> Vec<String> {
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
            Some(format!("{} {value}", frames.join(";")))
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
    let lines = lines(profile);
    let unit = profile
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
