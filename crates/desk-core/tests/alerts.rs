//! The alert outbox against a real SQLite file: a row for every alertable fact in the fact's own
//! transaction (none for one that rolled back, never two), delivered and acknowledged by id.

#![allow(clippy::unwrap_used)]

use desk_core::*;
use wxpay::{Fen, OutTradeNo, TransactionId};

const NOW: i64 = 1_795_000_000;

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open(&dir.path().join("desk.sqlite3")).unwrap(), dir)
}

fn payment(no: &str, transaction: &str, fee: i64) -> Payment {
    Payment {
        out_trade_no: OutTradeNo::new(no).unwrap(),
        transaction_id: TransactionId::new(transaction).unwrap(),
        total_fee: Fen::new(fee),
        paid_at: NOW - 60,
        openid: None,
        trade_type: None,
        attach: None,
        source: PaymentSource::Notification,
    }
}

fn kinds(alerts: &[StoredAlert]) -> Vec<(AlertKind, &str, i64)> {
    alerts
        .iter()
        .map(|a| (a.kind, a.out_trade_no.as_str(), a.amount.get()))
        .collect()
}

#[test]
fn every_stored_payment_gets_one_alert_in_its_own_transaction() {
    let (store, _dir) = store();
    store
        .record_payment(&payment("A1", "4200000001", 12_30), NOW)
        .unwrap();
    // The same notification again: a duplicate, no second alert.
    store
        .record_payment(&payment("A1", "4200000001", 12_30), NOW)
        .unwrap();
    // A batch where one payment contradicts a stored one: that one rolls back, alert and all.
    let results = store.record_payments(
        &[
            payment("A2", "4200000002", 5),
            payment("A1", "4200000001", 99_99),
            payment("A3", "4200000003", 10_001_000),
        ],
        NOW,
    );
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    let alerts = store.unshown_alerts(0, 100).unwrap();
    assert_eq!(
        kinds(&alerts),
        [
            (AlertKind::OrderPaid, "A1", 12_30),
            (AlertKind::OrderPaid, "A2", 5),
            (AlertKind::OrderPaid, "A3", 10_001_000),
        ]
    );
    assert_eq!(
        alerts[0].at,
        NOW - 60,
        "an order's alert carries its payment time"
    );
}

#[test]
fn requests_and_final_refunds_alert_and_steps_on_the_way_do_not() {
    let (store, _dir) = store();
    store
        .record_payment(&payment("A1", "4200000001", 1000), NOW)
        .unwrap();
    let new_request = NewRequest {
        request_id: Some("shop-1".into()),
        out_trade_no: OutTradeNo::new("A1").unwrap(),
        refund_fee: Fen::new(400),
        reason: "尺码不合适".into(),
        customer: None,
    };
    let (request, _) = store.add_request(&new_request, NOW).unwrap();
    // The backend sending it again is the same request: no second alert.
    store.add_request(&new_request, NOW).unwrap();
    let owner = Approver {
        name: "owner".into(),
        limit: None,
    };
    let refund = store.approve(request, None, &owner, NOW).unwrap().refund;
    use RefundState::*;
    store.transition(refund, Approved, Submitting, NOW).unwrap();
    store
        .transition(refund, Submitting, Processing, NOW)
        .unwrap();
    store
        .transition(refund, Processing, Succeeded, NOW + 5)
        .unwrap();
    let alerts = store.unshown_alerts(0, 100).unwrap();
    assert_eq!(
        kinds(&alerts),
        [
            (AlertKind::OrderPaid, "A1", 1000),
            (AlertKind::RefundRequested, "A1", 400),
            (AlertKind::RefundSucceeded, "A1", 400),
        ]
    );
    assert_eq!(alerts[1].request, Some(request));
    assert_eq!(alerts[2].refund, Some(refund));
    assert_eq!(alerts[2].at, NOW + 5);
}

#[test]
fn shown_alerts_are_not_delivered_again_and_acknowledging_stops_reminders() {
    let (store, _dir) = store();
    for (n, fee) in [(1, 100), (2, 250), (3, 1)] {
        store
            .record_payment(
                &payment(&format!("A{n}"), &format!("420000000{n}"), fee),
                NOW,
            )
            .unwrap();
    }
    let first = store.unshown_alerts(0, 2).unwrap();
    assert_eq!(first.len(), 2, "the limit holds");
    store.mark_alerts_shown(first[1].id, NOW).unwrap();
    let rest = store.unshown_alerts(0, 100).unwrap();
    assert_eq!(kinds(&rest), [(AlertKind::OrderPaid, "A3", 1)]);
    assert_eq!(
        store.unseen_orders().unwrap(),
        Unseen {
            orders: 2,
            total: Fen::new(350),
            latest: Some(first[1].id),
        },
        "only shown orders are reminded of"
    );
    store.mark_alerts_shown(rest[0].id, NOW).unwrap();
    assert_eq!(store.unseen_orders().unwrap().orders, 3);
    // Acknowledging what the window showed (up to the second) leaves the newest one.
    assert_eq!(store.acknowledge_alerts(first[1].id, NOW).unwrap(), 2);
    assert_eq!(store.unseen_orders().unwrap().orders, 1);
    assert_eq!(
        store
            .acknowledge_alerts(store.last_alert().unwrap(), NOW)
            .unwrap(),
        1
    );
    assert_eq!(store.unseen_orders().unwrap(), Unseen::default());
    assert!(store.unshown_alerts(0, 100).unwrap().is_empty());
}

#[test]
fn the_outbox_survives_reopening() {
    let (store, dir) = store();
    store
        .record_payment(&payment("A1", "4200000001", 100), NOW)
        .unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("desk.sqlite3")).unwrap();
    assert_eq!(store.unshown_alerts(0, 10).unwrap().len(), 1);
}

#[test]
fn the_day_board_counts_the_day_by_hour_against_the_day_before() {
    let (store, _dir) = store();
    let day = NOW - NOW % 86_400;
    let at = |offset: i64, no: &str, transaction: &str, fee: i64| {
        let mut payment = payment(no, transaction, fee);
        payment.paid_at = day + offset;
        store.record_payment(&payment, NOW).unwrap();
    };
    at(9 * 3600 + 5, "T1", "4200000001", 1_000);
    at(9 * 3600 + 3599, "T2", "4200000002", 2_001);
    at(13 * 3600, "T3", "4200000003", 500);
    at(-86_400 + 9 * 3600, "Y1", "4200000004", 7_000);
    at(-1, "Y2", "4200000005", 300);
    at(86_400, "N1", "4200000006", 99);
    // A refund that succeeded this day counts; one that succeeded the day before does not.
    let owner = Approver {
        name: "owner".into(),
        limit: None,
    };
    for (no, fee, at) in [("T1", 400, day + 10 * 3600), ("Y1", 700, day - 3600)] {
        let request = NewRequest {
            request_id: None,
            out_trade_no: OutTradeNo::new(no).unwrap(),
            refund_fee: Fen::new(fee),
            reason: "尺码不合适".into(),
            customer: None,
        };
        let (request, _) = store.add_request(&request, NOW).unwrap();
        let refund = store.approve(request, None, &owner, NOW).unwrap().refund;
        use RefundState::*;
        store.transition(refund, Approved, Submitting, at).unwrap();
        store
            .transition(refund, Submitting, Processing, at)
            .unwrap();
        store.transition(refund, Processing, Succeeded, at).unwrap();
    }
    let board = store.day_board(day, 2).unwrap();
    assert_eq!((board.orders, board.takings), (3, Fen::new(3_501)));
    assert_eq!(board.average, Fen::new(1_167), "3,501 / 3 rounded");
    assert_eq!(board.hours.len(), 24);
    assert_eq!(board.hours[9], Fen::new(3_001));
    assert_eq!(board.hours[13], Fen::new(500));
    assert_eq!(board.hours_before[9], Fen::new(7_000));
    assert_eq!(board.hours_before[23], Fen::new(300));
    assert_eq!((board.refunds, board.refunded), (1, Fen::new(400)));
    let latest: Vec<_> = board
        .latest
        .iter()
        .map(|o| o.out_trade_no.as_str())
        .collect();
    assert_eq!(latest, ["N1", "T3"]);
    let empty = store.day_board(day + 10 * 86_400, 2).unwrap();
    assert_eq!((empty.orders, empty.average), (0, Fen::ZERO));
}
