//! With file descriptors exhausted, symbolization fails (the binary cannot be
//! opened), and once descriptors are free again names come back: the failure is
//! not cached. Own process: it lowers `RLIMIT_NOFILE`.

use std::fs::File;
use std::time::{Duration, Instant};

#[inline(never)]
fn marker_function(x: u64) -> u64 {
    let mut acc = x;
    for i in 0..32u64 {
        acc = std::hint::black_box(acc.rotate_left(5) ^ i);
    }
    acc
}

fn set_nofile(soft: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct they are given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let previous = limit.rlim_cur;
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        previous
    }
}

#[test]
fn names_come_back_after_a_symbolization_failure() {
    std::hint::black_box(marker_function(1));
    let address = marker_function as *const () as usize + 8;

    // Exhaust descriptors: a low limit, then open /dev/null until it fails.
    let previous = set_nofile(64);
    let mut held = Vec::new();
    while let Ok(file) = File::open("/dev/null") {
        held.push(file);
    }
    assert_eq!(
        File::open("/dev/null").unwrap_err().raw_os_error(),
        Some(libc::EMFILE)
    );
    let failed = profiled::__bench::symbolize_names(address);
    assert!(
        !failed.iter().any(|n| n.ends_with("marker_function")),
        "symbolized without a descriptor? {failed:?}"
    );

    drop(held);
    set_nofile(previous);
    // The failed open is retried after a second; the address was not cached empty.
    let deadline = Instant::now() + Duration::from_secs(30);
    let names = loop {
        let names = profiled::__bench::symbolize_names(address);
        if names.iter().any(|n| n.ends_with("marker_function")) || Instant::now() > deadline {
            break names;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        names
            .iter()
            .any(|n| n == "symbolize_recovery::marker_function"),
        "{names:?}"
    );
}
