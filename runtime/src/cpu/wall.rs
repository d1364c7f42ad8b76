//! The wall-clock profile (`/debug/fgprof?seconds=N`, the path Grafana Alloy's
//! `profile.fgprof` target scrapes), as felixge/fgprof: every thread is sampled at
//! the rate whether it runs, sleeps or blocks, so the profile shows where the wall
//! time of a request goes, I/O and locks that are not ours included.
//!
//! Same machinery as the CPU profile, on `CLOCK_MONOTONIC`: each thread gets a timer
//! that sends it `SIGPROF` every 1/hz of real time; the handler walks the interrupted
//! stack (a blocked thread's pc is in its syscall wrapper, its callers above it).
//! Sample types `samples/count` and `time/nanoseconds`, period type
//! `wallclock/nanoseconds`, as fgprof writes them.
//!
//! Cost: every thread is woken `hz` times a second (100 Hz and 50 threads: 5,000
//! signals a second; measured 4.6% of a core, about 9 us per sample including the
//! supervisor's draining, on a loaded 2-vCPU VM), which is why it is off by default (`Config::enable_wall_profiling`). The handler is
//! installed with `SA_RESTART`: a thread blocked in `read`, `write`, `accept`,
//! `recv`, `wait` or a futex lock resumes its call without seeing `EINTR`. Calls
//! that Linux never restarts after a handler (`epoll_wait`, `poll`, `select`,
//! `nanosleep`, `sigtimedwait`) return `EINTR` as after any handled signal; std,
//! tokio and mio retry them.

use crate::profile::ValueType;

/// fgprof's sample types.
pub(super) const SAMPLE_TYPES: [ValueType; 2] = [
    ValueType {
        ty: "samples",
        unit: "count",
    },
    ValueType {
        ty: "time",
        unit: "nanoseconds",
    },
];

/// fgprof's period type.
pub(super) const PERIOD_TYPE: ValueType = ValueType {
    ty: "wallclock",
    unit: "nanoseconds",
};

/// The clock a wall-clock profile's timers run on.
pub(super) const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
