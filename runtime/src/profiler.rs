//! [`Profiler`]: starts and stops serving, and applies a [`Config`] to the recorders.

use std::fmt;
use std::net::SocketAddr;

use crate::config::{Config, ConfigError};
use crate::http::{Server, Settings};
use crate::{control, registry};

/// A running profiler: the HTTP server plus the recording switches it turned on.
/// Dropping it stops the server and switches recording off, as [`Profiler::stop`].
///
/// ```no_run
/// use profiled::{Config, Profiler};
/// let profiler = Profiler::start(Config::default())?; // serves 127.0.0.1:6060
/// println!("profiles at http://{}/debug/pprof/", profiler.local_addr().unwrap());
/// # Ok::<(), profiled::StartError>(())
/// ```
#[must_use = "dropping the Profiler stops it"]
pub struct Profiler {
    server: Option<Server>,
}

impl Profiler {
    /// Validates `config`, switches on the profiles it enables, binds its address and
    /// serves on a dedicated thread (a current-thread tokio runtime), so this works
    /// from sync and async programs alike.
    pub fn start(config: Config) -> Result<Profiler, StartError> {
        let addr = config.validate().map_err(StartError::Config)?;
        if !config.enabled {
            return Ok(Profiler { server: None });
        }
        let server = Server::start(
            addr,
            Settings {
                max_profile_seconds: config.max_profile_seconds,
                enable_cpu_profiling: config.enable_cpu_profiling,
                enable_memory_profiling: config.enable_memory_profiling,
                cpu_profile_hz: config.cpu_profile_hz,
            },
        )
        .map_err(|source| StartError::Bind { addr, source })?;
        registry::set_capacity(config.max_stacks);
        control::set_max_stack_depth(config.max_stack_depth);
        crate::alloc::set_mem_profile_rate(if config.enable_memory_profiling {
            config.mem_profile_rate
        } else {
            0
        });
        crate::cpu::set_configured_hz(config.cpu_profile_hz);
        control::set_block_rate(if config.enable_block_profiling {
            config.block_rate
        } else {
            0
        });
        control::set_mutex_fraction(if config.enable_mutex_profiling {
            config.mutex_fraction
        } else {
            0
        });
        Ok(Profiler {
            server: Some(server),
        })
    }

    /// The address being served (with the real port when `listen_addr` used port 0);
    /// `None` when the configuration was disabled.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(Server::local_addr)
    }

    /// Stops serving and switches block and mutex recording off. Recorded data stays
    /// readable through [`lookup`](crate::lookup).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
            control::set_block_rate(0);
            control::set_mutex_fraction(0);
        }
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Profiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiler")
            .field("local_addr", &self.local_addr())
            .finish()
    }
}

/// Why [`Profiler::start`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A configuration value is invalid.
    Config(ConfigError),
    /// The address could not be bound (in use, not local, no permission) or the
    /// server thread could not be started.
    Bind {
        /// The address that was tried.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid profiler configuration: {e}"),
            StartError::Bind { addr, source } => {
                write!(f, "cannot serve profiles on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Bind { source, .. } => Some(source),
        }
    }
}
