//! [`ConfigError`]: what is wrong with a [`Config`](super::Config), naming the field
//! and its `PROFILED_*` variable.

use std::fmt;
use std::net::SocketAddr;

use crate::control::MAX_STACK_DEPTH_LIMIT;

use super::MAX_STACKS_LIMIT;

/// A [`Config`](super::Config) value that cannot be used.
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
    /// `max_label_sets` is outside 1..=`MAX_LABEL_SETS_LIMIT`.
    InvalidMaxLabelSets(usize),
    /// `auth_token` is `Some("")`.
    EmptyAuthToken,
    /// `max_concurrent_heavy_requests` is 0.
    InvalidMaxConcurrentHeavyRequests,
    /// `auth_token` has a character other than visible ASCII (a space, a newline, a
    /// control character, non-ASCII), which no client could send.
    InvalidAuthToken,
    /// `max_connections` is 0.
    InvalidMaxConnections,
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
                    "invalid listen_addr {addr:?} (PROFILED_LISTEN_ADDR): {reason} (expected host:port, such as 127.0.0.1:6060)"
                )
            }
            ConfigError::InsecureBind(addr) => write!(
                f,
                "refusing to serve profiles on non-loopback address {addr}: anyone who can reach it \
                 can read them; bind 127.0.0.1, set auth_token (PROFILED_AUTH_TOKEN), or set \
                 allow_insecure_bind (PROFILED_ALLOW_INSECURE_BIND)"
            ),
            ConfigError::InvalidBlockRate(rate) => {
                write!(
                    f,
                    "invalid block_rate {rate} (PROFILED_BLOCK_RATE): must be at least 1 (nanoseconds); disable with enable_block_profiling = false (PROFILED_ENABLE_BLOCK_PROFILING=false)"
                )
            }
            ConfigError::InvalidMutexFraction(fraction) => {
                write!(
                    f,
                    "invalid mutex_fraction {fraction} (PROFILED_MUTEX_FRACTION): must be at least 1; disable with enable_mutex_profiling = false (PROFILED_ENABLE_MUTEX_PROFILING=false)"
                )
            }
            ConfigError::InvalidStackDepth(depth) => {
                write!(
                    f,
                    "invalid max_stack_depth {depth} (PROFILED_MAX_STACK_DEPTH): must be between 1 and {MAX_STACK_DEPTH_LIMIT}"
                )
            }
            ConfigError::InvalidMaxStacks(n) => {
                write!(
                    f,
                    "invalid max_stacks {n} (PROFILED_MAX_STACKS): must be between 1 and {MAX_STACKS_LIMIT}"
                )
            }
            ConfigError::InvalidMaxTasks => write!(
                f,
                "invalid max_tasks 0 (PROFILED_MAX_TASKS): must be at least 1"
            ),
            ConfigError::InvalidMaxLabelSets(n) => write!(
                f,
                "invalid max_label_sets {n} (PROFILED_MAX_LABEL_SETS): must be between 1 and {}",
                crate::labels::MAX_LABEL_SETS_LIMIT
            ),
            ConfigError::EmptyAuthToken => {
                write!(
                    f,
                    "invalid auth_token (PROFILED_AUTH_TOKEN): empty; use None (leave the variable unset) for no token"
                )
            }
            ConfigError::InvalidAuthToken => write!(
                f,
                "invalid auth_token (PROFILED_AUTH_TOKEN): only visible ASCII characters (! to ~) \
                 can be sent in an Authorization header; remove spaces, newlines, control and \
                 non-ASCII characters"
            ),
            ConfigError::InvalidMaxConnections => write!(
                f,
                "invalid max_connections 0 (PROFILED_MAX_CONNECTIONS): must be at least 1"
            ),
            ConfigError::InvalidMaxConcurrentHeavyRequests => {
                write!(
                    f,
                    "invalid max_concurrent_heavy_requests 0 (PROFILED_MAX_CONCURRENT_HEAVY_REQUESTS): must be at least 1"
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
                write!(
                    f,
                    "invalid max_profile_seconds 0 (PROFILED_MAX_PROFILE_SECONDS): must be at least 1"
                )
            }
            ConfigError::InvalidCpuProfileHz(hz) => write!(
                f,
                "invalid cpu_profile_hz {hz} (PROFILED_CPU_PROFILE_HZ): must be between 1 and {}; disable with enable_cpu_profiling = false (PROFILED_ENABLE_CPU_PROFILING=false)",
                crate::cpu::MAX_CPU_PROFILE_HZ
            ),
            ConfigError::Push(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}
