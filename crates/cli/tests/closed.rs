//! A desk closed over lunch: orders are paid while `serve` is down (WeChat's notifications find
//! nobody and are retried), and when the desk starts again they are raised as one summary
//! updated in place — "N orders, ¥… while the desk was closed" — never as one pop-up each, and
//! an order paid after the start is alerted on its own.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wxpay_sim::{NewOrder, SimConfig};

use support::{DeskProcess, free_address, production_desk};

#[test]
fn orders_paid_while_the_desk_was_closed_come_as_one_summary() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // WeChat's retry schedule (15 s, 15 s, 30 s, 3 min, ...) compressed a hundredfold.
    let mut config = SimConfig::new(temp.path().join("wechat"));
    config.notifier.time_scale = 0.01;
    let sim = Arc::new(runtime.block_on(wxpay_sim::start(config)).unwrap());
    let dir = temp.path().join("desk");
    let listen = free_address();
    production_desk(&sim, &dir, listen);
    let mut desk = DeskProcess::new(dir.clone(), listen, temp.path().join("logs"));
    let notify_url = format!("http://{listen}/wxpay/notify");
    let pay = |fen: i64| {
        let order = sim
            .create_order(NewOrder {
                total_fee: fen,
                notify_url: Some(notify_url.clone()),
                ..NewOrder::default()
            })
            .unwrap();
        sim.pay(&order.out_trade_no).unwrap();
        order.out_trade_no
    };

    // Open once (nothing waits: no summary), then closed for lunch.
    desk.start();
    desk.stop();
    let closed: Vec<String> = (0..12).map(|i| pay(10_000 + i * 283)).collect();
    let total: i64 = (0..12).map(|i| 10_000 + i * 283).sum();
    // Paid times are whole seconds: make sure the start is a later second than every payment.
    std::thread::sleep(Duration::from_millis(1_100));
    desk.start();
    std::thread::sleep(Duration::from_millis(1_100));
    let after = pay(100);

    let wanted: HashSet<&str> = closed.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerts = loop {
        let alerts = desk.alerts();
        let covered: HashSet<String> = alerts
            .iter()
            .flat_map(|a| a["orders"].as_array().unwrap().clone())
            .map(|o| o.as_str().unwrap().to_owned())
            .collect();
        if wanted.iter().all(|o| covered.contains(*o)) && covered.contains(&after) {
            break alerts;
        }
        assert!(Instant::now() < deadline, "alerts so far: {alerts:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    desk.stop();

    for alert in &alerts {
        let kind = alert["alert"]["kind"].as_str().unwrap();
        let orders: Vec<&str> = alert["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        if orders.iter().any(|o| wanted.contains(o)) {
            assert_eq!(
                kind, "while_closed",
                "a closed-time order popped up alone: {alert}"
            );
        }
        if orders.contains(&after.as_str()) {
            assert_eq!(
                kind, "new_order",
                "an order after the start is its own alert: {alert}"
            );
        }
    }
    let summaries: Vec<_> = alerts
        .iter()
        .filter(|a| a["alert"]["kind"] == "while_closed")
        .collect();
    let keys: HashSet<&str> = summaries
        .iter()
        .map(|a| a["alert"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "one summary, updated in place: {summaries:#?}"
    );
    let last = summaries.last().unwrap();
    let yuan = wxpay::Fen::new(total).to_yuan_display();
    let title = last["alert"]["title"].as_str().unwrap();
    assert!(
        title.contains("12 笔订单") && title.contains(&yuan),
        "{title} (expected 12 orders, {yuan})"
    );
    eprintln!(
        "closed desk: 12 orders in {} summary updates, last: {title}",
        summaries.len()
    );
    sim.shutdown();
}
