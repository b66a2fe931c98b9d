//! The relay's doors under a slow-connection flood, as the desk's intake is tested: the relay
//! runs as a shop would run it (its binary, at the usual limit of 1,024 open files, held so it
//! cannot raise it), strangers hold `FLOOD_CONNECTIONS` (default 1,100) half-sent requests open
//! and reopen each one it closes, and WeChat's notifications (`FLOOD_PAYMENTS`, default 20) must
//! each be answered within a second while a paired desk's event stream keeps flowing.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use relay_client::{Received, RelayClient};
use relay_protocol::{PairingCode, paths};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-desk-relay");

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One stranger's connection, reopened whenever the relay closes it.
async fn hold_open(
    addr: SocketAddr,
    path: String,
    closed: Arc<AtomicU64>,
    opened: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
) {
    while running.load(Ordering::Relaxed) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let half = format!(
            "POST {path} HTTP/1.1\r\nHost: relay\r\nContent-Type: text/xml\r\nContent-Length: 900\r\n"
        );
        if stream.write_all(half.as_bytes()).await.is_err() {
            continue;
        }
        opened.fetch_add(1, Ordering::Relaxed);
        let mut buffer = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => {
                    closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Ok(_)) => {}
                Err(_) if !running.load(Ordering::Relaxed) => return,
                Err(_) => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_notifications_are_answered_within_a_second_during_a_slow_connection_flood() {
    let connections = var("FLOOD_CONNECTIONS", 1_100);
    let payments = var("FLOOD_PAYMENTS", 20);
    // The strangers need more open files than the relay has.
    guarded_server::process::prepare();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let added = Command::new(BIN)
        .args(["--database", db.to_str().unwrap(), "shops", "add", "小店"])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let said = String::from_utf8(added.stdout).unwrap();
    let slug = said.split_whitespace().nth(1).unwrap().to_owned();
    let code = said.rsplit(": ").next().unwrap().trim().to_owned();
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _relay = Killed(
        Command::new("prlimit")
            .args([
                "--nofile=1024:1024",
                BIN,
                "--database",
                db.to_str().unwrap(),
                "serve",
                "--listen",
            ])
            .arg(addr.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the relay did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let base = format!("http://{addr}");
    let client = RelayClient::new(&base, None).unwrap();
    let paired = client
        .pair(&PairingCode::parse(&code).unwrap(), "店长")
        .await
        .unwrap();
    let desk = client.with_token(&paired.token);
    let mut stream = desk.events(0).await.unwrap();

    let path = paths::for_shop(paths::PAYMENT_NOTIFY, &slug);
    let (closed, opened) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let running = Arc::new(AtomicBool::new(true));
    let strangers: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(hold_open(
                addr,
                path.clone(),
                closed.clone(),
                opened.clone(),
                running.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Ordering::Relaxed) < connections as u64 {
        assert!(Instant::now() < deadline, "the flood did not get going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // WeChat: a fresh connection per notification, as its notifier does after an error.
    let http = wxpay_client::verified_client_builder(None)
        .unwrap()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut latencies = Vec::new();
    for n in 0..payments {
        let body = format!(
            "<xml><return_code>SUCCESS</return_code><out_trade_no>F{n}</out_trade_no></xml>"
        );
        let sent = Instant::now();
        let answer = http
            .post(format!("{base}{path}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert!(answer.text().await.unwrap().contains("SUCCESS"));
        latencies.push(sent.elapsed());
        // The desk's stream keeps flowing through the flood.
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap()
                .unwrap()
            {
                Some(Received::Entry(entry)) => {
                    assert_eq!(entry.seq, i64::try_from(n).unwrap() + 1);
                    break;
                }
                Some(Received::Hello(_)) => {}
                None => panic!("the desk's stream ended during the flood"),
            }
        }
    }
    running.store(false, Ordering::Relaxed);
    for stranger in strangers {
        let _ = stranger.await;
    }
    latencies.sort();
    let worst = latencies[latencies.len() - 1];
    eprintln!(
        "relay flood: {connections} stranger connections at 1,024 open files; {} opened in all, {} closed by the relay; {payments} notifications answered in median {:?}, worst {worst:?}",
        opened.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed),
        latencies[latencies.len() / 2],
    );
    assert!(
        closed.load(Ordering::Relaxed) > 0,
        "the relay shed stalled connections"
    );
    if std::env::var("FLOOD_MEASURE_ONLY").is_err() {
        assert!(
            worst < Duration::from_secs(1),
            "a notification waited {worst:?}: {latencies:?}"
        );
    }
}
