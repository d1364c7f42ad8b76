//! Swapping `use tokio::sync::{...}` for `use profiled::tokio::{...}` is the only
//! change code written against tokio's types needs: `tokio_swap/app.rs` is compiled
//! twice, once after each `use` line, and both builds behave the same.

mod with_tokio {
    use std::sync::Arc;
    use tokio::sync::{
        Mutex, MutexGuard, Notify, OwnedMutexGuard, OwnedSemaphorePermit, RwLock, RwLockReadGuard,
        RwLockWriteGuard, Semaphore, SemaphorePermit, mpsc, oneshot,
    };
    include!("tokio_swap/app.rs");
}

mod with_profiled {
    use profiled::tokio::{
        Mutex, MutexGuard, Notify, OwnedMutexGuard, OwnedSemaphorePermit, RwLock, RwLockReadGuard,
        RwLockWriteGuard, Semaphore, SemaphorePermit, mpsc, oneshot,
    };
    use std::sync::Arc;
    include!("tokio_swap/app.rs");
}

#[test]
fn swapping_the_use_line_is_the_only_change() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let expected = runtime.block_on(with_tokio::run());
    let profiled = runtime.block_on(with_profiled::run());
    assert_eq!(profiled, expected);
    assert_eq!(
        expected[0], "mutex 1 (2, \"ab\") 6",
        "the log says what ran: {expected:?}"
    );
    assert_eq!(expected.last().unwrap(), "oneshot Ok(9)");
}

/// The futures and guards are `Send` wherever tokio's are, so they cross `spawn`.
#[test]
fn futures_and_guards_are_send() {
    fn send<T: Send>(_: &T) {}
    let mutex = profiled::tokio::Mutex::new(0u8);
    let rwlock = profiled::tokio::RwLock::new(0u8);
    let pool = profiled::tokio::Semaphore::new(1);
    let notify = profiled::tokio::Notify::new();
    let (tx, mut rx) = profiled::tokio::mpsc::channel::<u8>(1);
    let (_otx, orx) = profiled::tokio::oneshot::channel::<u8>();
    send(&mutex.lock());
    send(&rwlock.read());
    send(&rwlock.write());
    send(&pool.acquire());
    send(&notify.notified());
    send(&tx.send(1));
    send(&tx.reserve());
    send(&orx);
    send(&rx.recv());
    send(&mutex.try_lock().unwrap());
    send(&pool.try_acquire().unwrap());
}
