//! The tokio convoy both tokio benches run: `TASKS` tasks x `INCREMENTS`
//! `lock().await` + increment of one fresh `$mutex` on `$runtime`, timed from the
//! first spawn to the last join (the final count is checked after the clock stops).

pub const TASKS: usize = 8;
pub const INCREMENTS: u64 = 100_000;

/// One convoy; yields its wall time.
macro_rules! convoy {
    ($runtime:expr, $mutex:ty) => {{
        let lock = std::sync::Arc::new(<$mutex>::new(0u64));
        $runtime.block_on(async move {
            let start = std::time::Instant::now();
            let tasks: Vec<_> = (0..convoy::TASKS)
                .map(|_| {
                    let lock = std::sync::Arc::clone(&lock);
                    tokio::spawn(async move {
                        for _ in 0..convoy::INCREMENTS {
                            *lock.lock().await += 1;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let elapsed = start.elapsed();
            assert_eq!(
                *lock.lock().await,
                convoy::TASKS as u64 * convoy::INCREMENTS
            );
            elapsed
        })
    }};
}
