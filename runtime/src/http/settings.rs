//! [`ServerSettings`]: what the handlers need from [`Config`](crate::Config).

use std::sync::Arc;

/// Per-server settings the handlers need.
#[derive(Clone)]
pub(crate) struct ServerSettings {
    /// Upper bound on `?seconds=N`.
    pub max_profile_seconds: u64,
    /// Required bearer token, if any.
    pub auth_token: Option<String>,
    /// Permits for heavy requests (delta profiles and traces; CPU profiles are one at a
    /// time anyway, as Go).
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// Path prefix the endpoints are mounted under ("" for the root).
    pub prefix: String,
    /// Serve `/debug/pprof/profile`.
    pub enable_cpu_profiling: bool,
    /// Serve `/debug/fgprof`.
    pub enable_wall_profiling: bool,
    /// Serve `/debug/pprof/heap` and `allocs`.
    pub enable_memory_profiling: bool,
    /// CPU sampling frequency.
    pub cpu_profile_hz: i32,
    /// `Host` names answered (lowercase, no port); `None` answers any.
    pub allowed_hosts: Option<Vec<String>>,
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ServerSettings")
            .field("max_profile_seconds", &self.max_profile_seconds)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ServerSettings {
    pub(crate) fn from_config(config: &crate::Config, prefix: &str) -> ServerSettings {
        ServerSettings {
            max_profile_seconds: config.max_profile_seconds,
            auth_token: config.auth_token.clone(),
            heavy: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_heavy_requests,
            )),
            prefix: prefix.trim_end_matches('/').to_owned(),
            enable_cpu_profiling: config.enable_cpu_profiling,
            enable_wall_profiling: config.enable_wall_profiling,
            enable_memory_profiling: config.enable_memory_profiling,
            cpu_profile_hz: config.cpu_profile_hz,
            allowed_hosts: super::host::explicit(&config.allowed_hosts),
        }
    }

    /// A permit for a heavy request; `None` when all are taken (answer 429).
    pub(crate) fn heavy_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.heavy).try_acquire_owned().ok()
    }
}
