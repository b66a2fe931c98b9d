//! Demo traffic for the sandbox: orders paid at a steady rate (each with its payment
//! notification) and, now and then, a customer's refund request posted to the desk's intake, so
//! a new user sees the whole flow move in the first minute.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngExt;
use tokio::sync::watch;

use crate::Shared;
use crate::state::NewOrder;

pub use backend_api::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Where refund requests go.
#[derive(Debug, Clone)]
pub struct IntakeTarget {
    /// The desk's `POST /api/v1/refund-requests`.
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct DemoTraffic {
    pub order_every: Duration,
    /// Where payment notifications go (the desk's `/wxpay/notify`).
    pub notify_url: Option<String>,
    pub refund_requests: Option<IntakeTarget>,
    /// Chance that a paid order is followed by a refund request.
    pub refund_request_probability: f64,
}

const GOODS: [(&str, i64); 6] = [
    ("手冲咖啡豆 250g", 6800),
    ("纯棉T恤（白色 L）", 9900),
    ("蓝牙耳机", 19900),
    ("抹茶曲奇礼盒", 4580),
    ("帆布托特包", 5900),
    ("保温杯 500ml", 12800),
];

const REASONS: [&str; 4] = ["尺码不合适", "商品有瑕疵", "不想要了", "发错货了"];

pub(crate) async fn run(
    shared: Arc<Shared>,
    demo: DemoTraffic,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_backend_preconfigured(crate::notify::tls_config(None))
        .build();
    let Ok(http) = http else { return };
    let mut serial = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(demo.order_every) => {}
            _ = shutdown.changed() => return,
        }
        serial += 1;
        let (body, price) = GOODS[rand::rng().random_range(0..GOODS.len())];
        let quantity = rand::rng().random_range(1..=3);
        let new = NewOrder {
            total_fee: price * quantity,
            body: Some(format!("{body} ×{quantity}")),
            notify_url: demo.notify_url.clone(),
            ..NewOrder::default()
        };
        let Ok(order) = shared.create_order(new) else {
            continue;
        };
        if shared.pay(&order.out_trade_no).is_err() {
            continue;
        }
        let Some(target) = &demo.refund_requests else {
            continue;
        };
        if !rand::rng().random_bool(demo.refund_request_probability.clamp(0.0, 1.0)) {
            continue;
        }
        let partial = rand::rng().random_bool(0.3);
        let refund_fee = if partial {
            (order.total_fee / 2).max(1)
        } else {
            order.total_fee
        };
        let request = serde_json::json!({
            "request_id": format!("demo-{}-{serial}", order.out_trade_no),
            "out_trade_no": order.out_trade_no,
            "refund_fee": refund_fee,
            "reason": REASONS[rand::rng().random_range(0..REASONS.len())],
            "customer": format!("顾客{:04}", rand::rng().random_range(0..10_000)),
        })
        .to_string();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let _ = http
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                backend_api::sign(&target.secret, timestamp, request.as_bytes()),
            )
            .body(request)
            .send()
            .await;
    }
}
