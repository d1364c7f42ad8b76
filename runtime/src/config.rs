//! [`Config`]: what [`Profiler::start`](crate::Profiler::start) serves and records.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::control::{DEFAULT_STACK_DEPTH, MAX_STACK_DEPTH_LIMIT};
use crate::registry::DEFAULT_MAX_STACKS;

/// Largest accepted [`Config::max_stacks`].
///
/// ```
/// use profiled::{Config, ConfigError, MAX_STACKS_LIMIT};
/// let too_big = Config { max_stacks: MAX_STACKS_LIMIT + 1, ..Config::default() };
/// assert_eq!(too_big.validate(), Err(ConfigError::InvalidMaxStacks(MAX_STACKS_LIMIT + 1)));
/// ```
pub const MAX_STACKS_LIMIT: usize = 1 << 22;

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
    /// (compared in constant time); others get 401. Default: none.
    pub auth_token: Option<String>,
    /// Switch recording on with SIGUSR1 and off with SIGUSR2 (the configured rates
    /// are restored on SIGUSR1). Default: false.
    pub enable_signals: bool,
    /// Heavy requests (delta profiles, CPU profiles, traces) served at once; more
    /// get 429. Default: 4.
    pub max_concurrent_heavy_requests: usize,
    /// Serve the CPU profile (`/debug/pprof/profile`); when false it answers 403.
    /// Default: true.
    pub enable_cpu_profiling: bool,
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
    /// Distinct stacks the registry holds before counting events as dropped. Fixed
    /// when the first event is recorded. Default: 16384.
    pub max_stacks: usize,
    /// Longest `?seconds=N` a request may ask for; longer gets a 400. Default: 600.
    pub max_profile_seconds: u64,
    /// Tasks tracked at once by `profiled::task::spawn`; more run untracked and are
    /// counted as dropped. Fixed when the first task is spawned. Default: 16384.
    pub max_tasks: usize,
    /// CPU profile sampling frequency in Hz, 1 to 1000. Default: 100, as Go.
    pub cpu_profile_hz: i32,
    /// Heap sampling rate in bytes, as Go's `runtime.MemProfileRate`: one sample per
    /// this many bytes allocated on average; 1 samples every allocation, 0 none.
    /// Changeable at runtime with [`set_mem_profile_rate`](crate::set_mem_profile_rate).
    /// Default: 524288.
    pub mem_profile_rate: usize,
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
            enable_signals: false,
            max_concurrent_heavy_requests: 4,
            enable_cpu_profiling: true,
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
            cpu_profile_hz: crate::cpu::DEFAULT_CPU_PROFILE_HZ,
            mem_profile_rate: crate::alloc::DEFAULT_MEM_PROFILE_RATE,
            push: None,
        }
    }
}

impl Config {
    /// The defaults, overridden by any `PROFILED_*` environment variables:
    /// `PROFILED_ENABLED`, `PROFILED_LISTEN_ADDR`, `PROFILED_ALLOW_INSECURE_BIND`,
    /// `PROFILED_AUTH_TOKEN`, `PROFILED_ENABLE_SIGNALS`,
    /// `PROFILED_ENABLE_{CPU,MEMORY,BLOCK,MUTEX,FUNCTION}_PROFILING`,
    /// `PROFILED_BLOCK_RATE`, `PROFILED_MUTEX_FRACTION`, `PROFILED_MAX_STACK_DEPTH`,
    /// `PROFILED_MAX_STACKS`, `PROFILED_MAX_PROFILE_SECONDS`, `PROFILED_MAX_TASKS`,
    /// `PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS`, `PROFILED_CPU_PROFILE_HZ`,
    /// `PROFILED_MEM_PROFILE_RATE`, and the `PROFILED_PUSH_*` variables of
    /// [`PushConfig::from_lookup`](crate::push::PushConfig::from_lookup). Booleans are `true`/`false`/`1`/`0`.
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
        fn parsed<T: std::str::FromStr>(
            lookup: &impl Fn(&str) -> Option<String>,
            var: &'static str,
            expected: &'static str,
            target: &mut T,
        ) -> Result<(), ConfigError> {
            if let Some(value) = lookup(var) {
                *target = value.trim().parse().map_err(|_| ConfigError::InvalidEnv {
                    var,
                    value: value.clone(),
                    expected,
                })?;
            }
            Ok(())
        }
        fn flag(
            lookup: &impl Fn(&str) -> Option<String>,
            var: &'static str,
            target: &mut bool,
        ) -> Result<(), ConfigError> {
            if let Some(value) = lookup(var) {
                *target = match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" => false,
                    _ => {
                        return Err(ConfigError::InvalidEnv {
                            var,
                            value,
                            expected: "true or false",
                        });
                    }
                };
            }
            Ok(())
        }
        let mut c = Config::default();
        flag(&lookup, "PROFILED_ENABLED", &mut c.enabled)?;
        if let Some(addr) = lookup("PROFILED_LISTEN_ADDR") {
            c.listen_addr = addr;
        }
        flag(
            &lookup,
            "PROFILED_ALLOW_INSECURE_BIND",
            &mut c.allow_insecure_bind,
        )?;
        if let Some(token) = lookup("PROFILED_AUTH_TOKEN") {
            c.auth_token = Some(token);
        }
        flag(&lookup, "PROFILED_ENABLE_SIGNALS", &mut c.enable_signals)?;
        flag(
            &lookup,
            "PROFILED_ENABLE_CPU_PROFILING",
            &mut c.enable_cpu_profiling,
        )?;
        flag(
            &lookup,
            "PROFILED_ENABLE_MEMORY_PROFILING",
            &mut c.enable_memory_profiling,
        )?;
        flag(
            &lookup,
            "PROFILED_ENABLE_BLOCK_PROFILING",
            &mut c.enable_block_profiling,
        )?;
        flag(
            &lookup,
            "PROFILED_ENABLE_MUTEX_PROFILING",
            &mut c.enable_mutex_profiling,
        )?;
        flag(
            &lookup,
            "PROFILED_ENABLE_FUNCTION_PROFILING",
            &mut c.enable_function_profiling,
        )?;
        let int = "an integer";
        parsed(&lookup, "PROFILED_BLOCK_RATE", int, &mut c.block_rate)?;
        parsed(
            &lookup,
            "PROFILED_MUTEX_FRACTION",
            int,
            &mut c.mutex_fraction,
        )?;
        parsed(
            &lookup,
            "PROFILED_MAX_STACK_DEPTH",
            int,
            &mut c.max_stack_depth,
        )?;
        parsed(&lookup, "PROFILED_MAX_STACKS", int, &mut c.max_stacks)?;
        parsed(
            &lookup,
            "PROFILED_MAX_PROFILE_SECONDS",
            int,
            &mut c.max_profile_seconds,
        )?;
        parsed(&lookup, "PROFILED_MAX_TASKS", int, &mut c.max_tasks)?;
        parsed(
            &lookup,
            "PROFILED_CPU_PROFILE_HZ",
            int,
            &mut c.cpu_profile_hz,
        )?;
        parsed(
            &lookup,
            "PROFILED_MEM_PROFILE_RATE",
            int,
            &mut c.mem_profile_rate,
        )?;
        parsed(
            &lookup,
            "PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS",
            int,
            &mut c.max_concurrent_heavy_requests,
        )?;
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
        if self.max_concurrent_heavy_requests == 0 {
            return Err(ConfigError::InvalidMaxConcurrentHeavyRequests);
        }
        if !addr.ip().is_loopback() && self.auth_token.is_none() && !self.allow_insecure_bind {
            return Err(ConfigError::InsecureBind(addr));
        }
        Ok(addr)
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

/// A [`Config`] value that cannot be used.
///
/// ```
/// use profiled::{Config, ConfigError};
/// let public = Config { listen_addr: "0.0.0.0:6060".into(), ..Config::default() };
/// let error = public.validate().unwrap_err();
/// assert!(matches!(error, ConfigError::InsecureBind(_)));
/// assert!(error.to_string().contains("set auth_token"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `listen_addr` is not `host:port` or does not resolve.
    InvalidListenAddr {
        /// The value given.
        addr: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `listen_addr` is not loopback, there is no `auth_token`, and
    /// `allow_insecure_bind` is false.
    InsecureBind(SocketAddr),
    /// `block_rate` is below 1.
    InvalidBlockRate(i64),
    /// `mutex_fraction` is below 1.
    InvalidMutexFraction(i64),
    /// `max_stack_depth` is outside 1..=256.
    InvalidStackDepth(usize),
    /// `max_stacks` is outside 1..=`MAX_STACKS_LIMIT`.
    InvalidMaxStacks(usize),
    /// `max_profile_seconds` is 0.
    InvalidMaxProfileSeconds,
    /// `max_tasks` is 0.
    InvalidMaxTasks,
    /// `auth_token` is `Some("")`.
    EmptyAuthToken,
    /// `max_concurrent_heavy_requests` is 0.
    InvalidMaxConcurrentHeavyRequests,
    /// A `PROFILED_*` environment variable has a value that does not parse.
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// `cpu_profile_hz` is outside 1..=1000.
    InvalidCpuProfileHz(i32),
    /// A push setting is invalid (see [`crate::push::PushConfigError`]).
    Push(crate::push::PushConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidListenAddr { addr, reason } => {
                write!(
                    f,
                    "invalid listen_addr {addr:?}: {reason} (expected host:port, such as 127.0.0.1:6060)"
                )
            }
            ConfigError::InsecureBind(addr) => write!(
                f,
                "refusing to serve profiles on non-loopback address {addr}: anyone who can reach it \
                 can read them; bind 127.0.0.1, set auth_token, or set allow_insecure_bind"
            ),
            ConfigError::InvalidBlockRate(rate) => {
                write!(
                    f,
                    "invalid block_rate {rate}: must be at least 1 (nanoseconds); disable with enable_block_profiling = false"
                )
            }
            ConfigError::InvalidMutexFraction(fraction) => {
                write!(
                    f,
                    "invalid mutex_fraction {fraction}: must be at least 1; disable with enable_mutex_profiling = false"
                )
            }
            ConfigError::InvalidStackDepth(depth) => {
                write!(
                    f,
                    "invalid max_stack_depth {depth}: must be between 1 and {MAX_STACK_DEPTH_LIMIT}"
                )
            }
            ConfigError::InvalidMaxStacks(n) => {
                write!(
                    f,
                    "invalid max_stacks {n}: must be between 1 and {MAX_STACKS_LIMIT}"
                )
            }
            ConfigError::InvalidMaxTasks => write!(f, "invalid max_tasks 0: must be at least 1"),
            ConfigError::EmptyAuthToken => {
                write!(f, "invalid auth_token: empty; use None for no token")
            }
            ConfigError::InvalidMaxConcurrentHeavyRequests => {
                write!(
                    f,
                    "invalid max_concurrent_heavy_requests 0: must be at least 1"
                )
            }
            ConfigError::InvalidEnv {
                var,
                value,
                expected,
            } => {
                write!(f, "invalid {var}={value:?}: expected {expected}")
            }
            ConfigError::InvalidMaxProfileSeconds => {
                write!(f, "invalid max_profile_seconds 0: must be at least 1")
            }
            ConfigError::InvalidCpuProfileHz(hz) => write!(
                f,
                "invalid cpu_profile_hz {hz}: must be between 1 and {}; disable with enable_cpu_profiling = false",
                crate::cpu::MAX_CPU_PROFILE_HZ
            ),
            ConfigError::Push(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let addr = Config::default().validate().unwrap();
        assert_eq!(addr, "127.0.0.1:6060".parse().unwrap());
    }

    #[test]
    fn rejects_each_bad_value() {
        let cases = [
            (
                Config {
                    block_rate: 0,
                    ..Config::default()
                },
                ConfigError::InvalidBlockRate(0),
            ),
            (
                Config {
                    mutex_fraction: -3,
                    ..Config::default()
                },
                ConfigError::InvalidMutexFraction(-3),
            ),
            (
                Config {
                    max_stack_depth: 0,
                    ..Config::default()
                },
                ConfigError::InvalidStackDepth(0),
            ),
            (
                Config {
                    max_stack_depth: 257,
                    ..Config::default()
                },
                ConfigError::InvalidStackDepth(257),
            ),
            (
                Config {
                    max_stacks: 0,
                    ..Config::default()
                },
                ConfigError::InvalidMaxStacks(0),
            ),
            (
                Config {
                    cpu_profile_hz: 0,
                    ..Config::default()
                },
                ConfigError::InvalidCpuProfileHz(0),
            ),
            (
                Config {
                    cpu_profile_hz: 1001,
                    ..Config::default()
                },
                ConfigError::InvalidCpuProfileHz(1001),
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(config.validate(), Err(expected));
        }
    }

    #[test]
    fn rejects_bad_and_public_addresses() {
        for addr in ["", "6060", "127.0.0.1", "127.0.0.1:99999", "[::1:6060"] {
            let config = Config {
                listen_addr: addr.into(),
                ..Config::default()
            };
            assert!(
                matches!(
                    config.validate(),
                    Err(ConfigError::InvalidListenAddr { .. })
                ),
                "{addr:?} gave {:?}",
                config.validate()
            );
        }
        let public = Config {
            listen_addr: "0.0.0.0:6060".into(),
            ..Config::default()
        };
        assert!(matches!(
            public.validate(),
            Err(ConfigError::InsecureBind(_))
        ));
        assert!(
            public
                .validate()
                .unwrap_err()
                .to_string()
                .contains("allow_insecure_bind")
        );
        let allowed = Config {
            allow_insecure_bind: true,
            ..public.clone()
        };
        assert!(allowed.validate().is_ok());
        let with_token = Config {
            auth_token: Some("s3cret".into()),
            ..public
        };
        assert!(with_token.validate().is_ok());
        let empty = Config {
            auth_token: Some(String::new()),
            ..Config::default()
        };
        assert_eq!(empty.validate(), Err(ConfigError::EmptyAuthToken));
    }

    #[test]
    fn reads_every_variable_and_rejects_bad_values() {
        let vars = [
            ("PROFILED_ENABLED", "false"),
            ("PROFILED_LISTEN_ADDR", "127.0.0.1:7070"),
            ("PROFILED_AUTH_TOKEN", "t0k"),
            ("PROFILED_ENABLE_SIGNALS", "1"),
            ("PROFILED_ENABLE_MUTEX_PROFILING", "off"),
            ("PROFILED_BLOCK_RATE", "1000"),
            ("PROFILED_MUTEX_FRACTION", "7"),
            ("PROFILED_MAX_STACKS", "99"),
        ];
        let lookup = |var: &str| {
            vars.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        };
        let config = Config::from_lookup(lookup).unwrap();
        assert!(!config.enabled);
        assert_eq!(config.listen_addr, "127.0.0.1:7070");
        assert_eq!(config.auth_token.as_deref(), Some("t0k"));
        assert!(config.enable_signals);
        assert!(!config.enable_mutex_profiling);
        assert_eq!(
            (config.block_rate, config.mutex_fraction, config.max_stacks),
            (1000, 7, 99)
        );

        let bad = |var: &str| (var == "PROFILED_ENABLED").then(|| "maybe".to_string());
        assert!(matches!(
            Config::from_lookup(bad),
            Err(ConfigError::InvalidEnv {
                var: "PROFILED_ENABLED",
                ..
            })
        ));
        let bad = |var: &str| (var == "PROFILED_MAX_TASKS").then(|| "-1".to_string());
        let error = Config::from_lookup(bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid PROFILED_MAX_TASKS=\"-1\": expected an integer"
        );
    }
}
