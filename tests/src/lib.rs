//! Shared helpers for profiled's integration tests: a minimal HTTP/1.1 client for
//! loopback, a profile decoder, queries over decoded profiles, and `go tool pprof`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use flate2::read::GzDecoder;
use pprof::protos::{Message, Profile};

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` on loopback.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// `GET path` every 50 ms until `done` says its body is what is wanted, for at most
/// 10 s; returns the last body either way.
pub fn get_until(addr: SocketAddr, path: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = get(addr, path).text();
        if done(&body) || std::time::Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Sends `GET path` and returns the open connection without reading the answer:
/// drop it to hang up.
pub fn send(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect to profiler");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    stream
}

/// Sends raw request bytes and reads the response until the server closes.
pub fn request(addr: SocketAddr, raw: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect to profiler");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may answer (e.g. 431) and close before reading everything we send.
    let _ = stream.write_all(raw);
    let mut data = Vec::new();
    let _ = stream.read_to_end(&mut data);
    parse_response(&data)
}

fn parse_response(data: &[u8]) -> HttpResponse {
    let split = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(data)));
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = data[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// Gunzips and decodes a `profile.proto` body.
pub fn decode(body: &[u8]) -> Profile {
    let mut raw = Vec::new();
    GzDecoder::new(body)
        .read_to_end(&mut raw)
        .expect("profile body is gzip");
    Profile::decode(raw.as_slice()).expect("profile body is profile.proto")
}

/// Function names of a sample's stack, innermost first, inlined frames expanded.
pub fn stack_names(profile: &Profile, sample: &pprof::protos::Sample) -> Vec<String> {
    let mut names = Vec::new();
    for id in &sample.location_id {
        let location = profile
            .location
            .iter()
            .find(|l| l.id == *id)
            .expect("sample refers to a location that exists");
        for line in &location.line {
            let function = profile
                .function
                .iter()
                .find(|f| f.id == line.function_id)
                .expect("line refers to a function that exists");
            names.push(profile.string_table[function.name as usize].clone());
        }
    }
    names
}

/// The string of a value type, e.g. ("delay", "nanoseconds").
pub fn sample_types(profile: &Profile) -> Vec<(String, String)> {
    profile
        .sample_type
        .iter()
        .map(|vt| {
            (
                profile.string_table[vt.ty as usize].clone(),
                profile.string_table[vt.unit as usize].clone(),
            )
        })
        .collect()
}

/// Sum of value `index` over samples whose stack has a function whose name ends
/// with `::<function>` (or equals it).
pub fn total_for(profile: &Profile, function: &str, index: usize) -> i64 {
    let suffix = format!("::{function}");
    profile
        .sample
        .iter()
        .filter(|s| {
            stack_names(profile, s)
                .iter()
                .any(|n| n == function || n.ends_with(&suffix))
        })
        .map(|s| s.value[index])
        .sum()
}

/// Sum of value `index` over all samples.
pub fn total(profile: &Profile, index: usize) -> i64 {
    profile.sample.iter().map(|s| s.value[index]).sum()
}

/// The tool `name` on `PATH` (Debian package `package`), or `None` to skip its
/// checks. When `CI` is set, a missing tool fails instead.
pub fn tool_binary(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is not installed but CI is set: .ci/run must install {package}"
        );
        eprintln!("skipping {name} checks: `{name}` not found (apt-get install {package})");
    }
    found
}

/// Starts the profiler with `config` on an ephemeral loopback port (its
/// `listen_addr` is replaced); returns it, to keep it serving, and its address.
pub fn serve(config: profiled::Config) -> (profiled::Profiler, SocketAddr) {
    let profiler = profiled::Profiler::start(profiled::Config {
        listen_addr: "127.0.0.1:0".into(),
        ..config
    })
    .expect("start the profiler on 127.0.0.1:0");
    let addr = profiler
        .local_addr()
        .expect("a started profiler has an address");
    (profiler, addr)
}

/// Runs `promtool check metrics` on `text`; returns (success, its output).
pub fn promtool_check_metrics(promtool: &PathBuf, text: &str) -> (bool, String) {
    use std::process::Stdio;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("write metrics to promtool");
    let output = child.wait_with_output().expect("wait for promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

/// Output of one `go tool pprof` run.
#[derive(Debug)]
pub struct PprofRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `go tool pprof <args>` with a private home so nothing is cached or shared.
pub fn go_tool_pprof(go: &PathBuf, args: &[&str]) -> PprofRun {
    let home = std::env::temp_dir().join(format!("profiled-pprof-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(go)
        .arg("tool")
        .arg("pprof")
        .args(args)
        .env("HOME", &home)
        .env("PPROF_TMPDIR", &home)
        .env("GOCACHE", home.join("gocache"))
        .output()
        .expect("run go tool pprof");
    PprofRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first entry of `go tool pprof -top` output: the line after the `flat` header.
pub fn pprof_top_entry(stdout: &str) -> &str {
    stdout
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap_or_default()
}

/// The time in `go tool pprof -top`'s "Showing nodes accounting for X, ..." line, in
/// milliseconds. pprof prints it with two decimals and drops a trailing `.00`
/// (`3s`, `2.90s`, `990ms`), so tests compare numbers, not strings.
pub fn pprof_shown_ms(stdout: &str) -> Option<f64> {
    let line = stdout
        .lines()
        .find(|line| line.contains("accounting for") && line.contains("total"))?;
    let shown = line
        .split("accounting for ")
        .nth(1)?
        .split(',')
        .next()?
        .trim();
    let split = shown.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = shown.split_at(split);
    let scale = match unit {
        "ns" => 1e-6,
        "us" | "\u{b5}s" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "mins" => 60e3,
        "hrs" => 3600e3,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// Lines of pprof's stderr that are not the normal "Fetching profile ..." chatter.
pub fn pprof_complaints(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            let line = line.trim();
            !line.is_empty()
                && !line.starts_with("Fetching profile over HTTP from")
                && !line.starts_with("Saved profile in")
        })
        .collect()
}

/// The resident set size of process `pid` (`"self"` for this one) in KiB, from
/// `/proc/PID/status`.
pub fn rss_kib(pid: &str) -> u64 {
    try_rss_kib(pid).expect("VmRSS in /proc/PID/status")
}

/// [`rss_kib`], or `None` when the process is gone (or a zombie, without VmRSS).
pub fn try_rss_kib(pid: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A running example process, killed when dropped.
pub struct RunningExample {
    child: std::process::Child,
    /// The address its profiler serves on.
    pub addr: SocketAddr,
}

impl RunningExample {
    /// The process id, e.g. to read `/proc/PID/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended; `None` while it runs.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for RunningExample {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example `name` that `cargo test --workspace` built next to this test
/// binary, on an ephemeral loopback port, and reads its address from the first
/// line it prints. `None` (skip) when the example was not built and CI is unset.
pub fn start_example(name: &str) -> Option<RunningExample> {
    start_example_with_env(name, &[])
}

/// [`start_example`] with extra environment variables.
pub fn start_example_with_env(name: &str, env: &[(&str, &str)]) -> Option<RunningExample> {
    start_example_for(name, 60, env)
}

/// [`start_example_with_env`], stopping by itself after `seconds`.
pub fn start_example_for(name: &str, seconds: u64, env: &[(&str, &str)]) -> Option<RunningExample> {
    use std::io::BufRead;
    let exe = std::env::current_exe().ok()?;
    let binary = exe.parent()?.parent()?.join("examples").join(name);
    if !binary.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: run the whole workspace's tests (cargo test --workspace)",
            binary.display()
        );
        eprintln!("skipping: {} not built", binary.display());
        return None;
    }
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--seconds", &seconds.to_string()])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    stdout
        .read_line(&mut first)
        .expect("read the example's first line");
    // Keep draining: an example that prints into a closed pipe would die.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    Some(RunningExample { child, addr })
}

/// CPU time the thread of `handle` has used, in nanoseconds, from its own CPU-time
/// clock (`pthread_getcpuclockid` + `clock_gettime`): the truth CPU profiles are
/// checked against, whatever the load of the machine.
pub fn thread_cpu_ns<T>(handle: &std::thread::JoinHandle<T>) -> u64 {
    use std::os::unix::thread::JoinHandleExt;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the thread is alive (not joined), so its pthread_t is valid.
    let rc = unsafe { libc::pthread_getcpuclockid(handle.as_pthread_t(), &mut clock) };
    assert_eq!(rc, 0, "pthread_getcpuclockid");
    clock_ns(clock)
}

/// CPU time of the whole process (`CLOCK_PROCESS_CPUTIME_ID`), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut now) }, 0);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Sum of value `index` over samples whose label `key` is `value`.
pub fn total_for_label(profile: &Profile, key: &str, value: &str, index: usize) -> i64 {
    profile
        .sample
        .iter()
        .filter(|s| {
            s.label.iter().any(|l| {
                profile.string_table[l.key as usize] == key
                    && profile.string_table[l.str as usize] == value
            })
        })
        .map(|s| s.value[index])
        .sum()
}

/// `iterations` xorshift steps from `seed`: CPU work the optimizer cannot drop.
/// Always inlined, so the samples land in the caller (a test's named busy function).
#[inline(always)]
pub fn xorshift(seed: u64, iterations: u64) -> u64 {
    let mut x = seed;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// Burns CPU until `stop` is set: rounds of 10,000 xorshift steps between checks.
/// Always inlined, so the samples land in the caller: each CPU test's own named
/// `#[inline(never)]` busy function, which its assertions look for.
#[inline(always)]
pub fn spin_until(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        x = xorshift(x, 10_000);
    }
    x
}

/// A thread running `busy` (a test's named busy function) until the flag returned
/// with it is set.
pub fn spawn_busy(busy: fn(&AtomicBool) -> u64) -> (Arc<AtomicBool>, JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || busy(&stop))
    };
    (stop, thread)
}

/// One contention: `hold` takes a lock and passes the barrier it is given while
/// holding it; a second thread, once through the barrier, waits 2 ms (so `hold` is
/// surely holding) and runs `acquire`, which waits for that lock. Returns when both
/// are done.
pub fn contend_once(acquire: impl FnOnce() + Send + 'static, hold: impl FnOnce(&Barrier)) {
    let ready = Arc::new(Barrier::new(2));
    let waiter = {
        let ready = Arc::clone(&ready);
        thread::spawn(move || {
            ready.wait();
            thread::sleep(Duration::from_millis(2));
            acquire();
        })
    };
    hold(&ready);
    waiter.join().unwrap();
}

/// Long requests that each hold the server's one heavy-request permit (or its one
/// CPU profiler) for `seconds`, with the probe refused while one holds it and the
/// status it is refused with: `/debug/pprof/{kind}?seconds=N` for each of `kinds`
/// (probe: a delta mutex profile, 429), then a CPU profile (probe: another CPU
/// profile; one at a time, as Go: the second gets a 500).
pub fn long_requests(kinds: &[&str], seconds: u32) -> Vec<(String, &'static str, u16)> {
    let delta = "/debug/pprof/mutex?seconds=1";
    let mut requests: Vec<_> = kinds
        .iter()
        .map(|kind| (format!("/debug/pprof/{kind}?seconds={seconds}"), delta, 429))
        .collect();
    requests.push((
        format!("/debug/pprof/profile?seconds={seconds}"),
        "/debug/pprof/profile?seconds=1",
        500,
    ));
    requests
}

#[cfg(test)]
mod tests {
    use super::pprof_shown_ms;

    #[test]
    fn pprof_shown_ms_reads_every_way_pprof_prints_a_time() {
        let line =
            |shown: &str| format!("Showing nodes accounting for {shown}, 66.82% of 4.49s total");
        assert_eq!(pprof_shown_ms(&line("3s")), Some(3000.0));
        assert_eq!(pprof_shown_ms(&line("2.90s")), Some(2900.0));
        assert_eq!(pprof_shown_ms(&line("990ms")), Some(990.0));
        assert_eq!(pprof_shown_ms(&line("1.50mins")), Some(90_000.0));
        assert_eq!(pprof_shown_ms(&line("3 parsecs")), None);
        assert_eq!(pprof_shown_ms("no such line"), None);
    }
}
