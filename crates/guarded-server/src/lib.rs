//! An HTTP/1 server whose doors stay open under abuse: anyone who can reach it may open
//! connections and never finish a request (a "slowloris"), which with a plain server holds one
//! open file each until the process has none left and genuine requests go unanswered.
//!
//! - **Caps**: at most [`Limits::max_connections`] in all and [`Limits::max_per_peer`] from one
//!   address, sized from the open-file limit ([`Limits::for_open_files`]).
//! - **Eviction instead of refusal**: a connection that is *stalled* (its request not yet fully
//!   received, or idle between requests) *and read dry* (the server has read all its peer sent)
//!   is the first to go when a new one needs its place, the same peer's first, those that never
//!   finished a request oldest first. A connection the server has not read yet may be a genuine
//!   request it has not got to (strangers reconnect faster than a busy machine reads), so it is
//!   never evicted: the newcomer waits for room instead, accepting nothing meanwhile, and only
//!   then takes an idle keep-alive connection's place (closing one races its client reusing it)
//!   or, failing that, is turned away. A request that arrived whole is being answered and is
//!   never evicted, so a client that sends its request at once (WeChat, the shop's backend)
//!   is served however many stalled connections there are. Behind a tunnel or proxy every
//!   connection has the same address, which is why stalled ones are evicted rather than new ones
//!   refused.
//! - **Timeouts**: a connection stalled for [`Limits::stall_timeout`] is closed (headers, body,
//!   keep-alive idle, a reader that does not read the answer), sooner under pressure. An answer
//!   still being written (an event stream) keeps its connection for as long as the peer reads.
//! - **Accept errors** (no open files left) evict the oldest stalled connection and go on.

pub mod process;
mod registry;
mod tracked;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use registry::Stats;
use registry::{Entry, Phase, Registry, Tier};
use tracked::{AnswerBody, TrackedBody, TrackedIo};

/// How many connections, from whom, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_peer: usize,
    /// A connection stalled this long is closed.
    pub stall_timeout: Duration,
    /// ... and this long once more than half of `max_connections` are in use.
    pub stall_timeout_under_pressure: Duration,
    /// How long a stop waits for answers being written.
    pub drain: Duration,
}

/// Open files kept for everything else the process does (database, WeChat, logs, the window).
const RESERVED_FILES: u64 = 128;
const MOST_CONNECTIONS: u64 = 4_096;

impl Limits {
    /// Limits for a process allowed `open_files` open files (`None`: unknown or unlimited).
    pub fn for_open_files(open_files: Option<u64>) -> Limits {
        let usable = open_files.map_or(MOST_CONNECTIONS, |limit| {
            (limit.saturating_mul(3) / 4).saturating_sub(RESERVED_FILES)
        });
        let max_connections = usize::try_from(usable.clamp(16, MOST_CONNECTIONS)).unwrap_or(16);
        Limits {
            max_connections,
            max_per_peer: max_connections * 3 / 4,
            stall_timeout: Duration::from_secs(10),
            stall_timeout_under_pressure: Duration::from_secs(2),
            drain: Duration::from_secs(5),
        }
    }

    /// More than half the places are taken: stalled connections get the shorter timeout.
    fn under_pressure(&self, open: usize) -> bool {
        open * 2 > self.max_connections
    }
}

/// Connections the kernel may hold waiting for `accept` (capped by `net.core.somaxconn`):
/// more than the usual 1,024, so a burst of strangers' connections does not push a genuine one
/// into the kernel's retry of 1 s, 3 s, ...
const BACKLOG: u32 = 4_096;

/// A listener for the server, with a deep accept queue.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// A server with its caps; [`GuardedServer::stats`] says what it had to do.
#[derive(Debug)]
pub struct GuardedServer {
    limits: Limits,
    registry: Arc<Registry>,
}

impl GuardedServer {
    pub fn new(limits: Limits) -> GuardedServer {
        GuardedServer {
            limits,
            registry: Arc::new(Registry::default()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn stats(&self) -> Stats {
        self.registry.stats()
    }

    /// Serves `router` on `listener` until `shutdown` completes, then lets answers being
    /// written finish (up to [`Limits::drain`]).
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, router, None, shutdown).await
    }

    /// [`GuardedServer::serve`] over TLS when `tls` is given: the handshake counts as the
    /// request's arrival (a peer that stalls in it is stalled like one that stalls in its
    /// headers) and is given [`Limits::stall_timeout`] at most.
    pub async fn serve_with(
        &self,
        listener: TcpListener,
        router: Router,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let reaper = tokio::spawn(reap(self.registry.clone(), self.limits, stopped.clone()));
        let mut connections = JoinSet::new();
        let mut stopping = stopped.clone();
        loop {
            while connections.try_join_next().is_some() {}
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopping.wait_for(|stop| *stop) => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of open files (or a connection reset before it was taken): make room.
                    self.registry.evict_for_files();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let Some(entry) = self.admit(peer.ip()).await else {
                self.registry.refused();
                continue;
            };
            let _ = stream.set_nodelay(true);
            connections.spawn(connection(
                (stream, peer),
                tls.clone(),
                router.clone(),
                entry,
                self.registry.clone(),
                self.limits,
                stopped.clone(),
            ));
        }
        drop(listener);
        let drained = tokio::time::timeout(self.limits.drain, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.shutdown().await;
        }
        reaper.abort();
        Ok(())
    }

    /// A place for a connection just accepted from `peer`. When the caps are full and no
    /// never-answered connection has been read dry yet (the server is behind with the newest),
    /// it waits for one, [`ADMISSION_WAIT`] at most: meanwhile nothing else is accepted and
    /// newcomers queue in the kernel, rather than a connection the server has not read being
    /// taken for a stranger's. Then an idle keep-alive connection may go; failing that, the
    /// newcomer is turned away.
    async fn admit(&self, peer: IpAddr) -> Option<Entry> {
        let deadline = tokio::time::Instant::now() + ADMISSION_WAIT;
        loop {
            if let Some(entry) = self.registry.admit(peer, &self.limits, Tier::NeverAnswered) {
                return Some(entry);
            }
            if tokio::time::timeout_at(deadline, self.registry.room())
                .await
                .is_err()
            {
                break;
            }
        }
        self.registry.admit(peer, &self.limits, Tier::AnyStalled)
    }
}

/// How long a newcomer waits for a stalled connection to make room for it.
const ADMISSION_WAIT: Duration = Duration::from_millis(250);

/// Serves one accepted connection (`stream`, from `peer`).
async fn connection(
    (stream, peer): (tokio::net::TcpStream, std::net::SocketAddr),
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    entry: Entry,
    registry: Arc<Registry>,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) {
    let state = entry.state.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let state = state.clone();
        let router = router.clone();
        async move {
            // Being handled now: if its body stalls, the next read that finds nothing says so.
            state.set_waiting(false);
            if hyper::body::Body::is_end_stream(request.body()) {
                state.set(Phase::Answering);
            }
            let mut request = request.map(|body| TrackedBody::new(body, state.clone()));
            // Who sent it, for handlers that limit by source (`ConnectInfo<SocketAddr>`).
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let response = router.oneshot(request).await;
            // Being answered until the body is written (an event stream's as long as it runs).
            response.map(|response| response.map(|body| AnswerBody::new(body, state)))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A backstop behind the reaper, which closes stalled connections first (and counts them).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.stall_timeout * 2);
    let io = TrackedIo::new(stream, entry.state.clone());
    match tls {
        None => serve_io(io, builder, service, &entry, stopped).await,
        Some(acceptor) => {
            // The reaper closes a stalled handshake through `close`; the timeout is a backstop.
            let handshake = tokio::select! {
                accepted = tokio::time::timeout(limits.stall_timeout, acceptor.accept(io)) => {
                    accepted.ok().and_then(Result::ok)
                }
                _ = entry.close.notified() => None,
            };
            if let Some(tls_stream) = handshake {
                serve_io(tls_stream, builder, service, &entry, stopped).await;
            }
        }
    }
    registry.remove(entry.id);
}

/// Serves one connection's requests until it ends, is closed by the registry, or the server
/// stops (then gracefully).
async fn serve_io<I, S>(
    io: I,
    builder: hyper::server::conn::http1::Builder,
    service: S,
    entry: &Entry,
    mut stopped: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let stop = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let stopping = tokio::select! {
        _ = served.as_mut() => false,
        _ = entry.close.notified() => false,
        _ = stop => true,
    };
    if stopping {
        served.as_mut().graceful_shutdown();
        let _ = served.await;
    }
}

/// Closes connections stalled past their time, once a quarter of the shorter timeout.
async fn reap(registry: Arc<Registry>, limits: Limits, mut stopped: watch::Receiver<bool>) {
    let every = (limits.stall_timeout_under_pressure / 4).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
        registry.reap(&limits);
    }
}
