//! The optional background check ([`Config::deadlock_check_interval`]): a
//! `profiled-deadlock` thread that checks every interval and calls the callbacks
//! registered with [`on_deadlock`] once per new finding.
//!
//! [`Config::deadlock_check_interval`]: crate::Config::deadlock_check_interval

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::Deadlock;
use super::graph::{self, Finding};
use super::report::{self, Names};

type Callback = Box<dyn Fn(&Deadlock) + Send + Sync>;

static CALLBACKS: Mutex<Vec<Callback>> = Mutex::new(Vec::new());

/// Registers `callback`, called from the background check (when
/// [`Config::deadlock_check_interval`](crate::Config::deadlock_check_interval) is set)
/// once for every new deadlock it finds: a cycle, or waiters on a lock whose owner
/// exited. A finding that persists is reported once; callbacks run on the check's
/// thread, one after another, so they should be quick (log, count, alert).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static FOUND: AtomicUsize = AtomicUsize::new(0);
/// profiled::deadlock::on_deadlock(|deadlock| {
///     FOUND.fetch_add(1, Ordering::Relaxed);
///     eprintln!("{deadlock}");
/// });
/// ```
pub fn on_deadlock(callback: impl Fn(&Deadlock) + Send + Sync + 'static) {
    CALLBACKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Box::new(callback));
}

/// The running background check; stops when dropped.
pub(crate) struct Watch {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    /// Starts checking every `interval`.
    pub(crate) fn start(interval: Duration) -> std::io::Result<Watch> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("profiled-deadlock".into())
            .spawn(move || run(interval, &signal))?;
        Ok(Watch {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A finding's identity across checks: its waits (waiter, start, lock).
fn key(finding: &Finding) -> Vec<(u64, u64, usize)> {
    let mut key: Vec<_> = finding
        .waits()
        .map(|w| (w.waiter, w.since, w.lock))
        .collect();
    key.sort_unstable();
    key
}

fn run(interval: Duration, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    let mut reported: HashSet<Vec<(u64, u64, usize)>> = HashSet::new();
    loop {
        {
            let guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = wake
                .wait_timeout_while(guard, interval, |stopped| !*stopped)
                .unwrap_or_else(|e| e.into_inner());
            if *guard {
                return;
            }
        }
        let findings = graph::detect();
        let keys: Vec<_> = findings.iter().map(key).collect();
        // Forget findings that ended, so the table stays as small as what persists.
        reported.retain(|known| keys.contains(known));
        let new: Vec<(&Finding, Vec<_>)> = findings
            .iter()
            .zip(keys)
            .filter(|(_, key)| !reported.contains(key))
            .collect();
        if new.is_empty() {
            continue;
        }
        let names = Names::read();
        let callbacks = CALLBACKS.lock().unwrap_or_else(|e| e.into_inner());
        for (finding, key) in new {
            let deadlock = report::deadlock(finding, &names);
            for callback in callbacks.iter() {
                // A panicking callback must not end the check or poison others.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&deadlock)));
            }
            reported.insert(key);
        }
    }
}
