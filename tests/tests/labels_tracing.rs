//! Feature `tracing`: with `profiled::labels::SpanLabels` in the subscriber, CPU
//! samples taken inside the spans `checkout` and `browse` carry `span_name` (split
//! as the work is, 3:1) and a `span_id`; `root_only` keeps the outer span's labels
//! inside nested spans; ids stay off the allocs profile, which says so, unless
//! asked for.

use std::hint::black_box;

use profiled::labels::{self, SpanLabels};
use profiled::{Config, ProfiledAllocator};
use profiled_tests::{decode, get, serve, total_for_label};
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static GLOBAL: ProfiledAllocator = ProfiledAllocator::system();

#[inline(never)]
fn work(iterations: u64) -> u64 {
    profiled_tests::xorshift(0x2545_f491_4f6c_dd1d, iterations)
}

fn label_values(profile: &pprof::protos::Profile, key: &str) -> Vec<String> {
    let mut values: Vec<String> = profile
        .sample
        .iter()
        .flat_map(|s| &s.label)
        .filter(|l| profile.string_table[l.key as usize] == key)
        .map(|l| profile.string_table[l.str as usize].clone())
        .collect();
    values.sort();
    values.dedup();
    values
}

#[test]
fn spans_are_labels_on_cpu_samples() {
    let (_profiler, addr) = serve(Config {
        mem_profile_rate: 1024,
        ..Config::default()
    });
    let subscriber = tracing_subscriber::registry().with(SpanLabels::new());
    let run = profiled::__bench::start_profile_run(false, 1000).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..80 {
            let name = if i % 4 == 3 { "browse" } else { "checkout" };
            let span = if name == "browse" {
                tracing::info_span!("browse")
            } else {
                tracing::info_span!("checkout")
            };
            let _entered = span.enter();
            assert_eq!(labels::current().get("span_name").as_deref(), Some(name));
            work(2_000_000);
            black_box(vec![1u8; 64 * 1024]);
        }
    });
    let cpu = decode(&run.finish());
    assert!(
        labels::current().is_empty(),
        "exiting the spans restores the labels"
    );

    let checkout = total_for_label(&cpu, "span_name", "checkout", 0);
    let browse = total_for_label(&cpu, "span_name", "browse", 0);
    eprintln!("span_name=checkout {checkout} samples, browse {browse}");
    assert!(browse > 0 && checkout > 0);
    let ratio = checkout as f64 / browse as f64;
    assert!(
        (ratio / 3.0 - 1.0).abs() <= 0.25,
        "checkout:browse {ratio:.2}"
    );
    // Each span has its own 16-hex-digit id; the samples of 80 spans carry at most 80.
    let ids = label_values(&cpu, "span_id");
    assert!(!ids.is_empty() && ids.len() <= 80, "{ids:?}");
    assert!(
        ids.iter()
            .all(|id| id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())),
        "{ids:?}"
    );

    // Ids are high-cardinality: kept off allocs, which says so; span_name stays.
    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    assert!(label_values(&allocs, "span_id").is_empty());
    assert_eq!(label_values(&allocs, "span_name"), ["browse", "checkout"]);
    assert!(
        allocs
            .comment
            .iter()
            .any(|&c| allocs.string_table[c as usize].contains("span_id, trace_id")),
        "the allocs profile says the ids are left off"
    );

    // Asked for, the ids stay on allocs too.
    labels::keep_ids_on_every_profile(true);
    let allocs = decode(&get(addr, "/debug/pprof/allocs").body);
    labels::keep_ids_on_every_profile(false);
    assert!(!label_values(&allocs, "span_id").is_empty());

    // root_only: a nested span does not replace the root span's labels.
    let subscriber =
        tracing_subscriber::registry().with(SpanLabels::builder().root_only(true).build());
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("checkout", span_id = "00000000000000ab");
        let _root = root.enter();
        let nested = tracing::info_span!("render");
        let _nested = nested.enter();
        assert_eq!(
            labels::current().get("span_name").as_deref(),
            Some("checkout")
        );
        assert_eq!(
            labels::current().get("span_id").as_deref(),
            Some("00000000000000ab")
        );
    });
}
