// Code written against tokio::sync's types, included twice by tokio_swap.rs: once
// after `use tokio::sync::{...}` and once after `use profiled::tokio::{...}`. The
// `use` line is the only difference between the two builds.

pub async fn run() -> Vec<String> {
    let mut log = Vec::new();

    // Mutex: lock, try_lock, owned guards, mapped guards, get_mut, into_inner.
    static COUNTER: Mutex<u64> = Mutex::const_new(0);
    *COUNTER.lock().await += 1;
    let shared = Arc::new(Mutex::new((1u32, String::from("a"))));
    {
        let guard = shared.lock().await;
        assert!(shared.try_lock().is_err());
        let mut second = MutexGuard::map(guard, |pair| &mut pair.1);
        second.push('b');
    }
    let owned: OwnedMutexGuard<(u32, String)> = Arc::clone(&shared).lock_owned().await;
    assert!(Arc::clone(&shared).try_lock_owned().is_err());
    drop(owned);
    let task = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut guard = shared.lock_owned().await;
            guard.0 += 1;
        })
    };
    task.await.unwrap();
    let mut unshared = Mutex::new(5);
    *unshared.get_mut() += 1;
    log.push(format!(
        "mutex {} {:?} {}",
        *COUNTER.lock().await,
        *shared.lock().await,
        unshared.into_inner()
    ));

    // RwLock: read, write, try_*, owned, downgrade, map.
    let config = Arc::new(RwLock::new(vec![1, 2]));
    {
        let a = config.read().await;
        let b = config.try_read().unwrap();
        assert!(config.try_write().is_err());
        log.push(format!("rwlock readers {} {}", a.len(), b.len()));
    }
    config.write().await.push(3);
    let writer: RwLockWriteGuard<'_, Vec<i32>> = config.write().await;
    let reader = RwLockWriteGuard::downgrade(writer);
    let first = RwLockReadGuard::map(reader, |v| &v[0]);
    log.push(format!("rwlock first {}", *first));
    drop(first);
    let owned_read = Arc::clone(&config).read_owned().await;
    log.push(format!("rwlock owned {:?}", *owned_read));
    drop(owned_read);
    Arc::clone(&config).write_owned().await.push(4);
    log.push(format!("rwlock {:?}", *config.read().await));

    // Semaphore: acquire, acquire_many, try_acquire, owned, add_permits, forget, close.
    let pool = Arc::new(Semaphore::new(3));
    let one: SemaphorePermit<'_> = pool.acquire().await.unwrap();
    let two = pool.acquire_many(2).await.unwrap();
    assert!(pool.try_acquire().is_err());
    log.push(format!("semaphore {} {} {}", one.num_permits(), two.num_permits(), pool.available_permits()));
    drop(one);
    two.forget();
    pool.add_permits(2);
    let owned: OwnedSemaphorePermit = Arc::clone(&pool).acquire_owned().await.unwrap();
    let many = Arc::clone(&pool).acquire_many_owned(2).await.unwrap();
    assert!(Arc::clone(&pool).try_acquire_owned().is_err());
    drop((owned, many));
    let tried = pool.try_acquire_many(3).unwrap();
    drop(tried);
    pool.close();
    log.push(format!(
        "semaphore closed {} {}",
        pool.is_closed(),
        pool.acquire().await.is_err()
    ));

    // Notify: notified, notify_one, notify_waiters.
    let notify = Arc::new(Notify::new());
    notify.notify_one(); // stores a permit
    notify.notified().await;
    let waiter = {
        let notify = Arc::clone(&notify);
        tokio::spawn(async move { notify.notified().await })
    };
    while !waiter.is_finished() {
        notify.notify_waiters();
        tokio::task::yield_now().await;
    }
    waiter.await.unwrap();
    log.push("notify ok".to_owned());

    // mpsc: channel, send, reserve, try_send, closed, recv, try_recv, close.
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.send(1).await.unwrap();
    assert!(tx.try_send(2).is_err());
    log.push(format!("mpsc {:?}", rx.recv().await));
    let permit = tx.reserve().await.unwrap();
    permit.send(3);
    log.push(format!("mpsc {:?} {:?}", rx.try_recv(), rx.try_recv().is_err()));
    let closer = tx.clone();
    rx.close();
    closer.closed().await;
    log.push(format!("mpsc closed {}", tx.send(4).await.is_err()));
    let (utx, mut urx) = mpsc::unbounded_channel();
    utx.send("u").unwrap();
    drop(utx);
    log.push(format!("unbounded {:?} {:?}", urx.recv().await, urx.recv().await));

    // oneshot: the receiver is a future.
    let (otx, orx) = oneshot::channel();
    tokio::spawn(async move { otx.send(9).unwrap() });
    log.push(format!("oneshot {:?}", orx.await));
    log
}
