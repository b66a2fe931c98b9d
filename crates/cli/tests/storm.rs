//! Notification storm: a flash sale's payment notifications, WeChat sending about 30% of them a
//! second time at once, forged ones mixed in, and the desk (`merchant-desk-cli serve`) restarted
//! in the middle. At the end every genuine order is stored exactly once with one alert event,
//! every forged notification was refused and changed nothing, and every notification the desk
//! did not answer was retried by WeChat (the simulator's schedule, compressed) until stored.
//!
//! A plain `cargo test` runs a bounded storm. The full one, as recorded in RELIABILITY.md:
//!
//! ```text
//! STORM_ORDERS=10000 STORM_FORGED=1000 \
//!   cargo test --release -p merchant-desk-cli --test storm -- --nocapture
//! ```

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wxpay::{ApiKey, Fields, SignType};
use wxpay_sim::{NewOrder, NotificationKind, SimConfig};

use support::{DeskProcess, cli_json, free_address, production_desk};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a forger sends: a payment notification for `out_trade_no` that is not signed with the
/// merchant's key (it does not have it), or claims another merchant.
fn forged_body(n: usize, appid: &str, mch_id: &str, out_trade_no: &str, total: i64) -> String {
    let (mch_id, key) = match n % 3 {
        // Signed with a guessed key.
        0 => (mch_id.to_owned(), "0123456789abcdef0123456789abcdef"),
        // Another merchant's notification, properly signed by that merchant.
        1 => ("1900000109".to_owned(), "fedcba9876543210fedcba9876543210"),
        // The right merchant, a key with one letter off.
        _ => (mch_id.to_owned(), "0123456789abcdef0123456789abcdeF"),
    };
    let fields = Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", appid.to_owned()),
        ("mch_id", mch_id),
        ("nonce_str", format!("forged{n}")),
        ("out_trade_no", out_trade_no.to_owned()),
        ("transaction_id", format!("42000000{n:020}")),
        ("total_fee", total.to_string()),
        ("cash_fee", total.to_string()),
        ("fee_type", "CNY".to_owned()),
        ("bank_type", "OTHERS".to_owned()),
        ("openid", "oForgedOpenId".to_owned()),
        ("is_subscribe", "N".to_owned()),
        ("time_end", "20261123162533".to_owned()),
        ("trade_type", "JSAPI".to_owned()),
    ])
    .unwrap();
    wxpay::sign::sign_and_encode(fields, &ApiKey::new(key).unwrap(), SignType::HmacSha256).unwrap()
}

#[test]
fn a_notification_storm_stores_every_genuine_order_once_and_refuses_forgeries() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let orders = var("STORM_ORDERS", 1_500);
    let forged = var("STORM_FORGED", 150);
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // WeChat: ~30% sent twice; the retry schedule (24 h 4 min) compressed to about 45 s, and a
    // duplicate's two seconds to one millisecond, so the copies race the originals.
    let mut config = SimConfig::new(temp.path().join("wechat"));
    config.notifier.time_scale = 0.0005;
    config.notifier.duplicate_probability = 0.3;
    let sim = Arc::new(runtime.block_on(wxpay_sim::start(config)).unwrap());
    let dir = temp.path().join("desk");
    let listen = free_address();
    production_desk(&sim, &dir, listen);
    let mut desk = DeskProcess::new(dir.clone(), listen, temp.path().join("logs"));
    desk.start();
    let notify_url = format!("http://{listen}/wxpay/notify");

    // A forger, at the same time: wrong keys and foreign merchants, for real order numbers (with
    // a tampered amount) and made-up ones.
    let (appid, mch_id) = (
        sim.credentials().appid.as_str().to_owned(),
        sim.credentials().mch_id.as_str().to_owned(),
    );
    let forger = {
        let url = notify_url.clone();
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut refused = 0;
            let mut targets = Vec::new();
            for n in 0..forged {
                // Half aim at orders the simulator numbers (SIM<date><serial>): the desk must not
                // take an amount for them from anyone but WeChat.
                let out_trade_no = if n % 2 == 0 {
                    format!("FORGED{n:08}")
                } else {
                    format!("SIMFAKE{n:08}")
                };
                let body = forged_body(n, &appid, &mch_id, &out_trade_no, 1);
                // The desk may be restarting: a forger retries too.
                let reply = (0..50).find_map(|_| match http.post(&url).body(body.clone()).send() {
                    Ok(answer) => Some(answer.text().unwrap_or_default()),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        None
                    }
                });
                let reply = reply.expect("the desk came back");
                assert!(
                    !reply.contains("SUCCESS"),
                    "a forgery was acknowledged: {reply}"
                );
                refused += 1;
                targets.push(out_trade_no);
            }
            (refused, targets)
        })
    };

    // The flash sale: customers pay as fast as the simulator takes them. Halfway, the desk is
    // restarted (SIGTERM, as a service manager does) while notifications are in flight.
    let mut paid: HashMap<String, i64> = HashMap::new();
    for i in 0..orders {
        if i == orders / 2 {
            desk.stop();
            std::thread::sleep(Duration::from_millis(500));
            desk.start();
        }
        let total = 100 + (i as i64 * 7919) % 50_000;
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                body: Some(format!("storm {i}")),
                notify_url: Some(notify_url.clone()),
                ..NewOrder::default()
            })
            .unwrap();
        sim.pay(&order.out_trade_no).unwrap();
        paid.insert(order.out_trade_no, total);
    }
    let (refused, forged_numbers) = forger.join().unwrap();

    // WeChat keeps sending until the desk answers SUCCESS for every order.
    let deadline = Instant::now() + Duration::from_secs(180);
    let deliveries = loop {
        let deliveries: Vec<_> = sim
            .deliveries()
            .into_iter()
            .filter(|d| d.kind == NotificationKind::Payment)
            .collect();
        let acknowledged: HashSet<&str> = deliveries
            .iter()
            .filter(|d| d.acknowledged)
            .map(|d| d.subject.as_str())
            .collect();
        let missing = paid
            .keys()
            .filter(|o| !acknowledged.contains(o.as_str()))
            .count();
        if missing == 0 {
            break deliveries;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} orders were never acknowledged"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    desk.stop();

    // Stored exactly once, with WeChat's amount; nothing forged.
    let stored: Vec<Value> =
        serde_json::from_value(cli_json(&dir, &["orders", "list", "--limit", "1000000"])).unwrap();
    let mut seen = HashSet::new();
    for order in &stored {
        let number = order["out_trade_no"].as_str().unwrap();
        assert!(seen.insert(number.to_owned()), "{number} stored twice");
        assert_eq!(
            Some(&order["total_fee"].as_i64().unwrap()),
            paid.get(number),
            "{number} is not an order paid at WeChat, or has another amount"
        );
    }
    assert_eq!(seen.len(), paid.len(), "every genuine order stored");
    for number in &forged_numbers {
        assert!(!seen.contains(number), "forged {number} was stored");
    }

    // One alert event per order, across the restart.
    let events = desk.paid_events();
    assert_eq!(
        events.len(),
        paid.len(),
        "an order_paid event for every order"
    );
    if let Some((order, count)) = events.iter().find(|(_, count)| **count != 1) {
        panic!("{order} raised {count} order_paid events");
    }

    if std::env::var_os("STORM_VERBOSE").is_some() {
        let mut outcomes: HashMap<String, usize> = HashMap::new();
        for d in deliveries.iter().filter(|d| !d.acknowledged) {
            let kind: String = d.outcome.split("): ").last().unwrap_or_default().to_owned();
            *outcomes.entry(kind).or_default() += 1;
        }
        eprintln!("unanswered deliveries: {outcomes:#?}");
    }
    let duplicates = deliveries.iter().filter(|d| d.duplicate).count();
    let retries = deliveries
        .iter()
        .filter(|d| d.attempt > 0 && !d.duplicate)
        .count();
    let unanswered = deliveries.iter().filter(|d| !d.acknowledged).count();
    eprintln!(
        "storm: {} orders stored once from {} deliveries ({duplicates} duplicates, {unanswered} unanswered → {retries} retries), {refused} forgeries refused, restart at order {}, {:.1?}",
        paid.len(),
        deliveries.len(),
        orders / 2,
        started.elapsed()
    );
    assert!(duplicates > 0, "WeChat's duplicates were sent");
    sim.shutdown();
}
