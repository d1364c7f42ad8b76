//! The newcomer's first hour, against the examples themselves:
//! `PROFILED_ENABLED=false` runs an example without a profiler (it said "the default
//! config is enabled" and panicked), `PROFILED_LISTEN_ADDR` is honoured when
//! `--addr` is not given, and the production example never prints its token
//! (random, in a 0600 file) and keeps `PROFILED_MUTEX_FRACTION`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use profiled_tests::{HttpResponse, request};

/// The example binary `cargo test --workspace` built; `None` (skip) without it
/// unless CI is set.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.parent()?.join("examples").join(name);
    if binary.is_file() {
        return Some(binary);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing",
        binary.display()
    );
    eprintln!("skipping: {} not built", binary.display());
    None
}

fn get_with(addr: &str, path: &str, token: Option<&str>) -> HttpResponse {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    request(
        addr.parse().unwrap(),
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

#[test]
fn a_disabled_profiler_runs_the_example_without_serving_and_exits_0() {
    let Some(contention) = example("contention") else {
        return;
    };
    let started = Instant::now();
    let output = Command::new(contention)
        .args(["--seconds", "1"])
        .env("PROFILED_ENABLED", "false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{:?}: {stdout} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("profiling is disabled (PROFILED_ENABLED=false)"),
        "{stdout}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Starts `binary` with `env` and no `--addr`; returns it and its first line.
fn start(
    binary: PathBuf,
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStdout>,
) {
    let mut child = Command::new(binary)
        .args(["--seconds", "30"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    (child, first, stdout)
}

#[test]
fn profiled_listen_addr_is_honoured_without_addr() {
    let Some(contention) = example("contention") else {
        return;
    };
    let (mut child, first, _) = start(contention, &[("PROFILED_LISTEN_ADDR", "127.0.0.1:0")]);
    let _ = child.kill();
    let _ = child.wait();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    let addr: std::net::SocketAddr = addr.parse().unwrap_or_else(|_| panic!("{first}"));
    assert_ne!(
        addr.port(),
        6060,
        "--addr's default overrode PROFILED_LISTEN_ADDR: {first}"
    );
}

#[test]
fn the_production_example_never_prints_its_token_and_keeps_the_given_rates() {
    let Some(production) = example("production") else {
        return;
    };
    let (mut child, first, mut stdout) = start(
        production,
        &[
            ("PROFILED_LISTEN_ADDR", "127.0.0.1:0"),
            ("PROFILED_MUTEX_FRACTION", "1"),
        ],
    );
    let mut printed = first.clone();
    for _ in 0..8 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        printed.push_str(&line);
    }
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let file = printed
        .split("$(cat ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no token file in {printed}"));
    let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{file}");
    let token = std::fs::read_to_string(file).unwrap();
    assert_eq!(token.len(), 32, "128 bits in hex: {token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !printed.contains(&token),
        "the token was printed: {printed}"
    );
    assert!(!token.starts_with("demo-"));
    assert_eq!(get_with(&addr, "/admin/debug/stats", None).status, 401);
    let stats = get_with(&addr, "/admin/debug/stats", Some(&token));
    assert_eq!(stats.status, 200, "{}", stats.text());
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).unwrap();
    assert_eq!(
        stats["settings"]["mutex_fraction"], 1,
        "PROFILED_MUTEX_FRACTION was overridden"
    );
    // Without the variable, the example's own production default.
    assert_eq!(stats["settings"]["block_rate"], 100_000);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(file);
}
