//! The README's demos: `cargo run --release --example cpu_hotspot` serves a CPU
//! profile whose top entry is `checksum_slowly`; `--example memory_leak` serves a
//! heap profile whose in-use space is mostly `remember_session`.

use std::time::Duration;

use profiled_tests::{decode, get, go_tool_pprof, start_example, tool_binary, total, total_for};

#[test]
fn cpu_hotspot_example_shows_checksum_slowly_on_top() {
    let Some(example) = start_example("cpu_hotspot") else {
        return;
    };
    let addr = example.addr;
    let profile = decode(&get(addr, "/debug/pprof/profile?seconds=2").body);
    let hot = total_for(&profile, "checksum_slowly", 1);
    assert!(
        hot * 2 > total(&profile, 1),
        "checksum_slowly has {hot} of {} ns",
        total(&profile, 1)
    );
    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/profile?seconds=2");
        let top = go_tool_pprof(&go, &["-top", &url]);
        let first_entry = profiled_tests::pprof_top_entry(&top.stdout);
        assert!(first_entry.contains("checksum_slowly"), "{}", top.stdout);
    }
}

#[test]
fn memory_leak_example_shows_remember_session_in_use() {
    let Some(example) = start_example("memory_leak") else {
        return;
    };
    let addr = example.addr;
    std::thread::sleep(Duration::from_secs(3));
    let heap = decode(&get(addr, "/debug/pprof/heap").body);
    let leak = total_for(&heap, "remember_session", 3);
    assert!(
        leak * 2 > total(&heap, 3),
        "remember_session has {leak} of {} in-use bytes",
        total(&heap, 3)
    );
    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    let churn = total_for(&allocs, "handle_request", 1);
    assert!(
        churn > total_for(&allocs, "remember_session", 1),
        "handle_request should allocate most: {churn}"
    );
    let freed = get(addr, "/debug/freeOSMemory");
    assert_eq!(freed.status, 200);
    assert!(
        freed.text().contains("\"hooks_run\": 1"),
        "{}",
        freed.text()
    );
}
