//! The HTTP layer: a hyper 1 server on its own thread with a current-thread tokio
//! runtime. `routes.rs` holds the routing table and the handlers; `auth.rs` checks
//! the bearer token, `path.rs` canonicalises paths as Go's mux, `query.rs` and
//! `strconv.rs` parse parameters as Go does, `guard.rs` bounds long requests,
//! `response.rs` builds Go-shaped responses, `index.rs` renders the index.

mod auth;
mod conn;
mod cpu;
mod guard;
mod host;
mod index;
mod path;
mod peer;
mod pool;
mod query;
mod response;
mod routes;
mod settings;
mod strconv;
mod symbol;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

pub(crate) use settings::ServerSettings;
#[cfg(feature = "fuzzing")]
pub(crate) use {
    query::Query,
    strconv::{atoi, parse_int, parse_uint},
    symbol::lookup as symbol_lookup,
};

/// A request head (request line and headers) larger than this is refused with 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Every endpoint as a hyper service, to mount in a server you already run.
///
/// Requests whose path does not start with the prefix get 404; the rest are served
/// as `Profiler::start`'s server serves them (with its `auth_token`, limits and
/// error contract). Recording is switched on separately, by
/// [`Profiler::start_recording`](crate::Profiler::start_recording).
///
/// ```no_run
/// use hyper::server::conn::http1;
/// use hyper_util::rt::TokioIo;
/// use profiled::{Config, ProfiledService};
///
/// # async fn serve(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::default();
/// let service = ProfiledService::new(&config, "/admin")?; // /admin/debug/pprof/...
/// http1::Builder::new()
///     .serve_connection(TokioIo::new(stream), service)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ProfiledService {
    settings: Arc<ServerSettings>,
}

impl ProfiledService {
    /// A service with `config`'s token and limits, under `prefix` ("" for the root).
    ///
    /// ```
    /// use profiled::{Config, ConfigError, ProfiledService};
    /// let _service = ProfiledService::new(&Config::default(), "/admin")?; // serves /admin/debug/...
    /// let bad = Config { max_tasks: 0, ..Config::default() };
    /// assert_eq!(ProfiledService::new(&bad, "").unwrap_err(), ConfigError::InvalidMaxTasks);
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn new(
        config: &crate::Config,
        prefix: &str,
    ) -> Result<ProfiledService, crate::ConfigError> {
        config.validate()?;
        Ok(ProfiledService {
            settings: Arc::new(ServerSettings::from_config(config, prefix)),
        })
    }

    /// Serves one request, whatever its body type: frameworks that call handlers
    /// directly use this (an axum handler can pass its `Request<axum::body::Body>`).
    ///
    /// ```
    /// use http_body_util::{BodyExt, Empty};
    /// use profiled::{Config, ProfiledService};
    ///
    /// let service = ProfiledService::new(&Config::default(), "/admin").unwrap();
    /// let get = |path: &str| hyper::Request::get(path).body(Empty::<bytes::Bytes>::new()).unwrap();
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// runtime.block_on(async {
    ///     let response = service.handle(get("/admin/debug/pprof/symbol")).await;
    ///     assert_eq!(response.status(), 200);
    ///     let body = response.into_body().collect().await.unwrap().to_bytes();
    ///     assert_eq!(body, "num_symbols: 1\n");
    ///     // Outside the prefix: 404.
    ///     assert_eq!(service.handle(get("/debug/pprof/symbol")).await.status(), 404);
    /// });
    /// ```
    pub async fn handle<B>(
        &self,
        request: hyper::Request<B>,
    ) -> hyper::Response<http_body_util::Full<bytes::Bytes>>
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // Profiler work on the user's executor: its own memory, not the user's.
        let handled = crate::alloc::own::Scoped::new(
            crate::alloc::own::Component::Server,
            routes::handle(request, Arc::clone(&self.settings)),
        );
        match handled.await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for ProfiledService {
    type Response = hyper::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        Box::pin(crate::alloc::own::Scoped::new(
            crate::alloc::own::Component::Server,
            routes::handle(request, Arc::clone(&self.settings)),
        ))
    }
}

/// A running server thread.
pub(crate) struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` now (so errors reach the caller) and serves on a new thread.
    pub(crate) fn start(
        addr: SocketAddr,
        settings: ServerSettings,
        max_connections: usize,
    ) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut settings = settings;
        if settings.allowed_hosts.is_none() {
            settings.allowed_hosts = host::loopback_default(addr);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name("profiled-http-worker")
            .max_blocking_threads(pool::HEAVY_THREADS + pool::CHEAP_THREADS)
            // Encoding threads live on between requests instead of being re-created
            // after 10 s idle: each new thread brings a stack and joins a malloc
            // arena afresh, which showed as resident-memory noise under load.
            .thread_keep_alive(Duration::from_secs(300))
            .build()?;
        let (shutdown, stopped) = oneshot::channel();
        let settings = Arc::new(settings);
        let thread = std::thread::Builder::new()
            .name("profiled-http".into())
            .spawn(move || {
                let table = conn::Table::new(conn::affordable(max_connections));
                runtime.block_on(serve(listener, settings, table, stopped));
                // In-flight encodes finish quickly; don't let one hold `stop` forever.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Server {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, drops open connections and joins the server thread.
    pub(crate) fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    settings: Arc<ServerSettings>,
    table: Arc<conn::Table>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Past the cap with every connection serving: refuse at once (the answer
        // fits the socket buffer of a fresh connection, so this never blocks).
        let Some(slot) = table.admit() else {
            let _ = stream.try_write(conn::refusal().as_bytes());
            continue;
        };
        let settings = Arc::clone(&settings);
        // Long handlers (CPU profile) watch the socket for a hang-up: hyper does not
        // drop a pending handler when the client closes. The fd outlives every
        // handler of its connection, which runs inside this task.
        let state = Arc::clone(&slot.state);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let peer = peer::Peer::new(fd, Arc::clone(&state));
        let io = TokioIo::new(conn::Guarded::new(stream, Arc::clone(&state)));
        tokio::spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                let serving = state.serving();
                request.extensions_mut().insert(peer.clone());
                let handled = routes::handle(request, Arc::clone(&settings));
                async move {
                    // Serving until the body is written, not just built.
                    let response = handled.await?;
                    Ok::<_, std::convert::Infallible>(response.map(|inner| conn::ServingBody {
                        inner,
                        _serving: serving,
                    }))
                }
            });
            // Errors are the client's (bad request, timeout, hang-up): nothing to do.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(conn::HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(io, service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes the socket.
                () = slot.evicted() => {}
            }
            drop(slot);
        });
    }
}
