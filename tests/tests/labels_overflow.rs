//! The label table is bounded: with `max_label_sets = 8`, 100 distinct tenants
//! intern at most 8 sets; the scopes that did not fit are counted (in
//! `profiled::labels::stats`, `/debug/stats` and `/metrics`) and their samples
//! carry `profiled_labels=overflow` instead of growing the table.

use std::hint::black_box;

use profiled::labels::{self, LabelSet};
use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, total_for_label};

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

#[inline(never)]
fn allocate() -> usize {
    black_box(vec![5u8; 4096]).len()
}

#[test]
fn a_full_label_table_counts_overflow_and_never_grows() {
    let (_profiler, addr) = serve(Config {
        max_label_sets: 8,
        mem_profile_rate: 1,
        ..Config::default()
    });
    for tenant in 0..100 {
        let tenant = format!("tenant-{tenant}");
        LabelSet::new(&[("tenant", &tenant)]).with(allocate);
    }
    let stats = labels::stats();
    assert_eq!((stats.sets, stats.capacity), (8, 8), "{stats:?}");
    assert_eq!(stats.overflowed, 92, "{stats:?}");

    // A set interned before the table filled still works; a new one overflows.
    let kept = LabelSet::new(&[("tenant", "tenant-0")]);
    assert_eq!(kept.get("tenant").as_deref(), Some("tenant-0"));
    let late = LabelSet::new(&[("tenant", "tenant-late")]);
    assert_eq!(late.get("profiled_labels").as_deref(), Some("overflow"));
    assert_eq!(labels::stats().sets, 8);

    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    let overflowed = total_for_label(&allocs, "profiled_labels", "overflow", 0);
    let first = total_for_label(&allocs, "tenant", "tenant-0", 0);
    assert_eq!((overflowed, first), (92, 1), "allocation counts by label");

    let json: serde_json::Value = serde_json::from_str(&get(addr, "/debug/stats").text()).unwrap();
    assert_eq!(json["labels"]["sets"], 8);
    assert_eq!(json["labels"]["overflowed"], 93);
    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "profiled_label_overflow_total 93.0"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "profiled_label_sets 8"),
        "{metrics}"
    );
}
