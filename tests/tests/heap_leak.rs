//! A 64 MiB leak through `leaky`, in allocations of mixed sizes, shows as 64 MiB
//! ± 15% of inuse_space on stacks through `leaky`, in a profile `go tool pprof`
//! reads without a warning; `debug=1` is Go's legacy heap text.

use std::hint::black_box;
use std::sync::Mutex;

use profiled::{Config, ProfiledAllocator};
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, sample_types, serve, tool_binary, total_for,
};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const LEAK: usize = 64 << 20;
const RATE: usize = 64 * 1024;

/// Leaks `LEAK` bytes in blocks from 16 bytes to 64 KiB.
#[inline(never)]
fn leaky() {
    let mut leaked = LEAKED.lock().unwrap();
    let mut total = 0;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    while total < LEAK {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Mostly small blocks, some large: sizes 16 B .. 64 KiB, log-uniform.
        let size = (16usize << (seed % 13)).min(LEAK - total).max(1);
        let block = black_box(vec![seed as u8; size]);
        total += block.len();
        leaked.push(block);
    }
}

fn within(actual: i64, expected: usize, tolerance: f64) -> bool {
    let expected = expected as f64;
    (actual as f64 - expected).abs() <= expected * tolerance
}

#[test]
fn leak_shows_as_inuse_space_on_leaky() {
    // At the default 512 KiB rate a 64 MiB leak is ~128 samples: a standard error
    // near 9%, so ±15% would fail about one run in ten. 64 KiB gives ~1000 samples
    // (about 3%). The churn test uses the default rate.
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: RATE,
        ..Config::default()
    });
    // Reserve the list first so that its own growth is not part of the leak.
    LEAKED.lock().unwrap().reserve(1 << 20);
    leaky();

    let response = get(addr, "/debug/pprof/heap");
    assert_eq!(response.status, 200, "{response:?}");
    let heap = decode(&response.body);
    assert_eq!(
        sample_types(&heap),
        [
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(heap.period, RATE as i64);
    assert_eq!(
        heap.default_sample_type, 0,
        "heap defaults to the last type"
    );
    let inuse = total_for(&heap, "leaky", 3);
    assert!(
        within(inuse, LEAK, 0.15),
        "inuse_space on leaky: {inuse} bytes, expected {LEAK} ± 15%"
    );
    let objects = total_for(&heap, "leaky", 2);
    assert!(objects > 0, "inuse_objects on leaky: {objects}");

    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    let default = allocs.string_table[allocs.default_sample_type as usize].clone();
    assert_eq!(default, "alloc_space");
    assert!(within(total_for(&allocs, "leaky", 1), LEAK, 0.15));

    let text = get(addr, "/debug/pprof/heap?debug=1");
    assert_eq!(text.status, 200);
    let text = text.text();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("heap profile: "), "{header}");
    assert!(header.ends_with(" @ heap/131072"), "{header}");
    assert!(text.contains("heap_leak::leaky"), "{text}");
    assert!(text.contains("\n# profiled.MemStats\n# Alloc = "), "{text}");

    let stats = profiled::mem_stats();
    assert!(stats.allocator_installed);
    assert!(stats.alloc >= LEAK as u64, "{stats:?}");
    assert!(stats.total_alloc >= stats.alloc);

    // gc=1 runs the reclaim hooks first.
    static RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    profiled::register_reclaim_hook("test", || {
        RAN.store(true, std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(get(addr, "/debug/pprof/heap?gc=1").status, 200);
    assert!(RAN.load(std::sync::atomic::Ordering::Relaxed));

    let stats: serde_json::Value =
        serde_json::from_slice(&get(addr, "/debug/stats").body).expect("stats are JSON");
    assert_eq!(stats["memory"]["allocator_installed"], true, "{stats:#}");
    assert!(stats["memory"]["alloc"].as_u64().unwrap() >= LEAK as u64);
    assert!(stats["memory"]["rss"].as_u64().unwrap() >= LEAK as u64);
    assert!(stats["process"]["threads"].as_u64().unwrap() >= 2);
    assert!(stats["process"]["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(stats["process"]["cpu_user_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(stats["settings"]["mem_profile_rate"], RATE);
    assert_eq!(stats["settings"]["cpu_profile_hz"], 100);
    let gc: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/gc").body).unwrap();
    assert_eq!(gc["hooks_run"], 1, "{gc:#}");
    assert!(gc["rss_after"].as_u64().unwrap() > 0);

    if let Some(go) = tool_binary("go", "golang-go") {
        let saved = std::env::temp_dir().join(format!("heap-{}.pb.gz", std::process::id()));
        std::fs::write(&saved, &response.body).unwrap();
        let raw = go_tool_pprof(&go, &["-raw", saved.to_str().unwrap()]);
        let top = go_tool_pprof(
            &go,
            &["-top", "-sample_index=inuse_space", saved.to_str().unwrap()],
        );
        let _ = std::fs::remove_file(&saved);
        assert!(raw.success, "{raw:?}");
        assert!(pprof_complaints(&raw.stderr).is_empty(), "{}", raw.stderr);
        assert!(
            raw.stdout.contains("PeriodType: space bytes"),
            "{}",
            raw.stdout
        );
        assert!(top.stdout.contains("heap_leak::leaky"), "{}", top.stdout);
    }
}
