//! Profile labels slice every profile by scope: one thread runs the same fn `render`
//! under `route=/checkout` three times as often as under `route=/browse`. The CPU
//! and wall-clock profiles (sample counts), the block profile (waits on a `ProfiledMutex` inside the
//! scope) and the allocs profile (bytes allocated inside the scope) all split 3:1
//! by `route`; the lock's holder, in its own scope, carries `role=holder` on its
//! mutex samples and its goroutine; `go tool pprof -tags` lists the keys and values
//! of each profile (cpu, block, allocs, mutex, heap, goroutine) with no warning, and `-tagfocus route=/browse` keeps only that route's samples.

use std::hint::black_box;
use std::sync::mpsc;
use std::time::Duration;

use profiled::{Config, ProfiledAllocator, ProfiledMutex, labels, profiled_mutex};
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, serve, stack_names, tool_binary, total_for_label,
};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

static SHARED: ProfiledMutex<u64> = profiled_mutex!("labels-shared", 0);

const CHECKOUT: &[(&str, &str)] = &[("route", "/checkout")];
const BROWSE: &[(&str, &str)] = &[("route", "/browse")];
const HZ: i32 = 1000;
const RENDERS: usize = 600;
/// Renders under the wall-clock profile.
const WALL_RENDERS: usize = 200;
/// Bytes `render` allocates per call.
const RENDER_BYTES: usize = 256 * 1024;

fn spin(iterations: u64) -> u64 {
    profiled_tests::xorshift(0x9e37_79b9_7f4a_7c15, iterations)
}

/// How `render` has the holder take the lock before it: a request, and the
/// holder's answer once it holds it (blocking channels, so waiting burns no CPU).
struct Handshake {
    ask: mpsc::Sender<()>,
    held: mpsc::Receiver<()>,
}

/// The same work for every route: CPU, one wait of about 1 ms on the shared lock
/// (the holder takes it first, when asked), allocations.
#[inline(never)]
fn render(iterations: u64, handshake: &Handshake) {
    let page = black_box(vec![1u8; RENDER_BYTES]);
    handshake.ask.send(()).unwrap();
    handshake.held.recv().unwrap();
    *SHARED.lock() += u64::from(page[7]);
    black_box(spin(iterations));
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
        0
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Iterations of `spin` that take about `target` of this thread's CPU time (not
/// wall time: the machine may be loaded).
fn calibrate(target: Duration) -> u64 {
    let mut n = 10_000u64;
    loop {
        let start = thread_cpu();
        spin(n);
        let took = thread_cpu() - start;
        if took >= Duration::from_millis(20) {
            return (n as f64 * target.as_secs_f64() / took.as_secs_f64()) as u64;
        }
        n *= 2;
    }
}

fn ratio(profile: &pprof::protos::Profile, index: usize) -> (i64, i64, f64) {
    let checkout = total_for_label(profile, "route", "/checkout", index);
    let browse = total_for_label(profile, "route", "/browse", index);
    (checkout, browse, checkout as f64 / browse.max(1) as f64)
}

fn assert_three_to_one(what: &str, profile: &pprof::protos::Profile, index: usize) {
    assert_split(what, profile, index, 0.20);
}

/// 3:1 within `tolerance`.
fn assert_split(what: &str, profile: &pprof::protos::Profile, index: usize, tolerance: f64) {
    let (checkout, browse, ratio) = ratio(profile, index);
    eprintln!("{what}: checkout {checkout}, browse {browse}, ratio {ratio:.2}");
    assert!(
        (ratio / 3.0 - 1.0).abs() <= tolerance,
        "{what}: /checkout {checkout} vs /browse {browse}: ratio {ratio:.2}, expected 3 within {}%",
        tolerance * 100.0
    );
    // The samples of each route are `render`'s.
    for sample in &profile.sample {
        let labelled = sample
            .label
            .iter()
            .any(|l| profile.string_table[l.key as usize] == "route");
        if labelled && sample.value[index] > 0 && !matches!(what, "cpu" | "wall") {
            let names = stack_names(profile, sample);
            assert!(
                names.iter().any(|n| n.ends_with("labels_split::render")),
                "{what}: a route sample outside render: {names:?}"
            );
        }
    }
}

#[test]
fn one_route_three_times_as_often_is_three_quarters_of_every_profile() {
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: 16 * 1024,
        ..Config::default()
    });
    let iterations = calibrate(Duration::from_millis(8));

    let (ask, asked) = mpsc::channel::<()>();
    let (answer, held) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        labels::with(&[("role", "holder")], || {
            for () in asked {
                let guard = SHARED.lock();
                answer.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(1));
                drop(guard);
            }
        })
    });
    let handshake = Handshake { ask, held };

    let renders = |n: usize| {
        for i in 0..n {
            let route = if i % 4 == 3 { BROWSE } else { CHECKOUT };
            labels::with(route, || render(iterations, &handshake));
        }
    };
    let run = profiled::__bench::start_profile_run(false, HZ).unwrap();
    renders(RENDERS);
    let cpu_body = run.finish();
    // The wall-clock profile (fgprof) reads the labels in the same signal handler.
    let run = profiled::__bench::start_profile_run(true, HZ).unwrap();
    renders(WALL_RENDERS);
    let wall = decode(&run.finish());
    assert_three_to_one("wall", &wall, 0);
    // The holder, parked or running inside its scope, is a labelled goroutine.
    let goroutine_body = get(addr, "/debug/pprof/goroutine").body;
    drop(handshake);
    holder.join().unwrap();

    let cpu = decode(&cpu_body);
    assert_three_to_one("cpu", &cpu, 0);
    let block_body = get(addr, "/debug/pprof/block").body;
    let block = decode(&block_body);
    assert_three_to_one("block", &block, 0);
    // Delays are wall time: a loaded machine wakes a waiter late now and then.
    assert_split("block delay", &block, 1, 0.35);
    let allocs_body = get(addr, "/debug/pprof/allocs").body;
    let allocs = decode(&allocs_body);
    assert_three_to_one("allocs", &allocs, 1);
    // The bytes are what render allocated, within sampling error.
    let (checkout, _, _) = ratio(&allocs, 1);
    let expected = ((RENDERS + WALL_RENDERS) / 4 * 3 * RENDER_BYTES) as f64;
    assert!(
        (checkout as f64 / expected - 1.0).abs() <= 0.2,
        "allocs /checkout {checkout} bytes, expected {expected}"
    );
    let mutex_body = get(addr, "/debug/pprof/mutex").body;
    let mutex = decode(&mutex_body);
    // Mutex samples carry the labels of the code that unlocked: the holder's
    // (role=holder) on the holder thread's unlocks, which carry the waits render
    // did during its 1 ms holds; a route's only on render's own unlocks (charged
    // by the lock's books with a woken waiter's lateness, more on a loaded machine).
    let held = total_for_label(&mutex, "role", "holder", 1);
    let (by_routes, _, _) = ratio(&mutex, 1);
    let waits = total_for_label(&block, "route", "/checkout", 0)
        + total_for_label(&block, "route", "/browse", 0);
    eprintln!("mutex: role=holder {held} ns, route=/checkout {by_routes} ns, {waits} waits");
    assert!(
        held >= waits * 500_000,
        "mutex delay by role=holder {held} ns for {waits} waits of about 1 ms"
    );
    let has = |sample: &pprof::protos::Sample, key: &str| {
        sample
            .label
            .iter()
            .any(|l| mutex.string_table[l.key as usize] == key)
    };
    for sample in &mutex.sample {
        let in_render = stack_names(&mutex, sample)
            .iter()
            .any(|n| n.ends_with("labels_split::render"));
        if has(sample, "role") {
            assert!(!in_render, "role=holder on an unlock in render");
        }
        if has(sample, "route") {
            assert!(in_render, "a route's labels on an unlock outside render");
        }
    }

    let Some(go) = tool_binary("go", "golang-go") else {
        return;
    };
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    for (name, body, keys) in [
        ("cpu", &cpu_body, &["route", "thread"][..]),
        ("block", &block_body, &["route"][..]),
        ("allocs", &allocs_body, &["route"][..]),
        ("mutex", &mutex_body, &["role"][..]),
        ("heap", &get(addr, "/debug/pprof/heap").body, &["route"][..]),
        ("goroutine", &goroutine_body, &["role"][..]),
    ] {
        let saved = dir.join(format!("labels-split-{name}-{pid}.pb.gz"));
        std::fs::write(&saved, body).unwrap();
        let path = saved.to_str().unwrap();
        let tags = go_tool_pprof(&go, &["-tags", path]);
        // render's pages are freed: the heap's in-use view is empty, its alloc_space is not.
        let index = if name == "heap" { "alloc_space" } else { "" };
        let mut args = vec!["-top", "-tagfocus", "route=/browse"];
        if !index.is_empty() {
            args.extend(["-sample_index", index]);
        }
        args.push(path);
        let browse = go_tool_pprof(&go, &args);
        let _ = std::fs::remove_file(&saved);
        assert!(tags.success, "{name}: {tags:?}");
        assert!(
            pprof_complaints(&tags.stderr).is_empty(),
            "{name}: {}",
            tags.stderr
        );
        for key in keys {
            assert!(
                tags.stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{key}:"))),
                "{name}: -tags has no key {key}:\n{}",
                tags.stdout
            );
        }
        if name == "mutex" || name == "goroutine" {
            assert!(tags.stdout.contains("holder"), "{}", tags.stdout);
            continue;
        }
        assert!(
            tags.stdout.contains("/checkout") && tags.stdout.contains("/browse"),
            "{name}: {}",
            tags.stdout
        );
        assert!(browse.success, "{name}: {browse:?}");
        assert!(
            browse.stdout.contains("labels_split::render"),
            "{name}: -tagfocus route=/browse keeps render:\n{}",
            browse.stdout
        );
    }
}
