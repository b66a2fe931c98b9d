//! The alert delivery loop on a real SQLite file: what waited at start comes as one summary,
//! new rows as they commit, what committed just before a stop is still delivered, and a row
//! marked shown is never delivered again, across a restart of the loop.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desk_core::{CoreError, Payment, PaymentSource, Store, StoredAlert, unix_now};
use desk_runtime::{Alert, AlertKind, AlertSettings, AlertSink, Alerter, Language};
use tokio::sync::watch;
use wxpay::{Fen, OutTradeNo, TransactionId};

/// An alert handed over, with the outbox rows it covered.
type Delivered = (Alert, Vec<i64>);

/// A sink that keeps what it was handed (the test's eyes; the app shows it on the desktop).
#[derive(Clone, Default)]
struct RecordingSink(Arc<Mutex<Vec<Delivered>>>);

impl AlertSink for RecordingSink {
    fn deliver(&mut self, alert: &Alert, facts: &[StoredAlert]) {
        self.0
            .lock()
            .unwrap()
            .push((alert.clone(), facts.iter().map(|f| f.id).collect()));
    }

    fn trouble(&mut self, error: &CoreError) {
        panic!("the outbox failed: {error}");
    }
}

impl RecordingSink {
    fn delivered(&self) -> Vec<Delivered> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, done: impl Fn(&[Delivered]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.delivered()) {
            assert!(
                Instant::now() < deadline,
                "waited for {what}: {:#?}",
                self.delivered()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn pay(store: &Store, n: u32, paid_at: i64) {
    let payment = Payment {
        out_trade_no: OutTradeNo::new(format!("A{n}")).unwrap(),
        transaction_id: TransactionId::new(format!("42000000{n:04}")).unwrap(),
        total_fee: Fen::new(1_000 + i64::from(n)),
        paid_at,
        openid: None,
        trade_type: None,
        attach: None,
        source: PaymentSource::Notification,
    };
    store.record_payment(&payment, unix_now()).unwrap();
}

fn start(
    store: &Arc<Store>,
    sink: &RecordingSink,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let alerter = Alerter::new(AlertSettings::default(), Language::En);
    let task = tokio::spawn(desk_runtime::deliver_alerts(
        unix_now(),
        store.clone(),
        Arc::new(Mutex::new(alerter)),
        store.subscribe(),
        sink.clone(),
        stopped,
    ));
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_delivered_once_with_a_summary_first_and_the_last_rows_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("desk.sqlite3")).unwrap());
    // Paid while nothing delivered (the desk closed).
    for n in 1..=3 {
        pay(&store, n, unix_now() - 600);
    }
    let sink = RecordingSink::default();
    let (stop, task) = start(&store, &sink);
    sink.wait_for("the summary", |d| !d.is_empty()).await;
    let first = sink.delivered();
    assert_eq!(first.len(), 1, "one summary, not three pop-ups");
    assert_eq!(first[0].0.kind, AlertKind::WhileClosed);
    assert_eq!(
        first[0].0.title,
        "3 orders, ¥30.06 while the desk was closed"
    );
    assert_eq!(first[0].1, [1, 2, 3]);

    // Paid now: its own alert, as it commits.
    pay(&store, 4, unix_now());
    sink.wait_for("the new order", |d| d.len() == 2).await;
    assert_eq!(sink.delivered()[1].0.kind, AlertKind::NewOrder);
    assert_eq!(sink.delivered()[1].1, [4]);

    // Committed just before the stop: delivered before the loop ends.
    pay(&store, 5, unix_now());
    stop.send(true).unwrap();
    task.await.unwrap();
    let delivered = sink.delivered();
    let mut ids: Vec<i64> = delivered.iter().flat_map(|(_, ids)| ids.clone()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3, 4, 5], "every row handed over exactly once");
    assert!(
        store.unshown_alerts(0, 10).unwrap().is_empty(),
        "and marked shown"
    );

    // Started again: nothing waits, so no summary; the next order is alerted on its own.
    let again = RecordingSink::default();
    let (stop, task) = start(&store, &again);
    pay(&store, 6, unix_now());
    again.wait_for("the next order", |d| !d.is_empty()).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let delivered = again.delivered();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(
        (delivered[0].0.kind, delivered[0].1.clone()),
        (AlertKind::NewOrder, vec![6])
    );
}
