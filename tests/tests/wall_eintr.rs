//! A wall-clock profile interrupts blocked threads with `SIGPROF` 100 times a
//! second; the handler is installed with `SA_RESTART`, so a thread blocked in
//! `read` on a pipe for a 10 s profile never sees `EINTR` and reads its data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use profiled_tests::{decode, total_for};

#[inline(never)]
fn blocked_read(fd: libc::c_int, eintr: &AtomicU64) -> Vec<u8> {
    let mut buf = [0u8; 16];
    loop {
        // SAFETY: reads into a valid buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return buf[..n as usize].to_vec();
        }
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            eintr.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        panic!("read failed: {}", std::io::Error::last_os_error());
    }
}

#[test]
fn a_blocked_read_sees_no_eintr_during_a_wall_profile() {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let eintr = Arc::new(AtomicU64::new(0));
    let reader = {
        let eintr = Arc::clone(&eintr);
        std::thread::spawn(move || blocked_read(fds[0], &eintr))
    };
    std::thread::sleep(Duration::from_millis(100));
    let run = profiled::__bench::start_profile_run(true, 100).unwrap();
    std::thread::sleep(Duration::from_secs(10));
    let profile = decode(&run.finish());
    // SAFETY: writes 5 bytes from a valid buffer.
    assert_eq!(
        unsafe { libc::write(fds[1], b"hello".as_ptr().cast(), 5) },
        5
    );
    let read = reader.join().unwrap();
    let eintr = eintr.load(Ordering::Relaxed);
    let blocked = total_for(&profile, "blocked_read", 0);
    eprintln!("EINTR seen by the blocked read: {eintr}; its samples: {blocked}");
    assert_eq!(read, b"hello");
    assert_eq!(eintr, 0, "read returned EINTR {eintr} times");
    // It was sampled while blocked: about 1,000 samples over 10 s at 100 Hz.
    assert!(blocked >= 500, "blocked_read has {blocked} samples");
}
