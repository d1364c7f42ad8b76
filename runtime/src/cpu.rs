//! The CPU profile: a thin wrapper over the `pprof` crate's `SIGPROF` sampler.
//!
//! One profile runs at a time ([`CpuSession::start`] fails with
//! [`CpuError::InUse`] otherwise, as Go's `StartCPUProfile`). Dropping the session
//! stops the timer and restores the signal disposition, so a request whose client
//! hangs up (its handler future is dropped) frees the profiler at once. Starting
//! and stopping happen on one dedicated thread, `profiled-cpu` (see
//! `sampler_thread`). Samples are
//! turned into the crate's plain profile model with the same symbolization,
//! mappings and ordering as every other profile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use pprof::{ProfilerGuard, ProfilerGuardBuilder};

use crate::clock::unix_nanos;
use crate::profile::build::from_rows;
use crate::profile::{Header, Profile, ValueType};
use crate::stack::symbolize;

/// Default sampling frequency, as Go's `runtime.SetCPUProfileRate` default.
///
/// ```
/// assert_eq!(profiled::Config::default().cpu_profile_hz, profiled::DEFAULT_CPU_PROFILE_HZ);
/// ```
pub const DEFAULT_CPU_PROFILE_HZ: i32 = 100;
/// Highest accepted [`crate::Config::cpu_profile_hz`].
///
/// ```
/// use profiled::{Config, ConfigError, MAX_CPU_PROFILE_HZ};
/// let too_fast = Config { cpu_profile_hz: MAX_CPU_PROFILE_HZ + 1, ..Config::default() };
/// assert_eq!(too_fast.validate(), Err(ConfigError::InvalidCpuProfileHz(MAX_CPU_PROFILE_HZ + 1)));
/// ```
pub const MAX_CPU_PROFILE_HZ: i32 = 1000;

/// The configured frequency, for `/debug/stats`. Relaxed: a reported setting.
static CONFIGURED_HZ: std::sync::atomic::AtomicI32 =
    std::sync::atomic::AtomicI32::new(DEFAULT_CPU_PROFILE_HZ);

pub(crate) fn set_configured_hz(hz: i32) {
    CONFIGURED_HZ.store(hz, Ordering::Relaxed);
}

pub(crate) fn configured_hz() -> i32 {
    CONFIGURED_HZ.load(Ordering::Relaxed)
}

/// Set while a session exists. SeqCst is not needed: the swap is the only guard.
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Set while a session's sampler is running (after its slow start, before its stop).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Nanoseconds the last session took to start the sampler, for `/debug/stats`.
static LAST_START_NS: AtomicU64 = AtomicU64::new(0);

/// Why a CPU profile could not start.
#[derive(Debug)]
pub(crate) enum CpuError {
    /// Another CPU profile is running.
    InUse,
    /// The sampler could not be set up (signal handler, timer).
    Sampler(String),
}

/// A running CPU profile. Dropping it stops sampling.
pub(crate) struct CpuSession {
    guard: Option<ProfilerGuard<'static>>,
    hz: i32,
    started_nanos: i64,
    started: Instant,
}

impl CpuSession {
    /// Starts sampling at `hz` samples per CPU-second.
    pub(crate) fn start(hz: i32) -> Result<CpuSession, CpuError> {
        // Acquire/Release pair with the store in Drop: a new session sees the old
        // one's teardown complete.
        if RUNNING.swap(true, Ordering::Acquire) {
            return Err(CpuError::InUse);
        }
        let started = Instant::now();
        match on_sampler_thread(move || ProfilerGuardBuilder::default().frequency(hz).build()) {
            Ok(guard) => {
                let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                LAST_START_NS.store(took, Ordering::Relaxed);
                ACTIVE.store(true, Ordering::Relaxed);
                // The profile's time and duration start once the sampler runs.
                Ok(CpuSession {
                    guard: Some(guard),
                    hz,
                    started_nanos: unix_nanos(),
                    started: Instant::now(),
                })
            }
            Err(e) => {
                RUNNING.store(false, Ordering::Release);
                Err(CpuError::Sampler(e.to_string()))
            }
        }
    }

    /// Stops sampling and builds the profile: sample types samples/count and
    /// cpu/nanoseconds, period 1e9/hz ns, as Go's CPU profile.
    pub(crate) fn finish(mut self) -> Profile {
        let duration_nanos = i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let guard = self.guard.take();
        // Stop the timer before the (slow) symbolization.
        let rows: Vec<(Vec<usize>, i64)> = on_sampler_thread(move || {
            let rows = guard
                .as_ref()
                .and_then(|guard| guard.report().build_unresolved().ok())
                .map(|report| {
                    report
                        .data
                        .iter()
                        .map(|(frames, &count)| {
                            let ips: Vec<usize> =
                                frames.frames.iter().map(|f| f.ip() as usize).collect();
                            (ips, i64::try_from(count).unwrap_or(0))
                        })
                        .collect()
                })
                .unwrap_or_default();
            stop(guard);
            rows
        });
        let period = 1_000_000_000 / i64::from(self.hz.max(1));
        let stacks: Vec<(Vec<usize>, i64)> = rows
            .iter()
            .map(|(ips, count)| {
                let mut stack = below_signal_frame(ips).to_vec();
                // The interrupted frame's address is the exact PC, not a return
                // address. Symbolization looks up `address - 1` (the call instruction
                // of a return address) and `backtrace::resolve` subtracts 1 again, so
                // +2 makes it land on the PC itself, even at a function's first byte.
                if let Some(pc) = stack.first_mut() {
                    *pc = pc.saturating_add(2);
                }
                (stack, *count)
            })
            .collect();
        let profile_rows = stacks
            .iter()
            .map(|(stack, count)| (stack.as_slice(), vec![*count, count.saturating_mul(period)]));
        let cpu = ValueType::new("cpu", "nanoseconds");
        let header = Header {
            sample_types: vec![ValueType::new("samples", "count"), cpu],
            default_sample_type: None,
            period_type: cpu,
            period,
            time_nanos: self.started_nanos,
            duration_nanos,
        };
        from_rows(header, profile_rows, Vec::new())
    }
}

impl Drop for CpuSession {
    fn drop(&mut self) {
        // Stop the timer and unhook the signal on the sampler thread without waiting
        // for it (this may run on the server's event loop, after a hang-up); only
        // then is the next session let in.
        let guard = self.guard.take();
        send_to_sampler_thread(move || {
            // Let the next session in even if pprof's teardown panicked.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stop(guard)));
            RUNNING.store(false, Ordering::Release);
        });
    }
}

/// Stops the sampler of `guard` (if any) and frees what it kept.
fn stop(guard: Option<ProfilerGuard<'static>>) {
    if guard.is_some() {
        drop(guard);
        // Stopping makes `pprof` replace its ~64 MB sample table with a fresh one;
        // return the old one's pages to the OS instead of keeping both resident.
        crate::memory::trim();
    }
    ACTIVE.store(false, Ordering::Relaxed);
}

type Job = Box<dyn FnOnce() + Send>;

/// The one thread that starts and stops every CPU profile. Stopping makes `pprof`
/// allocate a new sample table as about 4,000 blocks of 16 KiB: on one long-lived
/// thread they come from, and go back to, the same malloc arena every time, instead
/// of spreading 64 MB over the arenas of whichever pool threads stopped the last
/// profiles. `None` if the thread cannot be spawned (then jobs run in place).
fn sampler_thread() -> Option<&'static std::sync::mpsc::Sender<Job>> {
    static THREAD: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    THREAD
        .get_or_init(|| {
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("profiled-cpu".into())
                .spawn(move || {
                    for job in queue {
                        // A panicking job must not take the thread (and every later
                        // profile) with it; its caller sees the panic as no result.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .ok()
                .map(|_| jobs)
        })
        .as_ref()
}

/// Runs `job` on the sampler thread after the jobs queued before it (in place if
/// there is no such thread). The job runs exactly once either way.
fn send_to_sampler_thread(job: impl FnOnce() + Send + 'static) {
    let job: Job = Box::new(job);
    let Some(thread) = sampler_thread() else {
        return job();
    };
    if let Err(std::sync::mpsc::SendError(job)) = thread.send(job) {
        job();
    }
}

/// Runs `job` on the sampler thread and waits for its result.
fn on_sampler_thread<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> R {
    let (result, receive) = std::sync::mpsc::sync_channel(1);
    send_to_sampler_thread(move || {
        let _ = result.send(job());
    });
    // The job ran once; no result means it panicked (caught on the thread).
    receive
        .recv()
        .expect("the CPU profiler panicked on its thread")
}

/// True while a CPU profile's sampler runs.
pub(crate) fn running() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Milliseconds the most recent CPU profile took to start its sampler (0 before any).
pub(crate) fn last_start_ms() -> f64 {
    LAST_START_NS.load(Ordering::Relaxed) as f64 / 1e6
}

/// The frames of the interrupted code: everything below the sampler's signal
/// handler and the kernel's signal trampoline.
fn below_signal_frame(ips: &[usize]) -> &[usize] {
    let handler = ips.iter().position(|&ip| {
        symbolize::resolve(ip)
            .iter()
            .any(|line| line.function.contains("perf_signal_handler"))
    });
    let Some(handler) = handler else {
        return ips;
    };
    let mut first = handler + 1;
    // The trampoline the kernel returns through (`__restore_rt` on glibc).
    if ips.get(first).is_some_and(|&ip| {
        let lines = symbolize::resolve(ip);
        lines.is_empty()
            || lines
                .iter()
                .any(|l| l.function.contains("restore_rt") || l.function.contains("sigreturn"))
    }) {
        first += 1;
    }
    ips.get(first..)
        .filter(|rest| !rest.is_empty())
        .unwrap_or(ips)
}
