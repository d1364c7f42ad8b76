//! Pushing to Pyroscope: a loopback receiver that decodes `PushRequest` by its field
//! numbers alone (not with profiled's own types) gets CPU, memory, block, mutex and
//! goroutine series with `service_name` and the static labels, every 3 s; each
//! `raw_profile` is a profile `go tool pprof -raw` reads without a warning and that
//! names this test's functions. While the receiver answers 503 the pusher backs off
//! (a handful of attempts in 10 s, no busy retrying) and it resumes afterwards.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use profiled::push::{PushAuth, PushConfig};
use profiled::{Config, ProfiledAllocator, ProfiledMutex, Profiler, profiled_mutex};
use profiled_tests::{decode, go_tool_pprof, pprof_complaints, stack_names, tool_binary};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

static LEDGER: ProfiledMutex<Vec<u64>> = profiled_mutex!("push-ledger", Vec::new());

/// One decoded series: its labels, and its raw profiles.
type Series = (Vec<(String, String)>, Vec<Vec<u8>>);

/// One request the receiver took.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    status: u16,
    headers: Vec<(String, String)>,
    /// (labels, raw profiles) per series.
    series: Vec<Series>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn series(&self, name: &str) -> Option<&Series> {
        self.series
            .iter()
            .find(|(labels, _)| labels.iter().any(|(k, v)| k == "__name__" && v == name))
    }
}

// --- a protobuf reader for exactly PushRequest's field numbers ---

fn varint(buf: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().expect("truncated varint");
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint too long")
}

/// The length-delimited fields of a message, as (field number, bytes).
fn fields(mut buf: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf);
        assert_eq!(key & 7, 2, "PushRequest has only length-delimited fields");
        let len = varint(&mut buf) as usize;
        let (value, rest) = buf.split_at(len);
        out.push((key >> 3, value));
        buf = rest;
    }
    out
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 string field")
}

/// `PushRequest { repeated RawProfileSeries series = 1; }`, `RawProfileSeries {
/// repeated LabelPair labels = 1; repeated RawSample samples = 2; }`, `RawSample {
/// bytes raw_profile = 1; string ID = 2; }`, `LabelPair { string name = 1; string
/// value = 2; }`.
fn decode_push(body: &[u8]) -> Vec<Series> {
    fields(body)
        .into_iter()
        .map(|(number, series)| {
            assert_eq!(number, 1, "PushRequest.series is field 1");
            let mut labels = Vec::new();
            let mut profiles = Vec::new();
            for (number, value) in fields(series) {
                match number {
                    1 => {
                        let pair = fields(value);
                        let get = |n| pair.iter().find(|(f, _)| *f == n).map(|(_, v)| utf8(v));
                        labels.push((get(1).expect("LabelPair.name"), get(2).unwrap_or_default()));
                    }
                    2 => {
                        let sample = fields(value);
                        let id = sample.iter().find(|(f, _)| *f == 2).expect("RawSample.ID");
                        assert_eq!(utf8(id.1).len(), 36, "a UUID");
                        let raw = sample.iter().find(|(f, _)| *f == 1).expect("raw_profile");
                        profiles.push(raw.1.to_vec());
                    }
                    other => panic!("unexpected RawProfileSeries field {other}"),
                }
            }
            (labels, profiles)
        })
        .collect()
}

// --- the receiver: HTTP/1.1 on loopback, one request per connection ---

struct Receiver {
    addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (log, fail) = (Arc::clone(&received), Arc::clone(&failing));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, fail) = (Arc::clone(&log), Arc::clone(&fail));
                std::thread::spawn(move || while serve_one(&stream, &log, &fail) {});
            }
        });
        Receiver {
            addr,
            received,
            failing,
        }
    }

    fn snapshot(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let all = self.snapshot();
            if done(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {all:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Serves one request on a keep-alive connection; false when the peer closed.
fn serve_one(stream: &TcpStream, log: &Mutex<Vec<Received>>, failing: &AtomicBool) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return false;
    }
    assert!(
        request_line.starts_with("POST /push.v1.PusherService/Push HTTP/1.1"),
        "{request_line:?}"
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').expect("header line");
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .expect("a Content-Length")
        .1
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let status = if failing.load(Ordering::SeqCst) {
        503
    } else {
        200
    };
    log.lock().unwrap().push(Received {
        at: Instant::now(),
        status,
        headers,
        series: decode_push(&body),
    });
    let reason = if status == 200 {
        "OK"
    } else {
        "Service Unavailable"
    };
    let answer = if status == 200 {
        "{}"
    } else {
        "ingester overloaded"
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
        answer.len()
    )
    .unwrap();
    true
}

// --- the application ---

#[inline(never)]
fn hold_the_ledger() {
    let mut ledger = LEDGER.lock();
    ledger.push(1);
    std::thread::sleep(Duration::from_millis(2));
}

#[inline(never)]
fn wait_for_the_ledger() {
    LEDGER.lock().push(2);
}

#[inline(never)]
fn crunch_numbers(work: &AtomicU64) {
    let mut x = 1u64;
    for i in 0..200_000u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
    }
    std::hint::black_box(x);
    std::hint::black_box(vec![0u8; 4096]);
    work.fetch_add(1, Ordering::Relaxed);
}

/// CPU seconds used so far by this process's threads whose name starts with `prefix`.
fn thread_cpu_seconds(prefix: &str) -> f64 {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim().starts_with(prefix))
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .map(|stat| {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            let fields: Vec<&str> = after.split(' ').collect();
            (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / ticks
        })
        .sum()
}

#[test]
fn pushes_every_profile_type_backs_off_and_resumes() {
    let receiver = Receiver::start();
    let push = PushConfig {
        interval: Duration::from_secs(3),
        labels: vec![
            ("env".into(), "ci".into()),
            ("region".into(), "loopback".into()),
        ],
        auth: PushAuth::Bearer("push-secret".into()),
        tenant: Some("team-a".into()),
        ..PushConfig::new(format!("http://{}", receiver.addr), "push-test")
    };
    let config = Config {
        mem_profile_rate: 4096,
        push: Some(push),
        ..Config::default()
    };
    let profiler = Profiler::start_recording(config).expect("start recording and pushing");

    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for role in 0..3 {
        let (stop, work) = (Arc::clone(&stop), Arc::clone(&work));
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match role {
                    // A pause between holds: parking_lot 0.13's unlock wakes a waiter
                    // but hands nothing off, so a holder that locks again at once can
                    // starve the waiter for seconds (no wait ends, no block event).
                    0 => {
                        hold_the_ledger();
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    1 => wait_for_the_ledger(),
                    _ => crunch_numbers(&work),
                }
            }
        }));
    }

    // Three accepted pushes (the first one's deltas start at Profiler::start).
    let ok = receiver.wait_for("3 pushes", |all| {
        all.iter().filter(|r| r.status == 200).count() >= 3
    });
    let go = tool_binary("go", "golang-go");
    for request in ok.iter().take(3) {
        assert_eq!(request.header("Content-Type"), Some("application/proto"));
        assert_eq!(request.header("Authorization"), Some("Bearer push-secret"));
        assert_eq!(request.header("X-Scope-OrgID"), Some("team-a"));
        assert_eq!(request.header("Connect-Protocol-Version"), Some("1"));
        for name in ["process_cpu", "memory", "block", "mutex", "goroutine"] {
            let (labels, profiles) = request
                .series(name)
                .unwrap_or_else(|| panic!("no {name} series in {:?}", request.series));
            for label in [
                ("service_name", "push-test"),
                ("env", "ci"),
                ("region", "loopback"),
            ] {
                assert!(
                    labels
                        .iter()
                        .any(|(k, v)| (k.as_str(), v.as_str()) == label),
                    "{name} lacks {label:?}: {labels:?}"
                );
            }
            assert_eq!(profiles.len(), 1);
            assert_eq!(
                profiles[0][..2],
                [0x1f, 0x8b],
                "{name}: gzip'd profile.proto"
            );
        }
    }
    // The profiles hold this test's work: the CPU in crunch_numbers, the ledger's
    // holder in the mutex profile, its waiter in the block profile.
    let last = &ok[2];
    let names_in = |series: &str| -> Vec<String> {
        let profile = decode(&last.series(series).unwrap().1[0]);
        profile
            .sample
            .iter()
            .flat_map(|s| stack_names(&profile, s))
            .collect()
    };
    assert!(
        names_in("process_cpu")
            .iter()
            .any(|f| f.ends_with("crunch_numbers"))
    );
    assert!(
        names_in("mutex")
            .iter()
            .any(|f| f.ends_with("hold_the_ledger"))
    );
    assert!(
        names_in("block")
            .iter()
            .any(|f| f.ends_with("wait_for_the_ledger"))
    );
    assert!(
        names_in("memory")
            .iter()
            .any(|f| f.ends_with("crunch_numbers"))
    );
    // A delta: each round's mutex profile counts about one round of holds, not all.
    let cpu = decode(&last.series("process_cpu").unwrap().1[0]);
    assert!(
        (1.5e9..=3.5e9).contains(&(cpu.duration_nanos as f64)),
        "the CPU profile covers the interval minus 1 s: {} ns",
        cpu.duration_nanos
    );
    if let Some(go) = &go {
        let dir = std::env::temp_dir().join(format!("profiled-push-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (labels, profiles) in &last.series {
            let name = &labels.iter().find(|(k, _)| k == "__name__").unwrap().1;
            let path = dir.join(format!("{name}.pb.gz"));
            std::fs::write(&path, &profiles[0]).unwrap();
            let run = go_tool_pprof(go, &["-raw", path.to_str().unwrap()]);
            assert!(run.success, "{name}: {}", run.stderr);
            assert!(
                pprof_complaints(&run.stderr).is_empty(),
                "{name}: {}",
                run.stderr
            );
        }
    }

    // The receiver fails for 10 s: the pusher backs off rather than retrying hot.
    let before_failing = receiver.snapshot().len();
    // The sender's CPU (its kernel name is cut to 15 bytes): the collector keeps
    // collecting a round every interval whatever the server answers.
    let push_cpu_before = thread_cpu_seconds("profiled-push-s");
    let work_before = work.load(Ordering::Relaxed);
    receiver.failing.store(true, Ordering::SeqCst);
    let failing_since = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    receiver.failing.store(false, Ordering::SeqCst);
    let failing_window = failing_since.elapsed().as_secs_f64();
    let attempts: Vec<Received> = receiver.snapshot()[before_failing..]
        .iter()
        .filter(|r| r.status == 503)
        .cloned()
        .collect();
    let push_cpu = thread_cpu_seconds("profiled-push-s") - push_cpu_before;
    let work_rate = (work.load(Ordering::Relaxed) - work_before) as f64 / failing_window;
    eprintln!(
        "503 window: {} attempts, the sender used {:.3} s CPU in {:.1} s, app work {:.0}/s",
        attempts.len(),
        push_cpu,
        failing_window,
        work_rate
    );
    assert!(
        (2..=8).contains(&attempts.len()),
        "backoff: 1, 2, 4, 8 s between attempts, so 3-5 tries in 10 s: {}",
        attempts.len()
    );
    let gaps: Vec<f64> = attempts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64())
        .collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0] * 1.5),
        "gaps between retries grow: {gaps:?}"
    );
    assert!(
        push_cpu < 0.02 * failing_window,
        "retrying must not cost the application 2% of a core while failing: {push_cpu} s"
    );
    let stats = profiled::push::stats();
    assert!(stats.failures >= 2, "{stats:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{stats:?}"
    );

    // It resumes: the batches queued meanwhile (at most MAX_QUEUED_BATCHES) arrive.
    let resumed = receiver.wait_for("a push after the outage", |all| {
        all[before_failing..]
            .iter()
            .filter(|r| r.status == 200)
            .count()
            >= 2
    });
    assert!(resumed.len() > before_failing);
    // The receiver logs a push before it answers, the pusher counts it after the
    // answer arrives: give the last count a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stats = profiled::push::stats();
    while stats.pushes < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        stats = profiled::push::stats();
    }
    assert!(stats.pushes >= 5, "{stats:?}");
    assert!(stats.queued <= profiled::push::MAX_QUEUED_BATCHES as u64);
    assert!(stats.running);

    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    profiler.stop();
    assert!(!profiled::push::stats().running);
}
