//! The core against a real SQLite file: the store, payments, requests, approvals and the money
//! invariant.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

mod support;

use desk_core::*;
use proptest::prelude::*;
use support::owner;
use wxpay::{Fen, OutTradeNo, TransactionId};

const NOW: i64 = 1_795_000_000;
const DAY: i64 = 24 * 3600;

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open(&dir.path().join("desk.sqlite3")).unwrap(), dir)
}

fn payment(no: &str, fee: i64) -> Payment {
    Payment {
        out_trade_no: OutTradeNo::new(no).unwrap(),
        transaction_id: TransactionId::new(
            format!(
                "4200{}",
                no.bytes().map(|b| format!("{:03}", b)).collect::<String>()
            )
            .chars()
            .take(32)
            .collect::<String>(),
        )
        .unwrap(),
        total_fee: Fen::new(fee),
        paid_at: NOW - DAY,
        openid: Some("oUser".into()),
        trade_type: Some("JSAPI".into()),
        attach: None,
        source: PaymentSource::Notification,
    }
}

fn request(no: &str, fee: i64) -> NewRequest {
    NewRequest {
        request_id: None,
        out_trade_no: OutTradeNo::new(no).unwrap(),
        refund_fee: Fen::new(fee),
        reason: "尺码不合适".into(),
        customer: Some("张三".into()),
    }
}

// ------------------------------------------------------------------ store

#[test]
fn the_database_is_configured_and_migrated() {
    let (store, dir) = store();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    drop(store);
    // Reopening migrates nothing and copies nothing aside.
    Store::open(&dir.path().join("desk.sqlite3")).unwrap();
    let backups = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".bak")
        })
        .count();
    assert_eq!(backups, 0);
}

#[test]
fn a_database_from_a_newer_app_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
        .unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert!(
        err.to_string().contains("install the newer version"),
        "{err}"
    );
}

#[test]
fn released_migrations_are_never_edited() {
    // Append-only: a released migration keeps its text. To change the schema, add one.
    const RELEASED: &[u64] = &[
        MIGRATION_1_HASH,
        MIGRATION_2_HASH,
        MIGRATION_3_HASH,
        MIGRATION_4_HASH,
    ];
    assert!(MIGRATIONS.len() >= RELEASED.len());
    for (n, (sql, hash)) in MIGRATIONS.iter().zip(RELEASED).enumerate() {
        assert_eq!(
            fnv1a(sql),
            *hash,
            "migration {} was edited after release",
            n + 1
        );
    }
    // And the whole list builds a sound schema.
    let (store, _dir) = store();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

const MIGRATION_1_HASH: u64 = 8_619_045_482_559_650_136;
const MIGRATION_2_HASH: u64 = 16_488_906_011_493_242_033;
const MIGRATION_3_HASH: u64 = 6_785_666_843_841_897_973;
/// The alert outbox (released in 0.2.0).
const MIGRATION_4_HASH: u64 = 4_152_169_261_135_578_927;

#[test]
fn refunds_from_before_the_lifecycle_are_asked_of_wechat_again() {
    // A database at schema 2: a refund failed without asking WeChat, one waiting to be sent
    // again after an unknown outcome, one never sent, one being followed; exchanges point at
    // them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    for (index, sql) in MIGRATIONS[..2].iter().enumerate() {
        let tx = conn.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .unwrap();
        tx.commit().unwrap();
    }
    conn.execute_batch(
        "INSERT INTO orders VALUES ('A1', '4200A1', 1000, 0, NULL, NULL, NULL, 'notification', 0);
         INSERT INTO refund_requests (id, out_trade_no, requested_fee, reason, state, created_at)
             VALUES (1, 'A1', 100, 'r', 'pending', 0), (2, 'A1', 100, 'r', 'pending', 0),
                    (3, 'A1', 100, 'r', 'pending', 0), (4, 'A1', 100, 'r', 'pending', 0);
         UPDATE refund_requests SET state = 'approved';
         INSERT INTO refunds (id, request, out_trade_no, out_refund_no, refund_fee, state, attempts,
                              last_error, failure_reason, approved_by, approved_at, updated_at)
             VALUES (1, 1, 'A1', 'MD1-a', 100, 'failed', 2, NULL, '微信支付拒绝了请求', 'owner', 0, 0),
                    (2, 2, 'A1', 'MD2-b', 100, 'approved', 1, '微信支付未及时应答', NULL, 'owner', 0, 0),
                    (3, 3, 'A1', 'MD3-c', 100, 'approved', 0, NULL, NULL, 'owner', 0, 0),
                    (4, 4, 'A1', 'MD4-d', 100, 'processing', 1, NULL, NULL, 'owner', 0, 0);
         INSERT INTO exchanges (at, endpoint, refund, request, outcome) VALUES (0, 'refund', 1, 'x', 'ok');",
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&path).unwrap();
    let state = |no: &str| store.refund_by_number(no).unwrap().unwrap().state;
    assert_eq!(
        state("MD1-a"),
        RefundState::Submitting,
        "failed without asking: asked now"
    );
    assert_eq!(
        state("MD2-b"),
        RefundState::Submitting,
        "unknown outcome: asked before resending"
    );
    assert_eq!(state("MD3-c"), RefundState::Approved, "never sent: sent");
    assert_eq!(state("MD4-d"), RefundState::Processing);
    let counts: Vec<(QueueState, i64)> = store
        .queue_counts()
        .unwrap()
        .into_iter()
        .map(|c| (c.state, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            (QueueState::Approved, 1),
            (QueueState::Submitting, 2),
            (QueueState::Processing, 1)
        ]
    );
    let items = store.queue(None, 10).unwrap();
    let old = items
        .iter()
        .find(|i| i.request == 1)
        .unwrap()
        .refund
        .clone()
        .unwrap();
    assert_eq!(old.problem, None);
    assert_eq!(old.wechat_detail.as_deref(), Some("微信支付拒绝了请求"));
    assert_eq!(
        store.order("A1").unwrap().unwrap().refundable,
        Fen::new(600),
        "refunds being asked about hold their amount"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let broken: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    assert!(dir.path().join("desk.sqlite3.schema-2.bak").exists());
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ------------------------------------------------------------------ payments

#[test]
fn a_payment_is_stored_once() {
    let (store, _dir) = store();
    assert_eq!(
        store.record_payment(&payment("A1", 1000), NOW).unwrap(),
        Recorded::New
    );
    assert_eq!(
        store.record_payment(&payment("A1", 1000), NOW).unwrap(),
        Recorded::Duplicate
    );
    let order = store.order("A1").unwrap().unwrap();
    assert_eq!(
        (order.total_fee, order.refundable, order.refund_count),
        (Fen::new(1000), Fen::new(1000), 0)
    );

    let mut other_amount = payment("A1", 1000);
    other_amount.total_fee = Fen::new(1);
    let err = store.record_payment(&other_amount, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::PaymentConflict {
                detail: "another amount",
                ..
            }
        ),
        "{err}"
    );
    let mut stolen_transaction = payment("B2", 1000);
    stolen_transaction.transaction_id = payment("A1", 1000).transaction_id;
    assert!(matches!(
        store.record_payment(&stolen_transaction, NOW),
        Err(CoreError::PaymentConflict { .. })
    ));
    assert_eq!(
        store.order("A1").unwrap().unwrap().total_fee,
        Fen::new(1000),
        "nothing changed"
    );
}

#[test]
fn a_batch_of_payments_is_one_commit_and_a_refused_one_leaves_the_others() {
    let (store, _dir) = store();
    store.record_payment(&payment("OLD", 500), NOW).unwrap();
    let mut events = store.subscribe();
    let mut conflicting = payment("OLD", 500);
    conflicting.total_fee = Fen::new(1);
    let batch = [
        payment("B1", 100),
        conflicting,
        payment("B2", 200),
        payment("B1", 100),
        payment("ZERO", 1),
    ];
    let mut batch = batch.to_vec();
    batch[4].total_fee = Fen::new(0);
    let results = store.record_payments(&batch, NOW);
    assert!(matches!(results[0], Ok(Recorded::New)));
    assert!(matches!(results[1], Err(CoreError::PaymentConflict { .. })));
    assert!(matches!(results[2], Ok(Recorded::New)));
    assert!(
        matches!(results[3], Ok(Recorded::Duplicate)),
        "a repeat within the batch sees the first"
    );
    assert!(matches!(results[4], Err(CoreError::AmountNotPositive)));
    assert_eq!(
        store.order("OLD").unwrap().unwrap().total_fee,
        Fen::new(500)
    );
    assert_eq!(store.order("B2").unwrap().unwrap().total_fee, Fen::new(200));
    assert!(store.order("ZERO").unwrap().is_none());
    let mut paid = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let DeskEvent::OrderPaid { out_trade_no, .. } = event {
            paid.push(out_trade_no);
        }
    }
    assert_eq!(
        paid,
        ["B1", "B2"],
        "one event per new order, after the commit"
    );
}

#[test]
fn concurrent_duplicates_store_one_order() {
    let (store, _dir) = store();
    let store = Arc::new(store);
    let outcomes: Vec<Recorded> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| store.record_payment(&payment("C1", 500), NOW).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes.iter().filter(|o| **o == Recorded::New).count(),
        1,
        "{outcomes:?}"
    );
}

// ------------------------------------------------------------------ requests and approvals

#[test]
fn requests_are_checked_when_they_arrive() {
    let (store, _dir) = store();
    assert!(matches!(
        store.add_request(&request("NOPE", 100), NOW),
        Err(CoreError::OrderUnknown(_))
    ));
    store.record_payment(&payment("A1", 1000), NOW).unwrap();
    assert!(matches!(
        store.add_request(&request("A1", 1001), NOW),
        Err(CoreError::ExceedsRefundable { .. })
    ));
    assert!(matches!(
        store.add_request(&request("A1", 0), NOW),
        Err(CoreError::AmountNotPositive)
    ));

    let keyed = NewRequest {
        request_id: Some("shop-42".into()),
        ..request("A1", 300)
    };
    let (id, new) = store.add_request(&keyed, NOW).unwrap();
    assert!(new);
    assert_eq!(
        store.add_request(&keyed, NOW).unwrap(),
        (id, false),
        "a retried request is the same request"
    );
    let changed = NewRequest {
        refund_fee: Fen::new(301),
        ..keyed
    };
    assert!(matches!(
        store.add_request(&changed, NOW),
        Err(CoreError::RequestIdConflict(_))
    ));
}

#[test]
fn approval_commits_one_refund_number_and_every_guard() {
    let (store, _dir) = store();
    store.record_payment(&payment("A1", 1000), NOW).unwrap();
    let (r1, _) = store.add_request(&request("A1", 600), NOW).unwrap();
    let (r2, _) = store.add_request(&request("A1", 600), NOW).unwrap();

    assert!(matches!(
        store.approve(r1, Some(Fen::new(601)), &owner(), NOW),
        Err(CoreError::AboveRequested { .. })
    ));
    let clerk = Approver {
        name: "clerk".into(),
        limit: Some(Fen::new(500)),
    };
    let err = store.approve(r1, None, &clerk, NOW).unwrap_err();
    assert_eq!(err.code(), Code::NeedsOwner);
    assert!(
        err.to_string().contains("clerk's approval limit of 500"),
        "{err}"
    );

    let first = store.approve(r1, None, &owner(), NOW).unwrap();
    assert_eq!(first.refund_fee, Fen::new(600));
    assert!(
        first
            .out_refund_no
            .as_str()
            .starts_with(&format!("MD{r1}-"))
    );
    let again = store.approve(r1, None, &owner(), NOW).unwrap_err();
    assert!(
        matches!(again, CoreError::NotPending { .. }),
        "a second click approves nothing: {again}"
    );

    // 600 is committed; the second request can only get the remaining 400.
    let err = store.approve(r2, None, &owner(), NOW).unwrap_err();
    assert!(
        matches!(err, CoreError::ExceedsRefundable { remaining, .. } if remaining == Fen::new(400)),
        "{err}"
    );
    let partial = store
        .approve(r2, Some(Fen::new(400)), &owner(), NOW)
        .unwrap();
    assert_ne!(partial.out_refund_no, first.out_refund_no);
    let order = store.order("A1").unwrap().unwrap();
    assert_eq!(
        (order.committed, order.refundable, order.refund_count),
        (Fen::new(1000), Fen::ZERO, 2)
    );
}

#[test]
fn closed_and_failed_refunds_give_the_amount_back() {
    let (store, _dir) = store();
    store.record_payment(&payment("A1", 1000), NOW).unwrap();
    let (r1, _) = store.add_request(&request("A1", 1000), NOW).unwrap();
    let refund = store.approve(r1, None, &owner(), NOW).unwrap().refund;
    use RefundState::*;
    store.transition(refund, Approved, Submitting, NOW).unwrap();
    assert!(matches!(
        store.transition(refund, Approved, Submitting, NOW),
        Err(CoreError::TransitionLost { .. })
    ));
    store
        .transition(refund, Submitting, Processing, NOW)
        .unwrap();
    assert_eq!(
        store.order("A1").unwrap().unwrap().refundable,
        Fen::ZERO,
        "processing still holds the money"
    );
    store.transition(refund, Processing, Closed, NOW).unwrap();
    assert_eq!(
        store.order("A1").unwrap().unwrap().refundable,
        Fen::new(1000),
        "REFUNDCLOSE returned it"
    );
    assert!(matches!(
        store.transition(refund, Closed, Succeeded, NOW),
        Err(CoreError::NotAStep { .. })
    ));
}

#[test]
fn wechats_limits_are_enforced_before_sending() {
    let (store, _dir) = store();
    let mut old = payment("OLD", 1000);
    old.paid_at = NOW - REFUND_WINDOW_SECS - 1;
    store.record_payment(&old, NOW).unwrap();
    assert!(matches!(
        store.add_request(&request("OLD", 100), NOW),
        Err(CoreError::OrderTooOld)
    ));

    store.record_payment(&payment("MANY", 100), NOW).unwrap();
    for _ in 0..MAX_REFUNDS_PER_ORDER {
        let (id, _) = store.add_request(&request("MANY", 1), NOW).unwrap();
        store.approve(id, None, &owner(), NOW).unwrap();
    }
    assert!(matches!(
        store.add_request(&request("MANY", 1), NOW),
        Err(CoreError::TooManyRefunds)
    ));
}

#[test]
fn reject_and_withdraw() {
    let (store, _dir) = store();
    store.record_payment(&payment("A1", 1000), NOW).unwrap();
    let (r1, _) = store.add_request(&request("A1", 100), NOW).unwrap();
    assert!(matches!(
        store.reject(r1, "  ", "owner", NOW),
        Err(CoreError::ReasonMissing { .. })
    ));
    store.reject(r1, "商品已使用", "owner", NOW).unwrap();
    assert!(matches!(
        store.approve(r1, None, &owner(), NOW),
        Err(CoreError::NotPending { .. })
    ));
    let (r2, _) = store.add_request(&request("A1", 100), NOW).unwrap();
    store.withdraw(r2, "shop-backend", NOW).unwrap();
    assert!(matches!(
        store.withdraw(r2, "shop-backend", NOW),
        Err(CoreError::NotPending { .. })
    ));
    assert!(matches!(
        store.approve(999, None, &owner(), NOW),
        Err(CoreError::RequestNotFound(999))
    ));

    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let actions: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT actor, action, detail FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        actions,
        [
            ("owner".into(), "reject".into(), Some("商品已使用".into())),
            ("shop-backend".into(), "withdraw".into(), None),
        ]
    );
}

#[test]
fn two_apps_clicking_approve_at_once_make_one_refund() {
    let (store, dir) = store();
    store.record_payment(&payment("A1", 1000), NOW).unwrap();
    let (id, _) = store.add_request(&request("A1", 1000), NOW).unwrap();
    drop(store);
    let path = dir.path().join("desk.sqlite3");
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                s.spawn(move || {
                    Store::open(&path)
                        .unwrap()
                        .approve(id, None, &owner(), NOW)
                        .is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let refunds: i64 = conn
        .query_row("SELECT COUNT(*) FROM refunds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refunds, 1);
}

// ------------------------------------------------------------------ the invariant

#[derive(Debug, Clone)]
enum Op {
    Request { order: usize, fee: i64 },
    Approve { request: usize, fee: Option<i64> },
    Reject { request: usize },
    Move { refund: usize, to: RefundState },
}

fn op() -> impl Strategy<Value = Op> {
    use RefundState::*;
    prop_oneof![
        (0..3usize, 1..800i64).prop_map(|(order, fee)| Op::Request { order, fee }),
        (0..12usize, proptest::option::of(1..800i64))
            .prop_map(|(request, fee)| Op::Approve { request, fee }),
        (0..12usize).prop_map(|request| Op::Reject { request }),
        (
            0..12usize,
            prop_oneof![
                Just(Submitting),
                Just(Processing),
                Just(Succeeded),
                Just(Closed),
                Just(NeedsManual),
                Just(Failed),
                Just(Approved)
            ]
        )
            .prop_map(|(refund, to)| Op::Move { refund, to }),
    ]
}

const TOTALS: [i64; 3] = [1000, 300, 1];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn refunds_never_exceed_what_was_paid(ops in proptest::collection::vec(op(), 1..40)) {
        let (store, _dir) = store();
        for (n, total) in TOTALS.iter().enumerate() {
            store.record_payment(&payment(&format!("P{n}"), *total), NOW).unwrap();
        }
        let mut requests = Vec::new();
        let mut refunds: Vec<(i64, RefundState)> = Vec::new();
        for op in ops {
            match op {
                Op::Request { order, fee } => {
                    if let Ok((id, _)) = store.add_request(&request(&format!("P{order}"), fee), NOW) {
                        requests.push(id);
                    }
                }
                Op::Approve { request, fee } => {
                    if let Some(&id) = requests.get(request)
                        && let Ok(approved) = store.approve(id, fee.map(Fen::new), &owner(), NOW)
                    {
                        refunds.push((approved.refund, RefundState::Approved));
                    }
                }
                Op::Reject { request } => {
                    if let Some(&id) = requests.get(request) {
                        let _ = store.reject(id, "no", "owner", NOW);
                    }
                }
                Op::Move { refund, to } => {
                    if let Some((id, state)) = refunds.get_mut(refund)
                        && store.transition(*id, *state, to, NOW).is_ok()
                    {
                        *state = to;
                    }
                }
            }
            for (n, total) in TOTALS.iter().enumerate() {
                let order = store.order(&format!("P{n}")).unwrap().unwrap();
                prop_assert!(order.committed <= Fen::new(*total), "order P{n}: {order:?}");
            }
        }
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        let approved: i64 = conn.query_row("SELECT COUNT(*) FROM refund_requests WHERE state = 'approved'", [], |r| r.get(0)).unwrap();
        let (count, distinct): (i64, i64) = conn.query_row("SELECT COUNT(*), COUNT(DISTINCT out_refund_no) FROM refunds", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        prop_assert_eq!(approved, count, "one refund per approval");
        prop_assert_eq!(count, distinct, "refund numbers are unique");
    }
}

#[test]
fn the_queue_lists_requests_by_state_with_their_refunds() {
    let (store, _dir) = store();
    store.record_payment(&payment("Q1", 1000), NOW).unwrap();
    let (waiting, _) = store.add_request(&request("Q1", 100), NOW).unwrap();
    let (approved, _) = store.add_request(&request("Q1", 200), NOW).unwrap();
    let (rejected, _) = store.add_request(&request("Q1", 300), NOW).unwrap();
    let refund = store
        .approve(approved, Some(Fen::new(150)), &owner(), NOW)
        .unwrap();
    store.reject(rejected, "已发货", "owner", NOW).unwrap();

    let all = store.queue(None, 10).unwrap();
    assert_eq!(
        all.iter().map(|i| (i.request, i.state)).collect::<Vec<_>>(),
        [
            (rejected, QueueState::Rejected),
            (approved, QueueState::Approved),
            (waiting, QueueState::Pending)
        ],
        "newest first"
    );
    let only_approved = store.queue(Some(QueueState::Approved), 10).unwrap();
    assert_eq!(only_approved.len(), 1);
    let view = only_approved[0].refund.as_ref().unwrap();
    assert_eq!(view.out_refund_no, refund.out_refund_no.as_str());
    assert_eq!(view.refund_fee, Fen::new(150));
    assert_eq!(
        store.queue_item(rejected).unwrap().reject_reason.as_deref(),
        Some("已发货")
    );
    assert!(matches!(
        store.queue_item(999),
        Err(CoreError::RequestNotFound(999))
    ));
    assert_eq!(store.queue(Some(QueueState::Failed), 10).unwrap(), []);
}

#[test]
fn orders_are_listed_newest_first_and_found_by_prefix() {
    let (store, _dir) = store();
    for (n, no) in ["A100", "A200", "B100"].iter().enumerate() {
        let mut paid = payment(no, 500);
        paid.paid_at = NOW + n as i64;
        store.record_payment(&paid, NOW).unwrap();
    }
    let numbers = |search: Option<&str>| {
        store
            .orders(search, 10)
            .unwrap()
            .into_iter()
            .map(|o| o.out_trade_no)
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(None), ["B100", "A200", "A100"]);
    assert_eq!(numbers(Some("A")), ["A200", "A100"]);
    assert_eq!(numbers(Some("A2")), ["A200"]);
    assert_eq!(numbers(Some("Z")), Vec::<String>::new());
    let by_transaction = store.orders(None, 10).unwrap()[2].transaction_id.clone();
    assert_eq!(numbers(Some(&by_transaction)), ["A100"]);
    assert_eq!(store.orders(None, 1).unwrap().len(), 1, "limit");
}

#[test]
fn queue_state_names_parse_and_unknown_ones_list_the_choices() {
    for state in QueueState::ALL {
        assert_eq!(state.as_str().parse::<QueueState>(), Ok(state));
    }
    let unknown = "paid".parse::<QueueState>().unwrap_err().to_string();
    assert!(
        unknown.contains("\"paid\"") && unknown.contains("needs_manual"),
        "{unknown}"
    );
}
