//! A slow-connection flood against the intake: a stranger who can reach it (through the tunnel or
//! proxy the README suggests) opens connection after connection, sends half a request and
//! stops, reopening each one the desk closes. The desk runs as a shop's would, with the usual
//! limit of 1,024 open files (here a hard one, so it cannot raise it), and WeChat's genuine
//! payment notifications must still be answered within a second.
//!
//! `FLOOD_CONNECTIONS` (default 1,100) and `FLOOD_PAYMENTS` (default 20) size the campaign; the
//! full run is in RELIABILITY.md.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{DeskProcess, free_address, production_desk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxpay_sim::{NewOrder, SimConfig};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Flood {
    /// Connections the attacker got open (and sent half a request on).
    opened: AtomicU64,
    /// ... that the desk then closed.
    closed_by_desk: AtomicU64,
    /// Connection attempts that failed.
    failed: AtomicU64,
}

/// One attacker connection, reopened whenever the desk closes it.
async fn hold_open(addr: SocketAddr, flood: Arc<Flood>, running: Arc<AtomicBool>) {
    while running.load(Ordering::Relaxed) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            flood.failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let half = b"POST /wxpay/notify HTTP/1.1\r\nHost: desk\r\nContent-Type: text/xml\r\nContent-Length: 900\r\n";
        if stream.write_all(half).await.is_err() {
            continue;
        }
        flood.opened.fetch_add(1, Ordering::Relaxed);
        let mut buffer = [0u8; 256];
        // Never sends more; returns when the desk closes the connection.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => {
                    flood.closed_by_desk.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Ok(_)) => {}
                Err(_) if !running.load(Ordering::Relaxed) => return,
                Err(_) => {}
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[test]
fn genuine_notifications_are_answered_within_a_second_during_a_slow_connection_flood() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let connections = var("FLOOD_CONNECTIONS", 1_100);
    let payments = var("FLOOD_PAYMENTS", 20);
    // The attacker needs more open files than the desk has.
    desk_runtime::prepare_process();
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(wxpay_sim::start(SimConfig::new(temp.path().join("wechat"))))
        .unwrap();
    let dir = temp.path().join("desk");
    let listen = free_address();
    production_desk(&sim, &dir, listen);
    let mut desk = DeskProcess::new(dir.clone(), listen, temp.path().join("logs"));
    desk.through = ["prlimit", "--nofile=1024:1024"]
        .map(str::to_owned)
        .to_vec();
    desk.start();
    let notify_url = format!("http://{listen}/wxpay/notify");

    let flood = Arc::new(Flood::default());
    let running = Arc::new(AtomicBool::new(true));
    let attackers: Vec<_> = (0..connections)
        .map(|_| runtime.spawn(hold_open(listen, flood.clone(), running.clone())))
        .collect();
    // Until every attacker connection was opened once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while flood.opened.load(Ordering::Relaxed) < connections as u64 {
        assert!(Instant::now() < deadline, "the flood did not get going");
        std::thread::sleep(Duration::from_millis(50));
    }

    // WeChat pays orders one after another; each notification must be stored and answered.
    let mut latencies = Vec::new();
    for i in 0..payments {
        let order = sim
            .create_order(NewOrder {
                total_fee: 100 + i as i64,
                notify_url: Some(notify_url.clone()),
                ..NewOrder::default()
            })
            .unwrap();
        let paid = Instant::now();
        sim.pay(&order.out_trade_no).unwrap();
        let stored = loop {
            let seen = desk.events.lock().unwrap().iter().any(|event| {
                event["type"] == "order_paid" && event["out_trade_no"] == order.out_trade_no
            });
            if seen {
                break paid.elapsed();
            }
            assert!(
                paid.elapsed() < Duration::from_secs(30),
                "order {} never arrived during the flood",
                order.out_trade_no
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        latencies.push(stored);
    }
    let during = flood.opened.load(Ordering::Relaxed);
    running.store(false, Ordering::Relaxed);
    for attacker in attackers {
        let _ = runtime.block_on(attacker);
    }
    // WeChat's view: deliveries that failed (each was sent again later).
    for failed in sim.deliveries().iter().filter(|d| !d.acknowledged).take(5) {
        eprintln!(
            "flood: delivery {} attempt {} failed: {}",
            failed.subject, failed.attempt, failed.outcome
        );
    }
    desk.stop();
    sim.shutdown();

    latencies.sort();
    let (median, worst) = (percentile(&latencies, 0.5), latencies[latencies.len() - 1]);
    let late = latencies
        .iter()
        .filter(|l| **l >= Duration::from_secs(1))
        .count();
    eprintln!(
        "flood: {connections} attacker connections held against a desk at 1,024 open files; {during} opened in all, {} closed by the desk, {} failed to connect; {payments} genuine notifications stored in median {median:?}, p90 {:?}, p99 {:?}, worst {worst:?}; {late} took a second or more",
        flood.closed_by_desk.load(Ordering::Relaxed),
        flood.failed.load(Ordering::Relaxed),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
    );
    assert!(
        flood.closed_by_desk.load(Ordering::Relaxed) > 0,
        "the desk shed stalled connections"
    );
    if std::env::var("FLOOD_MEASURE_ONLY").is_err() {
        assert!(
            worst < Duration::from_secs(1),
            "a genuine notification waited {worst:?}: {latencies:?}"
        );
    }
}
