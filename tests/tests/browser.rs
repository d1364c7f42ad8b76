//! A person without Go looks at profiles in a browser: headless Chromium renders the
//! /debug/pprof/ index and a flame graph SVG that names the contended function.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled_mutex};
use profiled_tests::{contend_once, serve};

static SHELF: ProfiledMutex<u32> = profiled_mutex!("shelf", 0);

#[inline(never)]
fn browser_visible_holder(ready: &Barrier) {
    let mut shelf = SHELF.lock();
    ready.wait();
    thread::sleep(Duration::from_millis(50));
    *shelf += 1;
}

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed but CI is set: .ci/run must install it"
        );
        eprintln!("skipping browser checks: chromium not found (apt-get install chromium)");
    }
    found
}

/// Runs headless Chromium on `url` with `mode` (e.g. `--dump-dom`), killed after 60 s.
fn headless(chromium: &Path, profile_dir: &Path, mode: &str, url: &str) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,800",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg(mode)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish on {url}");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn chromium_renders_the_index_and_a_flame_graph() {
    let Some(chromium) = chromium() else {
        return;
    };
    let (_profiler, addr) = serve(Config::default());
    contend_once(|| *SHELF.lock() += 1, browser_visible_holder);

    let dir = std::env::temp_dir().join(format!("profiled-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let index = headless(
        &chromium,
        &dir,
        "--dump-dom",
        &format!("http://{addr}/debug/pprof/"),
    );
    assert!(index.contains("Types of profiles available"), "{index}");
    assert!(index.contains("href=\"mutex?format=svg\""), "{index}");
    assert!(index.contains("flame graph"), "{index}");

    let svg = headless(
        &chromium,
        &dir,
        "--dump-dom",
        &format!("http://{addr}/debug/pprof/mutex?format=svg"),
    );
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("browser_visible_holder"), "{svg}");

    // A screenshot of the rendered flame graph, for people debugging this test.
    let png = dir.join("flamegraph.png");
    headless(
        &chromium,
        &dir,
        &format!("--screenshot={}", png.display()),
        &format!("http://{addr}/debug/pprof/mutex?format=svg"),
    );
    let bytes = std::fs::read(&png).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
        "{} bytes",
        bytes.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
