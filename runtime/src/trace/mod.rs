//! `/debug/pprof/trace?seconds=N`: a timeline of `#[profiled]` calls and polls,
//! contended lock waits and holds, and task polls, as Chrome trace event JSON that
//! Perfetto (ui.perfetto.dev) and chrome://tracing open. Go's binary execution
//! trace format (`go tool trace`) is not produced.
//!
//! While a trace runs, each thread writes complete events into its own bounded
//! ring (`ring.rs`); the collector copies them when the window ends.

mod ring;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use ring::{Event, Ring};

use crate::clock;
use crate::control::{self, TRACING};

/// What a trace event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Category {
    /// A sync `#[profiled]` call.
    Function = 1,
    /// One poll of an async `#[profiled]` future.
    Poll = 2,
    /// A wait for a profiled lock.
    LockWait = 3,
    /// A profiled lock held while others waited.
    LockHold = 4,
    /// One poll of a tracked task.
    TaskPoll = 5,
}

impl Category {
    fn from_u8(value: u8) -> Option<Category> {
        Some(match value {
            1 => Category::Function,
            2 => Category::Poll,
            3 => Category::LockWait,
            4 => Category::LockHold,
            5 => Category::TaskPoll,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Category::Function => "function",
            Category::Poll => "poll",
            Category::LockWait => "lock-wait",
            Category::LockHold => "lock-hold",
            Category::TaskPoll => "task",
        }
    }
}

/// Threads that may hold a ring at once; more trace nothing (counted).
const MAX_RINGS: usize = 1024;

struct Rings {
    rings: Vec<Arc<Ring>>,
    refused: u64,
}

static RINGS: Mutex<Rings> = Mutex::new(Rings {
    rings: Vec::new(),
    refused: 0,
});

thread_local! {
    static THREAD_RING: RefCell<Option<Arc<Ring>>> = const { RefCell::new(None) };
}

/// Records a complete event on the current thread (call only while tracing).
#[inline]
pub(crate) fn record(name: &'static str, category: Category, start: u64, end: u64) {
    let event = Event {
        name,
        category,
        start,
        end,
    };
    let _ = THREAD_RING.try_with(|cell| {
        if let Ok(slot) = cell.try_borrow()
            && let Some(ring) = slot.as_ref()
        {
            ring.push(event);
            return;
        }
        first_event(cell, event);
    });
}

/// Creates and registers this thread's ring, then records `event` in it.
#[cold]
#[inline(never)]
fn first_event(cell: &RefCell<Option<Arc<Ring>>>, event: Event) {
    let Ok(mut slot) = cell.try_borrow_mut() else {
        return;
    };
    if slot.is_none() {
        let mut rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
        // Rings of finished threads are only referenced here: drop them.
        rings.rings.retain(|ring| Arc::strong_count(ring) > 1);
        if rings.rings.len() >= MAX_RINGS {
            rings.refused += 1;
            return;
        }
        // SAFETY: gettid has no preconditions.
        let tid = i64::from(unsafe { libc::gettid() });
        let name = std::thread::current().name().unwrap_or("").to_owned();
        let ring = Ring::new(tid, name);
        rings.rings.push(Arc::clone(&ring));
        *slot = Some(ring);
    }
    if let Some(ring) = slot.as_ref() {
        ring.push(event);
    }
}

/// Why a trace could not be taken.
#[derive(Debug)]
pub(crate) enum TraceError {
    AlreadyRunning,
}

/// True while a trace window is open: the recording paths then write trace events.
/// One relaxed load.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    control::call_switches() & TRACING != 0
}

/// Opens the trace switch; false when a trace was already running.
fn start_tracing() -> bool {
    clock::start_calibration();
    control::switch_on(TRACING)
}

fn stop_tracing() {
    control::switch_off(TRACING);
}

/// Starts a trace window; `Err` when one is already running. The window ends
/// when the returned guard is finished or dropped (a client hanging up).
pub(crate) fn start() -> Result<TraceWindow, TraceError> {
    if !start_tracing() {
        return Err(TraceError::AlreadyRunning);
    }
    Ok(TraceWindow {
        start_ticks: clock::ticks(),
        start_unix_nanos: clock::unix_nanos(),
        done: false,
    })
}

/// A running trace window.
pub(crate) struct TraceWindow {
    start_ticks: u64,
    start_unix_nanos: i64,
    done: bool,
}

impl Drop for TraceWindow {
    fn drop(&mut self) {
        if !self.done {
            stop_tracing();
        }
    }
}

impl TraceWindow {
    /// Stops tracing and renders the window's events as Chrome trace JSON.
    pub(crate) fn finish(mut self) -> String {
        stop_tracing();
        self.done = true;
        let end_ticks = clock::ticks();
        let rings: Vec<Arc<Ring>> = {
            let rings = RINGS.lock().unwrap_or_else(|e| e.into_inner());
            rings.rings.clone()
        };
        let refused = RINGS.lock().map_or(0, |r| r.refused);
        let pid = std::process::id();
        let to_us = |ticks: u64| clock::ticks_to_ns(ticks) as f64 / 1000.0;
        let mut json = String::from("{\"traceEvents\":[");
        let mut first = true;
        let mut overwritten = 0u64;
        for ring in &rings {
            let events: Vec<Event> = ring
                .events()
                .into_iter()
                .filter(|e| e.start >= self.start_ticks && e.end <= end_ticks && e.end >= e.start)
                .collect();
            overwritten += ring
                .written()
                .saturating_sub(ring::EVENTS_PER_THREAD as u64);
            if events.is_empty() {
                continue;
            }
            push_separator(&mut json, &mut first);
            let _ = write!(
                json,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{},\"args\":{{\"name\":{}}}}}",
                ring.tid,
                json_string(if ring.thread_name.is_empty() {
                    "unnamed"
                } else {
                    &ring.thread_name
                })
            );
            for event in events {
                push_separator(&mut json, &mut first);
                let _ = write!(
                    json,
                    "{{\"name\":{},\"cat\":\"{}\",\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":{pid},\"tid\":{}}}",
                    json_string(event.name),
                    event.category.as_str(),
                    to_us(event.start - self.start_ticks),
                    to_us(event.end - event.start),
                    ring.tid
                );
            }
        }
        let _ = write!(
            json,
            "],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"profiled\",\
             \"start_unix_nanos\":{},\"duration_us\":{:.3},\"overwritten_events\":{overwritten},\
             \"threads_not_traced\":{refused}}}}}",
            self.start_unix_nanos,
            to_us(end_ticks.saturating_sub(self.start_ticks)),
        );
        json
    }
}

fn push_separator(json: &mut String, first: &mut bool) {
    if !std::mem::take(first) {
        json.push(',');
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".to_owned())
}
