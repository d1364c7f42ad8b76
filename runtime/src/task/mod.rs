//! Task tracking: every task spawned through [`spawn`] or [`spawn_blocking`] (feature
//! `tokio`) is listed with its state, polls, time in that state, spawn site and the
//! logical chain of `#[profiled]` frames it is waiting in, for task dumps and
//! [`task_count`].
//!
//! Layout: `slots.rs` holds the bounded slot table (cold claims, hot updates);
//! `future.rs` is the per-poll wrapper (hot).

#[cfg(feature = "tokio")]
mod future;
pub(crate) mod slots;

pub use slots::{DEFAULT_MAX_TASKS, TaskState};

/// Number of live tasks spawned through `profiled::task` (0 without feature `tokio`).
///
/// ```
/// assert_eq!(profiled::task_count(), 0);
/// ```
pub fn task_count() -> usize {
    slots::existing().map_or(0, slots::TaskTable::live)
}

/// Registers a task about to be spawned at `location`, with its spawn stack.
#[cfg(feature = "tokio")]
#[cold]
#[inline(never)]
fn register(location: &'static std::panic::Location<'static>, blocking: bool) -> Option<usize> {
    let stack = crate::stack::Stack::capture(|stack| {
        stack.push_labels(); // the task's labels: its spawner's
        crate::registry::get().stacks.intern(stack.frames())
    });
    slots::get().register(location, stack, blocking)
}

/// Spawns a future on the current tokio runtime, as `tokio::spawn`, and tracks it:
/// it appears in task dumps and [`task_count`] while it lives, with its spawn site
/// and the `#[profiled]` chain it waits in.
///
/// ```
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let handle = profiled::task::spawn(async { 40 + 2 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
#[cfg(feature = "tokio")]
#[track_caller]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let slot = register(std::panic::Location::caller(), false);
    // The task runs under its spawner's labels, as a goroutine does.
    let future = crate::labels::current().scope(future);
    tokio::spawn(future::TaskFuture::new(future, slot))
}

/// Runs a blocking closure on tokio's blocking pool, as `tokio::task::spawn_blocking`,
/// tracked as a task that is running while the closure runs.
///
/// ```
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let sum = profiled::task::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(sum, 55);
/// # });
/// ```
#[cfg(feature = "tokio")]
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let slot = register(std::panic::Location::caller(), true);
    let labels = crate::labels::current();
    tokio::task::spawn_blocking(move || {
        let _registered = Unregister(slot);
        if let Some(slot) = slot {
            slots::get().start_poll(slot);
        }
        labels.with(f)
    })
}

/// Frees a blocking task's slot when its closure returns or unwinds.
#[cfg(feature = "tokio")]
struct Unregister(Option<usize>);

#[cfg(feature = "tokio")]
impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(slot) = self.0 {
            slots::get().unregister(slot);
        }
    }
}

/// One live tracked task, as [`tasks`] reports it.
///
/// ```
/// for task in profiled::task::tasks() {
///     println!(
///         "task {} {:?} for {} ms, spawned at {}, waiting in {:?}",
///         task.id,
///         task.state,
///         task.in_state_ns / 1_000_000,
///         task.spawned_at,
///         task.waiting_in,
///     );
/// }
/// ```
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct TaskInfo {
    /// Task number, unique in this process.
    pub id: u64,
    /// Idle (waiting to be polled) or running.
    pub state: TaskState,
    /// Spawned with `spawn_blocking`.
    pub blocking: bool,
    /// Completed polls.
    pub polls: u64,
    /// Nanoseconds since it was spawned.
    pub age_ns: u64,
    /// Nanoseconds in its current state: for an idle task, how long it has waited.
    pub in_state_ns: u64,
    /// `file:line` of the `spawn` call.
    pub spawned_at: String,
    /// The function that called `spawn`, when its stack could be symbolized.
    pub created_by: Option<String>,
    /// The `#[profiled]` frames it is waiting in, root first; empty when its last
    /// wait was outside instrumented code.
    pub waiting_in: Vec<&'static str>,
}

/// Every live tracked task, oldest first.
///
/// ```
/// // Nothing spawned through profiled::task::spawn in this program.
/// assert!(profiled::task::tasks().is_empty());
/// assert_eq!(profiled::task_count(), 0);
/// ```
pub fn tasks() -> Vec<TaskInfo> {
    let Some(table) = slots::existing() else {
        return Vec::new();
    };
    let mut tasks: Vec<TaskInfo> = table
        .snapshot()
        .into_iter()
        .map(|task| TaskInfo {
            created_by: task.spawn_stack.and_then(creator),
            waiting_in: chain_names(task.chain),
            ..task.info
        })
        .collect();
    tasks.sort_by_key(|task| task.id);
    tasks
}

/// The ids of every live tracked task (for the deadlock detector: a task that holds a
/// lock and is gone left it held).
pub(crate) fn live_ids() -> Vec<u64> {
    slots::existing().map_or_else(Vec::new, |table| {
        table
            .snapshot()
            .into_iter()
            .map(|task| task.info.id)
            .collect()
    })
}

/// Names of a stored logical chain, root first.
pub(crate) fn chain_names(chain: Option<usize>) -> Vec<&'static str> {
    let Some(frames) = chain.and_then(|id| crate::registry::get().stacks.frames(id)) else {
        return Vec::new();
    };
    frames
        .iter()
        .rev()
        .filter_map(|&frame| crate::stack::frame::decode(frame).map(|site| site.name()))
        .collect()
}

/// Every live tracked task as a goroutine-profile record: its stack is the logical
/// chain it waits in (innermost first) under a root frame for the code that
/// spawned it; `created by` is the spawn stack.
pub(crate) fn goroutine_records() -> Vec<crate::named::goroutine::GoroutineRecord> {
    let Some(table) = slots::existing() else {
        return Vec::new();
    };
    let stacks = &crate::registry::get().stacks;
    table
        .snapshot()
        .into_iter()
        .map(|task| {
            let spawn_stack = task.spawn_stack.and_then(|id| stacks.frames(id));
            let mut frames = task
                .chain
                .and_then(|id| stacks.frames(id))
                .unwrap_or_default();
            if let Some(root) = spawn_stack.as_deref().and_then(first_user_frame) {
                frames.push(root);
            }
            // The labels of the scope it waits in; before its first wait, those it
            // inherited at spawn, which ride on its spawn stack.
            let (_, spawned) =
                crate::stack::frame::split_labels(spawn_stack.as_deref().unwrap_or(&[]));
            let labels = if task.labels != crate::labels::NONE {
                task.labels
            } else {
                spawned
            };
            if labels != crate::labels::NONE {
                frames.push(crate::stack::frame::labels(labels));
            }
            let info = task.info;
            let state = match (info.state, info.blocking) {
                (TaskState::Idle, _) => "idle",
                (TaskState::Running, false) => "running",
                (TaskState::Running, true) => "running, blocking",
            };
            crate::named::goroutine::GoroutineRecord {
                id: info.id,
                kind: "task",
                name: info.spawned_at,
                state: state.to_owned(),
                wait: (info.state == TaskState::Idle)
                    .then(|| std::time::Duration::from_nanos(info.in_state_ns)),
                frames,
                missing: None,
                created_by: spawn_stack,
                age: Some(std::time::Duration::from_nanos(info.age_ns)),
                current: false,
                notes: Vec::new(),
            }
        })
        .collect()
}

/// The return address of the first frame outside the profiler on a spawn stack:
/// the task's root frame, the code that spawned it.
fn first_user_frame(frames: &[usize]) -> Option<usize> {
    use crate::stack::symbolize;
    frames.iter().copied().find(|&frame| {
        let (lines, internal) = symbolize::resolve_user(frame);
        !lines.is_empty() && !internal
    })
}

/// The first function outside the profiler on a stored spawn stack.
pub(crate) fn creator(spawn_stack: usize) -> Option<String> {
    use crate::stack::symbolize;
    let frames = crate::registry::get().stacks.frames(spawn_stack)?;
    frames.iter().find_map(|&frame| {
        let (lines, internal) = symbolize::resolve_user(frame);
        lines
            .first()
            .filter(|_| !internal)
            .map(|line| line.function.to_string())
    })
}

/// Tasks that were not tracked because the table was full.
pub(crate) fn dropped() -> u64 {
    slots::existing().map_or(0, slots::TaskTable::dropped)
}
