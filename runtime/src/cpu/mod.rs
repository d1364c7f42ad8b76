//! The CPU profile and the wall-clock profile: our own sampler.
//!
//! - [`timers`]: one POSIX timer per thread (as Go 1.18+), on the thread's CPU-time
//!   clock (CPU) or `CLOCK_MONOTONIC` (wall), sending `SIGPROF` to that thread; a
//!   `setitimer` fallback for the CPU profile when timers cannot be created.
//! - [`handler`]: the async-signal-safe `SIGPROF` handler: a bounded frame-pointer
//!   walk of the interrupted context plus the thread's `#[profiled]` chain, written
//!   into a preallocated lock-free ring.
//! - [`aggregate`]: the supervisor thread `profiled-cpu` drains the ring every
//!   10 ms into a bounded table, and rescans `/proc/self/task` every 100 ms to arm
//!   threads born during the profile and forget dead ones.
//! - [`wall`]: what differs for `/debug/fgprof`.
//!
//! One profile (CPU or wall-clock) runs at a time ([`Session::start`] fails with
//! [`CpuError::InUse`] otherwise, as Go's `StartCPUProfile`). Dropping the session
//! stops it: a request whose client hangs up frees the profiler at once. The result
//! is the crate's plain profile model, symbolized, mapped and encoded like every
//! other profile, with each sample labelled with its thread's name (`thread`).

mod aggregate;
mod handler;
mod timers;
mod wall;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::clock::unix_nanos;
use crate::profile::build::from_labeled_rows;
use crate::profile::{Header, Profile, ValueType};
use crate::thread::proc;

pub(crate) use handler::stray_signals;
pub(crate) use timers::{Source, force_itimer};

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

/// How often the supervisor drains the ring.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// How often the supervisor looks for threads born or dead.
const RESCAN_EVERY: Duration = Duration::from_millis(100);

/// The label naming the thread a sample was taken on.
pub(crate) const THREAD_LABEL: &str = "thread";

/// The configured frequency, for `/debug/stats`. Relaxed: a reported setting.
static CONFIGURED_HZ: AtomicI32 = AtomicI32::new(DEFAULT_CPU_PROFILE_HZ);
/// Distinct (thread, stack) pairs a profile keeps (`Config::max_stacks`).
static CAPACITY: AtomicUsize = AtomicUsize::new(crate::registry::DEFAULT_MAX_STACKS);

/// Sets the frequency and the table capacity from the configuration, and installs
/// the `SIGPROF` handler (once; it stays), so that a stray `SIGPROF` is ignored
/// from now on instead of killing the process. A foreign handler is left alone.
pub(crate) fn configure(hz: i32, max_stacks: usize) {
    CONFIGURED_HZ.store(hz, Ordering::Relaxed);
    CAPACITY.store(max_stacks, Ordering::Relaxed);
    // The handler's ring (allocated once, kept) is the profiler's own memory.
    let _own = crate::alloc::own::scope(crate::alloc::own::Component::Cpu);
    let _ = handler::install();
}

pub(crate) fn configured_hz() -> i32 {
    CONFIGURED_HZ.load(Ordering::Relaxed)
}

/// Set while a session exists (until its supervisor has stopped every timer).
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Set while a session's timers run.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Nanoseconds the last session took to start, for `/debug/stats`.
static LAST_START_NS: AtomicU64 = AtomicU64::new(0);
/// The sample source of the last session: 0 none yet, 1 timers, 2 setitimer.
static LAST_SOURCE: AtomicU8 = AtomicU8::new(0);
/// Samples lost to a full ring or table over the life of the process.
static LOST_TOTAL: AtomicU64 = AtomicU64::new(0);
/// The cookie of the last session (each gets a new one).
static LAST_COOKIE: AtomicUsize = AtomicUsize::new(0);

/// Which profile a session takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// CPU time: per-thread CPU-time clocks.
    Cpu,
    /// Wall-clock time: every thread, on or off CPU.
    Wall,
}

/// Why a profile could not start.
#[derive(Debug)]
pub(crate) enum CpuError {
    /// Another CPU or wall-clock profile is running.
    InUse,
    /// Another `SIGPROF` handler is installed; we do not replace it.
    ForeignHandler,
    /// The sampler could not be set up (timers, supervisor thread).
    Sampler(String),
}

impl std::fmt::Display for CpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpuError::InUse => f.write_str("cpu profiling already in use"),
            CpuError::ForeignHandler => f.write_str(
                "another SIGPROF handler is installed in this process (not profiled's); it was left in place",
            ),
            CpuError::Sampler(e) => f.write_str(e),
        }
    }
}

/// What the supervisor hands back when it stops.
struct Outcome {
    table: aggregate::Table,
    source: Source,
    threads_seen: usize,
    failed: usize,
    expiries: u64,
    lost: u64,
}

struct Supervisor {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Outcome>,
}

/// A running CPU or wall-clock profile. Dropping it stops sampling.
pub(crate) struct Session {
    kind: Kind,
    hz: i32,
    started_nanos: i64,
    started: Instant,
    supervisor: Option<Supervisor>,
}

impl Session {
    /// Starts sampling every thread at `hz` samples per CPU-second (CPU) or per
    /// second (wall).
    pub(crate) fn start(kind: Kind, hz: i32) -> Result<Session, CpuError> {
        // Acquire/Release pair with the supervisor's final store: a new session sees
        // the old one's teardown complete.
        if RUNNING.swap(true, Ordering::Acquire) {
            return Err(CpuError::InUse);
        }
        Session::start_exclusive(kind, hz).inspect_err(|_| RUNNING.store(false, Ordering::Release))
    }

    fn start_exclusive(kind: Kind, hz: i32) -> Result<Session, CpuError> {
        let began = Instant::now();
        if !handler::install() {
            return Err(CpuError::ForeignHandler);
        }
        handler::ensure_ring();
        handler::RANGES.set(&proc::stack_ranges());
        handler::CODE.set(&own_code());
        let cookie = LAST_COOKIE
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
            .max(1);
        let depth = crate::control::max_stack_depth();
        handler::arm(cookie, handler::MODE_TIMERS, depth);
        let timers = match timers::Timers::start(kind, hz, cookie) {
            Ok(timers) => timers,
            Err(e) => {
                handler::disarm();
                return Err(CpuError::Sampler(e));
            }
        };
        if timers.source() == Source::Itimer {
            handler::arm(cookie, handler::MODE_ITIMER, depth);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let capacity = CAPACITY.load(Ordering::Relaxed);
        let spawned = std::thread::Builder::new()
            .name("profiled-cpu".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || supervise(timers, capacity, &stop)
            });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                // `timers` moved into the closure and was dropped with it: stopped.
                handler::disarm();
                return Err(CpuError::Sampler(format!(
                    "could not spawn the profiled-cpu thread: {e}"
                )));
            }
        };
        let took = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        LAST_START_NS.store(took, Ordering::Relaxed);
        ACTIVE.store(true, Ordering::Relaxed);
        Ok(Session {
            kind,
            hz,
            started_nanos: unix_nanos(),
            started: Instant::now(),
            supervisor: Some(Supervisor { stop, thread }),
        })
    }

    /// Stops sampling and builds the profile: sample types samples/count and
    /// cpu/nanoseconds (wall: time/nanoseconds), period 1e9/hz ns, as Go's CPU profile
    /// and fgprof.
    pub(crate) fn finish(mut self) -> Profile {
        let duration_nanos = i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let outcome = self.supervisor.take().and_then(|supervisor| {
            supervisor.stop.store(true, Ordering::Release);
            supervisor.thread.thread().unpark();
            supervisor.thread.join().ok()
        });
        let header = header(self.kind, self.hz, self.started_nanos, duration_nanos);
        match &outcome {
            Some(outcome) => build(header, self.kind, self.hz, outcome),
            None => from_labeled_rows(
                header,
                std::iter::empty(),
                vec!["profiled: the sampler's supervisor failed; no samples".into()],
            ),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Without waiting (this may run on the server's event loop, after a hang-up):
        // the supervisor stops every timer and then lets the next session in.
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.stop.store(true, Ordering::Release);
            supervisor.thread.thread().unpark();
        }
    }
}

/// The supervisor: drains, rescans, and at the end stops every timer, drains what is
/// left and lets the next session in.
fn supervise(mut timers: timers::Timers, capacity: usize, stop: &AtomicBool) -> Outcome {
    let mut table = aggregate::Table::new(capacity);
    let armed: Vec<libc::pid_t> = timers.armed().collect();
    for tid in armed {
        table.name(tid);
    }
    let mut last_scan = Instant::now();
    loop {
        std::thread::park_timeout(DRAIN_EVERY);
        table.drain();
        // Acquire: pairs with the Release store in `finish` / `drop`.
        if stop.load(Ordering::Acquire) {
            break;
        }
        if last_scan.elapsed() >= RESCAN_EVERY {
            if timers.rescan() {
                handler::RANGES.set(&proc::stack_ranges());
                let armed: Vec<libc::pid_t> = timers.armed().collect();
                for tid in armed {
                    table.name(tid);
                }
            }
            last_scan = Instant::now();
        }
    }
    timers.stop();
    handler::disarm();
    // A handler that passed the cookie check just before may still be writing.
    std::thread::sleep(Duration::from_millis(2));
    table.drain();
    ACTIVE.store(false, Ordering::Relaxed);
    let (expiries, lost) = handler::counts();
    LOST_TOTAL.fetch_add(lost + table.overflow, Ordering::Relaxed);
    let source = timers.source();
    LAST_SOURCE.store(
        match source {
            Source::ThreadTimers => 1,
            Source::Itimer => 2,
        },
        Ordering::Relaxed,
    );
    let outcome = Outcome {
        source,
        threads_seen: timers.threads_seen,
        failed: timers.failed,
        expiries,
        lost,
        table,
    };
    // Release: pairs with the Acquire swap in `start`.
    RUNNING.store(false, Ordering::Release);
    outcome
}

/// `[start, end)` of this executable's code mappings, ascending.
fn own_code() -> Vec<(usize, usize)> {
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let mut ranges: Vec<(usize, usize)> = std::fs::read_to_string("/proc/self/maps")
        .map(|text| crate::stack::maps::parse_maps(&text))
        .unwrap_or_default()
        .into_iter()
        .filter(|mapping| std::path::Path::new(&mapping.path) == exe)
        .map(|mapping| (mapping.start as usize, mapping.limit as usize))
        .collect();
    ranges.sort_unstable();
    ranges
}

/// The profile header of `kind` at `hz`: sample types, period type and period as
/// Go's CPU profile (`samples/count`, `cpu/nanoseconds`) or fgprof's.
fn header(kind: Kind, hz: i32, time_nanos: i64, duration_nanos: i64) -> Header {
    let (sample_types, period_type) = match kind {
        Kind::Cpu => (
            vec![
                ValueType::new("samples", "count"),
                ValueType::new("cpu", "nanoseconds"),
            ],
            ValueType::new("cpu", "nanoseconds"),
        ),
        Kind::Wall => (wall::SAMPLE_TYPES.to_vec(), wall::PERIOD_TYPE),
    };
    Header {
        sample_types,
        default_sample_type: None,
        period_type,
        period: period(hz),
        time_nanos,
        duration_nanos,
    }
}

fn period(hz: i32) -> i64 {
    1_000_000_000 / i64::from(hz.max(1))
}

/// The profile of a finished session.
fn build(header: Header, kind: Kind, hz: i32, outcome: &Outcome) -> Profile {
    let period = period(hz);
    let rows = outcome.table.rows().map(|(frames, count, thread)| {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        (
            frames,
            vec![count, count.saturating_mul(period)],
            Some((THREAD_LABEL, thread.to_string())),
        )
    });
    let mut comments = vec![match (kind, outcome.source) {
        (Kind::Cpu, Source::ThreadTimers) => format!(
            "profiled: sampler: per-thread CPU-time timers (timer_create), {hz} Hz, {} threads",
            outcome.threads_seen
        ),
        (Kind::Wall, _) => format!(
            "profiled: sampler: per-thread wall-clock timers (timer_create, CLOCK_MONOTONIC), {hz} Hz, {} threads",
            outcome.threads_seen
        ),
        (Kind::Cpu, Source::Itimer) => format!(
            "profiled: sampler: setitimer(ITIMER_PROF) fallback, {hz} Hz: timer_create is not available; samples favour threads that run without pause and rates above the kernel tick rate are undercounted"
        ),
    }];
    if outcome.lost > 0 {
        comments.push(format!(
            "profiled: {} of {} samples lost: the sample ring was full (the supervisor fell behind)",
            outcome.lost, outcome.expiries
        ));
    }
    if outcome.table.overflow > 0 {
        comments.push(format!(
            "profiled: {} samples dropped: more than {} distinct thread stacks; raise Config::max_stacks",
            outcome.table.overflow,
            outcome.table.len()
        ));
    }
    if outcome.failed > 0 {
        comments.push(format!(
            "profiled: {} threads could not be given a timer (exited first, or a limit)",
            outcome.failed
        ));
    }
    from_labeled_rows(header, rows, comments)
}

/// True while a CPU or wall-clock profile's timers run.
pub(crate) fn running() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Milliseconds the most recent profile took to start its sampler (0 before any).
pub(crate) fn last_start_ms() -> f64 {
    LAST_START_NS.load(Ordering::Relaxed) as f64 / 1e6
}

/// How the last profile took its samples: `timer_create`, `setitimer`, or "" before
/// the first.
pub(crate) fn last_source() -> &'static str {
    match LAST_SOURCE.load(Ordering::Relaxed) {
        1 => Source::ThreadTimers.name(),
        2 => Source::Itimer.name(),
        _ => "",
    }
}

/// Samples lost (ring full, table full) over the life of the process.
pub(crate) fn samples_lost() -> u64 {
    LOST_TOTAL.load(Ordering::Relaxed)
}
