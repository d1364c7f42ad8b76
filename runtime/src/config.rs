//! [`Config`]: what [`Profiler::start`](crate::Profiler::start) serves and records.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::control::{DEFAULT_STACK_DEPTH, MAX_STACK_DEPTH_LIMIT};
use crate::registry::DEFAULT_MAX_STACKS;

mod error;
pub use error::ConfigError;

/// Largest accepted [`Config::max_stacks`].
///
/// ```
/// use profiled::{Config, ConfigError, MAX_STACKS_LIMIT};
/// let too_big = Config { max_stacks: MAX_STACKS_LIMIT + 1, ..Config::default() };
/// assert_eq!(too_big.validate(), Err(ConfigError::InvalidMaxStacks(MAX_STACKS_LIMIT + 1)));
/// ```
pub const MAX_STACKS_LIMIT: usize = 1 << 22;

/// Default [`Config::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// Every environment variable [`Config::from_env`] reads.
pub const ENV_VARS: [&str; 24] = [
    "PROFILED_ENABLED",
    "PROFILED_LISTEN_ADDR",
    "PROFILED_ALLOW_INSECURE_BIND",
    "PROFILED_AUTH_TOKEN",
    "PROFILED_ALLOWED_HOSTS",
    "PROFILED_MAX_CONNECTIONS",
    "PROFILED_ENABLE_SIGNALS",
    "PROFILED_ENABLE_CPU_PROFILING",
    "PROFILED_ENABLE_WALL_PROFILING",
    "PROFILED_ENABLE_MEMORY_PROFILING",
    "PROFILED_ENABLE_BLOCK_PROFILING",
    "PROFILED_ENABLE_MUTEX_PROFILING",
    "PROFILED_ENABLE_FUNCTION_PROFILING",
    "PROFILED_BLOCK_RATE",
    "PROFILED_MUTEX_FRACTION",
    "PROFILED_MAX_STACK_DEPTH",
    "PROFILED_MAX_STACKS",
    "PROFILED_MAX_PROFILE_SECONDS",
    "PROFILED_MAX_TASKS",
    "PROFILED_MAX_LABEL_SETS",
    "PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS",
    "PROFILED_CPU_PROFILE_HZ",
    "PROFILED_MEM_PROFILE_RATE",
    "PROFILED_DEADLOCK_CHECK_MS",
];

/// Profiler settings, mirroring the Go original's fields plus Rust-side limits.
///
/// Build it with struct update syntax:
///
/// ```
/// use profiled::Config;
/// let config = Config {
///     listen_addr: "127.0.0.1:0".into(),
///     mutex_fraction: 10,
///     ..Config::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Serve and record at all. When false, `Profiler::start` does nothing and
    /// returns a profiler with no address. Default: true.
    pub enabled: bool,
    /// Address to serve on. Default: `127.0.0.1:6060`.
    pub listen_addr: String,
    /// Allow binding an address that is not loopback without an `auth_token`.
    /// Profiles reveal code layout and timing, so this is refused unless set.
    /// Default: false.
    pub allow_insecure_bind: bool,
    /// When set, every request must carry `Authorization: Bearer <token>`
    /// (compared in constant time); others get 401. The token must be visible ASCII
    /// (`!` to `~`: no spaces, control characters or non-ASCII), which every client
    /// can send in a header; anything else is a start error, never an open server.
    /// `PROFILED_AUTH_TOKEN` is trimmed first (a file's trailing newline is not part
    /// of the token). Default: none.
    pub auth_token: Option<String>,
    /// `Host` names (without port, case-insensitive) the built-in server answers;
    /// others get 403, so a web page cannot read profiles through DNS rebinding.
    /// `"*"` allows any. Empty (the default): when bound to a loopback address,
    /// `localhost`, `127.0.0.1`, `::1` and the bound IP; any host otherwise. A
    /// [`ProfiledService`](crate::ProfiledService) checks only a non-empty list.
    /// Requests without a `Host` (HTTP/1.0 tools) are answered. Environment:
    /// `PROFILED_ALLOWED_HOSTS`, comma-separated.
    pub allowed_hosts: Vec<String>,
    /// Connections the built-in server keeps open at once, at most a quarter of the
    /// process's `RLIMIT_NOFILE` (the rest stay the application's). Past the cap a
    /// new connection evicts the one that has waited longest on its client (idle, or
    /// sending its head or body), or gets 503 when every one is being served.
    /// Default: 128.
    pub max_connections: usize,
    /// Switch recording on with SIGUSR1 and off with SIGUSR2 (the configured rates
    /// are restored on SIGUSR1). Default: false.
    pub enable_signals: bool,
    /// Heavy requests (delta profiles, CPU profiles, traces) served at once; more
    /// get 429. Default: 4.
    pub max_concurrent_heavy_requests: usize,
    /// Serve the CPU profile (`/debug/pprof/profile`); when false it answers 403.
    /// Default: true.
    pub enable_cpu_profiling: bool,
    /// Serve the wall-clock profile (`/debug/fgprof?seconds=N`, as felixge/fgprof):
    /// every thread sampled at `cpu_profile_hz` whether it runs, sleeps or blocks.
    /// While one runs, each thread is woken `cpu_profile_hz` times a second by a
    /// signal (measured: 50 sleeping threads at 100 Hz cost 4.6% of a core, about
    /// 9 us per sample with the supervisor's share); blocking calls restart (`SA_RESTART`), but `epoll_wait`, `poll`,
    /// `select` and `nanosleep` see `EINTR` as after any signal. When false it
    /// answers 403. Default: false.
    pub enable_wall_profiling: bool,
    /// Sample allocations for the heap profiles (`/debug/pprof/heap`, `allocs`);
    /// when false, `Profiler::start` sets the sampling rate to 0 and those endpoints
    /// answer 403. Needs [`ProfiledAllocator`](crate::ProfiledAllocator) as the global
    /// allocator. Default: true.
    pub enable_memory_profiling: bool,
    /// Record waits on profiled locks and condition variables. Default: true.
    pub enable_block_profiling: bool,
    /// Record holders of contended profiled locks. Default: true.
    pub enable_mutex_profiling: bool,
    /// Record `#[profiled]` functions: calls, times, logical stacks and async waits.
    /// Default: true.
    pub enable_function_profiling: bool,
    /// Block profile rate in nanoseconds, as Go's `SetBlockProfileRate`: waits of at
    /// least this long are always kept, shorter ones sampled. Must be at least 1.
    /// Default: 1 (every wait).
    pub block_rate: i64,
    /// Mutex profile fraction, as Go's `SetMutexProfileFraction`: 1 in this many
    /// contended unlocks is kept. Must be at least 1. Default: 1 (every one).
    pub mutex_fraction: i64,
    /// Frames kept per captured stack, 1 to 256. Default: 64.
    pub max_stack_depth: usize,
    /// Distinct stacks each stack table (the mutex/block registry, the heap
    /// registry) holds before counting events as dropped. Fixed when the table's
    /// first event is recorded. Default: 16384.
    pub max_stacks: usize,
    /// Longest `?seconds=N` a request may ask for; longer gets a 400. Default: 600.
    pub max_profile_seconds: u64,
    /// Tasks tracked at once by `profiled::task::spawn`; more run untracked and are
    /// counted as dropped. Fixed when the first task is spawned. Default: 16384.
    pub max_tasks: usize,
    /// Distinct label sets ([`crate::labels`]) the label table holds, 1 to
    /// [`MAX_LABEL_SETS_LIMIT`](crate::labels::MAX_LABEL_SETS_LIMIT); scopes entered
    /// once it is full carry `profiled_labels=overflow`, counted. Default: 4096.
    pub max_label_sets: usize,
    /// CPU profile sampling frequency in Hz, 1 to 1000. Default: 100, as Go.
    pub cpu_profile_hz: i32,
    /// Heap sampling rate in bytes, as Go's `runtime.MemProfileRate`: one sample per
    /// this many bytes allocated on average; 1 samples every allocation, 0 none.
    /// Changeable at runtime with [`set_mem_profile_rate`](crate::set_mem_profile_rate).
    /// Default: 524288.
    pub mem_profile_rate: usize,
    /// How often a background thread checks for deadlocks and calls the callbacks
    /// of [`deadlock::on_deadlock`](crate::deadlock::on_deadlock) once per new one;
    /// `None` for no background check (profiles and `/metrics` still check on
    /// request). `PROFILED_DEADLOCK_CHECK_MS` (0: none). Default: none.
    pub deadlock_check_interval: Option<std::time::Duration>,
    /// Push profiles to Grafana Pyroscope (needs the `push` feature); see
    /// [`crate::push`]. Read from `PROFILED_PUSH_*` by [`Config::from_env`].
    /// Default: none.
    pub push: Option<crate::push::PushConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            listen_addr: "127.0.0.1:6060".into(),
            allow_insecure_bind: false,
            auth_token: None,
            allowed_hosts: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            enable_signals: false,
            max_concurrent_heavy_requests: 4,
            enable_cpu_profiling: true,
            enable_wall_profiling: false,
            enable_memory_profiling: true,
            enable_block_profiling: true,
            enable_mutex_profiling: true,
            enable_function_profiling: true,
            block_rate: 1,
            mutex_fraction: 1,
            max_stack_depth: DEFAULT_STACK_DEPTH,
            max_stacks: DEFAULT_MAX_STACKS,
            max_profile_seconds: 600,
            max_tasks: crate::task::DEFAULT_MAX_TASKS,
            max_label_sets: crate::labels::DEFAULT_MAX_LABEL_SETS,
            cpu_profile_hz: crate::cpu::DEFAULT_CPU_PROFILE_HZ,
            mem_profile_rate: crate::alloc::DEFAULT_MEM_PROFILE_RATE,
            deadlock_check_interval: None,
            push: None,
        }
    }
}

impl Config {
    /// The defaults, overridden by any `PROFILED_*` environment variables:
    /// `PROFILED_ENABLED`, `PROFILED_LISTEN_ADDR`, `PROFILED_ALLOW_INSECURE_BIND`,
    /// `PROFILED_AUTH_TOKEN`, `PROFILED_ALLOWED_HOSTS` (comma-separated),
    /// `PROFILED_MAX_CONNECTIONS`, `PROFILED_ENABLE_SIGNALS`,
    /// `PROFILED_ENABLE_{CPU,WALL,MEMORY,BLOCK,MUTEX,FUNCTION}_PROFILING`,
    /// `PROFILED_BLOCK_RATE`, `PROFILED_MUTEX_FRACTION`, `PROFILED_MAX_STACK_DEPTH`,
    /// `PROFILED_MAX_STACKS`, `PROFILED_MAX_PROFILE_SECONDS`, `PROFILED_MAX_TASKS`,
    /// `PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS`, `PROFILED_CPU_PROFILE_HZ`,
    /// `PROFILED_MEM_PROFILE_RATE`, `PROFILED_MAX_LABEL_SETS`,
    /// `PROFILED_DEADLOCK_CHECK_MS` ([`ENV_VARS`]). Booleans are `true`/`false`,
    /// `1`/`0`, `yes`/`no` or `on`/`off`, in any case. A variable whose value is not
    /// UTF-8 is an error (never ignored: a token that could not be read must not
    /// leave the server open). The `PROFILED_PUSH_*` variables are those of
    /// [`PushConfig::from_lookup`](crate::push::PushConfig::from_lookup).
    ///
    /// ```
    /// // SAFETY: no other thread of this doctest reads the environment.
    /// unsafe { std::env::set_var("PROFILED_MUTEX_FRACTION", "5") };
    /// let config = profiled::Config::from_env().unwrap();
    /// assert_eq!(config.mutex_fraction, 5);
    /// unsafe { std::env::set_var("PROFILED_BLOCK_RATE", "fast") };
    /// assert!(profiled::Config::from_env().is_err());
    /// # unsafe { std::env::remove_var("PROFILED_BLOCK_RATE") };
    /// ```
    pub fn from_env() -> Result<Config, ConfigError> {
        for var in ENV_VARS {
            if let Some(value) = std::env::var_os(var)
                && value.to_str().is_none()
            {
                return Err(ConfigError::InvalidEnv {
                    var,
                    value: value.to_string_lossy().into_owned(),
                    expected: "valid UTF-8",
                });
            }
        }
        Config::from_lookup(|var| std::env::var(var).ok())
    }

    /// [`Config::from_env`] over any variable source (tests, config files).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let file: HashMap<&str, &str> =
    ///     HashMap::from([("PROFILED_LISTEN_ADDR", "127.0.0.1:7070"), ("PROFILED_ENABLE_SIGNALS", "on")]);
    /// let config = profiled::Config::from_lookup(|var| file.get(var).map(|v| v.to_string())).unwrap();
    /// assert_eq!(config.listen_addr, "127.0.0.1:7070");
    /// assert!(config.enable_signals);
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (var, field) in FLAGS {
            if let Some(value) = lookup(var) {
                *field(&mut c) = parse_flag(var, value)?;
            }
        }
        if let Some(addr) = lookup("PROFILED_LISTEN_ADDR") {
            c.listen_addr = addr;
        }
        if let Some(token) = lookup("PROFILED_AUTH_TOKEN") {
            // As read from a file: a trailing newline is not part of the token.
            c.auth_token = Some(token.trim().to_owned());
        }
        if let Some(hosts) = lookup("PROFILED_ALLOWED_HOSTS") {
            c.allowed_hosts = hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
        }
        for (var, set) in INTEGERS {
            if let Some(value) = lookup(var) {
                set(&mut c, value.trim()).map_err(|()| ConfigError::InvalidEnv {
                    var,
                    value,
                    expected: "an integer",
                })?;
            }
        }
        c.push = crate::push::PushConfig::from_lookup(&lookup).map_err(ConfigError::Push)?;
        Ok(c)
    }

    /// Checks every value and resolves `listen_addr`.
    ///
    /// ```
    /// use profiled::{Config, ConfigError};
    /// let bad = Config { mutex_fraction: 0, ..Config::default() };
    /// assert_eq!(bad.validate(), Err(ConfigError::InvalidMutexFraction(0)));
    /// ```
    pub fn validate(&self) -> Result<SocketAddr, ConfigError> {
        if self.block_rate < 1 {
            return Err(ConfigError::InvalidBlockRate(self.block_rate));
        }
        if self.mutex_fraction < 1 {
            return Err(ConfigError::InvalidMutexFraction(self.mutex_fraction));
        }
        if !(1..=MAX_STACK_DEPTH_LIMIT).contains(&self.max_stack_depth) {
            return Err(ConfigError::InvalidStackDepth(self.max_stack_depth));
        }
        if !(1..=MAX_STACKS_LIMIT).contains(&self.max_stacks) {
            return Err(ConfigError::InvalidMaxStacks(self.max_stacks));
        }
        if self.max_tasks == 0 {
            return Err(ConfigError::InvalidMaxTasks);
        }
        if !(1..=crate::labels::MAX_LABEL_SETS_LIMIT).contains(&self.max_label_sets) {
            return Err(ConfigError::InvalidMaxLabelSets(self.max_label_sets));
        }
        if self.max_profile_seconds == 0 {
            return Err(ConfigError::InvalidMaxProfileSeconds);
        }
        if !(1..=crate::cpu::MAX_CPU_PROFILE_HZ).contains(&self.cpu_profile_hz) {
            return Err(ConfigError::InvalidCpuProfileHz(self.cpu_profile_hz));
        }
        if let Some(push) = &self.push {
            push.validate().map_err(ConfigError::Push)?;
            if !cfg!(feature = "push") {
                return Err(ConfigError::Push(crate::push::PushConfigError::NotCompiled));
            }
        }
        let addr = resolve(&self.listen_addr)?;
        if self.auth_token.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::EmptyAuthToken);
        }
        if self
            .auth_token
            .as_deref()
            .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::InvalidAuthToken);
        }
        if self.max_connections == 0 {
            return Err(ConfigError::InvalidMaxConnections);
        }
        if self.max_concurrent_heavy_requests == 0 {
            return Err(ConfigError::InvalidMaxConcurrentHeavyRequests);
        }
        if !addr.ip().is_loopback() && self.auth_token.is_none() && !self.allow_insecure_bind {
            return Err(ConfigError::InsecureBind(addr));
        }
        Ok(addr)
    }
}

/// The field a boolean variable sets.
type Flag = fn(&mut Config) -> &mut bool;
/// Parses an integer variable's value into its field.
type SetInteger = fn(&mut Config, &str) -> Result<(), ()>;

/// The boolean `PROFILED_*` variables and the field each sets.
const FLAGS: [(&str, Flag); 9] = [
    ("PROFILED_ENABLED", |c| &mut c.enabled),
    ("PROFILED_ALLOW_INSECURE_BIND", |c| {
        &mut c.allow_insecure_bind
    }),
    ("PROFILED_ENABLE_SIGNALS", |c| &mut c.enable_signals),
    ("PROFILED_ENABLE_CPU_PROFILING", |c| {
        &mut c.enable_cpu_profiling
    }),
    ("PROFILED_ENABLE_WALL_PROFILING", |c| {
        &mut c.enable_wall_profiling
    }),
    ("PROFILED_ENABLE_MEMORY_PROFILING", |c| {
        &mut c.enable_memory_profiling
    }),
    ("PROFILED_ENABLE_BLOCK_PROFILING", |c| {
        &mut c.enable_block_profiling
    }),
    ("PROFILED_ENABLE_MUTEX_PROFILING", |c| {
        &mut c.enable_mutex_profiling
    }),
    ("PROFILED_ENABLE_FUNCTION_PROFILING", |c| {
        &mut c.enable_function_profiling
    }),
];

/// The integer `PROFILED_*` variables and how each sets its field.
const INTEGERS: [(&str, SetInteger); 12] = [
    ("PROFILED_MAX_CONNECTIONS", |c, v| {
        parse(v, &mut c.max_connections)
    }),
    ("PROFILED_BLOCK_RATE", |c, v| parse(v, &mut c.block_rate)),
    ("PROFILED_MUTEX_FRACTION", |c, v| {
        parse(v, &mut c.mutex_fraction)
    }),
    ("PROFILED_MAX_STACK_DEPTH", |c, v| {
        parse(v, &mut c.max_stack_depth)
    }),
    ("PROFILED_MAX_STACKS", |c, v| parse(v, &mut c.max_stacks)),
    ("PROFILED_MAX_PROFILE_SECONDS", |c, v| {
        parse(v, &mut c.max_profile_seconds)
    }),
    ("PROFILED_MAX_TASKS", |c, v| parse(v, &mut c.max_tasks)),
    ("PROFILED_MAX_LABEL_SETS", |c, v| {
        parse(v, &mut c.max_label_sets)
    }),
    ("PROFILED_CPU_PROFILE_HZ", |c, v| {
        parse(v, &mut c.cpu_profile_hz)
    }),
    ("PROFILED_MEM_PROFILE_RATE", |c, v| {
        parse(v, &mut c.mem_profile_rate)
    }),
    ("PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS", |c, v| {
        parse(v, &mut c.max_concurrent_heavy_requests)
    }),
    ("PROFILED_DEADLOCK_CHECK_MS", |c, v| {
        let mut ms = 0u64;
        parse(v, &mut ms)?;
        c.deadlock_check_interval = (ms > 0).then(|| std::time::Duration::from_millis(ms));
        Ok(())
    }),
];

fn parse<T: std::str::FromStr>(value: &str, target: &mut T) -> Result<(), ()> {
    *target = value.parse().map_err(|_| ())?;
    Ok(())
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case.
fn parse_flag(var: &'static str, value: String) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::InvalidEnv {
            var,
            value,
            expected: "true/false, 1/0, yes/no or on/off",
        }),
    }
}

fn resolve(listen_addr: &str) -> Result<SocketAddr, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidListenAddr {
        addr: listen_addr.to_owned(),
        reason,
    };
    let mut addrs = listen_addr
        .to_socket_addrs()
        .map_err(|e| invalid(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| invalid("it resolves to no address".into()))
}

#[cfg(test)]
mod tests;
