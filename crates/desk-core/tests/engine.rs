//! The refund engine against the simulator over mutual TLS, with a real SQLite file. After every
//! fault the simulator can inject, its ledger shows the refund paid exactly once.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod support;

use desk_core::*;
use support::owner;
use wxpay::*;
use wxpay_client::{HttpsTransport, WxPayClient};
use wxpay_sim::{
    Balances, Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, RefundRule, SimConfig, SimHandle,
};

struct World {
    sim: SimHandle,
    store: Arc<Store>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fast() -> EngineSettings {
    EngineSettings {
        first_check_after: Duration::ZERO,
        retry_base: Duration::ZERO,
        ..EngineSettings::default()
    }
}

impl World {
    async fn new() -> World {
        let sim_dir = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(sim_dir.path());
        config.refund_delay = Duration::from_millis(100);
        config.notifier.duplicate_probability = 0.0;
        let sim = wxpay_sim::start(config).await.unwrap();
        let desk_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&desk_dir.path().join("desk.sqlite3")).unwrap());
        World {
            sim,
            store,
            _dirs: (sim_dir, desk_dir),
        }
    }

    fn client(&self) -> WxPayClient<HttpsTransport> {
        support::client_for(&self.sim, SignType::HmacSha256)
    }

    fn engine(&self, settings: EngineSettings) -> Engine<HttpsTransport> {
        Engine::new(self.store.clone(), self.client(), settings)
    }

    /// A paid order in the simulator, known to the desk, with an approved refund.
    fn approved(&self, total: i64, refund: i64) -> ApprovedRefund {
        let order = self
            .sim
            .create_order(NewOrder {
                total_fee: total,
                ..Default::default()
            })
            .unwrap();
        let paid = self.sim.pay(&order.out_trade_no).unwrap();
        self.store
            .record_payment(
                &Payment {
                    out_trade_no: OutTradeNo::new(paid.out_trade_no.clone()).unwrap(),
                    transaction_id: TransactionId::new(paid.transaction_id.clone().unwrap())
                        .unwrap(),
                    total_fee: Fen::new(total),
                    paid_at: now(),
                    openid: None,
                    trade_type: None,
                    attach: None,
                    source: PaymentSource::Notification,
                },
                now(),
            )
            .unwrap();
        let request = NewRequest {
            request_id: None,
            out_trade_no: OutTradeNo::new(paid.out_trade_no).unwrap(),
            refund_fee: Fen::new(refund),
            reason: "test".into(),
            customer: None,
        };
        let (id, _) = self.store.add_request(&request, now()).unwrap();
        self.store.approve(id, None, &owner(), now()).unwrap()
    }

    fn state(&self, refund: &ApprovedRefund) -> RefundState {
        self.store
            .refund_by_number(refund.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .state
    }

    /// Runs passes (with the engine's clock `skew` seconds ahead) until the refund is final.
    async fn drive(
        &self,
        engine: &Engine<HttpsTransport>,
        refund: &ApprovedRefund,
        skew: i64,
    ) -> RefundState {
        // Up to 30 s of passes: a busy machine may hold the simulator back.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            engine.run_once(now() + skew).await.unwrap();
            let state = self.state(refund);
            if matches!(
                state,
                RefundState::Succeeded
                    | RefundState::Closed
                    | RefundState::NeedsManual
                    | RefundState::Failed
            ) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "refund {} did not finish: {:?}",
            refund.out_refund_no,
            self.state(refund)
        );
    }

    /// How many times the simulator moved money out for this refund number.
    fn paid_out(&self, refund: &ApprovedRefund) -> usize {
        self.sim
            .ledger()
            .iter()
            .filter(|e| {
                e.kind == LedgerKind::Refund
                    && e.out_refund_no.as_deref() == Some(refund.out_refund_no.as_str())
            })
            .count()
    }
}

#[tokio::test]
async fn an_approved_refund_reaches_succeeded_and_is_paid_once() {
    let w = World::new().await;
    let refund = w.approved(1000, 400);
    let engine = w.engine(fast());
    assert_eq!(w.drive(&engine, &refund, 0).await, RefundState::Succeeded);
    assert_eq!(w.paid_out(&refund), 1);
    let order = w
        .store
        .order(&w.sim.ledger()[0].out_trade_no)
        .unwrap()
        .unwrap();
    assert_eq!(order.refundable, Fen::new(600));
    let exchanges: i64 = rusqlite::Connection::open(w.store.path())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM exchanges WHERE endpoint = 'refund' AND outcome = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exchanges, 1);
}

#[tokio::test]
async fn every_injected_fault_ends_with_the_refund_paid_exactly_once() {
    let faults = [
        Fault::Error {
            err_code: "SYSTEMERROR".into(),
            after_record: false,
        },
        Fault::Error {
            err_code: "SYSTEMERROR".into(),
            after_record: true,
        },
        Fault::Error {
            err_code: "BIZERR_NEED_RETRY".into(),
            after_record: false,
        },
        Fault::Drop { after_record: true },
        Fault::Drop {
            after_record: false,
        },
        Fault::Garbage { after_record: true },
        Fault::HttpStatus {
            status: 503,
            after_record: true,
        },
        Fault::HttpStatus {
            status: 502,
            after_record: false,
        },
        Fault::Delay { ms: 200 },
    ];
    let w = World::new().await;
    let engine = w.engine(fast());
    for fault in faults {
        let refund = w.approved(1000, 250);
        w.sim.inject(FaultPlan {
            endpoint: Endpoint::Refund,
            fault: fault.clone(),
            count: 2,
        });
        assert_eq!(
            w.drive(&engine, &refund, 0).await,
            RefundState::Succeeded,
            "{fault:?}"
        );
        assert_eq!(w.paid_out(&refund), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_pause_is_respected_before_resending() {
    let w = World::new().await;
    let engine = w.engine(fast());
    let refund = w.approved(1000, 100);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Error {
            err_code: "FREQUENCY_LIMITED".into(),
            after_record: false,
        },
        count: 1,
    });
    engine.run_once(now()).await.unwrap();
    assert_eq!(
        w.state(&refund),
        RefundState::Submitting,
        "not accepted: to be asked of WeChat before it is sent again"
    );
    assert_eq!(
        engine.run_once(now() + 5).await.unwrap(),
        Pass::default(),
        "neither asked nor sent before the pause is over"
    );
    assert_eq!(w.drive(&engine, &refund, 11).await, RefundState::Succeeded);
    assert_eq!(w.paid_out(&refund), 1);
}

#[tokio::test]
async fn a_crash_while_submitting_is_recovered_by_a_query_first() {
    let w = World::new().await;
    // The app claimed the refund, sent it, and died before recording the answer.
    let sent = w.approved(1000, 300);
    w.store
        .transition(
            sent.refund,
            RefundState::Approved,
            RefundState::Submitting,
            now(),
        )
        .unwrap();
    let order = w.sim.ledger()[0].transaction_id.clone();
    w.client()
        .execute(&RefundRequest {
            order: OrderRef::TransactionId(TransactionId::new(order).unwrap()),
            out_refund_no: sent.out_refund_no.clone(),
            total_fee: Fen::new(1000),
            refund_fee: Fen::new(300),
            refund_fee_type: None,
            refund_desc: None,
            refund_account: None,
            notify_url: None,
        })
        .await
        .unwrap();
    // The app claimed another refund and died before sending it.
    let unsent = w.approved(500, 500);
    w.store
        .transition(
            unsent.refund,
            RefundState::Approved,
            RefundState::Submitting,
            now(),
        )
        .unwrap();

    // A new process starts.
    let engine = w.engine(fast());
    assert_eq!(w.drive(&engine, &sent, 0).await, RefundState::Succeeded);
    assert_eq!(w.drive(&engine, &unsent, 0).await, RefundState::Succeeded);
    assert_eq!(w.paid_out(&sent), 1, "found by the query, not sent again");
    assert_eq!(
        w.paid_out(&unsent),
        1,
        "not found, so sent with the same number"
    );
    let queried: i64 = rusqlite::Connection::open(w.store.path())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM exchanges WHERE endpoint = 'refund' AND refund = ?1",
            [sent.refund],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queried, 0, "the sent refund was never resent");
}

#[tokio::test]
async fn not_enough_funds_waits_or_uses_recharge_funds() {
    let w = World::new().await;
    let refund = w.approved(1000, 800);
    w.sim.set_balances(Balances {
        unsettled: 100,
        recharge: 5000,
    });
    let waiting = w.engine(fast());
    waiting.run_once(now()).await.unwrap();
    assert_eq!(
        w.state(&refund),
        RefundState::Submitting,
        "waits for the balance, then asks WeChat before sending again"
    );
    assert_eq!(waiting.run_once(now() + 60).await.unwrap(), Pass::default());

    let fallback = w.engine(EngineSettings {
        recharge_fallback: true,
        ..fast()
    });
    assert_eq!(
        w.drive(&fallback, &refund, 601).await,
        RefundState::Succeeded
    );
    let entry = w
        .sim
        .ledger()
        .into_iter()
        .find(|e| e.kind == LedgerKind::Refund)
        .unwrap();
    assert_eq!(entry.funds, wxpay_sim::Funds::Recharge);
    assert_eq!(w.paid_out(&refund), 1);
}

#[tokio::test]
async fn a_final_refusal_fails_with_a_reason() {
    let w = World::new().await;
    let refund = w.approved(1000, 100);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Error {
            err_code: "USER_ACCOUNT_ABNORMAL".into(),
            after_record: false,
        },
        count: 1,
    });
    assert_eq!(
        w.drive(&w.engine(fast()), &refund, 0).await,
        RefundState::Failed
    );
    let db = rusqlite::Connection::open(w.store.path()).unwrap();
    let (problem, detail): (String, String) = db
        .query_row(
            "SELECT problem, wechat_detail FROM refunds WHERE id = ?1",
            [refund.refund],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(problem, "account_abnormal", "a code, not a sentence");
    assert!(detail.starts_with("USER_ACCOUNT_ABNORMAL"), "{detail}");
    let endpoints: Vec<String> = db
        .prepare("SELECT endpoint FROM exchanges WHERE refund = ?1 ORDER BY id")
        .unwrap()
        .query_map([refund.refund], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        endpoints,
        ["refund", "refundquery"],
        "failed only after WeChat said it has no record of the number"
    );
    assert_eq!(w.paid_out(&refund), 0);
    let order = w
        .store
        .order(&w.sim.ledger()[0].out_trade_no)
        .unwrap()
        .unwrap();
    assert_eq!(
        order.refundable,
        Fen::new(1000),
        "a failed refund holds nothing"
    );
}

#[tokio::test]
async fn change_and_refundclose_outcomes() {
    let w = World::new().await;
    let engine = w.engine(fast());
    let change = w.approved(1000, 100);
    let closed = w.approved(1000, 200);
    w.sim.add_refund_rule(RefundRule {
        out_refund_no: Some(change.out_refund_no.to_string()),
        refund_fee: None,
        outcome: wxpay_sim::RefundStatus::Change,
    });
    w.sim.add_refund_rule(RefundRule {
        out_refund_no: Some(closed.out_refund_no.to_string()),
        refund_fee: None,
        outcome: wxpay_sim::RefundStatus::Refundclose,
    });
    assert_eq!(w.drive(&engine, &change, 0).await, RefundState::NeedsManual);
    assert_eq!(w.drive(&engine, &closed, 0).await, RefundState::Closed);
}

/// What the intake would hand over after decrypting WeChat's notification for `refund`.
fn notification_for(w: &World, refund: &ApprovedRefund, total: i64) -> RefundNotification {
    let status = w
        .sim
        .refunds()
        .into_iter()
        .find(|r| r.out_refund_no == refund.out_refund_no.as_str())
        .unwrap();
    assert_eq!(status.status, wxpay_sim::RefundStatus::Success);
    RefundNotification {
        transaction_id: TransactionId::new(status.transaction_id).unwrap(),
        out_trade_no: OutTradeNo::new(status.out_trade_no).unwrap(),
        refund_id: RefundId::new(status.refund_id).unwrap(),
        out_refund_no: refund.out_refund_no.clone(),
        total_fee: Fen::new(total),
        settlement_total_fee: None,
        refund_fee: refund.refund_fee,
        settlement_refund_fee: None,
        refund_status: RefundStatus::Success,
        success_time: None,
        refund_recv_account: None,
        refund_account: None,
        refund_request_source: None,
    }
}

#[tokio::test]
async fn a_refund_notification_is_confirmed_by_a_query_before_it_settles() {
    let w = World::new().await;
    let refund = w.approved(1000, 100);
    let slow = EngineSettings {
        first_check_after: Duration::from_secs(3600),
        retry_base: Duration::ZERO,
        ..EngineSettings::default()
    };
    let engine = w.engine(slow);
    engine.run_once(now()).await.unwrap();
    assert_eq!(w.state(&refund), RefundState::Processing);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notification = notification_for(&w, &refund, 1000);
    assert_eq!(
        engine
            .apply_notification(&notification, now())
            .await
            .unwrap(),
        Confirmation::Taken
    );
    assert_eq!(
        w.state(&refund),
        RefundState::Processing,
        "anyone with the API key can write a notification: not settled on its word"
    );
    let pass = engine.run_once(now()).await.unwrap();
    assert_eq!(pass.checked, 1, "asked at once, not at the hour's check");
    assert_eq!(w.state(&refund), RefundState::Succeeded);
    assert_eq!(
        engine
            .apply_notification(&notification, now())
            .await
            .unwrap(),
        Confirmation::Taken,
        "a repeated notification is harmless"
    );
    assert_eq!(w.state(&refund), RefundState::Succeeded);
}

#[tokio::test]
async fn a_notification_settles_a_refund_waiting_to_be_sent_again() {
    // WeChat took the refund but the answer was lost: the desk waits to send it again (with the
    // same number). WeChat's notification arrives first and settles it; nothing is resent.
    let w = World::new().await;
    let refund = w.approved(1000, 300);
    let patient = EngineSettings {
        retry_base: Duration::from_secs(3600),
        ..EngineSettings::default()
    };
    let engine = w.engine(patient);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Drop { after_record: true },
        count: 1,
    });
    engine.run_once(now()).await.unwrap();
    assert_eq!(w.state(&refund), RefundState::Submitting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notification = notification_for(&w, &refund, 1000);
    engine
        .apply_notification(&notification, now())
        .await
        .unwrap();
    engine.run_once(now()).await.unwrap();
    assert_eq!(
        w.state(&refund),
        RefundState::Succeeded,
        "asked at once (the wait was an hour), found, settled"
    );
    assert_eq!(w.paid_out(&refund), 1);
}

#[tokio::test]
async fn a_manual_refund_checks_the_order_with_wechat_first() {
    let w = World::new().await;
    let mut events = w.store.subscribe();
    let order = w
        .sim
        .create_order(NewOrder {
            total_fee: 2500,
            ..Default::default()
        })
        .unwrap();
    let paid = w.sim.pay(&order.out_trade_no).unwrap();
    let manual = |order: OrderRef, amount: i64| ManualRefund {
        order,
        amount: Fen::new(amount),
        reason: "顾客来电".into(),
        customer: Some("王女士".into()),
    };
    let by_number = OrderRef::OutTradeNo(OutTradeNo::new(paid.out_trade_no.clone()).unwrap());

    // More than was paid: refused, and nothing queued.
    let too_much = create_manual_request(
        &w.store,
        &w.client(),
        manual(by_number.clone(), 2501),
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(too_much, CoreError::ExceedsRefundable { .. }),
        "{too_much}"
    );
    assert!(w.store.queue(None, 10).unwrap().is_empty());

    // The desk never saw the payment: WeChat confirms it and the order is recorded.
    let request = create_manual_request(&w.store, &w.client(), manual(by_number, 1000), now())
        .await
        .unwrap();
    let item = w.store.queue_item(request).unwrap();
    assert_eq!(item.state, QueueState::Pending);
    assert_eq!(item.requested_fee, Fen::new(1000));
    assert_eq!(item.request_id, None, "made in the app, not by the backend");
    let stored = w.store.order(&paid.out_trade_no).unwrap().unwrap();
    assert_eq!(stored.total_fee, Fen::new(2500));

    // By transaction id works too, and counts against the same order.
    let by_transaction =
        OrderRef::TransactionId(TransactionId::new(paid.transaction_id.clone().unwrap()).unwrap());
    create_manual_request(
        &w.store,
        &w.client(),
        manual(by_transaction.clone(), 1500),
        now(),
    )
    .await
    .unwrap();
    let approved: Vec<_> = w
        .store
        .queue(Some(QueueState::Pending), 10)
        .unwrap()
        .iter()
        .map(|item| w.store.approve(item.request, None, &owner(), now()))
        .collect();
    assert!(approved.iter().all(Result::is_ok), "{approved:?}");
    let more = create_manual_request(&w.store, &w.client(), manual(by_transaction, 1), now())
        .await
        .unwrap_err();
    assert!(
        matches!(more, CoreError::ExceedsRefundable { .. }),
        "{more}"
    );

    let seen: Vec<DeskEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    let requested = seen
        .iter()
        .filter(|e| matches!(e, DeskEvent::RefundRequested { .. }))
        .count();
    let paid_events = seen
        .iter()
        .filter(|e| matches!(e, DeskEvent::OrderPaid { .. }))
        .count();
    let approvals = seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                DeskEvent::RefundChanged {
                    state: RefundState::Approved,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        (paid_events, requested, approvals),
        (1, 2, 2),
        "one event per committed change, none for refused ones: {seen:?}"
    );
}

#[tokio::test]
async fn a_manual_refund_of_an_unknown_or_unpaid_order_is_refused() {
    let w = World::new().await;
    let unpaid = w
        .sim
        .create_order(NewOrder {
            total_fee: 800,
            ..Default::default()
        })
        .unwrap();
    let attempt = |no: &str| ManualRefund {
        order: OrderRef::OutTradeNo(OutTradeNo::new(no).unwrap()),
        amount: Fen::new(100),
        reason: "顾客来电".into(),
        customer: None,
    };
    let unknown = create_manual_request(&w.store, &w.client(), attempt("NO-SUCH-ORDER"), now())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::OrderUnknown, "{unknown}");
    let not_paid =
        create_manual_request(&w.store, &w.client(), attempt(&unpaid.out_trade_no), now())
            .await
            .unwrap_err();
    assert_eq!(not_paid.code(), Code::OrderNotPaid, "{not_paid}");
    assert!(w.store.queue(None, 10).unwrap().is_empty());
    assert!(w.store.orders(None, 10).unwrap().is_empty());
}

#[tokio::test]
async fn requests_to_wechat_keep_to_the_rate_limit() {
    let w = World::new().await;
    let refunds: Vec<ApprovedRefund> = (0..6).map(|_| w.approved(1_000, 100)).collect();
    // 20 a second, kept by the client: six sends take at least five gaps of 50 ms.
    let engine = Engine::new(w.store.clone(), w.client().with_rate_limit(20), fast());
    let started = std::time::Instant::now();
    let pass = engine.run_once(now()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(pass.sent, 6);
    assert!(
        took >= Duration::from_millis(250),
        "six requests at 20/s were sent in {took:?}"
    );
    for refund in &refunds {
        assert_eq!(w.state(refund), RefundState::Processing);
    }
    // The queries that follow keep the same pace (one pace for every request the client makes,
    // the intake's order checks included: its clones share it).
    let started = std::time::Instant::now();
    let pass = engine.run_once(now()).await.unwrap();
    assert_eq!(pass.checked, 6);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

impl World {
    /// Another request on `refund`'s order, approved by the owner.
    fn approve_again(
        &self,
        refund: &ApprovedRefund,
        fee: i64,
    ) -> Result<ApprovedRefund, CoreError> {
        let order = self
            .store
            .refund_by_number(refund.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .out_trade_no;
        let (id, _) = self.store.add_request(
            &NewRequest {
                request_id: None,
                out_trade_no: OutTradeNo::new(order).unwrap(),
                refund_fee: Fen::new(fee),
                reason: "again".into(),
                customer: None,
            },
            now(),
        )?;
        self.store.approve(id, None, &owner(), now())
    }

    fn refunded_on_wechat(&self, out_trade_no: &str) -> i64 {
        self.sim
            .ledger()
            .iter()
            .filter(|e| e.kind == LedgerKind::Refund && e.out_trade_no == out_trade_no)
            .map(|e| -e.amount)
            .sum()
    }
}

#[tokio::test]
async fn reproduction_a_refund_paid_behind_a_lost_answer_is_never_failed_and_paid_again() {
    // Order of ¥10.00, refund of ¥5.00. WeChat records the refund and the answer is lost; any
    // call after that gets an error that used to mean "never retry". The desk marked the
    // refund failed, showed ¥10.00 refundable again and paid a second ¥5.00 request.
    let resend_faults = [
        Fault::HttpStatus {
            status: 403,
            after_record: false,
        },
        Fault::HttpStatus {
            status: 404,
            after_record: false,
        },
        Fault::Error {
            err_code: "ERROR".into(),
            after_record: false,
        },
        Fault::Error {
            err_code: "SIGNERROR".into(),
            after_record: false,
        },
        Fault::Error {
            err_code: "ORDERNOTEXIST".into(),
            after_record: false,
        },
    ];
    for resend_fault in resend_faults {
        let w = World::new().await;
        let engine = w.engine(fast());
        let first = w.approved(1000, 500);
        for fault in [Fault::Drop { after_record: true }, resend_fault.clone()] {
            w.sim.inject(FaultPlan {
                endpoint: Endpoint::Refund,
                fault,
                count: 1,
            });
        }
        let end = w.drive(&engine, &first, 0).await;
        assert_eq!(end, RefundState::Succeeded, "{resend_fault:?}");
        assert_eq!(w.paid_out(&first), 1, "{resend_fault:?}");
        let order = w
            .store
            .refund_by_number(first.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .out_trade_no;
        assert_eq!(
            w.store.order(&order).unwrap().unwrap().refundable,
            Fen::new(500),
            "{resend_fault:?}: the paid refund still counts"
        );
        // The resend's fault was never needed: WeChat was asked, not sent the refund again.
        w.sim.clear_faults();
        let second = w.approve_again(&first, 500).unwrap();
        assert_eq!(w.drive(&engine, &second, 0).await, RefundState::Succeeded);
        assert!(
            matches!(
                w.approve_again(&first, 1),
                Err(CoreError::ExceedsRefundable { .. })
            ),
            "nothing is left to refund"
        );
        let desk = w.store.order(&order).unwrap().unwrap();
        assert_eq!(
            (desk.committed.get(), w.refunded_on_wechat(&order)),
            (1000, 1000),
            "{resend_fault:?}: the desk's view is WeChat's ledger"
        );
    }
}

#[tokio::test]
async fn wechats_evidence_beats_the_desks_record() {
    let w = World::new().await;
    let engine = w.engine(fast());
    let refund = w.approved(1000, 300);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Error {
            err_code: "ORDERNOTEXIST".into(),
            after_record: false,
        },
        count: 1,
    });
    assert_eq!(w.drive(&engine, &refund, 0).await, RefundState::Failed);
    let order = w
        .store
        .refund_by_number(refund.out_refund_no.as_str())
        .unwrap()
        .unwrap()
        .out_trade_no;
    assert_eq!(
        w.store.order(&order).unwrap().unwrap().refundable,
        Fen::new(1000)
    );

    // WeChat ends up refunding that very number after all (another copy of the desk, a retry
    // at WeChat's side), and says so in a notification.
    let transaction = w.sim.order(&order).unwrap().transaction_id.unwrap();
    w.client()
        .execute(&RefundRequest {
            order: OrderRef::TransactionId(TransactionId::new(transaction).unwrap()),
            out_refund_no: refund.out_refund_no.clone(),
            total_fee: Fen::new(1000),
            refund_fee: Fen::new(300),
            refund_fee_type: None,
            refund_desc: None,
            refund_account: None,
            notify_url: None,
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut events = w.store.subscribe();
    assert_eq!(
        engine
            .apply_notification(&notification_for(&w, &refund, 1000), now())
            .await
            .unwrap(),
        Confirmation::Taken,
        "WeChat, asked, confirms it"
    );
    assert_eq!(w.state(&refund), RefundState::Succeeded);
    assert!(
        matches!(
            events.try_recv(),
            Ok(DeskEvent::RefundChanged {
                state: RefundState::Succeeded,
                contradicted: true,
                ..
            })
        ),
        "the owner is told WeChat paid a refund the desk had as failed"
    );
    assert_eq!(
        w.store.order(&order).unwrap().unwrap().refundable,
        Fen::new(700),
        "its amount counts as refunded"
    );
    let item = w.store.queue(None, 10).unwrap();
    assert!(
        item.iter()
            .any(|i| i.refund.as_ref().is_some_and(|r| r.contradicted))
    );
}

/// The first send reached WeChat but its answer was lost; WeChat's query did not show it yet
/// and the resend (same number) was refused. One "no record" must not free the amount: the
/// desk asks again minutes later, and fails the refund only if WeChat still has no record.
#[tokio::test]
async fn a_refund_sent_twice_fails_only_on_no_record_twice_minutes_apart() {
    let w = World::new().await;
    let engine = w.engine(fast());
    let wait = EngineSettings::default().confirm_no_record_after.as_secs() as i64;
    for first_reached_wechat in [true, false] {
        let refund = w.approved(1000, 300);
        let inject = |endpoint, fault| {
            w.sim.inject(FaultPlan {
                endpoint,
                fault,
                count: 1,
            })
        };
        let t = now();
        inject(
            Endpoint::Refund,
            Fault::Drop {
                after_record: first_reached_wechat,
            },
        );
        engine.run_once(t).await.unwrap();
        assert_eq!(w.state(&refund), RefundState::Submitting, "answer lost");
        // WeChat's query does not show the first send (yet, or at all).
        inject(
            Endpoint::RefundQuery,
            Fault::Error {
                err_code: "REFUNDNOTEXIST".into(),
                after_record: false,
            },
        );
        engine.run_once(t).await.unwrap();
        assert_eq!(w.state(&refund), RefundState::Approved, "sent again");
        inject(
            Endpoint::Refund,
            Fault::Error {
                err_code: "ERROR".into(),
                after_record: false,
            },
        );
        engine.run_once(t).await.unwrap();
        assert_eq!(w.state(&refund), RefundState::Submitting, "refused: asked");
        if first_reached_wechat {
            inject(
                Endpoint::RefundQuery,
                Fault::Error {
                    err_code: "REFUNDNOTEXIST".into(),
                    after_record: false,
                },
            );
        }
        engine.run_once(t).await.unwrap();
        assert_eq!(
            w.state(&refund),
            RefundState::Submitting,
            "one \"no record\" after an unknown send frees nothing"
        );
        assert_eq!(
            engine.run_once(t + wait - 1).await.unwrap(),
            Pass::default(),
            "asked again only after the wait"
        );
        let end = w.drive(&engine, &refund, wait).await;
        if first_reached_wechat {
            assert_eq!(end, RefundState::Succeeded, "WeChat's record showed up");
            assert_eq!(w.paid_out(&refund), 1);
        } else {
            assert_eq!(end, RefundState::Failed, "no record, twice");
            assert_eq!(w.paid_out(&refund), 0);
        }
    }
}

/// A refund notification is encrypted with the API key only, which staff desks hold. One
/// claiming SUCCESS with every fact right settles nothing WeChat does not confirm: an approved
/// refund is still sent, a waiting one still asked and sent, a failed one stays failed.
#[tokio::test]
async fn a_forged_success_notification_settles_nothing_wechat_did_not_pay() {
    let w = World::new().await;
    let patient = EngineSettings {
        retry_base: Duration::from_secs(3600),
        ..fast()
    };
    let engine = w.engine(patient);
    let forged = |refund: &ApprovedRefund| {
        let row = w
            .store
            .refund_by_number(refund.out_refund_no.as_str())
            .unwrap()
            .unwrap();
        RefundNotification {
            transaction_id: TransactionId::new(row.transaction_id).unwrap(),
            out_trade_no: OutTradeNo::new(row.out_trade_no).unwrap(),
            refund_id: RefundId::new("50000000000000000000000000000").unwrap(),
            out_refund_no: refund.out_refund_no.clone(),
            total_fee: row.total_fee,
            settlement_total_fee: None,
            refund_fee: refund.refund_fee,
            settlement_refund_fee: None,
            refund_status: RefundStatus::Success,
            success_time: None,
            refund_recv_account: None,
            refund_account: None,
            refund_request_source: None,
        }
    };

    // Refused by WeChat and unknown to it: failed.
    let failed = w.approved(1000, 300);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Error {
            err_code: "ORDERNOTEXIST".into(),
            after_record: false,
        },
        count: 1,
    });
    let fast_engine = w.engine(fast());
    assert_eq!(w.drive(&fast_engine, &failed, 0).await, RefundState::Failed);
    assert_eq!(
        engine
            .apply_notification(&forged(&failed), now())
            .await
            .unwrap(),
        Confirmation::Contradicted,
        "WeChat has no record of it"
    );
    assert_eq!(w.state(&failed), RefundState::Failed);

    // Sent, the answer lost before WeChat recorded it: waiting to be asked.
    let waiting = w.approved(1000, 200);
    w.sim.inject(FaultPlan {
        endpoint: Endpoint::Refund,
        fault: Fault::Drop {
            after_record: false,
        },
        count: 1,
    });
    engine.run_once(now()).await.unwrap();
    engine.run_once(now()).await.unwrap();
    assert_eq!(w.state(&waiting), RefundState::Submitting);
    assert_eq!(w.paid_out(&waiting), 0);
    engine
        .apply_notification(&forged(&waiting), now())
        .await
        .unwrap();
    assert_eq!(w.state(&waiting), RefundState::Submitting, "not settled");

    // Approved, never sent.
    let approved = w.approved(1000, 100);
    engine
        .apply_notification(&forged(&approved), now())
        .await
        .unwrap();
    assert_eq!(w.state(&approved), RefundState::Approved);

    // Each ends where WeChat's ledger says, paid once.
    for refund in [&approved, &waiting] {
        assert_eq!(
            w.drive(&fast_engine, refund, 3600).await,
            RefundState::Succeeded
        );
        assert_eq!(w.paid_out(refund), 1, "sent, once");
    }
    assert_eq!(w.paid_out(&failed), 0);
}
