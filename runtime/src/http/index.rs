//! The `/debug/pprof/` index page, shaped like Go's.

use crate::profiles;

/// Renders the index with each profile's current count and a link to it.
pub(crate) fn render() -> String {
    let mut rows = String::new();
    let mut descriptions = String::new();
    for profile in profiles::profiles() {
        let name = profile.name();
        rows.push_str(&format!(
            "<tr><td>{}</td><td><a href='{name}?debug=1'>{name}</a></td>\
             <td><a href='{name}?format=svg'>flame graph</a></td>\
             <td><a href='{name}?format=folded'>folded</a></td></tr>\n",
            profile.count()
        ));
        descriptions.push_str(&format!(
            "<li><div class=profile-name>{name}: </div> {}</li>\n",
            escape(profile.description())
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
