//! The README's demo: `cargo run --release --example contention` serves profiles in
//! which `go tool pprof -top .../mutex` puts `audit_ledger` first.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use profiled_tests::{decode, get, go_binary, go_tool_pprof, total, total_for};

/// The example binary `cargo test --workspace` built next to this test's directory.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let binary = profile_dir.join("examples").join("contention");
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

#[test]
fn contention_example_shows_audit_ledger_as_the_culprit() {
    let Some(binary) = example_binary() else {
        return;
    };
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
    let addr: SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));

    std::thread::sleep(Duration::from_secs(3));

    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let audit = total_for(&mutex, "audit_ledger", 1);
    assert!(
        audit * 2 > total(&mutex, 1),
        "audit_ledger holds {audit} of {} ns",
        total(&mutex, 1)
    );
    let block = decode(&get(addr, "/debug/pprof/block").body);
    for waiter in ["transfer", "lookup_price", "next_job"] {
        assert!(total_for(&block, waiter, 1) > 0, "{waiter} never waited");
    }
    let stats = profiled_tests::get(addr, "/debug/pprof/");
    assert!(stats.text().contains("mutex"));

    if let Some(go) = go_binary() {
        let url = format!("http://{addr}/debug/pprof/mutex");
        let top = go_tool_pprof(&go, &["-top", &url]);
        let first_entry = top
            .stdout
            .lines()
            .skip_while(|line| !line.trim_start().starts_with("flat"))
            .nth(1)
            .unwrap_or_default();
        assert!(first_entry.contains("audit_ledger"), "{}", top.stdout);
    }
}
