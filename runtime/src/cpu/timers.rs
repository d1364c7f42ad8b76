//! Per-thread timers, as Go 1.18+ on Linux: one POSIX timer per thread of the
//! process (from `/proc/self/task`, not only threads we spawned), on that thread's
//! CPU-time clock (CPU profile) or on `CLOCK_MONOTONIC` (wall-clock profile), each
//! delivering `SIGPROF` to its own thread (`SIGEV_THREAD_ID`) every 1/hz.
//!
//! A process-wide `setitimer(ITIMER_PROF)` signals whichever thread is on the CPU
//! when the scheduler tick notices the expiry: threads that run in bursts lose
//! samples to threads that always run, and rates above the tick rate are not
//! delivered. A per-thread CPU-time timer expires on its own thread's CPU time and
//! reports expiries it could not signal in time as `si_overrun`, which the handler
//! adds. When timers cannot be created (seccomp, old kernels) the CPU profile falls
//! back to `setitimer`, and says so.

use std::collections::HashMap;
use std::time::Duration;

use super::Kind;
use crate::thread::proc;

/// How samples are triggered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// One `timer_create` timer per thread.
    ThreadTimers,
    /// One process-wide `setitimer(ITIMER_PROF)` (fallback).
    Itimer,
}

impl Source {
    /// The name shown in profile comments and `/debug/stats`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::ThreadTimers => "timer_create",
            Source::Itimer => "setitimer",
        }
    }
}

/// The armed timers of one profile, by thread id.
pub(super) struct Timers {
    kind: Kind,
    period: Duration,
    cookie: usize,
    source: Source,
    armed: HashMap<libc::pid_t, libc::timer_t>,
    /// Threads seen since the profile started (armed, or found dead).
    pub(super) threads_seen: usize,
    /// Threads whose timer could not be created (they exited meanwhile, or a limit).
    pub(super) failed: usize,
}

// SAFETY: `timer_t` is an opaque kernel timer id (a pointer-sized integer), not a
// pointer to memory; it is only passed back to timer_settime/timer_delete.
unsafe impl Send for Timers {}

/// Test hook: pretend `timer_create` fails, to exercise the fallback.
static FORCE_ITIMER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes later CPU profiles use the `setitimer` fallback (tests only).
pub(crate) fn force_itimer(on: bool) {
    FORCE_ITIMER.store(on, std::sync::atomic::Ordering::Relaxed);
}

impl Timers {
    /// Arms a timer on every live thread. For the CPU profile, falls back to
    /// `setitimer` when the first timer cannot be created; for the wall-clock
    /// profile that is an error.
    pub(super) fn start(kind: Kind, hz: i32, cookie: usize) -> Result<Timers, String> {
        let period = Duration::from_nanos(1_000_000_000 / u64::from(hz.max(1).unsigned_abs()));
        let mut timers = Timers {
            kind,
            period,
            cookie,
            source: Source::ThreadTimers,
            armed: HashMap::new(),
            threads_seen: 0,
            failed: 0,
        };
        let tids = proc::tids();
        let forced = FORCE_ITIMER.load(std::sync::atomic::Ordering::Relaxed);
        let first = match tids.first() {
            Some(&tid) if !forced => timers.arm(tid),
            _ => Err(libc::ENOSYS),
        };
        match first {
            Ok(()) => {
                for &tid in tids.iter().skip(1) {
                    let _ = timers.arm(tid);
                }
                Ok(timers)
            }
            Err(errno) if kind == Kind::Cpu => {
                set_itimer(period).map_err(|e| {
                    format!("timer_create failed (errno {errno}) and setitimer failed ({e})")
                })?;
                timers.source = Source::Itimer;
                Ok(timers)
            }
            Err(errno) => Err(format!(
                "per-thread timers are not available (timer_create: errno {errno})"
            )),
        }
    }

    pub(super) fn source(&self) -> Source {
        self.source
    }

    /// Threads with a timer now.
    pub(super) fn armed(&self) -> impl Iterator<Item = libc::pid_t> + '_ {
        self.armed.keys().copied()
    }

    /// Arms threads born since the last scan and deletes the timers of threads that
    /// have exited. Returns true when a new thread was armed (its stack is a new
    /// mapping to bound walks with).
    pub(super) fn rescan(&mut self) -> bool {
        if self.source != Source::ThreadTimers {
            return false;
        }
        let tids = proc::tids();
        let gone: Vec<libc::pid_t> = self
            .armed
            .keys()
            .copied()
            .filter(|tid| tids.binary_search(tid).is_err())
            .collect();
        for tid in gone {
            if let Some(timer) = self.armed.remove(&tid) {
                delete(timer);
            }
        }
        let mut born = false;
        for tid in tids {
            if !self.armed.contains_key(&tid) && self.arm(tid).is_ok() {
                born = true;
            }
        }
        born
    }

    /// Creates and starts the timer of thread `tid`; the errno on failure.
    fn arm(&mut self, tid: libc::pid_t) -> Result<(), i32> {
        self.threads_seen += 1;
        let clock = match self.kind {
            Kind::Cpu => thread_cpu_clock(tid),
            Kind::Wall => super::wall::CLOCK,
        };
        // SAFETY: a zeroed sigevent is valid; the fields set below ask the kernel to
        // send SIGPROF with our cookie to thread `tid` on expiry.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = libc::SIGPROF;
        event.sigev_value = libc::sigval {
            sival_ptr: self.cookie as *mut libc::c_void,
        };
        event.sigev_notify_thread_id = tid;
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `event` and `timer` are valid for the call; the clock id is a thread
        // CPU clock or CLOCK_MONOTONIC, which the kernel validates.
        if unsafe { libc::timer_create(clock, &mut event, &mut timer) } != 0 {
            self.failed += 1;
            return Err(errno());
        }
        let period = timespec(self.period);
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: `timer` was just created; `spec` is a valid itimerspec.
        if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            let error = errno();
            delete(timer);
            self.failed += 1;
            return Err(error);
        }
        self.armed.insert(tid, timer);
        Ok(())
    }

    /// Deletes every timer (or stops the process timer). No timer of this profile
    /// expires after this returns; signals already queued carry its cookie, which the
    /// handler no longer accepts once disarmed.
    pub(super) fn stop(&mut self) {
        for (_, timer) in self.armed.drain() {
            delete(timer);
        }
        if self.source == Source::Itimer {
            let _ = set_itimer(Duration::ZERO);
        }
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The CPU-time clock of thread `tid`, as glibc's `pthread_getcpuclockid` makes it
/// (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`), usable for any tid of the process.
pub(super) fn thread_cpu_clock(tid: libc::pid_t) -> libc::clockid_t {
    const CPUCLOCK_PERTHREAD: libc::clockid_t = 4;
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    ((!tid) << 3) | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED
}

fn delete(timer: libc::timer_t) {
    // SAFETY: `timer` was created by timer_create and is deleted once (it was removed
    // from the table before this call).
    unsafe { libc::timer_delete(timer) };
}

fn set_itimer(period: Duration) -> Result<(), i32> {
    let interval = libc::timeval {
        tv_sec: period.as_secs() as libc::time_t,
        tv_usec: period.subsec_micros() as libc::suseconds_t,
    };
    let value = libc::itimerval {
        it_interval: interval,
        it_value: interval,
    };
    // SAFETY: `value` is a valid itimerval; the old value is not wanted.
    if unsafe { libc::setitimer(libc::ITIMER_PROF, &value, std::ptr::null_mut()) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn timespec(duration: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: duration.as_secs() as libc::time_t,
        tv_nsec: duration.subsec_nanos() as libc::c_long,
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_cpu_clock_is_glibcs() {
        // SAFETY: pthread_getcpuclockid writes the clock of the calling thread.
        let glibc = unsafe {
            let mut clock: libc::clockid_t = 0;
            assert_eq!(
                libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock),
                0
            );
            clock
        };
        assert_eq!(thread_cpu_clock(crate::thread::current_tid()), glibc);
    }
}
