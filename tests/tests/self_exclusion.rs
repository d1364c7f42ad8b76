//! The profiler's own memory is not the user's: a 64 MiB leak through `leaky` keeps
//! at least 85% of inuse_space in the 1st, 2nd and 10th consecutive heap profiles
//! (the symbolizer's caches, the server and the encoders never show), no sample of
//! `heap` or `allocs` has a frame of gimli, addr2line, backtrace, object, hyper or
//! profiled, and `/debug/stats` reports that memory in its `self` section instead.

use std::hint::black_box;
use std::sync::Mutex;

use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, stack_names, total};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const LEAK: usize = 64 << 20;

/// Leaks `LEAK` bytes in 4 KiB to 64 KiB blocks.
#[inline(never)]
fn leaky() {
    let mut leaked = LEAKED.lock().unwrap();
    let mut total = 0;
    let mut i = 0usize;
    while total < LEAK {
        let size = (4096 << (i % 5)).min(LEAK - total);
        let block = black_box(vec![i as u8; size]);
        total += block.len();
        leaked.push(block);
        i += 1;
    }
}

/// Allocation churn on the user's side, so `allocs` has more than the leak.
#[inline(never)]
fn churn() -> usize {
    (0..2000)
        .map(|i| black_box(vec![i as u8; 512 + i % 700]).len())
        .sum()
}

const FOREIGN: [&str; 6] = [
    "gimli::",
    "addr2line::",
    "backtrace::",
    "object::",
    "hyper::",
    "profiled::",
];

fn foreign_frames(profile: &pprof::protos::Profile) -> Vec<String> {
    profile
        .sample
        .iter()
        .flat_map(|s| stack_names(profile, s))
        .filter(|name| {
            // A path of the crate: at the start or after `<`, `&`, `(` or a space
            // (`std::sys::backtrace::` is std's).
            FOREIGN.iter().any(|krate| {
                name.match_indices(krate).any(|(at, _)| {
                    at == 0 || matches!(name.as_bytes()[at - 1], b'<' | b'&' | b'(' | b' ')
                })
            })
        })
        .collect()
}

fn leaky_share(profile: &pprof::protos::Profile) -> f64 {
    let inuse = 3; // inuse_space
    let on_leaky: i64 = profile
        .sample
        .iter()
        .filter(|s| {
            stack_names(profile, s)
                .iter()
                .any(|n| n.ends_with("::leaky"))
        })
        .map(|s| s.value[inuse])
        .sum();
    on_leaky as f64 / total(profile, inuse).max(1) as f64
}

#[test]
fn the_leak_stays_on_top_and_the_profiler_never_shows() {
    let (profiler, addr) = serve(Config {
        mem_profile_rate: 64 * 1024,
        ..Config::default()
    });
    LEAKED.lock().unwrap().reserve(1 << 16);
    leaky();

    for round in 1..=10 {
        black_box(churn());
        let heap = get(addr, "/debug/pprof/heap");
        assert_eq!(heap.status, 200, "{heap:?}");
        let heap = decode(&heap.body);
        let share = leaky_share(&heap);
        if [1, 2, 10].contains(&round) {
            assert!(
                share >= 0.85,
                "heap profile {round}: leaky has {:.1}% of inuse_space",
                share * 100.0
            );
        }
        let foreign = foreign_frames(&heap);
        assert!(foreign.is_empty(), "heap profile {round}: {foreign:?}");
        let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
        let foreign = foreign_frames(&allocs);
        assert!(foreign.is_empty(), "allocs profile {round}: {foreign:?}");
        // Other profiles symbolize too (their memory is the profiler's as well).
        assert_eq!(get(addr, "/debug/pprof/goroutine?debug=1").status, 200);
    }

    // The memory they cost is reported as the profiler's own.
    let stats: serde_json::Value = serde_json::from_str(&get(addr, "/debug/stats").text()).unwrap();
    let own = &stats["self"];
    for key in [
        "symbolizer_bytes",
        "symbolizer_cache_bytes",
        "server_bytes",
        "registry_bytes",
        "total_bytes",
    ] {
        assert!(own[key].is_u64(), "{key} in {own}");
    }
    assert!(
        own["symbolizer_cached_addresses"].as_u64().unwrap() > 0,
        "{own}"
    );
    assert!(own["symbolizer_bytes"].as_u64().unwrap() > 0, "{own}");
    assert!(own["server_bytes"].as_u64().unwrap() > 0, "{own}");
    let metrics = get(addr, "/metrics").text();
    let symbolizer = metrics
        .lines()
        .find_map(|l| l.strip_prefix("profiled_self_bytes{component=\"symbolizer\"} "))
        .unwrap_or_else(|| panic!("no profiled_self_bytes in {metrics}"));
    assert!(symbolizer.parse::<u64>().unwrap() > 0);
    profiler.stop();
}
