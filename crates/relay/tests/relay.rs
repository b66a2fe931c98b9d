//! The relay on a real socket and a real SQLite file, driven by the desk's own client.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use relay::store::{Retention, Store};
use relay::{Relay, Settings, SqliteStore, unix_now};
use relay_client::{Received, RelayClient, RelayError};
use relay_protocol::{Kind, PairingCode, Role, paths};

struct Running {
    relay: Arc<Relay<SqliteStore>>,
    base: String,
    slug: String,
    shop_id: i64,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    start_with(Settings::default()).await
}

async fn start_with(settings: Settings) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.sqlite3")).unwrap();
    let shop = store.add_shop("测试小店", unix_now()).await.unwrap();
    let relay = Relay::new(store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = relay.clone();
    tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
    Running {
        relay,
        base,
        slug: shop.slug,
        shop_id: shop.id,
        _dir: dir,
    }
}

impl Running {
    /// What `/metrics` says now.
    async fn metrics(&self) -> String {
        http()
            .get(format!("{}{}", self.base, paths::METRICS))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A desk paired with a fresh code of `role`.
    async fn desk(&self, role: Role, name: &str) -> RelayClient {
        let code = relay::desks::new_pairing(&self.relay.store, self.shop_id, role, unix_now())
            .await
            .unwrap();
        let client = RelayClient::new(&self.base, None).unwrap();
        let paired = client.pair(&code, name).await.unwrap();
        assert_eq!(paired.role, role);
        client.with_token(&paired.token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, paths::for_shop(path, &self.slug))
    }
}

fn notification(n: u32) -> String {
    format!(
        "<xml><return_code><![CDATA[SUCCESS]]></return_code><out_trade_no>A{n}</out_trade_no></xml>"
    )
}

/// A plain client for the doors (the backend's, WeChat's), with the workspace's TLS setup.
fn http() -> reqwest::Client {
    wxpay_client::verified_client_builder(None)
        .unwrap()
        .build()
        .unwrap()
}

async fn post(url: &str, body: &str) -> (u16, String) {
    let reply = http().post(url).body(body.to_owned()).send().await.unwrap();
    (reply.status().as_u16(), reply.text().await.unwrap())
}

async fn next_entry(stream: &mut relay_client::EventStream) -> relay_protocol::Entry {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("an entry within 20 s")
            .unwrap()
        {
            Some(Received::Entry(entry)) => return entry,
            Some(Received::Hello(_)) => continue,
            None => panic!("the stream ended"),
        }
    }
}

#[tokio::test]
async fn notifications_are_stored_once_and_streamed_from_the_desks_position() {
    let relay = start().await;
    let desk = relay.desk(Role::Owner, "店长").await;
    for n in 1..=3 {
        let (status, body) = post(&relay.url(paths::PAYMENT_NOTIFY), &notification(n)).await;
        assert_eq!(status, 200);
        assert!(body.contains("SUCCESS"), "{body}");
    }
    // WeChat's retry of the second: answered SUCCESS, stored once.
    let (status, _) = post(&relay.url(paths::PAYMENT_NOTIFY), &notification(2)).await;
    assert_eq!(status, 200);

    let mut stream = desk.events(0).await.unwrap();
    match stream.next().await.unwrap() {
        Some(Received::Hello(hello)) => assert_eq!((hello.first_seq, hello.last_seq), (1, 3)),
        other => panic!("{other:?}"),
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let entry = next_entry(&mut stream).await;
        assert_eq!(entry.kind, Kind::PaymentNotification);
        seen.push((entry.seq, entry.body));
    }
    assert_eq!(
        seen,
        (1..=3)
            .map(|n| (i64::from(n), notification(n)))
            .collect::<Vec<_>>(),
        "in order, byte for byte"
    );
    // Posted while the desk is connected: it arrives without a reconnect.
    post(&relay.url(paths::REFUND_NOTIFY), &notification(9)).await;
    let entry = next_entry(&mut stream).await;
    assert_eq!((entry.seq, entry.kind), (4, Kind::RefundNotification));

    // From a stored position: only what came after.
    desk.ack(2).await.unwrap();
    let mut resumed = desk.events(2).await.unwrap();
    assert_eq!(next_entry(&mut resumed).await.seq, 3);
    assert_eq!(next_entry(&mut resumed).await.seq, 4);
    let listed = desk.desks().await.unwrap();
    assert_eq!(listed[0].acked_seq, 2);
    assert!(listed[0].last_seen_at.is_some());
}

#[tokio::test]
async fn the_doors_refuse_what_no_desk_could_use_and_say_why() {
    let relay = start().await;
    let url = relay.url(paths::REFUND_REQUESTS);
    let body = r#"{"request_id":"r1","out_trade_no":"A1","refund_fee":100,"reason":"尺码不合适"}"#;
    let client = http();
    let send = |timestamp: Option<i64>, body: &'static str| {
        let mut request = client.post(&url).body(body);
        if let Some(timestamp) = timestamp {
            request = request
                .header(backend_api::TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    backend_api::SIGNATURE_HEADER,
                    backend_api::sign("secret", timestamp, body.as_bytes()),
                );
        }
        async move {
            let reply = request.send().await.unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, reply) = send(None, body).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, reply) = send(Some(unix_now() - 3600), body).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("stale_request"))
    );
    let (status, reply) = send(Some(unix_now()), "not json").await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let now = unix_now();
    let (status, reply) = send(Some(now), body).await;
    assert_eq!((status, reply["created"].as_bool()), (202, Some(true)));
    let (status, reply) = send(Some(now), body).await;
    assert_eq!(
        (status, reply["created"].as_bool()),
        (202, Some(false)),
        "the same bytes again"
    );

    let (status, answer) = post(&relay.url(paths::PAYMENT_NOTIFY), "{\"not\":\"xml\"}").await;
    assert_eq!(status, 400);
    assert!(answer.contains("FAIL"), "{answer}");
    let elsewhere = format!(
        "{}{}",
        relay.base,
        paths::for_shop(paths::PAYMENT_NOTIFY, "nosuchshop")
    );
    assert_eq!(post(&elsewhere, &notification(1)).await.0, 404);

    // What was stored: the one refund request, with its headers for the desk to check.
    let desk = relay.desk(Role::Owner, "店长").await;
    let mut stream = desk.events(0).await.unwrap();
    let entry = next_entry(&mut stream).await;
    assert_eq!(entry.kind, Kind::RefundRequest);
    assert_eq!(entry.timestamp, Some(now.to_string()));
    assert_eq!(
        entry.signature,
        Some(backend_api::sign("secret", now, body.as_bytes()))
    );
    let hello = relay.relay.store.bounds(relay.shop_id).await.unwrap();
    assert_eq!(hello.last_seq, 1);
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("relay_refused_total{kind=\"refund_request\",cause=\"stale\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("relay_entries_duplicate_total{kind=\"refund_request\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_code_pairs_once_and_the_owner_revokes_a_desk_whose_stream_then_ends() {
    let relay = start().await;
    let owner = relay.desk(Role::Owner, "店长").await;

    let code = PairingCode::generate(Role::Staff);
    owner
        .add_pairing(&code, Role::Staff, Some("sealed"))
        .await
        .unwrap();
    let anonymous = RelayClient::new(&relay.base, None).unwrap();
    let paired = anonymous.pair(&code, "收银台").await.unwrap();
    assert_eq!(paired.role, Role::Staff);
    assert_eq!(paired.bundle.as_deref(), Some("sealed"));
    match anonymous.pair(&code, "又一台").await {
        Err(RelayError::Refused {
            status: 404, code, ..
        }) => assert_eq!(code, "pairing_unknown"),
        other => panic!("a used code paired again: {other:?}"),
    }
    let staff = anonymous.clone().with_token(&paired.token);
    match staff.desks().await {
        Err(RelayError::Refused { status: 403, .. }) => {}
        other => panic!("staff managed desks: {other:?}"),
    }
    match staff
        .add_pairing(&PairingCode::generate(Role::Owner), Role::Owner, None)
        .await
    {
        Err(RelayError::Refused { status: 403, .. }) => {}
        other => panic!("staff made an owner code: {other:?}"),
    }

    let mut stream = staff.events(0).await.unwrap();
    assert!(matches!(
        stream.next().await.unwrap(),
        Some(Received::Hello(_))
    ));
    owner.revoke(paired.desk_id).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the revoked desk's stream ends within seconds");
    assert!(matches!(ended, Ok(None) | Err(_)), "{ended:?}");
    assert!(matches!(staff.events(0).await, Err(RelayError::Unpaired)));
    assert!(matches!(staff.ack(1).await, Err(RelayError::Unpaired)));
    let desks = owner.desks().await.unwrap();
    assert!(desks.iter().any(|d| d.id == paired.desk_id && d.revoked));
}

#[tokio::test]
async fn retention_keeps_what_a_desk_has_not_acknowledged() {
    let relay = start().await;
    let (owner, staff) = (
        relay.desk(Role::Owner, "店长").await,
        relay.desk(Role::Staff, "后厨").await,
    );
    for n in 1..=4 {
        post(&relay.url(paths::PAYMENT_NOTIFY), &notification(n)).await;
    }
    owner.ack(4).await.unwrap();
    staff.ack(2).await.unwrap();
    let store = &relay.relay.store;
    let week = Retention::default().acknowledged;
    // A week later: what both desks stored goes; the staff desk's unread two stay.
    assert_eq!(
        store
            .prune(Retention::default(), unix_now() + week + 10)
            .await
            .unwrap(),
        2
    );
    let hello = store.bounds(relay.shop_id).await.unwrap();
    assert_eq!((hello.first_seq, hello.last_seq), (3, 4));
    let mut stream = staff.events(2).await.unwrap();
    assert_eq!(next_entry(&mut stream).await.seq, 3);
    // Past the longest retention everything goes: a desk away that long reconciles.
    let month = Retention::default().at_most;
    assert_eq!(
        store
            .prune(Retention::default(), unix_now() + month + 10)
            .await
            .unwrap(),
        2
    );
    let hello = store.bounds(relay.shop_id).await.unwrap();
    assert_eq!((hello.first_seq, hello.last_seq), (5, 4));
}

#[tokio::test]
async fn a_relay_with_its_own_certificate_is_reached_over_verified_https() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "小店 relay CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let acceptor =
        relay::tls_acceptor(leaf.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.sqlite3")).unwrap();
    let doctor_store = store.clone();
    let shop = store.add_shop("测试小店", unix_now()).await.unwrap();
    let code = relay::desks::new_pairing(&store, shop.id, Role::Owner, unix_now())
        .await
        .unwrap();
    let relay = Relay::new(store, Settings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        relay
            .serve_with(listener, Some(acceptor), std::future::pending())
            .await
    });

    // Not trusted without the shop's CA: verification is always on.
    let stranger = RelayClient::new(&base, None).unwrap();
    assert!(matches!(
        stranger.pair(&code, "店长").await,
        Err(RelayError::Unreachable(_))
    ));
    let client = RelayClient::new(&base, Some(ca.pem().as_bytes())).unwrap();
    let paired = client.pair(&code, "店长").await.unwrap();
    let desk = client.with_token(&paired.token);
    let mut stream = desk.events(0).await.unwrap();
    let posted = wxpay_client::verified_client_builder(Some(ca.pem().as_bytes()))
        .unwrap()
        .build()
        .unwrap()
        .post(format!(
            "{base}{}",
            paths::for_shop(paths::PAYMENT_NOTIFY, &shop.slug)
        ))
        .body(notification(1))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    assert_eq!(next_entry(&mut stream).await.body, notification(1));

    // The doctor reaches the public address over verified HTTPS and lists the desk; until the
    // shop's merchant is known, it says notifications naming any merchant are kept.
    use relay::doctor::{Verdict, doctor};
    let unknown = doctor(
        &doctor_store,
        Some(&base),
        Some(ca.pem().as_bytes()),
        unix_now(),
    )
    .await;
    assert!(
        unknown.iter().any(
            |f| matches!(&f.verdict, Verdict::Warning { fix, .. } if fix.contains("shops merchant"))
        ),
        "{unknown:#?}"
    );
    doctor_store
        .set_merchant(
            shop.id,
            relay::store::ShopMerchant {
                appid: "wx2421b1c4370ec43b".into(),
                mch_id: "10000100".into(),
            },
        )
        .await
        .unwrap();
    let findings = doctor(
        &doctor_store,
        Some(&base),
        Some(ca.pem().as_bytes()),
        unix_now(),
    )
    .await;
    assert!(
        findings.iter().all(|f| f.verdict == Verdict::Ok),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.detail.contains("店长") && f.detail.contains("last seen"))
    );
    // Without the CA, or over plain HTTP, the public address fails; a shop without an owner's
    // desk is named with the command that pairs one.
    doctor_store.add_shop("二店", unix_now()).await.unwrap();
    let findings = doctor(&doctor_store, Some(&base), None, unix_now()).await;
    let failed: Vec<_> = findings
        .iter()
        .filter(|f| f.failed())
        .map(|f| f.check.as_str())
        .collect();
    assert_eq!(failed.len(), 2, "{findings:#?}");
    assert!(
        failed[0] == "public address" && failed[1].contains("二店"),
        "{failed:?}"
    );
    let http = base.replace("https://", "http://");
    assert!(doctor(&doctor_store, Some(&http), None, unix_now()).await[1].failed());
}

#[tokio::test]
async fn as_the_notify_url_the_relay_passes_each_payment_on_to_the_backend_until_it_takes_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The backend's own handler: fails the first time (its database was busy), then takes it.
    let calls = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let backend = {
        let (calls, bodies) = (calls.clone(), bodies.clone());
        axum::Router::new().route(
            "/wxpay/notify",
            axum::routing::post(move |body: String| {
                let (calls, bodies) = (calls.clone(), bodies.clone());
                async move {
                    bodies.lock().unwrap().push(body);
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        "<xml><return_code><![CDATA[FAIL]]></return_code></xml>"
                    } else {
                        "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_url = format!("http://{}/wxpay/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, backend).await });

    let relay = start_with(Settings {
        forward_schedule: vec![1],
        ..Settings::default()
    })
    .await;
    relay
        .relay
        .store
        .set_forward(relay.shop_id, Some(backend_url))
        .await
        .unwrap();
    // WeChat is answered at once, whatever the backend does.
    let (status, answer) = post(&relay.url(paths::PAYMENT_NOTIFY), &notification(7)).await;
    assert_eq!(status, 200);
    assert!(answer.contains("SUCCESS"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while relay
        .relay
        .store
        .forward_backlog(relay.shop_id)
        .await
        .unwrap()
        .pending
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never taken by the backend"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "refused once, taken on the retry"
    );
    assert!(
        bodies.lock().unwrap().iter().all(|b| *b == notification(7)),
        "byte for byte"
    );
    // Refund notifications and requests are the desk's alone.
    post(&relay.url(paths::REFUND_NOTIFY), &notification(8)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A shop has one owner's desk: pairing a new one (a new PC, `shops pair-owner`) revokes the
/// one before in the same transaction, so two owner's desks never both read the log and queue
/// the same refund requests. A code's first letter says its role, and the relay refuses to
/// register a code whose letter says another.
#[tokio::test]
async fn a_new_owners_desk_replaces_the_one_before() {
    let relay = start().await;
    let first = relay.desk(Role::Owner, "旧电脑").await;
    let first_id = first.desks().await.unwrap()[0].id;
    let staff = relay.desk(Role::Staff, "收银台").await;

    let code =
        relay::desks::new_pairing(&relay.relay.store, relay.shop_id, Role::Owner, unix_now())
            .await
            .unwrap();
    assert_eq!(code.role(), Role::Owner);
    let anonymous = RelayClient::new(&relay.base, None).unwrap();
    let paired = anonymous.pair(&code, "新电脑").await.unwrap();
    assert_eq!(paired.role, Role::Owner);
    let second = anonymous.with_token(&paired.token);

    assert!(
        matches!(first.events(0).await, Err(RelayError::Unpaired)),
        "the replaced owner's desk no longer reads the log"
    );
    let desks = second.desks().await.unwrap();
    let active_owners: Vec<_> = desks
        .iter()
        .filter(|d| d.role == Role::Owner && !d.revoked)
        .collect();
    assert_eq!(active_owners.len(), 1);
    assert_eq!(active_owners[0].id, paired.desk_id);
    assert!(desks.iter().any(|d| d.id == first_id && d.revoked));
    assert!(staff.events(0).await.is_ok(), "staff desks stay");

    // The new owner registers a staff code marked as an owner's: refused.
    match second
        .add_pairing(
            &PairingCode::generate(Role::Owner),
            Role::Staff,
            Some("sealed"),
        )
        .await
    {
        Err(RelayError::Refused {
            status: 400, code, ..
        }) => assert_eq!(code, "invalid_pairing"),
        other => panic!("a code whose letter says owner registered as staff: {other:?}"),
    }
}

/// One desk token holds at most two streams: a third ends the oldest (a desk reconnecting is
/// never locked out by its own half-dead connections), so a token cannot take every place the
/// relay has for WeChat's notifications.
#[tokio::test]
async fn a_desk_token_holds_two_streams_at_most() {
    let relay = start().await;
    let desk = relay.desk(Role::Owner, "店长").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = desk.events(0).await.unwrap();
        assert!(matches!(
            stream.next().await.unwrap(),
            Some(Received::Hello(_))
        ));
        streams.push(stream);
    }
    let ended = tokio::time::timeout(Duration::from_secs(20), streams[0].next())
        .await
        .expect("the oldest stream ends within seconds");
    assert!(matches!(ended, Ok(None) | Err(_)), "{ended:?}");
    // The two newest go on: an entry reaches both.
    post(&relay.url(paths::PAYMENT_NOTIFY), &notification(1)).await;
    for stream in &mut streams[1..] {
        assert_eq!(next_entry(stream).await.seq, 1);
    }
    assert_eq!(relay.relay.seats.open(), 2);
    // Many more: still two places.
    let mut more = Vec::new();
    for _ in 0..10 {
        more.push(desk.events(0).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        relay.relay.seats.open() <= 2,
        "{}",
        relay.relay.seats.open()
    );
}

/// Strangers cannot fill the shop's log: once the owner's desk said which merchant the shop is,
/// notifications naming another are refused at the door (nothing stored, nothing forwarded),
/// and one source posting without end is held to its rate while others still get in.
#[tokio::test]
async fn the_doors_take_only_the_shops_merchant_and_hold_a_flood_to_its_rate() {
    let relay = start_with(Settings {
        rates: relay::rates::Rates {
            shop: relay::rates::Rate {
                per_second: 1.0,
                burst: 40.0,
            },
            source: relay::rates::Rate {
                per_second: 1.0,
                burst: 1_000.0,
            },
        },
        ..Settings::default()
    })
    .await;
    let owner = relay.desk(Role::Owner, "店长").await;
    let ours = |n: u32, mch_id: &str| {
        format!(
            "<xml><appid>wx2421b1c4370ec43b</appid><mch_id>{mch_id}</mch_id><out_trade_no>M{n}</out_trade_no></xml>"
        )
    };
    // Before the shop's merchant is known, any merchant's is kept.
    assert_eq!(
        post(&relay.url(paths::PAYMENT_NOTIFY), &ours(1, "1900000109"))
            .await
            .0,
        200
    );
    owner
        .set_merchant("wx2421b1c4370ec43b", "10000100")
        .await
        .unwrap();
    let (status, body) = post(&relay.url(paths::PAYMENT_NOTIFY), &ours(2, "1900000109")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("FAIL"), "{body}");
    let (status, _) = post(&relay.url(paths::REFUND_NOTIFY), &ours(3, "1900000109")).await;
    assert_eq!(status, 400);
    assert_eq!(
        post(&relay.url(paths::PAYMENT_NOTIFY), &ours(4, "10000100"))
            .await
            .0,
        200
    );
    let hello = relay.relay.store.bounds(relay.shop_id).await.unwrap();
    assert_eq!(hello.last_seq, 2, "the other merchant's never stored");

    // Strangers' garbage and other merchants' notifications spend nothing of the shop's rate:
    // the shop still has its whole burst.
    for n in 100..160 {
        post(&relay.url(paths::PAYMENT_NOTIFY), "not xml").await;
        post(&relay.url(paths::PAYMENT_NOTIFY), &ours(n, "1900000109")).await;
    }
    // A flood from this address: the shop's burst, then FAIL (WeChat would retry later).
    let mut refused = 0;
    for n in 10..80 {
        let (status, body) = post(&relay.url(paths::PAYMENT_NOTIFY), &ours(n, "10000100")).await;
        if status == 429 {
            assert!(body.contains("FAIL"), "{body}");
            refused += 1;
        }
    }
    // 38 left of the burst of 40, one more a second: about 32 of the 70 refused. Had the
    // garbage spent the burst, nearly all 70 would be.
    assert!(
        (20..=40).contains(&refused),
        "held to the rate after its whole burst: {refused} refused"
    );
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains(
            "relay_refused_total{kind=\"payment_notification\",cause=\"other_merchant\"} 61"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("cause=\"too_fast\""), "{metrics}");
}
