//! Two lanes on the blocking pool: heavy work (profile snapshots and encodes, symbol
//! lookups) takes one of [`HEAVY_THREADS`] permits first; cheap endpoints
//! (`/metrics`, `/debug/stats`, the index) never wait for one, so they answer while
//! every heavy permit is taken. The server's own runtime has
//! `HEAVY_THREADS + CHEAP_THREADS` blocking threads (4, as before the split: each
//! blocking thread keeps a malloc arena, so more threads cost resident memory).

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// Heavy blocking jobs run at once, process-wide.
pub(crate) const HEAVY_THREADS: usize = 3;
/// Blocking threads left for cheap endpoints when every heavy permit is taken.
pub(crate) const CHEAP_THREADS: usize = 1;

static HEAVY: Semaphore = Semaphore::const_new(HEAVY_THREADS);

/// Runs `work` on the blocking pool once a heavy permit is free.
pub(crate) async fn heavy<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JoinError> {
    // Never closed, so acquiring fails only if it were; run anyway then.
    let _permit = HEAVY.acquire().await.ok();
    tokio::task::spawn_blocking(work).await
}

/// Runs cheap `work` on the blocking pool without waiting for a heavy permit.
pub(crate) async fn cheap<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JoinError> {
    tokio::task::spawn_blocking(work).await
}
