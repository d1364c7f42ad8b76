//! Eight plain `std::thread`s parked in `parked_worker` show up with their real stacks
//! in the goroutine profile (proto, debug=1, debug=2), and `go tool pprof` reads the
//! goroutine and threadcreate profiles from the live server without complaint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use profiled::Config;
use profiled_tests::{
    decode, get, go_tool_pprof, pprof_complaints, sample_types, serve, stack_names, tool_binary,
};

const WORKERS: usize = 8;

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn parked_worker(ready: &Barrier) {
    ready.wait();
    while !STOP.load(Ordering::Acquire) {
        thread::park();
    }
}

fn has_parked_worker(names: &[String]) -> bool {
    names.iter().any(|n| n.ends_with("::parked_worker"))
}

#[test]
fn parked_threads_have_real_stacks_in_every_goroutine_format() {
    let (_profiler, addr) = serve(Config::default());

    let ready = Arc::new(Barrier::new(WORKERS + 1));
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let ready = Arc::clone(&ready);
            thread::Builder::new()
                .name(format!("parked-{i}"))
                .spawn(move || parked_worker(&ready))
                .unwrap()
        })
        .collect();
    ready.wait();
    // Let every worker reach park().
    thread::sleep(std::time::Duration::from_millis(100));

    // debug=0: one sample per distinct stack; the parked workers share one.
    let response = get(addr, "/debug/pprof/goroutine");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"goroutine\"")
    );
    let profile = decode(&response.body);
    assert_eq!(
        sample_types(&profile),
        [("goroutine".into(), "count".into())]
    );
    assert_eq!(profile.period, 1);
    let parked: Vec<_> = profile
        .sample
        .iter()
        .filter(|s| has_parked_worker(&stack_names(&profile, s)))
        .collect();
    let parked_total: i64 = parked.iter().map(|s| s.value[0]).sum();
    assert_eq!(parked_total, WORKERS as i64, "parked samples: {parked:#?}");
    assert!(
        parked.iter().any(|s| s.value[0] >= WORKERS as i64),
        "all {WORKERS} parked workers share one stack: {parked:#?}"
    );
    // A real stack: the blocking call on top, parked_worker below it, its callers
    // (down to the thread's start) below that.
    let names = stack_names(&profile, parked[0]);
    let worker = names.iter().position(|n| n.ends_with("::parked_worker"));
    let start = names
        .iter()
        .position(|n| n.contains("__rust_begin_short_backtrace"));
    assert!(
        matches!((worker, start), (Some(w), Some(s)) if 0 < w && w < s),
        "parked_worker between the blocking call and the thread start: {names:#?}"
    );
    let threads = profiled::thread_count() as i64;
    let total: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
    assert!(
        (threads - 2..=threads + 2).contains(&total),
        "one count per thread: {total} vs {threads}"
    );

    // debug=1: Go's aggregated text.
    let text = get(addr, "/debug/pprof/goroutine?debug=1").text();
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    let block = text
        .split("\n\n")
        .find(|block| block.contains("parked_worker"))
        .unwrap_or_else(|| panic!("no parked_worker in:\n{text}"));
    // The first record follows the header line directly.
    let block = block
        .lines()
        .skip_while(|l| !l.contains(" @"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(block.starts_with(&format!("{WORKERS} @ 0x")), "{block}");
    assert!(
        block.lines().skip(1).all(|l| l.starts_with("#\t0x")),
        "{block}"
    );

    // debug=2: one block per thread, 8 of them in parked_worker.
    let dump = get(addr, "/debug/pprof/goroutine?debug=2").text();
    let blocks: Vec<&str> = dump
        .split("\n\n")
        .filter(|b| b.starts_with("goroutine "))
        .collect();
    let headers = dump.lines().filter(|l| l.starts_with("goroutine ")).count();
    assert_eq!(headers, blocks.len());
    assert!((threads - 2..=threads + 2).contains(&(headers as i64)));
    let parked_blocks: Vec<&&str> = blocks
        .iter()
        .filter(|b| b.contains("::parked_worker(...)\n\t"))
        .collect();
    assert_eq!(parked_blocks.len(), WORKERS, "{dump}");
    for block in &parked_blocks {
        let header = block.lines().next().unwrap();
        assert!(header.ends_with("\"]:"), "{header}");
        assert!(header.contains(", thread \"parked-"), "{header}");
        // Parked, so sleeping, unless the state was read while the thread was
        // still returning from the dump's signal handler.
        assert!(
            header.contains("[sleeping, ") || header.contains("[running, "),
            "{header}"
        );
        assert!(block.contains("goroutine_threads.rs:"), "{block}");
    }
    // The thread serving the request is first and running.
    assert!(blocks[0].starts_with("goroutine "), "{}", blocks[0]);
    assert!(blocks[0].lines().next().unwrap().contains("[running, "));

    // go tool pprof reads both count profiles with no warning.
    if let Some(go) = tool_binary("go", "golang-go") {
        for name in ["goroutine", "threadcreate"] {
            let url = format!("http://{addr}/debug/pprof/{name}");
            let run = go_tool_pprof(&go, &["-raw", &url]);
            assert!(run.success, "{name}: {}", run.stderr);
            assert!(
                pprof_complaints(&run.stderr).is_empty(),
                "{name}: {}",
                run.stderr
            );
            assert!(
                run.stdout.contains(&format!("{name}/count")),
                "{}",
                run.stdout
            );
        }
        let run = go_tool_pprof(
            &go,
            &["-top", &format!("http://{addr}/debug/pprof/goroutine")],
        );
        assert!(run.stdout.contains("parked_worker"), "{}", run.stdout);
    }

    // Index lists both with counts.
    let index = get(addr, "/debug/pprof/").text();
    assert!(
        index.contains("<a href='goroutine?debug=1'>goroutine</a>"),
        "{index}"
    );
    assert!(index.contains("<a href='threadcreate?debug=1'>threadcreate</a>"));

    STOP.store(true, Ordering::Release);
    for worker in workers {
        worker.thread().unpark();
        worker.join().unwrap();
    }
    let state = profiled::thread::dump_state();
    assert!(state.handler_installed);
    assert_eq!(state.slots_in_use, 0);
}
