//! The owner's queue on a staff desk: the owner's record of a request, as sent through the relay,
//! stored under the owner's numbers; and the outbox that says which records are due.

#![allow(clippy::unwrap_used)]

mod support;

use desk_core::*;
use support::owner;
use wxpay::{Fen, OutTradeNo, TransactionId};

const NOW: i64 = 1_795_000_000;

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open(&dir.path().join("desk.sqlite3")).unwrap(), dir)
}

fn paid(store: &Store, no: &str, fee: i64) {
    store
        .record_payment(
            &Payment {
                out_trade_no: OutTradeNo::new(no).unwrap(),
                transaction_id: TransactionId::new(format!("4200{no:0>24}")).unwrap(),
                total_fee: Fen::new(fee),
                paid_at: NOW - 60,
                openid: Some("oUser".into()),
                trade_type: Some("JSAPI".into()),
                attach: None,
                source: PaymentSource::Notification,
            },
            NOW,
        )
        .unwrap();
}

fn asked(store: &Store, no: &str, fee: i64, id: &str) -> i64 {
    store
        .add_request(
            &NewRequest {
                request_id: Some(id.into()),
                out_trade_no: OutTradeNo::new(no).unwrap(),
                refund_fee: Fen::new(fee),
                reason: "尺码不合适".into(),
                customer: Some("张三".into()),
            },
            NOW,
        )
        .unwrap()
        .0
}

/// Sends every due record from `from` to `to`, as the owner's desk and the relay do.
fn send_all(from: &Store, to: &Store) -> usize {
    let due = from.relay_outbox(100).unwrap();
    for &(request, version) in &due {
        let snapshot = from.queue_snapshot(request).unwrap().unwrap();
        // Through JSON, as on the wire.
        let wire = serde_json::to_string(&snapshot).unwrap();
        to.mirror(&serde_json::from_str(&wire).unwrap()).unwrap();
        from.relay_sent(request, version).unwrap();
    }
    due.len()
}

#[test]
fn a_staff_desk_shows_the_owners_queue_under_the_owners_numbers() {
    let (owner_desk, _a) = store();
    let (staff_desk, _b) = store();
    paid(&owner_desk, "A1", 9_900);
    paid(&owner_desk, "A2", 1_000);
    // The staff desk saw A2's payment itself (through the relay), not A1's.
    paid(&staff_desk, "A2", 1_000);
    let first = asked(&owner_desk, "A1", 3_000, "r-1");
    let second = asked(&owner_desk, "A2", 1_000, "r-2");
    assert_eq!(send_all(&owner_desk, &staff_desk), 2);
    assert!(owner_desk.relay_outbox(10).unwrap().is_empty(), "sent");

    owner_desk.approve(first, None, &owner(), NOW + 1).unwrap();
    owner_desk
        .reject(second, "已发货", "店长", NOW + 2)
        .unwrap();
    assert_eq!(send_all(&owner_desk, &staff_desk), 2);
    for request in [first, second] {
        assert_eq!(
            staff_desk.queue_item(request).unwrap(),
            owner_desk.queue_item(request).unwrap(),
            "request {request} the same on both desks"
        );
    }
    let staff_counts = staff_desk.queue_counts().unwrap();
    assert_eq!(
        staff_counts,
        owner_desk.queue_counts().unwrap(),
        "the tabs' counts too"
    );
    // The same record twice changes nothing.
    let again = owner_desk.queue_snapshot(first).unwrap().unwrap();
    staff_desk.mirror(&again).unwrap();
    assert_eq!(staff_desk.queue_counts().unwrap(), staff_counts);
}

#[test]
fn a_change_made_while_a_record_was_on_its_way_keeps_it_due() {
    let (desk, _dir) = store();
    paid(&desk, "B1", 5_000);
    let request = asked(&desk, "B1", 5_000, "r-9");
    let (due, version) = desk.relay_outbox(10).unwrap()[0];
    assert_eq!(due, request);
    // Approved while the record of the pending request was being sent.
    desk.approve(request, None, &owner(), NOW + 1).unwrap();
    desk.relay_sent(request, version).unwrap();
    let left = desk.relay_outbox(10).unwrap();
    assert_eq!(left.len(), 1, "the approval is still to be sent");
    assert!(left[0].1 > version);
}

#[test]
fn a_record_from_a_newer_desk_is_refused_whole() {
    let (owner_desk, _a) = store();
    let (staff_desk, _b) = store();
    paid(&owner_desk, "C1", 2_000);
    let request = asked(&owner_desk, "C1", 2_000, "r-3");
    let mut snapshot = owner_desk.queue_snapshot(request).unwrap().unwrap();
    snapshot
        .request
        .insert("column_of_a_newer_version".into(), serde_json::json!(1));
    assert!(matches!(
        staff_desk.mirror(&snapshot),
        Err(CoreError::MirrorFromNewerDesk(_))
    ));
    assert!(
        staff_desk.orders(None, 10).unwrap().is_empty(),
        "nothing half-written"
    );
}

/// The relay repeats or reorders the owner's records: a staff desk keeps the latest the owner
/// made, whichever arrives last.
#[test]
fn an_older_record_arriving_late_does_not_undo_a_newer_one() {
    let (owner_desk, _a) = store();
    let (staff_desk, _b) = store();
    paid(&owner_desk, "R1", 1000);
    let request = asked(&owner_desk, "R1", 300, "late-1");
    let wire = |store: &Store| {
        serde_json::to_string(&store.queue_snapshot(request).unwrap().unwrap()).unwrap()
    };
    let pending = wire(&owner_desk);
    owner_desk.approve(request, None, &owner(), NOW).unwrap();
    let approved = wire(&owner_desk);
    for record in [&approved, &pending, &approved, &pending] {
        staff_desk
            .mirror(&serde_json::from_str(record).unwrap())
            .unwrap();
    }
    let shown = staff_desk.queue(None, 10).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].state, QueueState::Approved, "{shown:?}");
    assert!(shown[0].refund.is_some());
}
