//! The push threads: `profiled-push` collects a batch per interval, and
//! `profiled-push-send` sends the bounded queue with backoff.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::{Client, Outcome, backoff};
use super::collect::Collector;
use super::config::PushConfig;
use super::{COUNTERS, MAX_QUEUED_BATCHES, set_last_error};

/// Longest wait between retries of one batch.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The running push threads; dropping it stops them (a send in flight finishes
/// within the push timeout).
pub(crate) struct Pusher {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    queue: VecDeque<Arc<Vec<u8>>>,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until `deadline` or a stop; true when stopping.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn enqueue(&self, batch: Vec<u8>) {
        let batch = Arc::new(batch);
        let mut state = self.lock();
        if state.queue.len() >= MAX_QUEUED_BATCHES {
            state.queue.pop_front();
            COUNTERS.dropped_batches.fetch_add(1, Ordering::Relaxed);
        }
        state.queue.push_back(batch);
        COUNTERS
            .queued
            .store(state.queue.len() as u64, Ordering::Relaxed);
        drop(state);
        self.wake.notify_all();
    }

    /// The oldest batch, waiting for one; `None` when stopping.
    fn next(&self) -> Option<Arc<Vec<u8>>> {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return None;
            }
            if let Some(front) = state.queue.front() {
                return Some(Arc::clone(front));
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Removes the front batch if it is still `sent` (a full queue may have pushed
    /// it out meanwhile).
    fn done(&self, sent: &Arc<Vec<u8>>) {
        let mut state = self.lock();
        if state
            .queue
            .front()
            .is_some_and(|front| Arc::ptr_eq(front, sent))
        {
            state.queue.pop_front();
        }
        COUNTERS
            .queued
            .store(state.queue.len() as u64, Ordering::Relaxed);
    }
}

impl Pusher {
    pub(crate) fn start(config: PushConfig, collector: Collector) -> std::io::Result<Pusher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                stopping: false,
            }),
            wake: Condvar::new(),
        });
        let client = Client::new(&config);
        let mut pusher = Pusher {
            shared: Arc::clone(&shared),
            threads: Vec::new(),
        };
        let collecting = Arc::clone(&shared);
        let interval = config.interval;
        pusher.threads.push(
            std::thread::Builder::new()
                .name("profiled-push".into())
                .spawn(move || collect_loop(&collecting, collector, interval))?,
        );
        let sending = Arc::clone(&shared);
        pusher.threads.push(
            std::thread::Builder::new()
                .name("profiled-push-send".into())
                .spawn(move || send_loop(&sending, &client))?,
        );
        COUNTERS.running.fetch_add(1, Ordering::Relaxed);
        Ok(pusher)
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        COUNTERS.running.fetch_sub(1, Ordering::Relaxed);
        COUNTERS.queued.store(0, Ordering::Relaxed);
    }
}

fn collect_loop(shared: &Shared, mut collector: Collector, interval: Duration) {
    let cpu_window = interval.saturating_sub(Duration::from_secs(1));
    let mut round = Instant::now();
    loop {
        let cpu_until = round + cpu_window;
        let Some(batch) = collector.round(cpu_until, |deadline| shared.sleep_until(deadline))
        else {
            return; // stopping
        };
        shared.enqueue(batch);
        // The next round symbolizes again within two intervals: keep what is costly
        // to bring back (decompressed debug sections) until then.
        crate::stack::symbolize::expect_next_pass_within(interval.saturating_mul(2));
        round += interval;
        if round < Instant::now() {
            // A round that overran (a slow CPU profile stop): start afresh.
            round = Instant::now();
        }
        if shared.sleep_until(round) {
            return;
        }
    }
}

fn send_loop(shared: &Shared, client: &Client) {
    let mut failures = 0u32;
    while let Some(batch) = shared.next() {
        match client.send(&batch) {
            Outcome::Accepted => {
                failures = 0;
                COUNTERS.pushes.fetch_add(1, Ordering::Relaxed);
                COUNTERS
                    .bytes
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                COUNTERS
                    .last_push_unix_nanos
                    .store(crate::clock::unix_nanos(), Ordering::Relaxed);
                shared.done(&batch);
            }
            Outcome::Rejected(message) => {
                failures = 0;
                COUNTERS.failures.fetch_add(1, Ordering::Relaxed);
                COUNTERS.dropped_batches.fetch_add(1, Ordering::Relaxed);
                set_last_error(message);
                shared.done(&batch);
            }
            Outcome::Retry(message) => {
                failures = failures.saturating_add(1);
                COUNTERS.failures.fetch_add(1, Ordering::Relaxed);
                set_last_error(message);
                if shared.sleep_until(Instant::now() + backoff(failures, MAX_BACKOFF)) {
                    return;
                }
            }
        }
    }
}
