//! The server's doors on real sockets, with caps small enough to fill.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use guarded_server::{GuardedServer, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Caps to fill; stalled connections wait a minute (long enough for a busy machine) unless a
/// test wants them timed out.
fn limits(max: usize, per_peer: usize) -> Limits {
    Limits {
        max_connections: max,
        max_per_peer: per_peer,
        stall_timeout: Duration::from_secs(60),
        stall_timeout_under_pressure: Duration::from_secs(60),
        drain: Duration::from_secs(1),
    }
}

/// Serves `router` with `limits`; the server and its address.
async fn start(router: Router, limits: Limits) -> (Arc<GuardedServer>, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(GuardedServer::new(limits));
    let serving = server.clone();
    tokio::spawn(async move {
        serving
            .serve(listener, router, std::future::pending())
            .await
            .unwrap()
    });
    (server, addr)
}

async fn stalled(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n")
        .await
        .unwrap();
    stream
}

/// Whether the server closed `stream` within `within`.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 512];
    match tokio::time::timeout(within, stream.read(&mut buffer)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => closed_after_answer(stream, within).await,
        Err(_) => false,
    }
}

async fn closed_after_answer(stream: &mut TcpStream, within: Duration) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(within, stream.read_to_end(&mut rest)).await,
        Ok(Ok(_) | Err(_))
    )
}

async fn get_ok(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    answer
}

fn router() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
}

#[tokio::test]
async fn a_whole_request_gets_in_by_evicting_the_oldest_stalled_connection() {
    let (server, addr) = start(router(), limits(4, 4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stalled(addr).await);
        // In order, so the first is the oldest.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = get_ok(addr).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
        "{answer}"
    );
    assert!(
        closed(&mut held[0], Duration::from_secs(5)).await,
        "the oldest went"
    );
    let stats = server.stats();
    assert!(stats.evicted >= 1, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert!(stats.peak <= 4, "{stats:?}");
}

#[tokio::test]
async fn requests_being_answered_are_never_evicted() {
    // Each /slow answer waits for a permit the test gives.
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (handler_gate, handler_entered) = (gate.clone(), entered.clone());
    let router = router().route(
        "/slow",
        get(move || {
            let (gate, entered) = (handler_gate.clone(), handler_entered.clone());
            async move {
                entered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                gate.acquire().await.unwrap().forget();
                "done"
            }
        }),
    );
    let (server, addr) = start(router, limits(2, 2)).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    // Until both are being answered.
    while entered.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut third = stalled(addr).await;
    assert!(
        closed(&mut third, Duration::from_secs(5)).await,
        "no room: the newcomer is turned away"
    );
    assert_eq!(server.stats().refused, 1);
    gate.add_permits(2);
    for mut stream in busy {
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.ends_with("done"), "{answer}");
    }
}

#[tokio::test]
async fn a_peer_over_its_share_loses_its_own_stalled_connections() {
    let (server, addr) = start(router(), limits(8, 2)).await;
    let mut first = stalled(addr).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _second = stalled(addr).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _third = stalled(addr).await;
    assert!(closed(&mut first, Duration::from_secs(5)).await);
    let stats = server.stats();
    assert_eq!((stats.evicted, stats.open), (1, 2), "{stats:?}");
}

#[tokio::test]
async fn a_stalled_connection_is_closed_after_its_time() {
    let short = Limits {
        stall_timeout: Duration::from_millis(400),
        stall_timeout_under_pressure: Duration::from_millis(400),
        ..limits(8, 8)
    };
    let (server, addr) = start(router(), short).await;
    let mut slow = stalled(addr).await;
    assert!(
        closed(&mut slow, Duration::from_secs(10)).await,
        "timed out"
    );
    assert!(server.stats().timed_out >= 1, "{:?}", server.stats());
}

/// An answer that never ends: a chunk of `size` bytes every 50 ms (an event stream).
fn streaming(size: usize) -> Router {
    Router::new().route(
        "/events",
        get(move || async move {
            let chunks = futures_util::stream::unfold((), move |()| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Ok::<_, std::io::Error>(vec![b'x'; size]), ()))
            });
            axum::body::Body::from_stream(chunks)
        }),
    )
}

async fn open_stream(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn a_stream_the_peer_reads_outlives_the_stall_timeout_and_is_never_evicted() {
    let short = Limits {
        stall_timeout: Duration::from_millis(300),
        stall_timeout_under_pressure: Duration::from_millis(300),
        ..limits(1, 1)
    };
    let (server, addr) = start(streaming(16), short).await;
    let mut stream = open_stream(addr).await;
    let mut buffer = [0u8; 4096];
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut read = 0;
    while tokio::time::Instant::now() < until {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "the stream was closed after {read} bytes: {:?}",
            server.stats()
        );
        read += n;
    }
    // A newcomer needing room does not take the stream's place: it is turned away.
    let mut newcomer = TcpStream::connect(addr).await.unwrap();
    newcomer
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(closed(&mut newcomer, Duration::from_secs(10)).await);
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert!(n > 0, "the stream still flows");
    let stats = server.stats();
    assert_eq!(
        (stats.refused, stats.evicted, stats.timed_out),
        (1, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_stream_the_peer_stops_reading_is_closed_after_the_stall_timeout() {
    let short = Limits {
        stall_timeout: Duration::from_millis(300),
        stall_timeout_under_pressure: Duration::from_millis(300),
        ..limits(8, 8)
    };
    let (server, addr) = start(streaming(256 * 1024), short).await;
    let mut stream = open_stream(addr).await;
    // Never read: the socket's buffers fill within a few chunks and the writes wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server.stats().timed_out == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a stream nobody reads is still open: {:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed_after_answer(&mut stream, Duration::from_secs(10)).await);
}
