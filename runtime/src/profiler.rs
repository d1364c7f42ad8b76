//! [`Profiler`]: starts and stops serving, and applies a [`Config`] to the recorders.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{Config, ConfigError};
use crate::http::{Server, ServerSettings};
use crate::{control, instrument, registry};

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
    signals: Option<SignalThread>,
    /// Whether this profiler switched recording on (and must switch it off).
    recording: bool,
    /// The push threads, when [`Config::push`] is set.
    #[cfg(feature = "push")]
    push: Option<crate::push::Pusher>,
    /// The background deadlock check, when [`Config::deadlock_check_interval`] is set.
    deadlock_watch: Option<crate::deadlock::Watch>,
}

/// The recording switches a configuration asks for, to apply and re-apply (SIGUSR1).
#[derive(Clone, Copy, Debug)]
struct Switches {
    block_rate: i64,
    mutex_fraction: i64,
    functions: bool,
    mem_profile_rate: usize,
}

impl Switches {
    fn from_config(config: &Config) -> Switches {
        Switches {
            block_rate: if config.enable_block_profiling {
                config.block_rate
            } else {
                0
            },
            mutex_fraction: if config.enable_mutex_profiling {
                config.mutex_fraction
            } else {
                0
            },
            functions: config.enable_function_profiling,
            mem_profile_rate: if config.enable_memory_profiling {
                config.mem_profile_rate
            } else {
                0
            },
        }
    }

    fn apply(self) {
        control::set_block_rate(self.block_rate);
        control::set_mutex_fraction(self.mutex_fraction);
        instrument::set_function_profiling(self.functions);
        crate::alloc::set_mem_profile_rate(self.mem_profile_rate);
    }

    fn off() {
        crate::alloc::set_mem_profile_rate(0);
        control::set_block_rate(0);
        control::set_mutex_fraction(0);
        instrument::set_function_profiling(false);
    }
}

/// The thread that turns SIGUSR1 / SIGUSR2 into switch changes.
///
/// The last signal wins: each handler stores what it asks for (on or off) in one
/// atomic, then wakes this thread through a socket; the thread applies whatever
/// the atomic says when it wakes. (signal-hook's iterator reports the signals that
/// arrived since it last looked in signal-number order, so `USR2` then `USR1`
/// came out as on, then off.) Linux itself delivers two signals that are pending
/// at the same moment lowest number first; signals the process receives one after
/// the other are applied in the order received.
struct SignalThread {
    ids: Vec<signal_hook::SigId>,
    stop: Arc<AtomicUsize>,
    wake: std::os::unix::net::UnixStream,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the last signal asked for (`wanted`): nothing new, on, off; and `STOP`.
const NOTHING: usize = 0;
const ON: usize = 1;
const OFF: usize = 2;
const STOP: usize = 3;

impl SignalThread {
    fn start(switches: Switches) -> std::io::Result<SignalThread> {
        use signal_hook::consts::{SIGUSR1, SIGUSR2};
        use std::io::Read;
        let wanted = Arc::new(AtomicUsize::new(NOTHING));
        let (mut woken, wake) = std::os::unix::net::UnixStream::pair()?;
        let mut ids = Vec::new();
        let mut register = || -> std::io::Result<()> {
            for (signal, value) in [(SIGUSR1, ON), (SIGUSR2, OFF)] {
                // Actions run in the order registered: store, then wake.
                ids.push(signal_hook::flag::register_usize(
                    signal,
                    Arc::clone(&wanted),
                    value,
                )?);
                ids.push(signal_hook::low_level::pipe::register(
                    signal,
                    wake.try_clone()?,
                )?);
            }
            Ok(())
        };
        let registered = register();
        let unregister = |ids: &[signal_hook::SigId]| {
            for &id in ids {
                signal_hook::low_level::unregister(id);
            }
        };
        if let Err(e) = registered {
            unregister(&ids);
            return Err(e);
        }
        let stop = Arc::clone(&wanted);
        let spawned = std::thread::Builder::new()
            .name("profiled-signals".into())
            .spawn(move || {
                let mut buffer = [0u8; 64];
                loop {
                    match wanted.swap(NOTHING, Ordering::SeqCst) {
                        ON => switches.apply(),
                        OFF => Switches::off(),
                        STOP => return,
                        _ => {}
                    }
                    // Wakes at each signal; several bytes may be waiting.
                    match woken.read(&mut buffer) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(thread) => Ok(SignalThread {
                ids,
                stop,
                wake,
                thread: Some(thread),
            }),
            Err(e) => {
                unregister(&ids);
                Err(e)
            }
        }
    }

    fn stop(&mut self) {
        use std::io::Write;
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        self.stop.store(STOP, Ordering::SeqCst);
        let _ = (&self.wake).write_all(&[0]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Profiler {
    /// Validates `config`, switches on the profiles it enables, binds its address and
    /// serves on a dedicated thread (a current-thread tokio runtime), so this works
    /// from sync and async programs alike.
    ///
    /// ```
    /// use profiled::{Config, Profiler};
    /// let config = Config { listen_addr: "127.0.0.1:0".into(), ..Config::default() };
    /// let profiler = Profiler::start(config)?;
    /// let addr = profiler.local_addr().unwrap(); // the port the OS picked
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// assert_eq!(profiled::mutex_fraction(), 1); // recording is on
    /// profiler.stop();
    /// # Ok::<(), profiled::StartError>(())
    /// ```
    pub fn start(config: Config) -> Result<Profiler, StartError> {
        let addr = config.validate().map_err(StartError::Config)?;
        if !config.enabled {
            return Ok(Profiler::idle());
        }
        let server = {
            // On the caller's thread: what this allocates (settings, the server's
            // runtime) lives as long as the server and is the profiler's own, never a
            // sample in the user's heap profile.
            let _own = crate::alloc::own::scope(crate::alloc::own::Component::Server);
            Server::start(
                addr,
                ServerSettings::from_config(&config, ""),
                config.max_connections,
            )
            .map_err(|source| StartError::Bind { addr, source })?
        };
        let mut profiler = Profiler::record(&config)?;
        profiler.server = Some(server);
        Ok(profiler)
    }

    /// Like [`Profiler::start`] without the server: switches recording on (and
    /// signals, if enabled) for a process that serves the endpoints itself through
    /// [`ProfiledService`](crate::ProfiledService).
    ///
    /// ```
    /// use profiled::{Config, Profiler};
    /// let recording = Profiler::start_recording(Config::default())?;
    /// assert_eq!(recording.local_addr(), None);
    /// assert_eq!(profiled::mutex_fraction(), 1);
    /// drop(recording);
    /// assert_eq!(profiled::mutex_fraction(), 0);
    /// # Ok::<(), profiled::StartError>(())
    /// ```
    pub fn start_recording(config: Config) -> Result<Profiler, StartError> {
        config.validate().map_err(StartError::Config)?;
        if !config.enabled {
            return Ok(Profiler::idle());
        }
        Profiler::record(&config)
    }

    fn idle() -> Profiler {
        Profiler {
            server: None,
            signals: None,
            recording: false,
            #[cfg(feature = "push")]
            push: None,
            deadlock_watch: None,
        }
    }

    fn record(config: &Config) -> Result<Profiler, StartError> {
        // What starting allocates (tables, threads) is the profiler's own memory.
        let _own = crate::alloc::own::scope(crate::alloc::own::Component::Other);
        registry::set_capacity(config.max_stacks);
        crate::task::slots::set_capacity(config.max_tasks);
        crate::labels::set_capacity(config.max_label_sets);
        control::set_max_stack_depth(config.max_stack_depth);
        crate::cpu::configure(config.cpu_profile_hz, config.max_stacks);
        let switches = Switches::from_config(config);
        let signals = if config.enable_signals {
            Some(SignalThread::start(switches).map_err(StartError::Signals)?)
        } else {
            None
        };
        switches.apply();
        let mut profiler = Profiler::idle();
        profiler.signals = signals;
        profiler.recording = true;
        if let Some(interval) = config.deadlock_check_interval {
            profiler.deadlock_watch =
                Some(crate::deadlock::Watch::start(interval).map_err(StartError::Deadlock)?);
        }
        #[cfg(feature = "push")]
        if let Some(push) = &config.push {
            let cpu_hz = config.enable_cpu_profiling.then_some(config.cpu_profile_hz);
            let collector =
                crate::push::Collector::new(push, cpu_hz, config.enable_memory_profiling);
            profiler.push = Some(
                crate::push::Pusher::start(push.clone(), collector).map_err(StartError::Push)?,
            );
        }
        Ok(profiler)
    }

    /// The address being served (with the real port when `listen_addr` used port 0);
    /// `None` when the configuration was disabled or nothing is served.
    ///
    /// ```
    /// use profiled::{Config, Profiler};
    /// let disabled = Profiler::start(Config { enabled: false, ..Config::default() })?;
    /// assert_eq!(disabled.local_addr(), None);
    /// # Ok::<(), profiled::StartError>(())
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(Server::local_addr)
    }

    /// Stops serving and switches block, mutex and function recording off. Recorded
    /// data stays readable through [`lookup`](crate::lookup).
    ///
    /// ```
    /// use profiled::{Config, Profiler};
    /// let profiler = Profiler::start(Config { listen_addr: "127.0.0.1:0".into(), ..Config::default() })?;
    /// assert_eq!(profiled::block_rate(), 1);
    /// profiler.stop();
    /// assert_eq!(profiled::block_rate(), 0);
    /// assert!(profiled::lookup("block").is_some()); // what was recorded stays readable
    /// # Ok::<(), profiled::StartError>(())
    /// ```
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        if let Some(mut signals) = self.signals.take() {
            signals.stop();
        }
        #[cfg(feature = "push")]
        drop(self.push.take());
        drop(self.deadlock_watch.take());
        if std::mem::take(&mut self.recording) {
            Switches::off();
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
///
/// ```
/// use profiled::{Config, Profiler, StartError};
/// let first = Profiler::start(Config { listen_addr: "127.0.0.1:0".into(), ..Config::default() })?;
/// let taken = first.local_addr().unwrap().to_string();
/// let second = Profiler::start(Config { listen_addr: taken, ..Config::default() });
/// assert!(matches!(second, Err(StartError::Bind { .. })), "{second:?}");
/// let bad = Config { block_rate: 0, ..Config::default() };
/// assert!(matches!(Profiler::start(bad), Err(StartError::Config(_))));
/// # Ok::<(), StartError>(())
/// ```
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
    /// The SIGUSR1/SIGUSR2 handlers could not be installed.
    Signals(std::io::Error),
    /// The push threads could not be started.
    Push(std::io::Error),
    /// The background deadlock check's thread could not be started.
    Deadlock(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "invalid profiler configuration: {e}"),
            StartError::Bind { addr, source } => {
                write!(f, "cannot serve profiles on {addr}: {source}")
            }
            StartError::Signals(source) => {
                write!(f, "cannot install SIGUSR1/SIGUSR2 handlers: {source}")
            }
            StartError::Push(source) => write!(f, "cannot start pushing profiles: {source}"),
            StartError::Deadlock(source) => {
                write!(f, "cannot start the background deadlock check: {source}")
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(e) => Some(e),
            StartError::Bind { source, .. }
            | StartError::Signals(source)
            | StartError::Push(source)
            | StartError::Deadlock(source) => Some(source),
        }
    }
}
