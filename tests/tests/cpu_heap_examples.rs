//! The README's demos: `cargo run --release --example cpu_hotspot` serves a CPU
//! profile whose top entry is `checksum_slowly`; `--example memory_leak` serves a
//! heap profile whose in-use space is mostly `remember_session`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use profiled_tests::{decode, get, go_binary, go_tool_pprof, total, total_for};

/// An example binary `cargo test --workspace` built next to this test's directory.
fn example_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.parent()?.join("examples").join(name);
    if binary.is_file() {
        return Some(binary);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: run the whole workspace's tests (cargo test --workspace)",
        binary.display()
    );
    eprintln!("skipping: {} not built", binary.display());
    None
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an example on a free port; returns it and its address.
fn start(name: &str) -> Option<(Running, SocketAddr)> {
    let binary = example_binary(name)?;
    let mut child = Running(
        Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--seconds", "60"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the example"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // Keep reading: the example prints more, and a closed pipe would kill it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    Some((child, addr))
}

#[test]
fn cpu_hotspot_example_shows_checksum_slowly_on_top() {
    let Some((_child, addr)) = start("cpu_hotspot") else {
        return;
    };
    let profile = decode(&get(addr, "/debug/pprof/profile?seconds=2").body);
    let hot = total_for(&profile, "checksum_slowly", 1);
    assert!(
        hot * 2 > total(&profile, 1),
        "checksum_slowly has {hot} of {} ns",
        total(&profile, 1)
    );
    if let Some(go) = go_binary() {
        let url = format!("http://{addr}/debug/pprof/profile?seconds=2");
        let top = go_tool_pprof(&go, &["-top", &url]);
        let first_entry = top
            .stdout
            .lines()
            .skip_while(|line| !line.trim_start().starts_with("flat"))
            .nth(1)
            .unwrap_or_default();
        assert!(first_entry.contains("checksum_slowly"), "{}", top.stdout);
    }
}

#[test]
fn memory_leak_example_shows_remember_session_in_use() {
    let Some((_child, addr)) = start("memory_leak") else {
        return;
    };
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
