//! Unit tests of `conn`.

use super::*;

#[test]
fn the_cap_evicts_the_longest_waiting_client_and_refuses_when_all_serve() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let table = Table::new(2);
        let first = table.admit().unwrap();
        let second = table.admit().unwrap();
        let _serving = second.state.serving();
        // At the cap: the idle first connection makes room.
        let third = table.admit().unwrap();
        tokio::time::timeout(Duration::from_secs(5), first.evicted())
            .await
            .expect("the idle connection was evicted");
        drop(first);
        assert_eq!(table.len(), 2);
        let _also_serving = third.state.serving();
        assert!(table.admit().is_none(), "every connection is serving");
        // A serving connection whose client stopped reading makes room.
        third.state.write_blocked.store(1, Ordering::Relaxed);
        let fourth = table.admit().unwrap();
        tokio::time::timeout(Duration::from_secs(5), third.evicted())
            .await
            .expect("the non-reading connection was evicted");
        drop(third);
        drop(fourth);
        assert!(table.admit().is_some());
    });
}

#[test]
fn the_refusal_is_well_formed() {
    let text = refusal();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{text}"
    );
}

#[test]
fn the_cap_stays_below_the_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let cap = affordable(usize::MAX);
    if limit.rlim_cur != libc::RLIM_INFINITY {
        assert!(
            cap as u64 <= limit.rlim_cur / 4,
            "{cap} vs {}",
            limit.rlim_cur
        );
    }
    assert_eq!(affordable(3), 3);
}
