//! The README's demos: `contention` makes `go tool pprof -top .../mutex` put
//! `audit_ledger` first; `async_service` shows waits by logical async stack, and
//! its handlers' labels slice them by route.

use std::time::Duration;

use profiled_tests::{
    decode, get, go_tool_pprof, request, stack_names, start_example, start_example_with_env,
    tool_binary, total, total_for, total_for_label,
};

#[test]
fn contention_example_shows_audit_ledger_as_the_culprit() {
    let Some(example) = start_example("contention") else {
        return;
    };
    let addr = example.addr;
    std::thread::sleep(Duration::from_secs(3));

    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let audit = total_for(&mutex, "audit_ledger", 1);
    assert!(
        audit * 2 > total(&mutex, 1),
        "audit_ledger holds {audit} of {} ns",
        total(&mutex, 1)
    );
    let block = decode(&get(addr, "/debug/pprof/block").body);
    for waiter in ["transfer", "lookup_price", "next_job"] {
        assert!(total_for(&block, waiter, 1) > 0, "{waiter} never waited");
    }

    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/mutex");
        let top = go_tool_pprof(&go, &["-top", &url]);
        let first_entry = profiled_tests::pprof_top_entry(&top.stdout);
        assert!(first_entry.contains("audit_ledger"), "{}", top.stdout);
    }
}

#[test]
fn async_service_example_shows_waits_by_logical_stack() {
    let Some(example) = start_example("async_service") else {
        return;
    };
    let addr = example.addr;
    std::thread::sleep(Duration::from_secs(3));

    let block = decode(&get(addr, "/debug/pprof/block").body);
    let chain: i64 = block
        .sample
        .iter()
        .filter(|s| {
            stack_names(&block, s)
                == [
                    "async_service::user_service_call",
                    "async_service::load_user",
                    "async_service::handle_request",
                ]
        })
        .map(|s| s.value[1])
        .sum();
    assert!(
        chain > 0,
        "no wait under handle_request > load_user > user_service_call"
    );
    assert!(
        chain * 2 > total(&block, 1),
        "{chain} of {}",
        total(&block, 1)
    );

    let stats: serde_json::Value = serde_json::from_slice(&get(addr, "/debug/stats").body).unwrap();
    let handler = stats["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "async_service::handle_request")
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(handler["calls"].as_u64().unwrap() > 10, "{handler}");
    assert!(handler["idle_ns"].as_u64().unwrap() > handler["busy_ns"].as_u64().unwrap());

    // The tokio::sync-style culprit: refresh_prices holds the price_cache Mutex
    // across an .await, so it leads the mutex profile; checkouts wait for it and
    // for the db_pool Semaphore.
    let in_fn = |name: &str, function: &str| name.contains(&format!("::{function}"));
    let delay_in = |profile: &pprof::protos::Profile, function: &str| -> i64 {
        profile
            .sample
            .iter()
            .filter(|s| stack_names(profile, s).iter().any(|n| in_fn(n, function)))
            .map(|s| s.value[1])
            .sum()
    };
    let mutex = decode(&get(addr, "/debug/pprof/mutex").body);
    let refresh = delay_in(&mutex, "refresh_prices");
    assert!(
        refresh * 2 > total(&mutex, 1),
        "refresh_prices charged {refresh} of {} ns",
        total(&mutex, 1)
    );
    assert!(
        delay_in(&block, "handle_checkout") > 0,
        "checkouts never waited"
    );
    for (lock, kind) in [("price_cache", "async_mutex"), ("db_pool", "semaphore")] {
        let site = stats["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == lock)
            .unwrap_or_else(|| panic!("{lock} is not listed: {stats}"));
        assert_eq!(site["kind"], kind, "{site}");
        assert!(site["contentions"].as_u64().unwrap() > 0, "{site}");
    }
    // The handlers' labels slice the profiles by route: every wait of the request
    // chain is route=/user's, every checkout wait route=/checkout's, and
    // refresh_prices' holds are job=refresh_prices's.
    assert!(total_for_label(&block, "route", "/user", 1) >= chain);
    assert!(
        total_for_label(&block, "route", "/checkout", 1) >= delay_in(&block, "handle_checkout")
    );
    assert!(total_for_label(&mutex, "job", "refresh_prices", 1) >= refresh);
    // The handlers' labels slice the profiles by route: every wait of the request
    // chain is route=/user's, every checkout wait route=/checkout's, and
    // refresh_prices' holds are job=refresh_prices's.
    assert!(total_for_label(&block, "route", "/user", 1) >= chain);
    assert!(
        total_for_label(&block, "route", "/checkout", 1) >= delay_in(&block, "handle_checkout")
    );
    assert!(total_for_label(&mutex, "job", "refresh_prices", 1) >= refresh);
    if let Some(go) = tool_binary("go", "golang-go") {
        let url = format!("http://{addr}/debug/pprof/mutex");
        let top = go_tool_pprof(&go, &["-top", &url]);
        let first_entry = profiled_tests::pprof_top_entry(&top.stdout);
        assert!(first_entry.contains("refresh_prices"), "{}", top.stdout);
    }
}

#[test]
fn production_example_serves_profiles_under_admin_behind_its_token() {
    let Some(example) =
        start_example_with_env("production", &[("PROFILED_AUTH_TOKEN", "test-token")])
    else {
        return;
    };
    let addr = example.addr;
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(get(addr, "/reserve").status, 200);
    assert_eq!(get(addr, "/admin/debug/pprof/").status, 401);
    let with_token = |path: &str| {
        request(
            addr,
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer test-token\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    let block = with_token("/admin/debug/pprof/block");
    assert_eq!(block.status, 200);
    let block = decode(&block.body);
    assert!(total_for(&block, "reserve", 1) > 0, "{block:?}");
    let metrics = with_token("/admin/metrics").text();
    assert!(
        metrics.contains("profiled_function_calls_total{function=\"production::reserve\""),
        "{metrics}"
    );
}
