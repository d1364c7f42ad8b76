//! Off the signal path: the supervisor drains the ring into a bounded table of
//! (thread, stack) -> expiries, and names the threads it sees.

use std::collections::HashMap;
use std::sync::Arc;

use super::handler;

/// Distinct (thread, stack) pairs with their expiry counts.
pub(super) struct Table {
    /// Key: the thread id, then the frames (real, separator, logical chain).
    counts: HashMap<Vec<usize>, u64>,
    capacity: usize,
    /// Expiries whose (thread, stack) did not fit.
    pub(super) overflow: u64,
    /// Thread names, read from `/proc` the first time a thread is seen.
    names: HashMap<libc::pid_t, Arc<str>>,
    key: Vec<usize>,
}

impl Table {
    pub(super) fn new(capacity: usize) -> Table {
        Table {
            counts: HashMap::new(),
            capacity: capacity.max(1),
            overflow: 0,
            names: HashMap::new(),
            key: Vec::with_capacity(handler::REAL_FRAMES + handler::LOGICAL_FRAMES + 2),
        }
    }

    /// Moves every ready sample of the ring into the table.
    pub(super) fn drain(&mut self) {
        handler::drain(|sample| {
            self.key.clear();
            self.key.push(sample.tid as u32 as usize);
            self.key.extend_from_slice(sample.frames);
            if let Some(count) = self.counts.get_mut(self.key.as_slice()) {
                *count += sample.count;
            } else if self.counts.len() < self.capacity {
                self.counts.insert(self.key.clone(), sample.count);
            } else {
                self.overflow += sample.count;
            }
            if !self.names.contains_key(&sample.tid) {
                self.name(sample.tid);
            }
        });
    }

    /// Reads and keeps the name of thread `tid` if not known yet (while it lives).
    pub(super) fn name(&mut self, tid: libc::pid_t) {
        self.names.entry(tid).or_insert_with(|| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .map(|name| name.trim_end_matches('\n').into())
                .unwrap_or_else(|_| "[exited]".into())
        });
    }

    /// Rows of (frames, expiries, thread name).
    pub(super) fn rows(&self) -> impl Iterator<Item = (&[usize], u64, Arc<str>)> + '_ {
        self.counts.iter().filter_map(|(key, &count)| {
            let (&tid, frames) = key.split_first()?;
            let name = self
                .names
                .get(&(tid as u32 as libc::pid_t))
                .cloned()
                .unwrap_or_else(|| "[unknown]".into());
            Some((frames, count, name))
        })
    }

    /// Distinct (thread, stack) pairs kept.
    pub(super) fn len(&self) -> usize {
        self.counts.len()
    }
}
