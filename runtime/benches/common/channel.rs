//! The tokio channel both tokio benches run: one producer task sends `MESSAGES`
//! `u64`s through a bounded `$channel(CAPACITY)` to the consumer on `$runtime`,
//! timed from the channel's creation to the producer's join (the sum is checked
//! after the clock stops).

pub const MESSAGES: u64 = 200_000;
pub const CAPACITY: usize = 64;

/// One transfer; yields its wall time.
macro_rules! transfer {
    ($runtime:expr, $channel:expr) => {{
        $runtime.block_on(async {
            let start = std::time::Instant::now();
            let (tx, mut rx) = $channel(channel::CAPACITY);
            let producer = tokio::spawn(async move {
                for i in 0..channel::MESSAGES {
                    tx.send(i).await.unwrap();
                }
            });
            let mut sum = 0;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            producer.await.unwrap();
            let elapsed = start.elapsed();
            assert_eq!(sum, channel::MESSAGES * (channel::MESSAGES - 1) / 2);
            elapsed
        })
    }};
}
