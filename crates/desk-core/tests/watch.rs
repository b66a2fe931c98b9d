//! The intake's watch (`desk_core::watch`) on a real socket, with the simulator as WeChat: a
//! desk whose API key was changed behind its back raises one alarm within a few notifications,
//! a burst of strangers' forgeries raises none; the same for refund notifications and for the
//! backend's refund requests; an alarm ends when what it names is mended.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

mod support;

use desk_core::intake::{IntakeState, SIGNATURE_HEADER, TIMESTAMP_HEADER, router};
use desk_core::*;
use wxpay::*;
use wxpay_client::{HttpsTransport, WxPayClient};
use wxpay_sim::{NewOrder, SimConfig, SimHandle};

const SECRET: &str = "the-current-shared-secret";
const OLD_SECRET: &str = "the-secret-the-owner-replaced";

struct Intake {
    sim: SimHandle,
    store: Arc<Store>,
    state: Arc<IntakeState<HttpsTransport>>,
    url: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Intake {
    /// An intake for the simulator's merchant, holding `desk_key` (the merchant's own key when
    /// `None`) as its API key.
    async fn start(desk_key: Option<&str>) -> Intake {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim_dir = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(sim_dir.path());
        config.refund_delay = Duration::from_millis(100);
        config.notifier.time_scale = 0.001;
        config.notifier.duplicate_probability = 0.0;
        let sim = wxpay_sim::start(config).await.unwrap();
        let desk_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&desk_dir.path().join("desk.sqlite3")).unwrap());
        let state = Arc::new(intake_for(&sim, &store, desk_key));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let serving = state.clone();
        let server =
            tokio::spawn(async move { axum::serve(listener, router(serving)).await.unwrap() });
        Intake {
            sim,
            store,
            state,
            url,
            http: reqwest::Client::new(),
            server,
            _dirs: (sim_dir, desk_dir),
        }
    }

    fn merchant(&self) -> Merchant {
        support::client_for(&self.sim, SignType::Md5)
            .merchant()
            .clone()
    }

    fn pay(&self, total: i64) -> String {
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

    async fn post(&self, path: &str, body: String) -> u16 {
        self.http
            .post(format!("{}{path}", self.url))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn post_request(&self, request_id: &str, secret: &str) -> u16 {
        let body = serde_json::json!({
            "request_id": request_id,
            "out_trade_no": "T-NOT-HERE",
            "refund_fee": 100,
            "reason": "不想要了",
        })
        .to_string();
        let now = unix_now();
        self.http
            .post(format!("{}/api/v1/refund-requests", self.url))
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(
                SIGNATURE_HEADER,
                desk_core::intake::sign_request(secret, now, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The refusals counted so far, by door and cause.
    async fn refused(&self, door: Door, cause: Refusal) -> i64 {
        self.state.flush_refusals().await;
        self.store
            .refusals_since(unix_now() - 3600)
            .unwrap()
            .iter()
            .filter(|r| r.door == door && r.cause == cause)
            .map(|r| r.count)
            .sum()
    }

    /// Polls `done` for up to 30 s (a busy machine is slow, not wrong).
    async fn wait_for(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        for _ in 0..1500 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{what} never happened");
    }
}

fn intake_for(
    sim: &SimHandle,
    store: &Arc<Store>,
    desk_key: Option<&str>,
) -> IntakeState<HttpsTransport> {
    let mut merchant = support::client_for(sim, SignType::Md5).merchant().clone();
    if let Some(key) = desk_key {
        merchant.api_key = ApiKey::new(key).unwrap();
    }
    let client = WxPayClient::new(
        merchant,
        support::transport_for(sim, Duration::from_secs(3)),
    );
    IntakeState::new(store.clone(), client, SECRET.into())
        .with_retired_secrets(vec![OLD_SECRET.into()])
}

/// A payment notification for this merchant, signed with `key`.
fn payment_notification(merchant: &Merchant, key: &ApiKey, n: usize) -> String {
    let fields = Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", merchant.appid.to_string()),
        ("mch_id", merchant.mch_id.to_string()),
        ("nonce_str", format!("n{n}")),
        ("out_trade_no", format!("FORGED{n}")),
        ("transaction_id", format!("42000000000000{n:06}")),
        ("total_fee", "100".to_owned()),
        ("time_end", "20261203120000".to_owned()),
        ("openid", "oForged".to_owned()),
        ("trade_type", "JSAPI".to_owned()),
    ])
    .unwrap();
    wxpay::sign::sign_and_encode(fields, key, SignType::Md5).unwrap()
}

/// A refund notification for this merchant, its `req_info` encrypted with `key`.
fn refund_notification(merchant: &Merchant, key: &ApiKey, n: usize) -> String {
    let inner = format!(
        "<root><transaction_id>4200000000000000{n:03}</transaction_id><out_trade_no>T{n}</out_trade_no><refund_id>5000000000{n:04}</refund_id><out_refund_no>R{n}</out_refund_no><total_fee>100</total_fee><refund_fee>100</refund_fee><refund_status>SUCCESS</refund_status><refund_recv_accout>x</refund_recv_accout><refund_account>REFUND_SOURCE_UNSETTLED_FUNDS</refund_account><refund_request_source>API</refund_request_source><settlement_refund_fee>100</settlement_refund_fee></root>"
    );
    let req_info = wxpay::refund_notify::encrypt_req_info(inner.as_bytes(), key);
    format!(
        "<xml><return_code>SUCCESS</return_code><appid>{}</appid><mch_id>{}</mch_id><nonce_str>n{n}</nonce_str><req_info>{req_info}</req_info></xml>",
        merchant.appid, merchant.mch_id
    )
}

#[tokio::test]
async fn a_key_changed_behind_the_desks_back_raises_one_alarm_until_it_is_mended() {
    // The owner reset the key in 商户平台: WeChat signs with the new one, the desk holds the old.
    let intake = Intake::start(Some(&"0".repeat(32))).await;
    for total in [1_000, 2_000, 3_000] {
        intake.pay(total);
    }
    intake
        .wait_for("the alarm", async || {
            !intake.store.active_alarms().unwrap().is_empty()
        })
        .await;
    let alarms = intake.store.active_alarms().unwrap();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].cause, AlarmCause::ApiKeyMismatch);
    assert!(intake.store.orders(None, 10).unwrap().is_empty());
    assert!(
        intake
            .refused(Door::PaymentNotify, Refusal::Unverified)
            .await
            >= 1
    );
    assert_eq!(
        intake.refused(Door::PaymentNotify, Refusal::Forged).await,
        0
    );

    // WeChat's refund notifications do not decrypt either: counted under the same alarm.
    let wechat_key = intake.sim.credentials().api_key.clone();
    let merchant = intake.merchant();
    let before = intake.store.active_alarms().unwrap()[0].count;
    assert_eq!(
        intake
            .post(
                "/wxpay/refund-notify",
                refund_notification(&merchant, &wechat_key, 1)
            )
            .await,
        200
    );
    assert!(
        intake
            .refused(Door::RefundNotify, Refusal::Unverified)
            .await
            >= 1
    );
    let after = intake.store.active_alarms().unwrap();
    assert_eq!(after.len(), 1, "still one alarm");
    assert!(after[0].count > before, "{before} → {after:?}");

    // The owner sets the right key and the desk restarts: the new start asks WeChat at once
    // and the alarm ends.
    // (A retry still in flight to the stopped one may raise a new alarm: that one is right.)
    intake.server.abort();
    let raised = after[0].id;
    let fixed = Arc::new(intake_for(&intake.sim, &intake.store, None));
    fixed.start_watch();
    intake
        .wait_for("the alarm to end", async || {
            !intake
                .store
                .active_alarms()
                .unwrap()
                .iter()
                .any(|alarm| alarm.id == raised)
        })
        .await;
}

#[tokio::test]
async fn refund_notifications_that_no_longer_decrypt_raise_the_alarm_alone() {
    let intake = Intake::start(Some(&"1".repeat(32))).await;
    let (merchant, wechat_key) = (intake.merchant(), intake.sim.credentials().api_key.clone());
    // One is enough: it makes the desk ask WeChat, which refuses the desk's key.
    assert_eq!(
        intake
            .post(
                "/wxpay/refund-notify",
                refund_notification(&merchant, &wechat_key, 1)
            )
            .await,
        200
    );
    intake
        .wait_for("the alarm", async || {
            !intake.store.active_alarms().unwrap().is_empty()
        })
        .await;
    assert_eq!(
        intake.store.active_alarms().unwrap()[0].cause,
        AlarmCause::ApiKeyMismatch
    );
}

#[tokio::test]
async fn a_verified_notification_ends_the_alarm() {
    let intake = Intake::start(None).await;
    intake
        .store
        .raise_alarm(AlarmCause::ApiKeyMismatch, unix_now())
        .unwrap();
    // A desk started with the alarm up ends it on the first notification that verifies.
    intake.server.abort();
    let restarted = Intake {
        state: Arc::new(intake_for(&intake.sim, &intake.store, None)),
        ..intake
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = restarted.state.clone();
    tokio::spawn(async move { axum::serve(listener, router(serving)).await.unwrap() });
    let order = restarted
        .sim
        .create_order(NewOrder {
            total_fee: 500,
            notify_url: Some(format!("{url}/wxpay/notify")),
            ..Default::default()
        })
        .unwrap();
    restarted.sim.pay(&order.out_trade_no).unwrap();
    restarted
        .wait_for("the alarm to end", async || {
            restarted.store.active_alarms().unwrap().is_empty()
        })
        .await;
    assert!(
        restarted
            .store
            .order(&order.out_trade_no)
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_burst_of_strangers_forgeries_raises_no_alarm() {
    let intake = Intake::start(None).await;
    let merchant = intake.merchant();
    let stranger_key = ApiKey::new("S".repeat(32)).unwrap();
    for n in 0..40 {
        assert_eq!(
            intake
                .post(
                    "/wxpay/notify",
                    payment_notification(&merchant, &stranger_key, n)
                )
                .await,
            200
        );
        assert_eq!(
            intake
                .post(
                    "/wxpay/refund-notify",
                    refund_notification(&merchant, &stranger_key, n)
                )
                .await,
            200
        );
    }
    // WeChat was asked once and accepted the desk's key: what fails after that is forged.
    let mut sent = 80;
    while intake.refused(Door::PaymentNotify, Refusal::Forged).await == 0 {
        assert!(sent < 2_000, "no forgery was ever named");
        intake
            .post(
                "/wxpay/notify",
                payment_notification(&merchant, &stranger_key, sent),
            )
            .await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in sent..sent + 10 {
        intake
            .post(
                "/wxpay/notify",
                payment_notification(&merchant, &stranger_key, n),
            )
            .await;
    }
    sent += 10;
    assert!(intake.store.active_alarms().unwrap().is_empty());
    let unverified = intake
        .refused(Door::PaymentNotify, Refusal::Unverified)
        .await
        + intake
            .refused(Door::RefundNotify, Refusal::Unverified)
            .await;
    let forged = intake.refused(Door::PaymentNotify, Refusal::Forged).await
        + intake.refused(Door::RefundNotify, Refusal::Forged).await;
    assert_eq!(
        unverified + forged,
        sent as i64,
        "every forgery counted once"
    );
    assert!(
        forged >= 10,
        "those after WeChat's answer are forgeries: {forged}"
    );
    assert!(intake.store.orders(None, 10).unwrap().is_empty());
    // The desk's own notifications still verify.
    let paid = intake.pay(700);
    intake
        .wait_for("a genuine order", async || {
            intake.store.order(&paid).unwrap().is_some()
        })
        .await;
}

#[tokio::test]
async fn a_backend_on_the_replaced_secret_raises_the_alarm_and_strangers_do_not() {
    let intake = Intake::start(None).await;
    for n in 0..20 {
        let stranger = format!("a-stranger-guessing-{n}");
        assert_eq!(intake.post_request(&format!("s{n}"), &stranger).await, 401);
    }
    assert!(intake.store.active_alarms().unwrap().is_empty());
    assert_eq!(intake.refused(Door::Backend, Refusal::Unverified).await, 20);

    // The owner made a new secret and the backend was not told.
    assert_eq!(intake.post_request("b1", OLD_SECRET).await, 401);
    let alarms = intake.store.active_alarms().unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].cause, AlarmCause::BackendOldSecret);
    assert_eq!(intake.refused(Door::Backend, Refusal::OldSecret).await, 1);

    // Told, it signs with the new one: the alarm ends (the order is unknown to WeChat, which
    // is another matter).
    assert_eq!(intake.post_request("b2", SECRET).await, 404);
    assert!(intake.store.active_alarms().unwrap().is_empty());
}
