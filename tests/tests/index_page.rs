//! The `/debug/pprof/` index page: the rows Go's index has.

use profiled::Config;
use profiled_tests::{get, serve};

/// Go's index lists the CPU profile among the profiles, with Go's description.
#[test]
fn the_index_has_a_profile_row_as_go_has() {
    let (_profiler, addr) = serve(Config::default());
    let index = get(addr, "/debug/pprof/");
    assert_eq!(index.status, 200);
    let text = index.text();
    assert!(
        text.contains("<tr><td>0</td><td><a href='profile'>profile</a></td>"),
        "{text}"
    );
    assert!(text.contains(
        "<div class=profile-name>profile: </div> CPU profile. You can specify the duration \
         in the seconds GET parameter. After you get the profile file, use the go tool pprof \
         command to investigate the profile."
    ));
    // Sorted by name, as Go sorts: between mutex and threadcreate.
    let at = |name: &str| text.find(&format!(">{name}</a>")).unwrap();
    assert!(at("mutex") < at("profile") && at("profile") < at("threadcreate"));
}
