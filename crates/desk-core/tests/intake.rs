//! The intake on a real socket, with the simulator as WeChat and a real SQLite file.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod support;

use desk_core::intake::{IntakeState, SIGNATURE_HEADER, TIMESTAMP_HEADER, router};
use desk_core::*;
use support::owner;
use wxpay::*;
use wxpay_client::{HttpsTransport, WxPayClient};
use wxpay_sim::{NewOrder, SimConfig, SimHandle};

const SECRET: &str = "intake-shared-secret";

struct Desk {
    sim: SimHandle,
    store: Arc<Store>,
    url: String,
    events: tokio::sync::broadcast::Receiver<DeskEvent>,
    http: reqwest::Client,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn client_for(sim: &SimHandle) -> WxPayClient<HttpsTransport> {
    support::client_for(sim, SignType::Md5)
}

impl Desk {
    async fn start(duplicates: f64) -> Desk {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim_dir = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(sim_dir.path());
        config.refund_delay = Duration::from_millis(100);
        config.notifier.time_scale = 0.001;
        config.notifier.duplicate_probability = duplicates;
        let sim = wxpay_sim::start(config).await.unwrap();
        let desk_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&desk_dir.path().join("desk.sqlite3")).unwrap());
        let receiver = store.subscribe();
        let state = Arc::new(IntakeState::new(
            store.clone(),
            client_for(&sim),
            SECRET.into(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
        Desk {
            sim,
            store,
            url,
            events: receiver,
            http: reqwest::Client::new(),
            _dirs: (sim_dir, desk_dir),
        }
    }

    fn merchant(&self) -> Merchant {
        client_for(&self.sim).merchant().clone()
    }

    fn paid_order(&self, total: i64) -> String {
        let order = self
            .sim
            .create_order(NewOrder {
                total_fee: total,
                notify_url: Some(format!("{}/wxpay/notify", self.url)),
                ..Default::default()
            })
            .unwrap();
        self.sim.pay(&order.out_trade_no).unwrap();
        order.out_trade_no
    }

    /// Up to 30 s: on a busy machine the simulator's notifier may be slow to get its turn.
    async fn wait_for_order(&self, out_trade_no: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if self.store.order(out_trade_no).unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order {out_trade_no} never arrived");
    }

    /// A refund request of `fee` on `order`, approved by the owner.
    fn approved(&self, order: &str, fee: i64) -> ApprovedRefund {
        let (request, _) = self
            .store
            .add_request(
                &NewRequest {
                    request_id: None,
                    out_trade_no: OutTradeNo::new(order).unwrap(),
                    refund_fee: Fen::new(fee),
                    reason: "r".into(),
                    customer: None,
                },
                now(),
            )
            .unwrap();
        self.store.approve(request, None, &owner(), now()).unwrap()
    }

    fn drain_events(&mut self) -> Vec<DeskEvent> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }

    async fn post_request(
        &self,
        body: &serde_json::Value,
        timestamp: i64,
        secret: &str,
    ) -> (u16, serde_json::Value) {
        let (status, text) = self
            .post_signed(body.to_string().into_bytes(), timestamp, secret)
            .await;
        (status, serde_json::from_str(&text).unwrap())
    }

    /// Any bytes as a refund request, signed with `secret`; the status and the answer's text.
    async fn post_signed(&self, body: Vec<u8>, timestamp: i64, secret: &str) -> (u16, String) {
        let signature = desk_core::intake::sign_request(secret, timestamp, &body);
        let response = self
            .http
            .post(format!("{}/api/v1/refund-requests", self.url))
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn notification_body(
    merchant: &Merchant,
    out_trade_no: &str,
    transaction_id: &str,
    total: i64,
) -> String {
    let fields = Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", merchant.appid.to_string()),
        ("mch_id", merchant.mch_id.to_string()),
        ("nonce_str", "abc".to_owned()),
        ("out_trade_no", out_trade_no.to_owned()),
        ("transaction_id", transaction_id.to_owned()),
        ("total_fee", total.to_string()),
        ("time_end", "20261123162533".to_owned()),
        ("trade_type", "JSAPI".to_owned()),
    ])
    .unwrap();
    wxpay::sign::sign_and_encode(fields, &merchant.api_key, SignType::HmacSha256).unwrap()
}

#[tokio::test]
async fn a_payment_notification_becomes_one_order_and_one_event() {
    let mut desk = Desk::start(1.0).await; // every notification is also sent a second time
    let order = desk.paid_order(1234);
    desk.wait_for_order(&order).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = desk.store.order(&order).unwrap().unwrap();
    assert_eq!(stored.total_fee, Fen::new(1234));
    let events = desk.drain_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(&events[0], DeskEvent::OrderPaid { out_trade_no, .. } if *out_trade_no == order)
    );
    let acknowledged = desk
        .sim
        .deliveries()
        .iter()
        .filter(|d| d.acknowledged)
        .count();
    assert!(
        acknowledged >= 1,
        "WeChat got SUCCESS: {:?}",
        desk.sim.deliveries()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_store_one_order() {
    let mut desk = Desk::start(0.0).await;
    let body = notification_body(
        &desk.merchant(),
        "DUP-1",
        "4200000000000000000000000001",
        500,
    );
    // Sixteen copies in flight at once, released together.
    let start = Arc::new(tokio::sync::Barrier::new(16));
    let sends: Vec<_> = (0..16)
        .map(|_| {
            let (http, url, body, start) = (
                desk.http.clone(),
                format!("{}/wxpay/notify", desk.url),
                body.clone(),
                start.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                http.post(url)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for send in sends {
        assert_eq!(
            send.await.unwrap(),
            SUCCESS_REPLY,
            "every copy is acknowledged"
        );
    }
    assert_eq!(desk.drain_events().len(), 1, "one order, one alert");
    assert!(desk.store.order("DUP-1").unwrap().is_some());
}

#[tokio::test]
async fn forged_and_foreign_notifications_change_nothing() {
    let mut desk = Desk::start(0.0).await;
    let genuine = notification_body(&desk.merchant(), "F-1", "4200000000000000000000000002", 500);
    let tampered = genuine.replace("<total_fee>500</total_fee>", "<total_fee>50000</total_fee>");
    let foreign_key = Merchant {
        api_key: ApiKey::new("x".repeat(32)).unwrap(),
        ..desk.merchant()
    };
    let foreign = notification_body(&foreign_key, "F-2", "4200000000000000000000000003", 500);
    let xxe = "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>"
        .to_owned();
    for body in [
        tampered,
        foreign,
        xxe,
        "garbage".to_owned(),
        "x".repeat(100_000),
    ] {
        let response = desk
            .http
            .post(format!("{}/wxpay/notify", desk.url))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            status == 413 || text.contains("<return_code><![CDATA[FAIL]]></return_code>"),
            "{status} {text}"
        );
    }
    assert!(
        desk.store.order("F-1").unwrap().is_none() && desk.store.order("F-2").unwrap().is_none()
    );
    assert!(desk.drain_events().is_empty());
}

#[tokio::test]
async fn signed_refund_requests_are_queued_once() {
    let mut desk = Desk::start(0.0).await;
    let order = desk.paid_order(1000);
    desk.wait_for_order(&order).await;
    desk.drain_events();
    let body = serde_json::json!({ "request_id": "shop-1", "out_trade_no": order, "refund_fee": 300, "reason": "尺码不合适", "customer": "张三" });
    let t = now();
    let (status, answer) = desk.post_request(&body, t, SECRET).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["state"], "pending");
    assert!(
        matches!(desk.drain_events().as_slice(), [DeskEvent::RefundRequested { refund_fee, .. }] if *refund_fee == Fen::new(300))
    );

    let (status, answer) = desk.post_request(&body, t, SECRET).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("replayed")));
    let (status, answer) = desk.post_request(&body, t + 1, SECRET).await;
    assert_eq!(
        (status, answer["created"].as_bool()),
        (200, Some(false)),
        "a retry with the same request_id is the same request"
    );
    assert!(desk.drain_events().is_empty(), "no second event");
}

#[tokio::test]
async fn a_retry_of_the_same_bytes_after_a_failure_is_processed() {
    // Reproduction: the intake remembered a request's signature before storing it, so when
    // storing failed for a moment the backend's identical retry got 409 `replayed` and the
    // customer's request was lost.
    let desk = Desk::start(0.0).await;
    // Paid in WeChat; its notification never reached the desk, so the intake asks WeChat.
    let order = desk
        .sim
        .create_order(NewOrder {
            total_fee: 1000,
            ..Default::default()
        })
        .unwrap();
    desk.sim.pay(&order.out_trade_no).unwrap();
    let body = serde_json::json!({ "request_id": "retry-1", "out_trade_no": order.out_trade_no, "refund_fee": 500, "reason": "不想要了" });
    let t = now();
    for (fault, expected) in [
        (
            wxpay_sim::Fault::HttpStatus {
                status: 502,
                after_record: false,
            },
            (502, "wechat_unavailable"),
        ),
        (
            wxpay_sim::Fault::Drop {
                after_record: false,
            },
            (502, "wechat_unavailable"),
        ),
    ] {
        desk.sim.inject(wxpay_sim::FaultPlan {
            endpoint: wxpay_sim::Endpoint::OrderQuery,
            fault,
            count: 1,
        });
        let (status, answer) = desk.post_request(&body, t, SECRET).await;
        assert_eq!(
            (status, answer["code"].as_str().unwrap_or_default()),
            expected,
            "{answer}"
        );
    }
    let (status, answer) = desk.post_request(&body, t, SECRET).await;
    assert_eq!(
        status, 201,
        "the same bytes, retried after failures, are stored: {answer}"
    );
    let (status, answer) = desk.post_request(&body, t, SECRET).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("replayed")),
        "once stored, the same bytes are a replay"
    );
}

#[tokio::test]
async fn refund_requests_are_authenticated_and_checked() {
    let desk = Desk::start(0.0).await;
    let order = desk.paid_order(1000);
    desk.wait_for_order(&order).await;
    let body = |fee: i64| serde_json::json!({ "request_id": format!("r{fee}"), "out_trade_no": order, "refund_fee": fee, "reason": "质量问题" });
    let cases = [
        (desk.post_request(&body(1), now(), "wrong-secret").await, 401, "bad_signature"),
        (desk.post_request(&body(2), now() - 301, SECRET).await, 401, "stale_request"),
        (desk.post_request(&body(1001), now(), SECRET).await, 422, "invalid_amount"),
        (desk.post_request(&body(-5), now(), SECRET).await, 400, "invalid_request"),
        (desk.post_request(&serde_json::json!({ "request_id": "x", "out_trade_no": order, "transaction_id": "4200", "refund_fee": 1, "reason": "r" }), now(), SECRET).await, 400, "invalid_request"),
        (desk.post_request(&serde_json::json!({ "request_id": "x", "out_trade_no": "NOPE", "refund_fee": 1, "reason": "r" }), now(), SECRET).await, 404, "order_unknown"),
    ];
    for ((status, answer), expected_status, expected_code) in cases {
        assert_eq!(
            (status, answer["code"].as_str().unwrap()),
            (expected_status, expected_code),
            "{answer}"
        );
    }
    let unsigned = desk
        .http
        .post(format!("{}/api/v1/refund-requests", desk.url))
        .body(body(3).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let conn = rusqlite::Connection::open(desk.store.path()).unwrap();
    let queued: i64 = conn
        .query_row("SELECT COUNT(*) FROM refund_requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0, "nothing refused was stored");
}

#[tokio::test]
async fn an_order_the_desk_has_not_seen_is_asked_of_wechat_first() {
    let desk = Desk::start(0.0).await;
    // Paid in WeChat, but its notification never reached the desk.
    let order = desk
        .sim
        .create_order(NewOrder {
            total_fee: 800,
            ..Default::default()
        })
        .unwrap();
    let paid = desk.sim.pay(&order.out_trade_no).unwrap();
    let by_transaction = serde_json::json!({ "request_id": "t1", "transaction_id": paid.transaction_id, "refund_fee": 800, "reason": "不想要了" });
    let (status, answer) = desk.post_request(&by_transaction, now(), SECRET).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        desk.store
            .order(&order.out_trade_no)
            .unwrap()
            .unwrap()
            .total_fee,
        Fen::new(800)
    );

    let unpaid = desk
        .sim
        .create_order(NewOrder {
            total_fee: 100,
            ..Default::default()
        })
        .unwrap();
    let (status, answer) = desk.post_request(&serde_json::json!({ "request_id": "u1", "out_trade_no": unpaid.out_trade_no, "refund_fee": 100, "reason": "r" }), now(), SECRET).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("order_not_paid")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_refund_notification_through_the_intake_settles_the_refund() {
    let mut desk = Desk::start(0.0).await;
    let order = desk.paid_order(1000);
    desk.wait_for_order(&order).await;
    let approved = desk.approved(&order, 250);
    let settings = EngineSettings {
        // Only the notification makes it due before an hour: it is asked of WeChat then.
        first_check_after: Duration::from_secs(3600),
        notify_url: Some(format!("{}/wxpay/refund-notify", desk.url)),
        ..EngineSettings::default()
    };
    let engine = Engine::new(desk.store.clone(), client_for(&desk.sim), settings);
    desk.drain_events();
    engine.run_once(now()).await.unwrap();
    // The store publishes each change after its commit, from the thread that committed it: the
    // events are read until the last one arrives (up to 30 s on a busy machine), not only until
    // the store shows it.
    let mut states: Vec<RefundState> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !states.contains(&RefundState::Succeeded) && std::time::Instant::now() < deadline {
        engine.run_once(now()).await.unwrap();
        states.extend(
            desk.drain_events()
                .into_iter()
                .filter_map(|event| match event {
                    DeskEvent::RefundChanged {
                        out_refund_no,
                        state,
                        ..
                    } if out_refund_no == approved.out_refund_no.as_str() => Some(state),
                    _ => None,
                }),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        desk.store
            .refund_by_number(approved.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .state,
        RefundState::Succeeded
    );
    // Committed, then published: the events tell the whole story, in order.
    assert_eq!(
        states,
        [
            RefundState::Submitting,
            RefundState::Processing,
            RefundState::Succeeded
        ]
    );
    let health = desk
        .http
        .get(format!("{}/healthz", desk.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(health, "ok");
}

/// The hostile-input table: each attack gets a refusal that names the problem (a FAIL reply for
/// WeChat's endpoint, a status and `{code, message}` for the backend's), and nothing is stored.
#[tokio::test]
async fn hostile_input_is_refused_and_stores_nothing() {
    let mut desk = Desk::start(0.0).await;
    let merchant = desk.merchant();
    let genuine = notification_body(&merchant, "H-1", "4200000000000000000000000009", 500);
    let signed_with = |total: &str| {
        let body = notification_body(&merchant, "H-2", "4200000000000000000000000010", 1);
        // Re-sign with the altered amount, as only WeChat (or someone with the key) could.
        let fields = wxpay::xml::decode(body.as_bytes()).unwrap();
        let pairs: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| *k != "sign")
            .map(|(k, v)| {
                let v = if k == "total_fee" { total } else { v };
                (k.to_owned(), v.to_owned())
            })
            .collect();
        wxpay::sign::sign_and_encode(
            Fields::from_pairs(pairs).unwrap(),
            &merchant.api_key,
            SignType::HmacSha256,
        )
        .unwrap()
    };
    let laughs = {
        let mut entities = String::from("<!ENTITY lol \"lol\">");
        for level in 1..10 {
            let previous = if level == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", level - 1)
            };
            entities.push_str(&format!(
                "<!ENTITY lol{level} \"{}\">",
                format!("&{previous};").repeat(10)
            ));
        }
        format!("<?xml version=\"1.0\"?><!DOCTYPE xml [{entities}]><xml><a>&lol9;</a></xml>")
    };
    let mut non_utf8 = genuine.clone().into_bytes();
    let at = non_utf8.windows(3).position(|w| w == b"abc").unwrap();
    non_utf8[at] = 0xff;
    let notifications: Vec<(&str, Vec<u8>)> = vec![
        (
            "XXE: an external entity",
            b"<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><out_trade_no>&x;</out_trade_no></xml>".to_vec(),
        ),
        ("billion laughs", laughs.into_bytes()),
        ("10 MB body", vec![b'<'; 10 * 1024 * 1024]),
        ("deep nesting", format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000)).into_bytes()),
        ("truncated XML", genuine.as_bytes()[..genuine.len() / 2].to_vec()),
        ("non-UTF-8", non_utf8),
        (
            "a duplicated field",
            genuine
                .replace("</xml>", "<total_fee><![CDATA[1]]></total_fee></xml>")
                .into_bytes(),
        ),
        (
            "a sign of the wrong length",
            {
                let fields = wxpay::xml::decode(genuine.as_bytes()).unwrap();
                let sign = fields.get("sign").unwrap().to_owned();
                genuine.replace(&sign, &sign[..sign.len() - 1]).into_bytes()
            },
        ),
        ("an amount that overflows", signed_with("99999999999999999999").into_bytes()),
        ("a negative amount", signed_with("-500").into_bytes()),
        ("a zero amount", signed_with("0").into_bytes()),
    ];
    for (attack, body) in notifications {
        let response = desk
            .http
            .post(format!("{}/wxpay/notify", desk.url))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let refused = status == 413
            || (text.contains("<return_code><![CDATA[FAIL]]></return_code>")
                && text.contains("<return_msg><![CDATA[")
                && !text.contains("<return_msg><![CDATA[]]>"));
        assert!(refused, "{attack}: {status} {text}");
    }
    assert!(desk.store.order("H-1").unwrap().is_none());
    assert!(desk.store.order("H-2").unwrap().is_none());

    // The backend's endpoint: properly signed, hostile bodies.
    let order = desk.paid_order(1000);
    desk.wait_for_order(&order).await;
    desk.drain_events();
    let request = |fee: &str| {
        format!(
            r#"{{"request_id":"h-{fee}","out_trade_no":"{order}","refund_fee":{fee},"reason":"x"}}"#
        )
        .into_bytes()
    };
    let mut duplicated = request("100");
    duplicated.truncate(duplicated.len() - 1);
    duplicated.extend_from_slice(br#","refund_fee":100000}"#);
    let requests: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "an amount that overflows",
            request("99999999999999999999"),
            400,
        ),
        ("a negative amount", request("-100"), 400),
        ("a zero amount", request("0"), 400),
        ("a fractional amount", request("1.5"), 400),
        ("more than was paid", request("1001"), 422),
        ("a duplicated field", duplicated, 400),
        ("non-UTF-8", b"{\"request_id\":\"\xff\"}".to_vec(), 400),
        ("10 MB body", vec![b' '; 10 * 1024 * 1024], 413),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            400,
        ),
    ];
    for (attack, body, expected) in requests {
        let (status, text) = desk.post_signed(body, now(), SECRET).await;
        assert_eq!(status, expected, "{attack}: {text}");
        if status != 413 {
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(
                answer["code"].is_string() && !answer["message"].as_str().unwrap().is_empty(),
                "{attack}: {text}"
            );
        }
    }
    assert!(
        desk.store.queue(None, 100).unwrap().is_empty(),
        "nothing queued"
    );
    assert!(desk.drain_events().is_empty(), "no event for any of it");
}

/// A refund notification as WeChat encrypts it, with the facts given (right key: the worst
/// case, a notification replayed or altered by someone holding the key).
fn refund_notification_body(merchant: &Merchant, facts: &[(&str, String)]) -> String {
    let inner = Fields::from_pairs(facts.iter().map(|(k, v)| (*k, v.clone()))).unwrap();
    let inner = wxpay::xml::encode_with_root(&inner, "root").unwrap();
    let req_info = wxpay::refund_notify::encrypt_req_info(inner.as_bytes(), &merchant.api_key);
    let outer = Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("appid", merchant.appid.to_string()),
        ("mch_id", merchant.mch_id.to_string()),
        ("nonce_str", "n".to_owned()),
        ("req_info", req_info),
    ])
    .unwrap();
    wxpay::xml::encode_with_root(&outer, "xml").unwrap()
}

/// REFUNDCLOSE would make a refund's amount refundable again. A notification saying so frees
/// nothing unless every fact in it matches the refund the desk made and WeChat, asked by the
/// refund's number, confirms it: forged, mismatched or contradicted by WeChat, the money stays
/// counted.
#[tokio::test]
async fn a_refundclose_frees_nothing_until_wechat_confirms_it() {
    let desk = Desk::start(0.0).await;
    let order = desk.paid_order(1000);
    desk.wait_for_order(&order).await;
    let transaction_id = desk.store.order(&order).unwrap().unwrap().transaction_id;
    // WeChat pays the first out; it closes the second.
    let (paid, closed) = (desk.approved(&order, 250), desk.approved(&order, 300));
    desk.sim.add_refund_rule(wxpay_sim::RefundRule {
        out_refund_no: Some(closed.out_refund_no.to_string()),
        refund_fee: None,
        outcome: wxpay_sim::RefundStatus::Refundclose,
    });
    let settings = EngineSettings {
        // Only a notification (or its confirmation) makes the engine look again.
        first_check_after: Duration::from_secs(3600),
        notify_url: None,
        ..EngineSettings::default()
    };
    let engine = Engine::new(desk.store.clone(), client_for(&desk.sim), settings);
    engine.run_once(now()).await.unwrap();
    let refund = |no: &OutRefundNo| desk.store.refund_by_number(no.as_str()).unwrap().unwrap();
    assert_eq!(refund(&paid.out_refund_no).state, RefundState::Processing);
    let refundable = || desk.store.order(&order).unwrap().unwrap().refundable;
    assert_eq!(refundable(), Fen::new(450));
    // Until WeChat has decided both (however busy the machine).
    for waited in 0.. {
        let refunds = desk.sim.refunds();
        if refunds
            .iter()
            .all(|r| r.status != wxpay_sim::RefundStatus::Processing)
        {
            break;
        }
        assert!(waited < 1_500, "WeChat did not decide the refunds in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let facts = |no: &OutRefundNo, fee: i64| {
        let found = refund(no);
        vec![
            ("transaction_id", transaction_id.clone()),
            ("out_trade_no", order.clone()),
            ("refund_id", found.refund_id.clone().unwrap()),
            ("out_refund_no", no.to_string()),
            ("total_fee", "1000".to_owned()),
            ("refund_fee", fee.to_string()),
            ("refund_status", "REFUNDCLOSE".to_owned()),
        ]
    };
    let with = |mut facts: Vec<(&'static str, String)>, name: &str, value: &str| {
        for fact in &mut facts {
            if fact.0 == name {
                fact.1 = value.to_owned();
            }
        }
        facts
    };
    let post = |body: String| {
        let http = desk.http.clone();
        let url = format!("{}/wxpay/refund-notify", desk.url);
        async move {
            http.post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let merchant = desk.merchant();
    let genuine = facts(&paid.out_refund_no, 250);
    let mismatched = [
        with(
            genuine.clone(),
            "transaction_id",
            "4200000000000000000000000000",
        ),
        with(genuine.clone(), "out_trade_no", "SOMEONEELSE01"),
        with(
            genuine.clone(),
            "refund_id",
            "50000000000000000000000000000",
        ),
        with(genuine.clone(), "refund_fee", "251"),
        with(genuine.clone(), "total_fee", "100000"),
    ];
    for facts in mismatched {
        let reply = post(refund_notification_body(&merchant, &facts)).await;
        assert!(reply.contains("FAIL"), "{facts:?}: {reply}");
    }
    // Forged: another key.
    let mut forger = merchant.clone();
    forger.api_key = ApiKey::new("0123456789abcdef0123456789abcdef").unwrap();
    let reply = post(refund_notification_body(&forger, &genuine)).await;
    assert!(reply.contains("FAIL"), "{reply}");
    assert_eq!(refund(&paid.out_refund_no).state, RefundState::Processing);
    assert_eq!(refundable(), Fen::new(450), "nothing was freed");

    // Every fact right, but WeChat paid it: acknowledged, asked, and WeChat's word stands.
    let reply = post(refund_notification_body(&merchant, &genuine)).await;
    assert!(reply.contains("SUCCESS"), "{reply}");
    // And the one WeChat did close.
    let reply = post(refund_notification_body(
        &merchant,
        &facts(&closed.out_refund_no, 300),
    ))
    .await;
    assert!(reply.contains("SUCCESS"), "{reply}");
    assert_eq!(refund(&paid.out_refund_no).state, RefundState::Processing);
    assert_eq!(refund(&closed.out_refund_no).state, RefundState::Processing);
    assert_eq!(refundable(), Fen::new(450), "not before WeChat is asked");
    engine.run_once(now()).await.unwrap();
    assert_eq!(refund(&paid.out_refund_no).state, RefundState::Succeeded);
    assert_eq!(refund(&closed.out_refund_no).state, RefundState::Closed);
    assert_eq!(
        refundable(),
        Fen::new(750),
        "only the closed one's amount is free"
    );
    // A late REFUNDCLOSE for the paid refund changes nothing.
    let reply = post(refund_notification_body(&merchant, &genuine)).await;
    assert!(reply.contains("SUCCESS"), "{reply}");
    assert_eq!(refund(&paid.out_refund_no).state, RefundState::Succeeded);
    assert_eq!(refundable(), Fen::new(750));
}
