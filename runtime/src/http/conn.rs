//! The server's connections: a cap on how many are open, timeouts on the socket,
//! and what each connection is doing (so the cap evicts stalled clients, not
//! working ones).
//!
//! Limits, all per connection unless said otherwise:
//! - the request head must arrive within [`HEADER_READ_TIMEOUT`] of the connection's
//!   start or of the previous response (hyper's header timeout, which also closes
//!   idle keep-alive connections); a read the server waits on outside a request
//!   (idle, head) fails after [`IDLE_TIMEOUT`] as a second line of defence;
//! - a symbol request body must arrive whole within
//!   [`BODY_READ_TIMEOUT`](super::symbol::BODY_READ_TIMEOUT);
//! - a write (or flush) that stays pending for [`WRITE_TIMEOUT`] while the client
//!   takes nothing from the socket's send queue fails and closes the connection: a
//!   client that never reads its answer loses it, a slow reader does not;
//! - at most [`Config::max_connections`](crate::Config::max_connections) connections
//!   are open at once (clamped to a quarter of `RLIMIT_NOFILE`). A new connection
//!   past the cap evicts the connection that has waited longest on its client
//!   (idle, sending its head or its body, or not reading its answer); when every
//!   connection is busy serving, the new one gets `503` and is closed at once. A
//!   connection counts as serving from its request head until its answer is
//!   written.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

/// A client must send each request head within this time.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A read the server waits on while no request is being served fails after this.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// A write that makes no progress for this long closes the connection.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection is doing.
const IDLE: u8 = 0;
const READING_BODY: u8 = 1;
const SERVING: u8 = 2;

/// One connection's shared state: its phase, how many bytes the client sent, and a
/// way to close it from outside (eviction).
#[derive(Debug)]
pub(crate) struct ConnState {
    phase: AtomicU8,
    /// When the phase last changed, in nanoseconds since the table's epoch.
    since: AtomicU64,
    /// Bytes read from the client so far.
    bytes_read: AtomicU64,
    /// When a write started waiting on the client (nanoseconds since the epoch,
    /// plus one), or 0 while writes go through.
    write_blocked: AtomicU64,
    evicted: Notify,
    epoch: Instant,
}

impl ConnState {
    fn set_phase(&self, phase: u8) {
        self.since.store(nanos_since(self.epoch), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Bytes the client has sent on this connection.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Marks the connection as serving a request until the guard drops.
    pub(crate) fn serving(self: &Arc<Self>) -> PhaseGuard {
        self.set_phase(SERVING);
        PhaseGuard {
            state: Arc::clone(self),
            after: IDLE,
        }
    }

    /// Marks the connection as waiting on its client's body until the guard drops
    /// (then serving again): evictable meanwhile.
    pub(crate) fn reading_body(self: &Arc<Self>) -> PhaseGuard {
        self.set_phase(READING_BODY);
        PhaseGuard {
            state: Arc::clone(self),
            after: SERVING,
        }
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Restores a phase when dropped.
pub(crate) struct PhaseGuard {
    state: Arc<ConnState>,
    after: u8,
}

impl Drop for PhaseGuard {
    fn drop(&mut self) {
        self.state.set_phase(self.after);
    }
}

/// Every open connection, for the cap.
pub(crate) struct Table {
    cap: usize,
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    conns: HashMap<u64, Arc<ConnState>>,
}

/// A connection's place in the table; gives it back when dropped.
pub(crate) struct Slot {
    table: Arc<Table>,
    id: u64,
    pub(crate) state: Arc<ConnState>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.lock().conns.remove(&self.id);
    }
}

impl Slot {
    /// Completes when the table evicted this connection.
    pub(crate) async fn evicted(&self) {
        self.state.evicted.notified().await;
    }
}

impl Table {
    pub(crate) fn new(cap: usize) -> Arc<Table> {
        Arc::new(Table {
            cap: cap.max(1),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open connections now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// A slot for a new connection: at the cap, evicts the connection that has
    /// waited longest on its client; `None` when every open one is serving.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        if open.conns.len() >= self.cap {
            // Waiting on the client: idle, sending its head or body, or not reading
            // its answer; since when.
            let waiting = |c: &ConnState| {
                let blocked = c.write_blocked.load(Ordering::Relaxed);
                if blocked != 0 {
                    Some(blocked - 1)
                } else if c.phase.load(Ordering::Relaxed) != SERVING {
                    Some(c.since.load(Ordering::Relaxed))
                } else {
                    None
                }
            };
            let victim = open
                .conns
                .iter()
                .filter_map(|(&id, c)| Some((waiting(c)?, id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(state) = open.conns.remove(&victim) {
                // Stores a permit if the connection's task is not waiting yet.
                state.evicted.notify_one();
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let state = Arc::new(ConnState {
            phase: AtomicU8::new(IDLE),
            since: AtomicU64::new(nanos_since(self.epoch)),
            bytes_read: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
            evicted: Notify::new(),
            epoch: self.epoch,
        });
        open.conns.insert(id, Arc::clone(&state));
        Some(Slot {
            table: Arc::clone(self),
            id,
            state,
        })
    }
}

/// The largest connection cap this process can afford: a quarter of its soft
/// `RLIMIT_NOFILE`, so the profiler never takes the application's descriptors.
pub(crate) fn affordable(cap: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY {
        return cap.max(1);
    }
    let quarter = usize::try_from(limit.rlim_cur / 4).unwrap_or(usize::MAX);
    cap.min(quarter).max(1)
}

/// A socket with the timeouts above, counting what the client sends.
pub(crate) struct Guarded<S> {
    inner: S,
    state: Arc<ConnState>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// Bytes in the socket's send queue when the write timer last started.
    queued: usize,
}

/// Bytes written to `fd` that its peer has not acknowledged yet (`SIOCOUTQ`); 0 when
/// unknown.
fn send_queue(fd: std::os::fd::RawFd) -> usize {
    let mut queued: libc::c_int = 0;
    // SAFETY: `fd` is this connection's open socket; TIOCOUTQ (SIOCOUTQ) writes one
    // int into `queued`.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) } == 0;
    if ok {
        usize::try_from(queued).unwrap_or(0)
    } else {
        0
    }
}

impl<S> Guarded<S> {
    pub(crate) fn new(inner: S, state: Arc<ConnState>) -> Guarded<S> {
        Guarded {
            inner,
            state,
            read_timer: None,
            write_timer: None,
            queued: 0,
        }
    }
}

/// Polls `timer` (started on first use): `Err(TimedOut)` once it fired.
fn expired(
    timer: &mut Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    cx: &mut Context<'_>,
    what: &str,
) -> io::Result<()> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} made no progress for {timeout:?}"),
        )),
        Poll::Pending => Ok(()),
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_timer = None;
                let n = buf.filled().len() - before;
                this.state.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                Poll::Ready(result)
            }
            Poll::Pending => {
                // While a request is served, long handlers watch the socket
                // themselves (peer.rs); while an answer is being written (hyper
                // may hold it after the body is done), the write timeout applies;
                // otherwise the server waits on the client.
                if this.state.phase.load(Ordering::Relaxed) == SERVING || this.write_timer.is_some()
                {
                    this.read_timer = None;
                } else {
                    expired(&mut this.read_timer, IDLE_TIMEOUT, cx, "reading")?;
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin + std::os::fd::AsRawFd> Guarded<S> {
    /// A write that stays pending for [`WRITE_TIMEOUT`] fails, unless the client
    /// took bytes from the socket's send queue meanwhile (a slow reader: the socket
    /// reports room only once much of a large buffer has drained).
    fn on_write<T>(
        &mut self,
        polled: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        if polled.is_pending() && self.write_timer.is_none() {
            let now = nanos_since(self.state.epoch).saturating_add(1);
            self.state.write_blocked.store(now, Ordering::Relaxed);
            self.queued = send_queue(self.inner.as_raw_fd());
        }
        match polled {
            Poll::Ready(result) => {
                self.write_timer = None;
                // Traffic: the connection is not idle.
                self.read_timer = None;
                self.state.write_blocked.store(0, Ordering::Relaxed);
                Poll::Ready(result)
            }
            Poll::Pending => loop {
                match expired(&mut self.write_timer, WRITE_TIMEOUT, cx, "writing") {
                    Ok(()) => return Poll::Pending,
                    Err(e) => {
                        let queued = send_queue(self.inner.as_raw_fd());
                        if queued >= self.queued {
                            return Poll::Ready(Err(e));
                        }
                        // The client is reading, slowly: wait again.
                        self.queued = queued;
                        self.write_timer = None;
                    }
                }
            },
        }
    }
}

impl<S: AsyncWrite + Unpin + std::os::fd::AsRawFd> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.on_write(polled, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.on_write(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.on_write(polled, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.on_write(polled, cx)
    }
}

/// A response body that keeps its connection marked as serving until hyper has
/// written it all (and dropped it): a slow but reading client is never taken for an
/// idle one.
pub(crate) struct ServingBody<B> {
    pub(crate) inner: B,
    pub(crate) _serving: PhaseGuard,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for ServingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a connection past the cap gets when every open one is busy serving.
pub(crate) fn refusal() -> String {
    let body = "too many connections to the profiling server; retry later\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests;
