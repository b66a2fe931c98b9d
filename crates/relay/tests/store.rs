//! One suite for both stores: SQLite (a file) and PostgreSQL (a server of the test's own).
//! Each property is an async fn over any `Store`, run once per store.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use relay::store::{NewEntry, PostgresStore, Retention, ShopMerchant, Store};
use relay::{SqliteStore, unix_now};
use relay_protocol::{Kind, Role, token};
use support::Cluster;

fn payment(n: usize) -> NewEntry {
    NewEntry {
        kind: Kind::PaymentNotification,
        body: format!("<xml><out_trade_no>A{n}</out_trade_no></xml>"),
        timestamp: None,
        signature: None,
    }
}

async fn numbers_in_order_once_each<S: Store + Clone>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let other = store.add_shop("二店", unix_now()).await.unwrap();
    assert_ne!(shop.slug, other.slug);
    // Eight senders at once, each sending its notifications twice (WeChat's retries).
    let mut tasks = Vec::new();
    for sender in 0..8 {
        let store = store.clone();
        let shop_id = shop.id;
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                for _ in 0..2 {
                    store
                        .append(shop_id, payment(sender * 100 + n), unix_now())
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let entries = store.entries_after(shop.id, 0, 1_000).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>(),
        "numbered 1, 2, 3, ... with no gap and no repeat"
    );
    let mut bodies: Vec<_> = entries.iter().map(|e| e.body.clone()).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 200, "each notification stored once");
    assert_eq!(store.entries_after(shop.id, 195, 3).await.unwrap().len(), 3);
    let hello = store.bounds(shop.id).await.unwrap();
    assert_eq!((hello.first_seq, hello.last_seq), (1, 200));
    // Another shop's log is its own.
    assert!(
        store
            .entries_after(other.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let first = store
        .append(other.id, payment(1), unix_now())
        .await
        .unwrap();
    assert_eq!((first.seq, first.new), (1, true));
    let again = store
        .append(other.id, payment(1), unix_now())
        .await
        .unwrap();
    assert_eq!((again.seq, again.new), (1, false));
}

async fn a_refund_request_keeps_its_headers<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let entry = NewEntry {
        kind: Kind::RefundRequest,
        body: r#"{"request_id":"r1"}"#.into(),
        timestamp: Some("1795000000".into()),
        signature: Some("ab".repeat(32)),
    };
    store
        .append(shop.id, entry.clone(), 1_795_000_001)
        .await
        .unwrap();
    let stored = &store.entries_after(shop.id, 0, 1).await.unwrap()[0];
    assert_eq!(stored.kind, Kind::RefundRequest);
    assert_eq!(stored.received_at, 1_795_000_001);
    assert_eq!(
        (&stored.timestamp, &stored.signature),
        (&entry.timestamp, &entry.signature)
    );
    // The same body with another signature is another request.
    let resent = NewEntry {
        signature: Some("cd".repeat(32)),
        ..entry
    };
    assert!(store.append(shop.id, resent, unix_now()).await.unwrap().new);
}

async fn pairing_codes_work_once_and_revoked_desks_are_gone<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let now = unix_now();
    store
        .add_pairing(
            shop.id,
            Role::Owner,
            &token::digest("CLAIM001"),
            None,
            now + 600,
            now,
        )
        .await
        .unwrap();
    store
        .add_pairing(
            shop.id,
            Role::Staff,
            &token::digest("CLAIM002"),
            Some("sealed".into()),
            now - 1,
            now - 700,
        )
        .await
        .unwrap();
    let paired = store
        .claim_pairing(
            &token::digest("CLAIM001"),
            "店长",
            &token::digest("tok1"),
            now,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((paired.desk.role, paired.shop.id), (Role::Owner, shop.id));
    assert!(
        store
            .claim_pairing(
                &token::digest("CLAIM001"),
                "又一台",
                &token::digest("tok2"),
                now
            )
            .await
            .unwrap()
            .is_none(),
        "used"
    );
    assert!(
        store
            .claim_pairing(
                &token::digest("CLAIM002"),
                "收银台",
                &token::digest("tok3"),
                now
            )
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let desk = store.desk(&token::digest("tok1")).await.unwrap().unwrap();
    assert_eq!(desk.id, paired.desk.id);
    store.seen(desk.id, Some(7), now).await.unwrap();
    store.seen(desk.id, Some(3), now + 1).await.unwrap();
    let listed = store.desks(shop.id).await.unwrap();
    assert_eq!(
        (listed[0].acked_seq, listed[0].last_seen_at),
        (7, Some(now + 1))
    );
    let other = store.add_shop("二店", now).await.unwrap();
    assert!(
        !store.revoke(other.id, desk.id, now).await.unwrap(),
        "another shop's desk"
    );
    assert!(store.revoke(shop.id, desk.id, now).await.unwrap());
    assert!(store.desk(&token::digest("tok1")).await.unwrap().is_none());
    assert!(store.desks(shop.id).await.unwrap()[0].revoked);
}

/// A shop keeps the merchant it was told, and one owner's desk: pairing a new one revokes the
/// one before (its token no longer opens anything), staff desks stay.
async fn a_shop_has_one_owners_desk_and_its_merchant<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    assert_eq!(
        store.shop(&shop.slug).await.unwrap().unwrap().merchant,
        None
    );
    let merchant = ShopMerchant {
        appid: "wx2421b1c4370ec43b".into(),
        mch_id: "10000100".into(),
    };
    store.set_merchant(shop.id, merchant.clone()).await.unwrap();
    assert_eq!(
        store.shop(&shop.slug).await.unwrap().unwrap().merchant,
        Some(merchant.clone())
    );
    assert_eq!(store.shops().await.unwrap()[0].merchant, Some(merchant));
    let now = unix_now();
    let pair = async |claim: &str, role: Role, token: &str| {
        store
            .add_pairing(shop.id, role, &token::digest(claim), None, now + 600, now)
            .await
            .unwrap();
        store
            .claim_pairing(&token::digest(claim), claim, &token::digest(token), now)
            .await
            .unwrap()
            .unwrap()
    };
    let first = pair("OWNER001", Role::Owner, "t1").await;
    assert!(first.replaced.is_empty());
    let staff = pair("STAFF001", Role::Staff, "t2").await;
    assert!(staff.replaced.is_empty(), "a staff desk replaces nobody");
    let second = pair("OWNER002", Role::Owner, "t3").await;
    assert_eq!(second.replaced, [first.desk.id]);
    assert!(store.desk(&token::digest("t1")).await.unwrap().is_none());
    assert!(store.desk(&token::digest("t2")).await.unwrap().is_some());
    assert!(store.desk(&token::digest("t3")).await.unwrap().is_some());
}

async fn retention_waits_for_every_desk<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let now = unix_now();
    for n in 0..6 {
        store.append(shop.id, payment(n), now).await.unwrap();
    }
    for (claim, token, acked) in [("CLAIMAAA", "ta", 6), ("CLAIMBBB", "tb", 4)] {
        store
            .add_pairing(
                shop.id,
                Role::Staff,
                &token::digest(claim),
                None,
                now + 60,
                now,
            )
            .await
            .unwrap();
        let paired = store
            .claim_pairing(&token::digest(claim), claim, &token::digest(token), now)
            .await
            .unwrap()
            .unwrap();
        store.seen(paired.desk.id, Some(acked), now).await.unwrap();
    }
    let retention = Retention::default();
    assert_eq!(
        store.prune(retention, now + 60).await.unwrap(),
        0,
        "too recent"
    );
    assert_eq!(
        store
            .prune(retention, now + retention.acknowledged + 1)
            .await
            .unwrap(),
        4,
        "what both desks stored"
    );
    assert_eq!(store.bounds(shop.id).await.unwrap().first_seq, 5);
    assert_eq!(
        store
            .prune(retention, now + retention.at_most + 1)
            .await
            .unwrap(),
        2
    );
    let hello = store.bounds(shop.id).await.unwrap();
    assert_eq!((hello.first_seq, hello.last_seq), (7, 6));
    // Numbering goes on after everything was removed.
    assert_eq!(
        store.append(shop.id, payment(99), now).await.unwrap().seq,
        7
    );
}

async fn an_append_wakes_the_streams<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let mut changes = store.changes();
    changes.borrow_and_update();
    store.append(shop.id, payment(1), unix_now()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), changes.changed())
        .await
        .expect("woken")
        .unwrap();
}

async fn forwards_are_claimed_one_at_a_time_until_taken<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    let now = unix_now();
    store.append(shop.id, payment(0), now).await.unwrap();
    store
        .set_forward(shop.id, Some("http://127.0.0.1:9/notify".into()))
        .await
        .unwrap();
    assert_eq!(
        store
            .shop(&shop.slug)
            .await
            .unwrap()
            .unwrap()
            .forward_url
            .as_deref(),
        Some("http://127.0.0.1:9/notify")
    );
    // Only payments appended from now on, and only payment notifications.
    store.append(shop.id, payment(1), now).await.unwrap();
    store.append(shop.id, payment(1), now).await.unwrap();
    let request = NewEntry {
        kind: Kind::RefundRequest,
        body: "{}".into(),
        timestamp: Some("1".into()),
        signature: Some("s".into()),
    };
    store.append(shop.id, request, now).await.unwrap();
    store.append(shop.id, payment(2), now).await.unwrap();
    assert_eq!(store.forward_backlog(shop.id).await.unwrap().pending, 2);

    let claimed = store.claim_forwards(now, 60, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|f| f.seq).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(claimed[0].body, payment(1).body);
    assert!(
        store
            .claim_forwards(now + 30, 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    store.forward_done(shop.id, 2, now + 1).await.unwrap();
    store
        .forward_failed(shop.id, 4, now + 15, "refused")
        .await
        .unwrap();
    assert!(
        store
            .claim_forwards(now + 10, 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let again = store.claim_forwards(now + 15, 60, 10).await.unwrap();
    assert_eq!((again.len(), again[0].seq, again[0].attempts), (1, 4, 1));
    // A claim whose instance died is taken again once its lease is over.
    let retaken = store.claim_forwards(now + 15 + 61, 60, 10).await.unwrap();
    assert_eq!(retaken.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![4]);
    let backlog = store.forward_backlog(shop.id).await.unwrap();
    assert_eq!((backlog.pending, backlog.oldest), (1, Some(now)));
    store.set_forward(shop.id, None).await.unwrap();
    store.append(shop.id, payment(3), now).await.unwrap();
    assert_eq!(store.forward_backlog(shop.id).await.unwrap().pending, 1);
}

async fn each_property<S: Store + Clone>(open: impl AsyncFn() -> S) {
    numbers_in_order_once_each(open().await).await;
    a_refund_request_keeps_its_headers(open().await).await;
    pairing_codes_work_once_and_revoked_desks_are_gone(open().await).await;
    retention_waits_for_every_desk(open().await).await;
    an_append_wakes_the_streams(open().await).await;
    forwards_are_claimed_one_at_a_time_until_taken(open().await).await;
    a_shop_has_one_owners_desk_and_its_merchant(open().await).await;
}

/// A database written by the first schema is carried forward when a newer relay opens it.
#[tokio::test]
async fn a_first_schema_sqlite_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.sqlite3");
    let shop = {
        let store = SqliteStore::open(&path).unwrap();
        store.add_shop("老店", unix_now()).await.unwrap()
    };
    // Back to the first schema, as a relay of that version left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE shops DROP COLUMN appid; ALTER TABLE shops DROP COLUMN mch_id;
         DROP INDEX forwards_pending; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let found = store.shop(&shop.slug).await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.merchant), ("老店", None));
    let merchant = ShopMerchant {
        appid: "wx2421b1c4370ec43b".into(),
        mch_id: "10000100".into(),
    };
    store.set_merchant(shop.id, merchant.clone()).await.unwrap();
    assert_eq!(
        store.shop(&shop.slug).await.unwrap().unwrap().merchant,
        Some(merchant)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicU32::new(0);
    each_property(async || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SqliteStore::open(&dir.path().join(format!("relay-{i}.sqlite3"))).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store() {
    let cluster = Arc::new(Cluster::start());
    let n = std::sync::atomic::AtomicU32::new(0);
    each_property(async || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PostgresStore::open(&cluster.database(&format!("relay{i}")))
            .await
            .unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_number_one_log_and_wake_each_other() {
    let cluster = Cluster::start();
    let url = cluster.database("shared");
    let (a, b) = (
        PostgresStore::open(&url).await.unwrap(),
        PostgresStore::open(&url).await.unwrap(),
    );
    let shop = a.add_shop("一店", unix_now()).await.unwrap();
    assert_eq!(b.shop(&shop.slug).await.unwrap().unwrap().id, shop.id);
    let mut woken = b.changes();
    woken.borrow_and_update();
    let (ta, tb) = (a.clone(), b.clone());
    let senders = [
        tokio::spawn(async move {
            for n in 0..50 {
                ta.append(shop.id, payment(n), unix_now()).await.unwrap();
            }
        }),
        tokio::spawn(async move {
            for n in 25..75 {
                tb.append(shop.id, payment(n), unix_now()).await.unwrap();
            }
        }),
    ];
    for sender in senders {
        sender.await.unwrap();
    }
    let seqs: Vec<i64> = b
        .entries_after(shop.id, 0, 1_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=75).collect::<Vec<_>>(),
        "one log, numbered once, shared twice"
    );
    // B's streams were woken by A's appends through LISTEN/NOTIFY (B's own wake too).
    tokio::time::timeout(Duration::from_secs(30), woken.changed())
        .await
        .unwrap()
        .unwrap();
    let mut woken = b.changes();
    woken.borrow_and_update();
    a.append(shop.id, payment(1_000), unix_now()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), woken.changed())
        .await
        .expect("instance B hears of instance A's append")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_claiming_forwards_at_once_never_take_the_same_one() {
    let cluster = Cluster::start();
    let url = cluster.database("forwards");
    let (a, b) = (
        PostgresStore::open(&url).await.unwrap(),
        PostgresStore::open(&url).await.unwrap(),
    );
    let shop = a.add_shop("一店", unix_now()).await.unwrap();
    a.set_forward(shop.id, Some("http://127.0.0.1:9/".into()))
        .await
        .unwrap();
    for n in 0..60 {
        a.append(shop.id, payment(n), unix_now()).await.unwrap();
    }
    let claimer = |store: PostgresStore| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_forwards(unix_now(), 600, 3).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|f| f.seq));
            }
        })
    };
    let (from_a, from_b) = (claimer(a.clone()), claimer(b.clone()));
    let (from_a, from_b) = (from_a.await.unwrap(), from_b.await.unwrap());
    let mut all: Vec<i64> = from_a.iter().chain(&from_b).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=60).collect::<Vec<_>>(),
        "each once: {from_a:?} / {from_b:?}"
    );
}

/// A flood of notifications naming the shop's merchant cannot queue a day of forwards ahead of
/// the genuine ones: past the cap, new ones are kept for the desks but not passed on.
async fn pending_forwards_are_capped<S: Store>(store: S) {
    let shop = store.add_shop("一店", unix_now()).await.unwrap();
    store
        .set_forward(shop.id, Some("https://backend.example.com/notify".into()))
        .await
        .unwrap();
    for n in 0..5 {
        store.append(shop.id, payment(n), unix_now()).await.unwrap();
    }
    assert_eq!(store.forward_backlog(shop.id).await.unwrap().pending, 3);
    assert_eq!(
        store.bounds(shop.id).await.unwrap().last_seq,
        5,
        "all kept for the desks"
    );
    let due = store.claim_forwards(unix_now(), 60, 10).await.unwrap();
    for forward in due {
        store
            .forward_done(forward.shop_id, forward.seq, unix_now())
            .await
            .unwrap();
    }
    store.append(shop.id, payment(6), unix_now()).await.unwrap();
    assert_eq!(
        store.forward_backlog(shop.id).await.unwrap().pending,
        1,
        "room again once the backend took them"
    );
}

#[tokio::test]
async fn sqlite_caps_pending_forwards() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.sqlite3"))
        .unwrap()
        .with_forward_cap(3);
    pending_forwards_are_capped(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_caps_pending_forwards() {
    let cluster = Cluster::start();
    let store = PostgresStore::open(&cluster.database("capped"))
        .await
        .unwrap()
        .with_forward_cap(3);
    pending_forwards_are_capped(store).await;
}
