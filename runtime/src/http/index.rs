//! The `/debug/pprof/` index page, shaped like Go's.

use crate::named;

/// The CPU profile's row, as Go's index lists it among the named profiles (with no
/// count, and Go's description).
const CPU_PROFILE: Entry = Entry {
    name: "profile",
    text: false,
    count: 0,
    description: "CPU profile. You can specify the duration in the seconds GET parameter. \
        After you get the profile file, use the go tool pprof command to investigate the profile.",
};

/// One row of the table and its description.
struct Entry {
    name: &'static str,
    /// Linked as `name?debug=1` (Go's legacy text) rather than `name`.
    text: bool,
    count: usize,
    description: &'static str,
}

/// Every profile the index lists, sorted by name as Go sorts them.
fn entries() -> Vec<Entry> {
    let mut entries: Vec<Entry> = named::profiles()
        .into_iter()
        .map(|profile| Entry {
            name: profile.name(),
            text: true,
            count: profile.count(),
            description: profile.description(),
        })
        .collect();
    entries.push(CPU_PROFILE);
    entries.sort_by_key(|entry| entry.name);
    entries
}

/// Renders the index with each profile's current count and a link to it.
pub(crate) fn render() -> String {
    let mut rows = String::new();
    let mut descriptions = String::new();
    for entry in entries() {
        let name = entry.name;
        let href = if entry.text {
            format!("{name}?debug=1")
        } else {
            name.to_owned()
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td><a href='{href}'>{name}</a></td>\
             <td><a href='{name}?format=svg'>flame graph</a></td>\
             <td><a href='{name}?format=folded'>folded</a></td></tr>\n",
            entry.count
        ));
        descriptions.push_str(&format!(
            "<li><div class=profile-name>{name}: </div> {}</li>\n",
            escape(entry.description)
        ));
    }
    format!(
        "<html>
<head>
<title>/debug/pprof/</title>
<style>
.profile-name{{
	display:inline-block;
	width:7.5rem;
}}
</style>
</head>
<body>
/debug/pprof/
<br>
<p>Set debug=1 as a query parameter to export in legacy text format;
format=svg for a flame graph, format=folded for folded stacks</p>
<br>
Types of profiles available:
<table>
<thead><td>Count</td><td>Profile</td></thead>
{rows}</table>
<br>
<p>Also: <a href='trace?seconds=5'>trace</a> (5 s of Chrome trace JSON),
<a href='../stats'>/debug/stats</a>, <a href='../../metrics'>/metrics</a>,
<a href='cmdline'>cmdline</a>, <a href='symbol'>symbol</a>,
<a href='goroutine?debug=2'>full goroutine stack dump</a></p>
<p>Continuous profiling (Grafana Alloy, Parca, Pyroscope): godeltaprof's deltas since
the previous call, for one scraper per process (not linked: a call resets them):
<code>delta_heap</code>, <code>delta_mutex</code>, <code>delta_block</code>;
<a href='../fgprof?seconds=5'>/debug/fgprof</a> (wall clock, when enabled); pushing
with PROFILED_PUSH_URL. Scrape configurations: the README's Continuous profiling
section.</p>
<p>
Profile Descriptions:
<ul>
{descriptions}</ul>
</p>
</body>
</html>
"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_cpu_profile_as_go_does() {
        let page = render();
        assert!(
            page.contains(
                "<tr><td>0</td><td><a href='profile'>profile</a></td>\
                 <td><a href='profile?format=svg'>flame graph</a></td>"
            ),
            "{page}"
        );
        assert!(page.contains(
            "<div class=profile-name>profile: </div> CPU profile. You can specify the duration"
        ));
        let names: Vec<&str> = entries().iter().map(|entry| entry.name).collect();
        assert_eq!(
            names,
            [
                "allocs",
                "block",
                "goroutine",
                "goroutineleak",
                "heap",
                "mutex",
                "profile",
                "threadcreate"
            ]
        );
    }

    #[test]
    fn escapes_html() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
