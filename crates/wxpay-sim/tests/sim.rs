//! The simulator over real HTTPS with mutual TLS, with `wxpay-client` as the client: every rule,
//! every error code, the ledger after each, notifications, faults and the control API.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod support;

use std::time::Duration;

use support::*;
use wxpay::*;
use wxpay_sim::{
    Balances, Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, RefundRule,
    RefundStatus as SimStatus,
};

#[tokio::test]
async fn a_refund_is_accepted_processed_and_recorded_once() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let refund = sim.refund(&order, "R1", 300);
    let accepted = sim.client.execute(&refund).await.unwrap();
    assert_eq!(accepted.refund_fee, Fen::new(300));
    assert_eq!(accepted.out_refund_no.as_str(), "R1");

    let query = RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(OutRefundNo::new("R1").unwrap()),
        offset: None,
    };
    let first = sim.client.execute(&query).await.unwrap();
    assert_eq!(first.refunds[0].refund_status, RefundStatus::Processing);
    tokio::time::sleep(REFUND_DELAY * 2).await;
    let later = sim.client.execute(&query).await.unwrap();
    assert_eq!(later.refunds[0].refund_status, RefundStatus::Success);
    assert!(later.refunds[0].refund_success_time.is_some());

    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(
        (ledger[0].kind, ledger[0].amount),
        (LedgerKind::Payment, 1000)
    );
    assert_eq!(
        (ledger[1].kind, ledger[1].amount),
        (LedgerKind::Refund, -300)
    );
    assert_eq!(ledger[1].out_refund_no.as_deref(), Some("R1"));
}
