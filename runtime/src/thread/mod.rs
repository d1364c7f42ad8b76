//! Thread spawn wrappers: std's [`std::thread::spawn`] and [`std::thread::Builder`] that
//! also record the spawn stack (the `threadcreate` profile) and register the thread
//! for goroutine dumps (`created by ...`, its full name) until it exits.
//!
//! ```
//! let handle = profiled::thread::Builder::new()
//!     .name("worker".into())
//!     .spawn(|| 6 * 7)
//!     .unwrap();
//! assert_eq!(handle.join().unwrap(), 42);
//! assert!(profiled::thread_count() >= 1);
//! ```
//!
//! Every live thread appears in `/debug/pprof/goroutine` whether or not it was started
//! here; the wrappers add where it was started from.
//!
//! Layout: this file is the public API; `spawned.rs` is the table of threads started
//! here and their spawn stacks (threadcreate); `dump.rs` takes thread dumps, asking
//! each thread for its stack with the signal whose handler is `signal.rs`; `proc.rs`
//! reads what `/proc/self` says about threads.

pub(crate) mod dump;
pub(crate) mod proc;
mod signal;
pub(crate) mod spawned;

use std::io;
use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

use crate::stack::Stack;

pub use dump::DumpState;

/// Spawns a thread as [`std::thread::spawn`] does, recording its spawn stack.
///
/// # Panics
///
/// As std's: if the OS fails to create a thread.
///
/// ```
/// let handle = profiled::thread::spawn(|| "done");
/// assert_eq!(handle.join().unwrap(), "done");
/// ```
#[inline(never)]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// [`std::thread::Builder`] that records spawn stacks and registers its threads.
///
/// ```
/// let handle = profiled::thread::Builder::new()
///     .name("flusher".into())
///     .stack_size(256 * 1024)
///     .spawn(|| std::thread::current().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(handle.join().unwrap().as_deref(), Some("flusher"));
/// ```
#[derive(Debug)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    inner: std::thread::Builder,
    name: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with std's defaults.
    ///
    /// ```
    /// let handle = profiled::thread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(handle.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder {
            inner: std::thread::Builder::new(),
            name: None,
        }
    }

    /// Names the thread, as [`std::thread::Builder::name`]; dumps show the full name
    /// (the OS keeps only its first 15 bytes).
    ///
    /// ```
    /// let handle = profiled::thread::Builder::new()
    ///     .name("replication-worker-3".into()) // longer than the OS's 15 bytes
    ///     .spawn(|| std::thread::current().name().map(str::len))
    ///     .unwrap();
    /// assert_eq!(handle.join().unwrap(), Some(20));
    /// ```
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name.clone()),
            name: Some(name),
        }
    }

    /// Sets the stack size, as [`std::thread::Builder::stack_size`].
    ///
    /// ```
    /// let handle = profiled::thread::Builder::new().stack_size(64 * 1024).spawn(|| 2).unwrap();
    /// assert_eq!(handle.join().unwrap(), 2);
    /// ```
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
            name: self.name,
        }
    }

    /// Spawns the thread, as [`std::thread::Builder::spawn`].
    ///
    /// ```
    /// let handle = profiled::thread::Builder::new().spawn(|| 2 + 2)?;
    /// assert_eq!(handle.join().unwrap(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(never)]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let created_by = Stack::capture(|stack| spawned::record_spawn(stack.frames()));
        let name = self.name;
        // The new thread runs under its spawner's labels, as a goroutine does.
        let labels = crate::labels::current();
        self.inner.spawn(move || {
            let _registration = spawned::register(created_by, name);
            labels.with(f)
        })
    }

    /// Spawns a scoped thread, as [`std::thread::Builder::spawn_scoped`].
    ///
    /// ```
    /// let mut total = 0;
    /// std::thread::scope(|scope| {
    ///     profiled::thread::Builder::new()
    ///         .spawn_scoped(scope, || total += 5)
    ///         .unwrap();
    /// });
    /// assert_eq!(total, 5);
    /// ```
    #[inline(never)]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let created_by = Stack::capture(|stack| spawned::record_spawn(stack.frames()));
        let name = self.name;
        let labels = crate::labels::current();
        self.inner.spawn_scoped(scope, move || {
            let _registration = spawned::register(created_by, name);
            labels.with(f)
        })
    }
}

/// Number of live OS threads of this process (all of them, not only those spawned
/// here), from `/proc/self/task`.
///
/// ```
/// let (stop, stopped) = std::sync::mpsc::channel::<()>();
/// let before = profiled::thread_count();
/// let worker = std::thread::spawn(move || stopped.recv());
/// assert_eq!(profiled::thread_count(), before + 1);
/// drop(stop);
/// let _ = worker.join();
/// ```
pub fn thread_count() -> usize {
    proc::thread_count()
}

/// The state of the thread-dump machinery: the signal in use, whether its handler is
/// still installed, slots in use (0 between dumps), dumps taken, unanswered threads.
///
/// ```
/// let mut dump = Vec::new();
/// profiled::lookup("goroutine").unwrap().write_to(&mut dump, 2).unwrap(); // a full dump
/// let state = profiled::thread::dump_state();
/// assert!(state.dumps >= 1);
/// assert_eq!(state.slots_in_use, 0);
/// ```
pub fn dump_state() -> DumpState {
    dump::dump_state()
}

/// The calling thread's id.
pub(crate) fn current_tid() -> libc::pid_t {
    // SAFETY: the gettid syscall has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}
