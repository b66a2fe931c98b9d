//! Proof by exhaustion, for the relay: the real owner's desk (`RunningDesk`, its link, its store
//! and engine) against the simulator as WeChat and a stand-in relay that speaks the relay's
//! protocol and misbehaves on purpose, through every sequence of up to three misdeeds.
//!
//! The alphabet (6 letters), one per connection the desk opens, in order; each connection ends
//! after its letter's part (the relay restarts), and once the letters are spent the stand-in is
//! honest and keeps the stream open:
//! - `Deliver`: the log after the desk's position, in order.
//! - `Duplicate`: every entry sent twice.
//! - `Drop`: the log without its first entry after the desk's position.
//! - `Reorder`: the first two entries swapped.
//! - `RollBack`: the relay's database goes back (a restored backup, a fail-over): the entries
//!   from the desk's last one on are lost and come again under new numbers (their senders
//!   retry), with a new payment after them, reusing numbers the desk passed; then the log.
//! - `Restart`: one entry only.
//!
//! The log: three paid orders, the backend's refund request for the first, a fourth order added
//! once the misdeeds are spent. The owner approves the request when it arrives; WeChat posts the
//! refund's notification to the stand-in, which adds it to the log.
//!
//! After every sequence: every order the relay holds was stored from its own notification and
//! alerted exactly once (the alert outbox), the request queued once, the desk's position is the log's last entry with nothing put aside, and
//! the refund ended succeeded with WeChat paying it exactly once.
//!
//! `cargo test` runs every sequence of up to two letters (43); `MERCHANT_DESK_RELAY_CAMPAIGN=full`
//! runs every sequence of up to three (259; RELIABILITY.md has the full run).

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use desk_core::{Approver, RefundState};
use desk_runtime::*;
use relay_protocol::{Entry, Hello, Kind};
use wxpay::SignType;
use wxpay_sim::{LedgerKind, NewOrder, SimConfig, SimHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    Deliver,
    Duplicate,
    Drop,
    Reorder,
    RollBack,
    Restart,
}

const ALPHABET: [Letter; 6] = [
    Letter::Deliver,
    Letter::Duplicate,
    Letter::Drop,
    Letter::Reorder,
    Letter::RollBack,
    Letter::Restart,
];

/// The stand-in relay's state: the shop's log and the misdeeds still to come.
#[derive(Default)]
struct Log {
    entries: Vec<Entry>,
    script: VecDeque<Letter>,
    /// Payments (WeChat-signed notifications of paid orders) a roll-back adds after what it lost.
    spare: VecDeque<String>,
}

impl Log {
    fn append(&mut self, kind: Kind, body: String, headers: Option<(String, String)>) {
        let seq = self.entries.len() as i64 + 1;
        let (timestamp, signature) = headers.unzip();
        self.entries.push(Entry {
            seq,
            kind,
            received_at: desk_core::unix_now(),
            body,
            timestamp,
            signature,
        });
    }

    fn after(&self, after: i64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|entry| entry.seq > after)
            .cloned()
            .collect()
    }
}

type Shared = Arc<Mutex<Log>>;

fn hello(log: &Log) -> String {
    let hello = Hello {
        first_seq: 1,
        last_seq: log.entries.len() as i64,
    };
    format!(
        "event: hello\ndata: {}\n\n",
        serde_json::to_string(&hello).unwrap()
    )
}

fn event(entry: &Entry) -> String {
    format!(
        "id: {}\nevent: entry\ndata: {}\n\n",
        entry.seq,
        serde_json::to_string(entry).unwrap()
    )
}

/// The desk's event stream, as the next letter has it.
async fn events(State(log): State<Shared>, headers: HeaderMap) -> Response {
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (first, honest) = {
        let mut log = log.lock().unwrap();
        let letter = log.script.pop_front();
        if letter == Some(Letter::RollBack) {
            let keep = usize::try_from((after - 1).max(0))
                .unwrap_or(0)
                .min(log.entries.len());
            let lost: Vec<Entry> = log.entries.split_off(keep);
            for entry in lost {
                log.append(entry.kind, entry.body, entry.timestamp.zip(entry.signature));
            }
            if let Some(body) = log.spare.pop_front() {
                log.append(Kind::PaymentNotification, body, None);
            }
        }
        let base = log.after(after);
        let mut text = hello(&log);
        let sent: Vec<&Entry> = match letter {
            None | Some(Letter::Deliver | Letter::RollBack) => base.iter().collect(),
            Some(Letter::Duplicate) => base.iter().flat_map(|entry| [entry, entry]).collect(),
            Some(Letter::Drop) => base.iter().skip(1).collect(),
            Some(Letter::Reorder) => {
                let mut swapped: Vec<&Entry> = base.iter().collect();
                if swapped.len() >= 2 {
                    swapped.swap(0, 1);
                }
                swapped
            }
            Some(Letter::Restart) => base.iter().take(1).collect(),
        };
        for entry in sent {
            text.push_str(&event(entry));
        }
        // Honest from here on: what comes later is sent as it comes.
        let honest = letter
            .is_none()
            .then(|| base.last().map_or(after, |e| e.seq));
        (text, honest)
    };
    let stream = futures_util::stream::unfold(
        (Some(first), honest, log),
        |(first, cursor, log)| async move {
            if let Some(first) = first {
                return Some((
                    Ok::<Bytes, std::io::Error>(Bytes::from(first)),
                    (None, cursor, log),
                ));
            }
            let mut cursor = cursor?;
            loop {
                let next = log.lock().unwrap().after(cursor);
                if !next.is_empty() {
                    let text: String = next.iter().map(event).collect();
                    cursor = next.last().map_or(cursor, |e| e.seq);
                    return Some((Ok(Bytes::from(text)), (None, Some(cursor), log)));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    );
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn refund_notify(State(log): State<Shared>, body: String) -> Response {
    log.lock()
        .unwrap()
        .append(Kind::RefundNotification, body, None);
    "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>".into_response()
}

async fn accepted() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn stand_in() -> (String, Shared) {
    let log = Shared::default();
    let router = Router::new()
        .route("/desk/v1/events", get(events))
        .route("/desk/v1/ack", post(accepted))
        .route("/desk/v1/updates", post(accepted))
        .route("/desk/v1/merchant", put(accepted))
        .route("/shops/{shop}/wxpay/refund-notify", post(refund_notify))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, log)
}

/// A payment notification for the simulator's paid order `order`, signed as WeChat signs it.
fn payment(sim: &SimHandle, order: &str) -> String {
    let paid = sim.order(order).unwrap();
    let c = sim.credentials();
    let fields = wxpay::Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", c.appid.to_string()),
        ("mch_id", c.mch_id.to_string()),
        ("nonce_str", format!("n{order}")),
        ("out_trade_no", order.to_owned()),
        ("transaction_id", paid.transaction_id.unwrap()),
        ("total_fee", paid.total_fee.to_string()),
        ("time_end", "20261203120000".to_owned()),
        ("trade_type", "JSAPI".to_owned()),
    ])
    .unwrap();
    wxpay::sign::sign_and_encode(fields, &c.api_key, SignType::HmacSha256).unwrap()
}

fn paid_order(sim: &SimHandle, fee: i64) -> String {
    let order = sim
        .create_order(NewOrder {
            total_fee: fee,
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    order.out_trade_no
}

/// A desk's data folder with the simulator's merchant set up and paired with the stand-in.
async fn owner_desk(sim: &SimHandle, base: &str, root: &std::path::Path) -> DataDir {
    let dir = DataDir::resolve(Some(root.to_owned())).unwrap();
    let c = sim.credentials();
    let setup = MerchantSetup {
        appid: c.appid.to_string(),
        mch_id: c.mch_id.to_string(),
        sign_type: SignType::HmacSha256,
        certificate: Some(CertificateFiles::P12(
            std::fs::read(&c.files.cert_p12).unwrap(),
        )),
        api_key: Some(c.api_key.clone()),
        cert_password: None,
        wechat: WechatServer {
            api_base: Some(sim.info().base_url.clone()),
            extra_ca: Some(c.files.ca_pem.clone()),
        },
    };
    let checked = check_setup(setup, Verify::Offline, SystemTime::now()).await;
    assert!(checked.passed(), "{:#?}", checked.checks());
    let mut config = checked
        .save(
            &dir,
            &Secrets::file(&dir.secrets_fallback()),
            ModeAfterSave::Production,
        )
        .unwrap();
    config.relay = Some(
        toml::from_str(&format!(
            "url = \"{base}\"\nshop = \"camp\"\ndesk_id = 1\nrole = \"owner\"\ntoken = \"mdr_campaign\"\nshop_key = \"k\"\n"
        ))
        .unwrap(),
    );
    config.save(&dir.config()).unwrap();
    dir
}

/// What broke.
#[derive(Debug)]
struct Broken(String);

async fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), Broken> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        if Instant::now() > deadline {
            return Err(Broken(format!("never: {what}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// One sequence: a fresh desk and log, the misdeeds, then every invariant.
async fn run(
    sim: &SimHandle,
    base: &str,
    log: &Shared,
    letters: &[Letter],
    root: &std::path::Path,
    n: usize,
) -> Result<(), Broken> {
    let orders: Vec<String> = [1000, 800, 600].map(|fee| paid_order(sim, fee)).to_vec();
    let request_id = format!("camp-{n}");
    let dir = owner_desk(sim, base, &root.join(format!("desk-{n}"))).await;
    let secret = Config::load(&dir.config())
        .unwrap()
        .unwrap()
        .intake
        .shared_secret;
    {
        let mut state = log.lock().unwrap();
        *state = Log {
            script: letters.iter().copied().collect(),
            spare: (0..letters.len())
                .map(|_| payment(sim, &paid_order(sim, 300)))
                .collect(),
            ..Log::default()
        };
        state.append(Kind::PaymentNotification, payment(sim, &orders[0]), None);
        state.append(Kind::PaymentNotification, payment(sim, &orders[1]), None);
        let body = format!(
            r#"{{"request_id":"{request_id}","out_trade_no":"{}","refund_fee":300,"reason":"campaign"}}"#,
            orders[0]
        );
        let now = desk_core::unix_now();
        let signature = backend_api::sign(&secret, now, body.as_bytes());
        state.append(
            Kind::RefundRequest,
            body,
            Some((now.to_string(), signature)),
        );
        state.append(Kind::PaymentNotification, payment(sim, &orders[2]), None);
    }
    let mut options = StartOptions::new(dir.clone());
    options.poll = Duration::from_millis(50);
    let desk = RunningDesk::start(options).await.unwrap();
    let result = check(sim, log, &desk, &orders, &request_id).await;
    desk.shutdown().await;
    result
}

async fn check(
    sim: &SimHandle,
    log: &Shared,
    desk: &RunningDesk,
    orders: &[String],
    request_id: &str,
) -> Result<(), Broken> {
    let store = desk.store().clone();
    // The misdeeds are spent once the desk has opened a connection for each.
    wait("every misdeed met", || {
        log.lock().unwrap().script.is_empty()
    })
    .await?;
    // A fourth order, once the relay behaves.
    let fourth = paid_order(sim, 400);
    log.lock()
        .unwrap()
        .append(Kind::PaymentNotification, payment(sim, &fourth), None);
    let last = || log.lock().unwrap().entries.len() as i64;
    wait("the desk at the log's end", || {
        desk.relay_status()
            .is_some_and(|s| s.position == last() && s.parked == 0)
    })
    .await?;
    // Every order whose payment the relay holds now (a roll-back's among them).
    let expected: Vec<String> = log
        .lock()
        .unwrap()
        .entries
        .iter()
        .filter(|entry| entry.kind == Kind::PaymentNotification)
        .map(|entry| {
            wxpay::xml::decode(entry.body.as_bytes())
                .unwrap()
                .get("out_trade_no")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(orders.iter().chain([&fourth]).all(|o| expected.contains(o)));
    // Each from its notification: an order stored only because its refund request made the
    // desk ask WeChat means the notification's entry was skipped.
    let books = rusqlite::Connection::open(store.path()).unwrap();
    for order in &expected {
        let source: Option<String> = books
            .query_row(
                "SELECT source FROM orders WHERE out_trade_no = ?1",
                [order],
                |row| row.get(0),
            )
            .ok();
        match source.as_deref() {
            Some("notification") => {}
            Some(other) => {
                return Err(Broken(format!(
                    "order {order} stored from {other}, its notification skipped"
                )));
            }
            None => return Err(Broken(format!("order {order} never stored"))),
        }
    }
    // Alerted once each: the alert outbox, written with the order, is what the alerts read.
    for order in &expected {
        let alerts: i64 = books
            .query_row(
                "SELECT COUNT(*) FROM alerts WHERE kind = 'order_paid' AND out_trade_no = ?1",
                [order],
                |row| row.get(0),
            )
            .unwrap();
        if alerts != 1 {
            return Err(Broken(format!("order {order} alerted {alerts} times")));
        }
    }
    let queue = store.queue(None, 100).unwrap();
    let requests: Vec<_> = queue
        .iter()
        .filter(|item| item.request_id.as_deref() == Some(request_id))
        .collect();
    if requests.len() != 1 {
        return Err(Broken(format!(
            "the request queued {} times",
            requests.len()
        )));
    }
    let approved = store
        .approve(
            requests[0].request,
            None,
            &Approver {
                name: "店长".into(),
                limit: None,
            },
            desk_core::unix_now(),
        )
        .map_err(|e| Broken(format!("approval refused: {e}")))?;
    wait("the refund succeeded", || {
        store
            .refund_by_number(approved.out_refund_no.as_str())
            .unwrap()
            .is_some_and(|r| r.state == RefundState::Succeeded)
    })
    .await?;
    let times = sim
        .ledger()
        .iter()
        .filter(|e| {
            e.kind == LedgerKind::Refund
                && e.out_refund_no.as_deref() == Some(approved.out_refund_no.as_str())
        })
        .count();
    if times != 1 {
        return Err(Broken(format!("WeChat paid the refund {times} times")));
    }
    wait("the desk at the log's end again", || {
        desk.relay_status()
            .is_some_and(|s| s.position == last() && s.parked == 0)
    })
    .await
}

fn sequences(full: bool) -> Vec<Vec<Letter>> {
    let mut all = vec![Vec::new()];
    for a in ALPHABET {
        all.push(vec![a]);
        for b in ALPHABET {
            all.push(vec![a, b]);
            if full {
                for c in ALPHABET {
                    all.push(vec![a, b, c]);
                }
            }
        }
    }
    all
}

#[test]
fn every_relay_misdeed_sequence_keeps_the_log_and_the_money_right() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    desk_runtime::allow_test_servers("the simulator as WeChat Pay, in tests");
    let full = std::env::var("MERCHANT_DESK_RELAY_CAMPAIGN").as_deref() == Ok("full");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (ran, failures) = runtime.block_on(async {
        let temp = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(temp.path().join("wechat"));
        config.refund_delay = Duration::from_millis(50);
        config.notifier.duplicate_probability = 0.0;
        let sim = wxpay_sim::start(config).await.unwrap();
        let (base, log) = stand_in().await;
        let mut failures = Vec::new();
        let all = sequences(full);
        for (n, letters) in all.iter().enumerate() {
            if let Err(Broken(why)) = run(&sim, &base, &log, letters, temp.path(), n).await {
                failures.push(format!("{letters:?}: {why}"));
            }
        }
        (all.len(), failures)
    });
    println!(
        "relay campaign: {ran} sequences, {} failed, {:.0} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} sequences broke the log or the money; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
