//! Async idle time is wait time: 20 tasks run `outer` -> `inner`, each awaiting a
//! 50 ms timer; the block profile attributes about 1 s (what the tasks measured
//! themselves) to the logical stack outer -> inner, and /debug/stats shows inner's
//! calls, idle and busy time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use profiled::{Config, ProfiledMutex, profiled, profiled_mutex};
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, serve, stack_names, tool_binary,
};

const TASKS: usize = 20;
const SLEEP: Duration = Duration::from_millis(50);
/// What the tasks measured around their sleeps: 50 ms each on a quiet machine, more
/// when the runtime's workers get the CPU late (1.4 s in all was seen under load).
static SLEPT_NS: AtomicU64 = AtomicU64::new(0);

#[profiled]
async fn outer(i: usize) -> usize {
    inner(i).await + 1
}

#[profiled]
async fn inner(i: usize) -> usize {
    let started = Instant::now();
    tokio::time::sleep(SLEEP).await;
    SLEPT_NS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    i
}

static SHARED: ProfiledMutex<u64> = profiled_mutex!("async-shared", 0);

#[profiled]
async fn hold_in_task() {
    let mut guard = SHARED.lock();
    std::thread::sleep(Duration::from_millis(60));
    *guard += 1;
}

#[profiled]
async fn wait_in_task() {
    tokio::time::sleep(Duration::from_millis(5)).await;
    *SHARED.lock() += 1;
}

#[test]
fn async_waits_are_attributed_to_the_logical_stack() {
    let (_profiler, addr) = serve(Config::default());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let results: Vec<usize> = runtime.block_on(async {
        let handles: Vec<_> = (0..TASKS).map(|i| tokio::spawn(outer(i))).collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    assert_eq!(results, (1..=TASKS).collect::<Vec<_>>());

    let block = decode(&get(addr, "/debug/pprof/block").body);
    let chain_total: i64 = block
        .sample
        .iter()
        .filter(|s| {
            let names = stack_names(&block, s);
            names.len() == 2 && names[0].ends_with("::inner") && names[1].ends_with("::outer")
        })
        .map(|s| s.value[1])
        .sum();
    let expected = SLEPT_NS.load(Ordering::Relaxed) as f64;
    assert!(expected >= (TASKS as u32 * SLEEP).as_nanos() as f64);
    assert!(
        (chain_total as f64 - expected).abs() / expected <= 0.2,
        "outer -> inner waited {chain_total} ns, the tasks measured {expected}; {block:?}"
    );
    // The wait is recorded once, by the innermost frame: outer alone has nothing.
    let outer_alone: i64 = block
        .sample
        .iter()
        .filter(|s| {
            let names = stack_names(&block, s);
            names.len() == 1 && names[0].ends_with("::outer")
        })
        .map(|s| s.value[1])
        .sum();
    assert_eq!(outer_alone, 0);
    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/block");
        let run = go_tool_pprof(&go, &["-top", &url]);
        assert!(pprof_complaints(&run.stderr).is_empty(), "{}", run.stderr);
        assert!(run.stdout.contains("async_waits::inner"), "{}", run.stdout);
    }

    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let function = |suffix: &str| {
        stats["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} missing in {stats}"))
            .clone()
    };
    let inner = function("::inner");
    assert_eq!(inner["kind"], "async");
    assert_eq!(inner["calls"], TASKS as u64);
    let idle = inner["idle_ns"].as_u64().unwrap() as f64;
    assert!(
        (idle - expected).abs() / expected <= 0.2,
        "inner idle {idle} ns, expected about {expected}"
    );
    let busy = inner["busy_ns"].as_u64().unwrap();
    assert!(busy < 20_000_000, "inner busy {busy} ns");
    assert!(inner["polls"].as_u64().unwrap() >= 2 * TASKS as u64);
    let outer = function("::outer");
    assert_eq!(outer["calls"], TASKS as u64);
    assert!(outer["idle_ns"].as_u64().unwrap() as f64 >= 0.8 * expected);

    // A lock wait inside async code carries the logical chain as a label.
    runtime.block_on(async {
        let holder = tokio::spawn(hold_in_task());
        let waiter = tokio::spawn(wait_in_task());
        holder.await.unwrap();
        waiter.await.unwrap();
    });
    let block = decode(&get(addr, "/debug/pprof/block").body);
    let labelled = block.sample.iter().find(|s| {
        s.label.iter().any(|l| {
            block.string_table[l.key as usize] == "logical_stack"
                && block.string_table[l.str as usize].ends_with("::wait_in_task")
        })
    });
    assert!(
        labelled.is_some(),
        "no lock wait labelled with its chain: {block:?}"
    );
    assert!(labelled.unwrap().value[1] >= 20_000_000);
}
