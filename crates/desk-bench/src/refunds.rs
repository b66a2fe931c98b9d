//! Refund throughput: approved refunds driven to SUCCESS by the desk's own engine against the
//! simulator (mutual TLS on loopback, no injected delay: a refund ends at once and WeChat's
//! refund notification follows), at the engine's rate limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use desk_core::{Approver, DeskEvent, NewRequest, Payment, PaymentSource, RefundState};
use desk_runtime::{Config, DataDir, RunningDesk, StartOptions};
use wxpay::{Fen, OutTradeNo, TransactionId};
use wxpay_sim::NewOrder;

use crate::error::BenchError;

#[derive(Debug, Clone)]
pub struct RefundRun {
    pub refunds: usize,
    pub rate_limit: u32,
    /// From the first approval to the last refund WeChat accepted, and to the last SUCCESS.
    pub all_sent: Duration,
    pub all_succeeded: Duration,
    /// Refunds the simulator's ledger holds for these orders (each exactly once).
    pub in_ledger: usize,
    /// Refund calls sent (each refund once unless a call failed), and refund queries (when a
    /// refund's notification came after its first check was due).
    pub refund_calls: usize,
    pub queries: usize,
}

impl RefundRun {
    pub fn sends_per_second(&self) -> f64 {
        self.refunds as f64 / self.all_sent.as_secs_f64()
    }
}

fn invalid(e: impl std::fmt::Display) -> BenchError {
    BenchError::Other(e.to_string())
}

/// Pays `count` orders in the simulator, records them, approves a refund for each and waits
/// until every refund has succeeded.
pub async fn run(
    dir: &std::path::Path,
    count: usize,
    rate_limit: u32,
) -> Result<RefundRun, BenchError> {
    let data_dir = DataDir::resolve(Some(dir.to_owned()))?;
    data_dir.create()?;
    let mut config = Config::new();
    config.refunds.max_requests_per_second = rate_limit;
    config.save(&data_dir.config()).map_err(invalid)?;
    let mut options = StartOptions::new(data_dir);
    options.force_sandbox = true;
    options.sandbox_keeps_day = false;
    options.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    options.sandbox_refund_delay = Duration::ZERO;
    let desk = RunningDesk::start(options).await?;
    let sim = desk
        .sandbox()
        .ok_or_else(|| BenchError::Other("the desk did not start in the sandbox".into()))?;
    let store = desk.store().clone();
    let now = desk_core::unix_now();

    let mut payments = Vec::with_capacity(count);
    for i in 0..count {
        let total = 1_000 + (i as i64 % 100) * 10;
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                ..Default::default()
            })
            .map_err(invalid)?;
        let paid = sim.pay(&order.out_trade_no).map_err(invalid)?;
        payments.push(Payment {
            out_trade_no: OutTradeNo::new(paid.out_trade_no).map_err(invalid)?,
            transaction_id: TransactionId::new(paid.transaction_id.unwrap_or_default())
                .map_err(invalid)?,
            total_fee: Fen::new(total),
            paid_at: now,
            openid: None,
            trade_type: Some("JSAPI".into()),
            attach: None,
            source: PaymentSource::Notification,
        });
    }
    for result in store.record_payments(&payments, now) {
        result?;
    }
    let mut requests = Vec::with_capacity(count);
    for payment in &payments {
        let new = NewRequest {
            request_id: None,
            out_trade_no: payment.out_trade_no.clone(),
            refund_fee: payment.total_fee,
            reason: "活动商品退款".into(),
            customer: None,
        };
        requests.push(store.add_request(&new, now)?.0);
    }

    let mut events = desk.subscribe();
    let owner = Approver {
        name: "owner".into(),
        limit: None,
    };
    let started = Instant::now();
    for result in store.approve_all(&requests, &owner, now) {
        result.1?;
    }
    let (mut processing, mut succeeded) = (0, 0);
    let mut all_sent = Duration::ZERO;
    let deadline = started + Duration::from_secs(120);
    while succeeded < count {
        let event = tokio::time::timeout_at(deadline.into(), events.recv())
            .await
            .map_err(|_| {
                BenchError::Other(format!(
                    "only {succeeded} of {count} refunds succeeded in 120 s"
                ))
            })?;
        match event {
            Ok(DeskEvent::RefundChanged { state, .. }) => match state {
                RefundState::Processing => {
                    processing += 1;
                    if processing == count {
                        all_sent = started.elapsed();
                    }
                }
                RefundState::Succeeded => succeeded += 1,
                _ => {}
            },
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                return Err(BenchError::Other(format!(
                    "the benchmark missed {missed} events"
                )));
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return Err(BenchError::Other("the desk stopped".into()));
            }
        }
    }
    let all_succeeded = started.elapsed();
    let orders: std::collections::HashSet<&str> =
        payments.iter().map(|p| p.out_trade_no.as_str()).collect();
    let in_ledger = sim
        .refunds()
        .iter()
        .filter(|r| orders.contains(r.out_trade_no.as_str()))
        .count();
    // A refund's notification can mark it succeeded before the engine has logged the call's
    // answer; the shutdown waits for the engine's pass, so the log is read once it is whole.
    desk.shutdown().await;
    let exchanges = store.exchanges(10 * count)?;
    let refund_calls = exchanges.iter().filter(|e| e.endpoint == "refund").count();
    let queries = exchanges.len() - refund_calls;
    Ok(RefundRun {
        refunds: count,
        rate_limit,
        all_sent: if all_sent.is_zero() {
            all_succeeded
        } else {
            all_sent
        },
        all_succeeded,
        in_ledger,
        refund_calls,
        queries,
    })
}
