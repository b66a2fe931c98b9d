//! The desk as the CLI and the app start it: config and secrets on disk, the lock, the sandbox
//! end to end, a merchant configured against a test server, and the doctor's verdicts.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use desk_core::{Approver, DeskEvent, EventReceiver, RefundState};
use desk_runtime::*;
use wxpay::SignType;
use wxpay_sim::{LedgerKind, NewOrder, SimConfig, SimHandle};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn data_dir() -> (DataDir, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::resolve(Some(temp.path().join("desk"))).unwrap();
    (dir, temp)
}

fn sandbox_options(dir: &DataDir) -> StartOptions {
    let mut options = StartOptions::new(dir.clone());
    options.force_sandbox = true;
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    options.sandbox_refund_delay = Duration::from_millis(100);
    options.poll = Duration::from_millis(50);
    options
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn wait_for(
    events: &mut EventReceiver,
    mut wanted: impl FnMut(&DeskEvent) -> bool,
) -> DeskEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let event = events.recv().await.unwrap();
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .expect("the event never came")
}

#[test]
fn a_new_config_is_private_and_round_trips() {
    let (dir, _temp) = data_dir();
    dir.create().unwrap();
    assert_eq!(Config::load(&dir.config()).unwrap(), None);
    let created = Config::load_or_create(&dir.config()).unwrap();
    assert_eq!(
        created.mode,
        Mode::Sandbox,
        "a new desk starts in the sandbox"
    );
    assert!(created.intake.listen.ip().is_loopback());
    assert_eq!(created.intake.shared_secret.len(), 64);
    assert_eq!(Config::load(&dir.config()).unwrap(), Some(created.clone()));
    assert_eq!(
        created.refunds.max_requests_per_second, 150,
        "WeChat's frequency limit unless the owner sets another"
    );
    assert_ne!(
        Config::new().intake.shared_secret,
        created.intake.shared_secret,
        "every desk gets its own secret"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode_of(&dir.config()), 0o600, "the shared secret is in it");
        assert_eq!(mode_of(dir.root()), 0o700);
    }
}

#[test]
fn a_broken_config_is_named_with_its_path_and_left_alone() {
    let (dir, _temp) = data_dir();
    dir.create().unwrap();
    for (text, expected) in [
        (
            "mode = \"sandbox\"\n[intake]\nlisten = \"nowhere\"\nshared_secret = \"0123456789abcdef\"\n",
            "invalid socket address",
        ),
        (
            "mode = \"production\"\n[intake]\nlisten = \"127.0.0.1:1\"\nshared_secret = \"0123456789abcdef\"\n",
            "no [merchant] section",
        ),
        (
            "mode = \"sandbox\"\n[intake]\nlisten = \"127.0.0.1:1\"\nshared_secret = \"short\"\n",
            "at least 16",
        ),
        ("mode = \"sandbox\"\ncolour = \"red\"\n", "unknown field"),
        (
            "mode = \"sandbox\"\n[intake]\nlisten = \"127.0.0.1:1\"\nshared_secret = \"0123456789abcdef\"\n[refunds]\nmax_requests_per_second = 0\n",
            "max_requests_per_second must be at least 1",
        ),
    ] {
        std::fs::write(dir.config(), text).unwrap();
        let error = Config::load(&dir.config()).unwrap_err().to_string();
        assert!(
            error.contains(&dir.config().display().to_string()),
            "{error}"
        );
        assert!(error.contains(expected), "{error}");
        assert_eq!(std::fs::read_to_string(dir.config()).unwrap(), text);
    }
}

#[test]
fn secrets_fall_back_to_a_private_file_outside_the_config() {
    let (dir, _temp) = data_dir();
    dir.create().unwrap();
    let secrets = Secrets::file(&dir.secrets_fallback());
    assert_eq!(secrets.backend(), SecretBackend::File);
    assert!(secrets.api_key("1900000109").unwrap().is_none());
    let key = "a".repeat(32);
    secrets.set("1900000109", SecretKind::ApiKey, &key).unwrap();
    secrets
        .set("1900000109", SecretKind::CertPassword, "p12-password")
        .unwrap();
    secrets
        .set("1900000110", SecretKind::ApiKey, &"b".repeat(32))
        .unwrap();
    assert_eq!(
        secrets.api_key("1900000109").unwrap().unwrap().expose(),
        key
    );
    assert_eq!(
        secrets
            .cert_password("1900000109")
            .unwrap()
            .unwrap()
            .expose(),
        "p12-password"
    );
    secrets
        .delete("1900000109", SecretKind::CertPassword)
        .unwrap();
    assert!(secrets.cert_password("1900000109").unwrap().is_none());
    assert_eq!(
        secrets.api_key("1900000110").unwrap().unwrap().expose(),
        "b".repeat(32),
        "merchants do not overwrite each other"
    );
    #[cfg(unix)]
    assert_eq!(mode_of(&dir.secrets_fallback()), 0o600);
    assert!(
        !format!("{secrets:?}").contains(&key),
        "Debug never shows a value"
    );

    std::fs::write(dir.secrets_fallback(), "{ not json").unwrap();
    let damaged = secrets.api_key("1900000109").unwrap_err().to_string();
    assert!(
        damaged.contains("damaged") && damaged.contains("set the API key again"),
        "{damaged}"
    );
}

#[test]
fn secrets_round_trip_through_a_keyring() {
    let store = keyring_core::mock::Store::new().unwrap();
    let secrets = Secrets::with_keyring(store);
    assert_eq!(secrets.backend(), SecretBackend::Keyring);
    assert!(secrets.api_key("1900000109").unwrap().is_none());
    secrets
        .set("1900000109", SecretKind::ApiKey, &"k".repeat(32))
        .unwrap();
    assert_eq!(
        secrets.api_key("1900000109").unwrap().unwrap().expose(),
        "k".repeat(32)
    );
    secrets.delete("1900000109", SecretKind::ApiKey).unwrap();
    assert!(secrets.api_key("1900000109").unwrap().is_none());
    secrets.delete("1900000109", SecretKind::ApiKey).unwrap();
}

#[tokio::test]
async fn the_sandbox_runs_a_refund_end_to_end_and_one_desk_holds_the_directory() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (dir, _temp) = data_dir();
    let desk = RunningDesk::start(sandbox_options(&dir)).await.unwrap();
    assert_eq!(desk.mode(), Mode::Sandbox);
    let second = RunningDesk::start(sandbox_options(&dir)).await.unwrap_err();
    assert!(
        matches!(second, RuntimeError::Lock(LockError::Busy(_))),
        "{second}"
    );

    // What a tester gets: the simulated merchant and where the intake listens.
    let credentials = SandboxCredentials::load(&dir.sandbox_credentials()).unwrap();
    assert_eq!(credentials.intake_url, desk.intake_url());
    let sim = desk.sandbox().unwrap();
    assert_eq!(credentials.mch_id, sim.info().mch_id);

    let mut events = desk.subscribe();
    let order = sim
        .create_order(NewOrder {
            total_fee: 4200,
            notify_url: Some(format!("{}/wxpay/notify", credentials.intake_url)),
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    wait_for(&mut events, |e| matches!(e, DeskEvent::OrderPaid { out_trade_no, .. } if *out_trade_no == order.out_trade_no)).await;

    let body = serde_json::json!({
        "request_id": "backend-1",
        "out_trade_no": order.out_trade_no,
        "refund_fee": 1200,
        "reason": "尺码不合适",
    })
    .to_string();
    let timestamp = now();
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/refund-requests", credentials.intake_url))
        .header(desk_core::intake::TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            desk_core::intake::SIGNATURE_HEADER,
            desk_core::intake::sign_request(&credentials.intake_secret, timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let DeskEvent::RefundRequested { request, .. } = wait_for(&mut events, |e| {
        matches!(e, DeskEvent::RefundRequested { .. })
    })
    .await
    else {
        unreachable!()
    };
    let approved = desk
        .store()
        .approve(
            request,
            None,
            &Approver {
                name: "店长".into(),
                limit: None,
            },
            now(),
        )
        .unwrap();
    wait_for(&mut events, |e| {
        matches!(e, DeskEvent::RefundChanged { state: RefundState::Succeeded, out_refund_no, .. } if *out_refund_no == approved.out_refund_no.as_str())
    })
    .await;
    let paid_out: Vec<_> = sim
        .ledger()
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .collect();
    assert_eq!(paid_out.len(), 1);
    assert_eq!(paid_out[0].amount, -1200);

    // Stopped, the directory is free again and the queue is still there.
    desk.shutdown().await;
    let again = RunningDesk::start(sandbox_options(&dir)).await.unwrap();
    assert_eq!(again.store().queue(None, 10).unwrap().len(), 1);
    again.shutdown().await;
}

/// A simulator standing in for WeChat Pay, and a desk configured for its merchant as a shop
/// owner would configure the real one.
#[tokio::test]
async fn the_sandbox_restarted_between_payment_and_approval_refunds_the_order() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (dir, _temp) = data_dir();
    let desk = RunningDesk::start(sandbox_options(&dir)).await.unwrap();
    let mut events = desk.subscribe();
    let sim = desk.sandbox().unwrap();
    let order = sim
        .create_order(NewOrder {
            total_fee: 3_300,
            notify_url: Some(format!("{}/wxpay/notify", desk.intake_url())),
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    wait_for(&mut events, |e| matches!(e, DeskEvent::OrderPaid { out_trade_no, .. } if *out_trade_no == order.out_trade_no)).await;
    // The app is closed for the night and opened the next day.
    desk.shutdown().await;

    let desk = RunningDesk::start(sandbox_options(&dir)).await.unwrap();
    let mut events = desk.subscribe();
    let manual = desk_core::ManualRefund {
        order: wxpay::OrderRef::OutTradeNo(
            wxpay::OutTradeNo::new(order.out_trade_no.clone()).unwrap(),
        ),
        amount: wxpay::Fen::new(3_300),
        reason: "隔天退货".into(),
        customer: None,
    };
    // Confirmed with the sandbox's WeChat, which still knows the order.
    let request = desk.create_manual_request(manual, now()).await.unwrap();
    let approved = desk
        .store()
        .approve(
            request,
            None,
            &Approver {
                name: "店长".into(),
                limit: None,
            },
            now(),
        )
        .unwrap();
    wait_for(&mut events, |e| {
        matches!(e, DeskEvent::RefundChanged { state: RefundState::Succeeded, out_refund_no, .. } if *out_refund_no == approved.out_refund_no.as_str())
    })
    .await;
    let refunds: Vec<_> = desk
        .sandbox()
        .unwrap()
        .ledger()
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .map(|e| (e.out_trade_no, e.amount))
        .collect();
    assert_eq!(refunds, vec![(order.out_trade_no.clone(), -3_300)]);
    desk.shutdown().await;
}

async fn merchant_world() -> (SimHandle, DataDir, Secrets, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let temp = tempfile::tempdir().unwrap();
    let mut config = SimConfig::new(temp.path().join("wechat"));
    config.refund_delay = Duration::from_millis(100);
    let sim = wxpay_sim::start(config).await.unwrap();
    let dir = DataDir::resolve(Some(temp.path().join("desk"))).unwrap();
    let secrets = Secrets::file(&dir.secrets_fallback());
    let credentials = sim.credentials();
    desk_runtime::allow_test_servers("the simulator as WeChat Pay, in tests");
    let setup = MerchantSetup {
        appid: credentials.appid.to_string(),
        mch_id: credentials.mch_id.to_string(),
        sign_type: SignType::HmacSha256,
        certificate: Some(CertificateFiles::P12(
            std::fs::read(&credentials.files.cert_p12).unwrap(),
        )),
        api_key: Some(credentials.api_key.clone()),
        cert_password: None,
        wechat: WechatServer {
            api_base: Some(sim.info().base_url.clone()),
            extra_ca: Some(credentials.files.ca_pem.clone()),
        },
    };
    let checked = check_setup(setup, Verify::Live, SystemTime::now()).await;
    assert!(checked.passed(), "{:#?}", checked.checks());
    checked
        .save(&dir, &secrets, ModeAfterSave::Production)
        .unwrap();
    (sim, dir, secrets, temp)
}

fn statuses(checks: &[Check]) -> Vec<(CheckName, Status)> {
    checks.iter().map(|c| (c.name, c.status)).collect()
}

#[tokio::test]
async fn a_configured_merchant_passes_the_doctor_and_refunds() {
    let (sim, dir, secrets, _temp) = merchant_world().await;
    let config = Config::load(&dir.config()).unwrap().unwrap();
    assert_eq!(config.mode, Mode::Production);
    let saved = std::fs::read_to_string(dir.config()).unwrap();
    let key = sim.credentials().api_key.expose().to_owned();
    assert!(!saved.contains(&key), "the API key is never in config.toml");
    assert_eq!(
        secrets
            .api_key(&sim.info().mch_id)
            .unwrap()
            .unwrap()
            .expose(),
        key
    );

    let checks = doctor(&dir, SystemTime::now()).await;
    assert_eq!(
        statuses(&checks),
        [
            (CheckName::Config, Status::Ok),
            (CheckName::Secrets, Status::Warning),
            (CheckName::Certificate, Status::Ok),
            (CheckName::CertificateExpiry, Status::Ok),
            (CheckName::CertificateMerchant, Status::Ok),
            (CheckName::WechatSignature, Status::Ok),
            (CheckName::WechatRefund, Status::Ok),
        ],
        "{checks:#?}"
    );
    assert_eq!(checks[6].finding, Finding::RefundPathAccepted);
    assert!(
        matches!(&checks[1].finding, Finding::KeyInFile { path } if path.ends_with("secrets.json"))
    );
    // The refund probe moved no money and left no refund behind.
    assert!(sim.ledger().iter().all(|e| e.kind != LedgerKind::Refund));

    // The same setup runs the desk in production mode.
    let mut options = StartOptions::new(dir.clone());
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    options.poll = Duration::from_millis(50);
    let desk = RunningDesk::start(options).await.unwrap();
    assert_eq!(desk.mode(), Mode::Production);
    assert!(desk.sandbox().is_none());
    assert!(
        desk.warnings().iter().any(
            |w| matches!(w, StartWarning::KeyInFile { path } if path.ends_with("secrets.json"))
        )
    );
    let mut events = desk.subscribe();
    let order = sim
        .create_order(NewOrder {
            total_fee: 990,
            notify_url: Some(format!("{}/wxpay/notify", desk.intake_url())),
            sign_type: SignType::HmacSha256,
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    wait_for(&mut events, |e| matches!(e, DeskEvent::OrderPaid { .. })).await;
    let store = desk.store();
    let (request, _) = store
        .add_request(
            &desk_core::NewRequest {
                request_id: None,
                out_trade_no: wxpay::OutTradeNo::new(order.out_trade_no.clone()).unwrap(),
                refund_fee: wxpay::Fen::new(990),
                reason: "缺货".into(),
                customer: None,
            },
            now(),
        )
        .unwrap();
    store
        .approve(
            request,
            None,
            &Approver {
                name: "owner".into(),
                limit: None,
            },
            now(),
        )
        .unwrap();
    // Sent at once; with no public intake address WeChat cannot notify, so the desk asks
    // again after a minute: accepted is as far as this test waits.
    tokio::time::timeout(Duration::from_secs(20), async {
        while store.queue(None, 1).unwrap()[0].state != desk_core::QueueState::Processing {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the refund was never accepted");
    let refunds: Vec<_> = sim
        .ledger()
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, -990);
    desk.shutdown().await;
}

/// Alerts as the window would get them.
struct Alerts(std::sync::Arc<std::sync::Mutex<Vec<Alert>>>);

impl AlertSink for Alerts {
    fn deliver(&mut self, alert: &Alert, _facts: &[desk_core::StoredAlert]) {
        self.0.lock().unwrap().push(alert.clone());
    }

    fn trouble(&mut self, error: &desk_core::CoreError) {
        panic!("the outbox failed: {error}");
    }
}

#[tokio::test]
async fn a_desk_whose_key_was_changed_behind_its_back_says_so_and_the_doctor_names_it() {
    let (sim, dir, secrets, _temp) = merchant_world().await;
    // The owner reset the key in 商户平台; the desk still holds the old one.
    secrets
        .set(&sim.info().mch_id, SecretKind::ApiKey, &"0".repeat(32))
        .unwrap();
    let mut options = StartOptions::new(dir.clone());
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    options.poll = Duration::from_millis(50);
    let desk = RunningDesk::start(options).await.unwrap();
    let delivered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let alerter = std::sync::Arc::new(std::sync::Mutex::new(Alerter::new(
        AlertSettings::default(),
        Language::ZhCn,
    )));
    desk.deliver_alerts(alerter, Alerts(delivered.clone()));
    for total in [1_000, 2_000, 3_000] {
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                notify_url: Some(format!("{}/wxpay/notify", desk.intake_url())),
                ..Default::default()
            })
            .unwrap();
        sim.pay(&order.out_trade_no).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(20), async {
        while !delivered
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::SetupAlarm)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("no alarm was alerted");
    let alarm = delivered
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.kind == AlertKind::SetupAlarm)
        .cloned()
        .unwrap();
    assert!(
        alarm.title.contains("无法验证") && alarm.body.contains("API 密钥"),
        "{alarm:?}"
    );
    assert_eq!(alarm.target, AlertTarget::Settings);
    desk.shutdown().await;

    let checks = doctor(&dir, SystemTime::now()).await;
    let last = checks.last().unwrap();
    assert_eq!(last.name, CheckName::Notifications, "{checks:#?}");
    assert!(
        matches!(
            last.finding,
            Finding::AlarmUp {
                cause: desk_core::AlarmCause::ApiKeyMismatch,
                ..
            }
        ),
        "{checks:#?}"
    );

    // The owner sets the key again: WeChat accepts it in the doctor, and the alarm is over.
    secrets
        .set(
            &sim.info().mch_id,
            SecretKind::ApiKey,
            sim.credentials().api_key.expose(),
        )
        .unwrap();
    let checks = doctor(&dir, SystemTime::now()).await;
    assert!(passed(&checks), "{checks:#?}");
    match &checks.last().unwrap().finding {
        Finding::RefusedLastDay { refused } => assert!(
            refused
                .iter()
                .any(|r| r.door == desk_core::Door::PaymentNotify
                    && r.cause == desk_core::Refusal::Unverified),
            "{refused:?}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reproduction_a_sandbox_run_never_touches_production_refunds() {
    // A production desk with an approved refund not yet sent; the owner runs the sandbox on
    // the same data directory for a while. The sandbox engine used to send the production
    // refund to the simulator, get ORDERNOTEXIST and fail it for good.
    let (sim, dir, _secrets, _temp) = merchant_world().await;
    let config = Config::load(&dir.config()).unwrap().unwrap();
    let books = Books::of(&config, Mode::Production, &dir).unwrap();
    books.create(&dir).unwrap();
    let order = sim
        .create_order(NewOrder {
            total_fee: 800,
            ..Default::default()
        })
        .unwrap();
    let paid = sim.pay(&order.out_trade_no).unwrap();
    let approved = {
        let store = desk_core::Store::open(&books.database(&dir)).unwrap();
        store
            .record_payment(
                &desk_core::Payment {
                    out_trade_no: wxpay::OutTradeNo::new(paid.out_trade_no.clone()).unwrap(),
                    transaction_id: wxpay::TransactionId::new(paid.transaction_id.unwrap())
                        .unwrap(),
                    total_fee: wxpay::Fen::new(800),
                    paid_at: now(),
                    openid: None,
                    trade_type: None,
                    attach: None,
                    source: desk_core::PaymentSource::Notification,
                },
                now(),
            )
            .unwrap();
        let (request, _) = store
            .add_request(
                &desk_core::NewRequest {
                    request_id: None,
                    out_trade_no: wxpay::OutTradeNo::new(paid.out_trade_no.clone()).unwrap(),
                    refund_fee: wxpay::Fen::new(800),
                    reason: "缺货".into(),
                    customer: None,
                },
                now(),
            )
            .unwrap();
        let owner = Approver {
            name: "owner".into(),
            limit: None,
        };
        store.approve(request, None, &owner, now()).unwrap()
    };

    // The sandbox runs a while, demo orders and all.
    let mut options = sandbox_options(&dir);
    options.demo = Some(Duration::from_millis(200));
    let sandbox = RunningDesk::start(options).await.unwrap();
    assert_eq!(sandbox.books(), &Books::Sandbox);
    assert_ne!(
        sandbox.store().path(),
        books.database(&dir).as_path(),
        "the sandbox keeps its own books"
    );
    let credentials = SandboxCredentials::load(&dir.sandbox_credentials()).unwrap();
    assert_ne!(
        credentials.intake_secret, config.intake.shared_secret,
        "sandbox-credentials.json holds nothing of production"
    );
    // A refund notification made with the sandbox's key for the production refund's number
    // reaches only the sandbox's books.
    let forged = sandbox_refund_close(&credentials, approved.out_refund_no.as_str());
    let answer = reqwest::Client::new()
        .post(format!("{}/wxpay/refund-notify", sandbox.intake_url()))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    tokio::time::sleep(Duration::from_millis(600)).await;
    sandbox.shutdown().await;

    let store = desk_core::Store::open(&books.database(&dir)).unwrap();
    let untouched = store
        .refund_by_number(approved.out_refund_no.as_str())
        .unwrap()
        .unwrap();
    assert_eq!(
        untouched.state,
        RefundState::Approved,
        "never sent by the sandbox"
    );
    assert!(
        store.queue(None, 10).unwrap().len() == 1,
        "no demo order or request in production's books"
    );
    drop(store);

    // Back in production, the refund goes out to the merchant's WeChat Pay.
    let mut options = StartOptions::new(dir.clone());
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    options.poll = Duration::from_millis(50);
    let desk = RunningDesk::start(options).await.unwrap();
    assert!(
        matches!(
            desk.ensure_can_switch(),
            Err(RuntimeError::RefundsInFlight(1))
        ),
        "switching is refused while a refund is on its way"
    );
    tokio::time::timeout(Duration::from_secs(20), async {
        while desk.store().queue(None, 1).unwrap()[0].state != desk_core::QueueState::Processing {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the production refund was never sent");
    desk.shutdown().await;
}

/// A REFUNDCLOSE refund notification for `out_refund_no`, encrypted with the sandbox's key.
fn sandbox_refund_close(credentials: &SandboxCredentials, out_refund_no: &str) -> String {
    let inner = format!(
        "<root><transaction_id>4200000000000000001</transaction_id><out_trade_no>X1</out_trade_no><refund_id>50000000000001</refund_id><out_refund_no>{out_refund_no}</out_refund_no><total_fee>800</total_fee><refund_fee>800</refund_fee><refund_status>REFUNDCLOSE</refund_status><refund_recv_accout>x</refund_recv_accout><refund_account>REFUND_SOURCE_UNSETTLED_FUNDS</refund_account><refund_request_source>API</refund_request_source><settlement_refund_fee>800</settlement_refund_fee></root>"
    );
    let key = wxpay::ApiKey::new(credentials.api_key.clone()).unwrap();
    let req_info = wxpay::refund_notify::encrypt_req_info(inner.as_bytes(), &key);
    format!(
        "<xml><return_code>SUCCESS</return_code><appid>{}</appid><mch_id>{}</mch_id><nonce_str>abc</nonce_str><req_info>{req_info}</req_info></xml>",
        credentials.appid, credentials.mch_id
    )
}

#[test]
fn a_database_from_before_the_books_goes_to_the_merchant_it_served() {
    for merchant in [None, Some("1900000109")] {
        let (dir, _temp) = data_dir();
        dir.create().unwrap();
        let legacy = dir.root().join("desk.sqlite3");
        drop(desk_core::Store::open(&legacy).unwrap());
        let mut config = Config::new();
        if let Some(mch_id) = merchant {
            config.mode = Mode::Production;
            config.merchant = Some(MerchantConfig {
                appid: "wx2421b1c4370ec43b".into(),
                mch_id: mch_id.into(),
                sign_type: SignType::Md5,
                certificate: CertificateConfig::Pkcs12 {
                    p12: "apiclient_cert.p12".into(),
                },
                secrets: SecretBackend::File,
                api_base: None,
                extra_ca: None,
            });
        }
        adopt_legacy_database(&dir, &config).unwrap();
        let books = match merchant {
            Some(mch_id) => Books::Merchant(mch_id.into()),
            None => Books::Sandbox,
        };
        assert!(!legacy.exists(), "moved, not copied");
        assert!(books.database(&dir).exists(), "{books:?}");
        desk_core::Store::open(&books.database(&dir)).unwrap();
    }
}

/// The voice says a paid order's amount: rendered to a WAV (CI has no sound card) about as long
/// as the words, and not silent. A longer amount takes longer to say.
#[test]
fn a_paid_order_is_spoken_into_a_wav() {
    use desk_runtime::{speech, voice};
    let voice = voice::Voice::from_env();
    let short = voice
        .render(&speech::order_paid(wxpay::Fen::new(5)))
        .unwrap();
    let long = voice
        .render(&speech::order_paid(wxpay::Fen::new(123_456_789)))
        .unwrap();
    for sound in [&short, &long] {
        assert!(sound.sample_rate >= 8_000, "{}", sound.sample_rate);
        assert!(
            sound.peak() > 3_000,
            "the sound is not silent: peak {}",
            sound.peak()
        );
    }
    let (short, long) = (short.duration(), long.duration());
    assert!(
        short > std::time::Duration::from_millis(1_200)
            && short < std::time::Duration::from_secs(6),
        "微信收款 零点零五元 took {short:?}"
    );
    assert!(
        long > short + std::time::Duration::from_secs(1),
        "{long:?} vs {short:?}"
    );
}

/// What a staff desk mirrors is the owner's desk's word as the relay carried it, never a refund
/// this desk may send: it lives in `mirrors/`, books marked as a mirror never start a refund
/// engine, and a staff desk's copy kept where an earlier version put it moves out of the
/// merchant's folder.
#[tokio::test]
async fn a_staff_desks_copy_never_becomes_books_an_engine_runs_on() {
    let (sim, dir, _secrets, _temp) = merchant_world().await;
    let mch_id = sim.info().mch_id.clone();
    let config = Config::load(&dir.config()).unwrap().unwrap();

    // A copy of an approved refund, as a relay that knows the shop key could send it.
    let copy = {
        let other = tempfile::tempdir().unwrap();
        let owner = desk_core::Store::open(&other.path().join("owner.sqlite3")).unwrap();
        let order = sim
            .create_order(NewOrder {
                total_fee: 500,
                ..Default::default()
            })
            .unwrap();
        let paid = sim.pay(&order.out_trade_no).unwrap();
        owner
            .record_payment(
                &desk_core::Payment {
                    out_trade_no: wxpay::OutTradeNo::new(paid.out_trade_no.clone()).unwrap(),
                    transaction_id: wxpay::TransactionId::new(paid.transaction_id.unwrap())
                        .unwrap(),
                    total_fee: wxpay::Fen::new(paid.total_fee),
                    paid_at: now(),
                    openid: None,
                    trade_type: None,
                    attach: None,
                    source: desk_core::PaymentSource::Notification,
                },
                now(),
            )
            .unwrap();
        let (request, _) = owner
            .add_request(
                &desk_core::NewRequest {
                    request_id: None,
                    out_trade_no: wxpay::OutTradeNo::new(paid.out_trade_no).unwrap(),
                    refund_fee: wxpay::Fen::new(1),
                    reason: "nobody asked".into(),
                    customer: None,
                },
                now(),
            )
            .unwrap();
        let approver = Approver {
            name: "relay".into(),
            limit: None,
        };
        owner.approve(request, None, &approver, now()).unwrap();
        owner.queue_snapshot(request).unwrap().unwrap()
    };

    // A staff desk of the same merchant keeps its copy apart from the merchant's books.
    let mut staff = config.clone();
    staff.relay = Some(
        toml::from_str(&format!(
            r#"url = "https://relay.example.com"
shop = "s1"
desk_id = 2
role = "staff"
token = "mdr_x"
shop_key = "k"
[staff]
appid = "{}"
mch_id = "{mch_id}"
secrets = "file"
"#,
            sim.info().appid
        ))
        .unwrap(),
    );
    assert_eq!(
        Books::of(&staff, Mode::Production, &dir).unwrap(),
        Books::Mirror(mch_id.clone()),
        "even beside the merchant's own setup"
    );
    assert_ne!(
        Books::Mirror(mch_id.clone()).folder(&dir),
        Books::Merchant(mch_id.clone()).folder(&dir)
    );

    // Books that ever held a copy (an earlier version kept it in the merchant's folder) never
    // start a refund engine: the approved copy is never sent.
    let merchant_books = Books::Merchant(mch_id.clone());
    merchant_books.create(&dir).unwrap();
    desk_core::Store::open(&merchant_books.database(&dir))
        .unwrap()
        .mirror(&copy)
        .unwrap();
    let mut options = StartOptions::new(dir.clone());
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    match RunningDesk::start(options).await {
        Err(RuntimeError::MirrorBooks(folder)) => assert_eq!(folder, merchant_books.folder(&dir)),
        Ok(_) => panic!("a refund engine started on a staff desk's copy"),
        Err(other) => panic!("{other}"),
    }
    assert!(sim.refunds().is_empty(), "nothing was sent");

    // A pure staff desk of an earlier version: its copy moves out of the merchant's folder.
    let mut pure_staff = staff.clone();
    pure_staff.merchant = None;
    adopt_staff_mirror(&dir, &pure_staff).unwrap();
    assert!(!merchant_books.folder(&dir).exists());
    let mirror = Books::Mirror(mch_id.clone()).database(&dir);
    assert!(
        desk_core::Store::open(&mirror)
            .unwrap()
            .is_mirror()
            .unwrap()
    );
}
