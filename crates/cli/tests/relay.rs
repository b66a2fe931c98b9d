//! Desks behind a router: the desk listens on no port and reads the shop's messages from the
//! relay, which WeChat (the simulator) and the backend post to. The relay runs in this process
//! (or, to be killed, as a child process of this test binary); the desk is the real CLI.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use relay::store::Store;
use relay::{Relay, Settings, SqliteStore};
use relay_protocol::{Role, paths};
use serde_json::Value;
use support::{DeskProcess, cli, free_address, listening_ports, now, production_desk};
use wxpay_sim::{NewOrder, SimConfig, SimHandle};

/// What each test starts from: a temporary folder, a runtime and WeChat (the simulator).
struct Setting {
    temp: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    sim: SimHandle,
}

fn setting() -> Setting {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(wxpay_sim::start(SimConfig::new(temp.path().join("wechat"))))
        .unwrap();
    Setting { temp, runtime, sim }
}

impl Setting {
    /// A relay in this process, on a SQLite file, with one shop.
    fn relay(&self) -> RelayHere {
        let db = self.temp.path().join("relay.sqlite3");
        self.runtime.block_on(async {
            let store = SqliteStore::open(&db).unwrap();
            let shop = store.add_shop("测试小店", now()).await.unwrap();
            let relay = Relay::new(store.clone(), Settings::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { relay.serve(listener, std::future::pending()).await });
            RelayHere {
                base,
                slug: shop.slug,
                shop_id: shop.id,
                store,
                runtime: self.runtime.handle().clone(),
            }
        })
    }

    /// The owner's desk in the folder `name`, set up and paired with `relay`; the backend's
    /// shared secret.
    fn owner_desk(&self, relay: &RelayHere, name: &str) -> (std::path::PathBuf, String) {
        let dir = self.temp.path().join(name);
        let secret = paired_desk(&self.sim, &dir, &relay.base, &relay.owner_code());
        (dir, secret)
    }

    fn desk_process(&self, dir: &Path, logs: &str) -> DeskProcess {
        DeskProcess::new(dir.to_owned(), free_address(), self.temp.path().join(logs))
    }
}

/// A relay on a SQLite file and its shop.
struct RelayHere {
    base: String,
    slug: String,
    shop_id: i64,
    store: SqliteStore,
    runtime: tokio::runtime::Handle,
}

impl RelayHere {
    fn owner_code(&self) -> String {
        self.runtime
            .block_on(relay::desks::new_pairing(
                &self.store,
                self.shop_id,
                Role::Owner,
                now(),
            ))
            .unwrap()
            .display()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, paths::for_shop(path, &self.slug))
    }

    /// The newest entry of the shop's log.
    fn last_seq(&self) -> i64 {
        self.runtime
            .block_on(self.store.bounds(self.shop_id))
            .unwrap()
            .last_seq
    }

    fn entries(&self) -> Vec<relay_protocol::Entry> {
        self.runtime
            .block_on(self.store.entries_after(self.shop_id, 0, 1_000))
            .unwrap()
    }
}

/// A production desk against the simulator, paired with the relay as the owner's desk; the
/// backend's shared secret.
fn paired_desk(sim: &SimHandle, dir: &Path, base: &str, code: &str) -> String {
    let secret = production_desk(sim, dir, free_address());
    let paired = cli(
        dir,
        &[
            "relay", "pair", "--url", base, "--code", code, "--name", "店长", "--json",
        ],
    );
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
    secret
}

/// A payment notification for `order` as WeChat signs it with the merchant's key.
fn signed_payment(sim: &SimHandle, order: &str, fee: i64) -> String {
    let c = sim.credentials();
    let fields = wxpay::Fields::from_pairs([
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", c.appid.to_string()),
        ("mch_id", c.mch_id.to_string()),
        ("nonce_str", format!("n{order}")),
        ("out_trade_no", order.to_owned()),
        (
            "transaction_id",
            format!("4200{:024}", order.len() as i64 * 1_000_000 + fee),
        ),
        ("total_fee", fee.to_string()),
        ("cash_fee", fee.to_string()),
        ("fee_type", "CNY".to_owned()),
        ("bank_type", "OTHERS".to_owned()),
        ("openid", "oRelayTest".to_owned()),
        ("is_subscribe", "N".to_owned()),
        ("time_end", "20261203120000".to_owned()),
        ("trade_type", "JSAPI".to_owned()),
    ])
    .unwrap();
    wxpay::sign::sign_and_encode(fields, &c.api_key, wxpay::SignType::HmacSha256).unwrap()
}

fn pay(sim: &SimHandle, notify_url: &str, fee: i64) -> String {
    let order = sim
        .create_order(NewOrder {
            total_fee: fee,
            notify_url: Some(notify_url.to_owned()),
            ..NewOrder::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    order.out_trade_no
}

/// Waits until the desk printed an event `matches` picks.
fn wait_for(desk: &DeskProcess, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(event) = desk.events.lock().unwrap().iter().find(|e| matches(e)) {
            return event.clone();
        }
        assert!(Instant::now() < deadline, "the desk never printed {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn paid_events(desk: &DeskProcess, order: &str) -> usize {
    desk.events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "order_paid" && e["out_trade_no"] == order)
        .count()
}

fn orders_on_desk(dir: &Path) -> Vec<String> {
    let output = cli(dir, &["orders", "list", "--limit", "1000", "--json"]);
    assert!(output.status.success());
    let orders: Value = serde_json::from_slice(&output.stdout).unwrap();
    orders
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["out_trade_no"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_desk_with_no_listening_port_gets_payments_through_the_relay_and_refuses_a_forged_one() {
    let setting = setting();
    let sim = &setting.sim;
    let relay = setting.relay();
    let (dir, _) = setting.owner_desk(&relay, "desk");
    let mut desk = setting.desk_process(&dir, "logs");
    desk.start();
    let ready = wait_for(&desk, "ready", |e| e["type"] == "ready");
    assert_eq!(ready["relay"], true);
    assert_eq!(
        listening_ports(desk.pid().unwrap()),
        Vec::<u16>::new(),
        "a desk with a relay listens on no port"
    );

    let notify_url = relay.url(paths::PAYMENT_NOTIFY);
    let order = pay(sim, &notify_url, 4_580);
    let alert = wait_for(&desk, "the order's alert", |e| {
        e["type"] == "alert"
            && e["orders"]
                .as_array()
                .is_some_and(|o| o.iter().any(|n| n == order.as_str()))
    });
    assert!(
        alert["alert"]["title"].as_str().unwrap().contains("45.80"),
        "{alert}"
    );

    // Someone posts a tampered copy of that notification (a larger amount, a new order) to the
    // relay: the relay stores it (it holds no key), the desk refuses it.
    let genuine = relay
        .entries()
        .into_iter()
        .find(|entry| entry.body.contains(&order))
        .unwrap();
    let forged_order = format!("{order}X");
    let forged = genuine.body.replace(&order, &forged_order).replace(
        "<total_fee>4580</total_fee>",
        "<total_fee>999900</total_fee>",
    );
    let posted = reqwest::blocking::Client::new()
        .post(&notify_url)
        .body(forged)
        .send()
        .unwrap()
        .status();
    assert_eq!(
        posted.as_u16(),
        200,
        "the relay stores what it cannot check"
    );
    // The desk moves past it (WeChat confirms the desk's key, so it is a forgery) and takes
    // what comes after.
    let next = pay(sim, &notify_url, 1_200);
    wait_for(&desk, "the next order", |e| {
        e["type"] == "order_paid" && e["out_trade_no"] == next.as_str()
    });
    desk.stop();
    let orders = orders_on_desk(&dir);
    assert!(
        orders.contains(&order) && orders.contains(&next),
        "{orders:?}"
    );
    assert!(
        !orders.contains(&forged_order),
        "the forged order was stored: {orders:?}"
    );
    assert_eq!(paid_events(&desk, &forged_order), 0);
}

#[test]
fn a_desk_away_for_an_hour_gets_everything_once() {
    let setting = setting();
    let sim = &setting.sim;
    let relay = setting.relay();
    let (dir, secret) = setting.owner_desk(&relay, "desk");
    let notify_url = relay.url(paths::PAYMENT_NOTIFY);
    let mut desk = setting.desk_process(&dir, "logs");
    desk.start();
    let first = pay(sim, &notify_url, 9_900);
    wait_for(&desk, "the first order", |e| {
        e["type"] == "order_paid" && e["out_trade_no"] == first.as_str()
    });
    desk.stop();

    // Closed for the evening: orders keep coming, and an hour ago the backend asked for a
    // refund (the relay received it then, signed then).
    let away: Vec<String> = (0..5).map(|i| pay(sim, &notify_url, 1_000 + i)).collect();
    let hour_ago = now() - 3600;
    let body = format!(
        r#"{{"request_id":"away-1","out_trade_no":"{first}","refund_fee":900,"reason":"少发了一件"}}"#
    );
    setting.runtime.block_on(async {
        relay
            .store
            .append(
                relay.shop_id,
                relay::store::NewEntry {
                    kind: relay_protocol::Kind::RefundRequest,
                    signature: Some(backend_api::sign(&secret, hour_ago, body.as_bytes())),
                    timestamp: Some(hour_ago.to_string()),
                    body,
                },
                hour_ago,
            )
            .await
            .unwrap();
    });
    // Wait until the relay has them all (the simulator posts as it pays).
    wait_until("the relay has the evening's orders", || {
        relay.last_seq() >= 7
    });

    desk.start();
    for order in &away {
        wait_for(&desk, "an order paid while away", |e| {
            e["type"] == "order_paid" && e["out_trade_no"] == order.as_str() && e["run"] == 2
        });
    }
    let requests = support::cli_json(&dir, &["refunds", "list", "--state", "pending"]);
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["out_trade_no"], first.as_str());
    desk.stop();

    // Started again: it reads on to the end of the log (the owner's desk's own record of the
    // request comes back after the seven), and nothing is taken twice.
    desk.start();
    wait_until("the desk reads to the end of the log", || {
        support::cli_json(&dir, &["relay", "status"])["position"] == relay.last_seq()
    });
    desk.stop();
    for order in away.iter().chain([&first]) {
        assert_eq!(
            paid_events(&desk, order),
            1,
            "order {order} was announced once"
        );
    }
    assert_eq!(
        support::cli_json(&dir, &["refunds", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        relay.last_seq() > 7,
        "the owner's desk sent the request's record"
    );
}

/// This test binary as the relay, for a test that kills it: serves `RELAY_CHILD_DB` on
/// `RELAY_CHILD_LISTEN` until killed. Does nothing when run without them.
#[test]
#[ignore = "the relay process of relay_killed_mid_stream_loses_nothing_it_answered"]
fn relay_child() {
    let (Ok(db), Ok(listen)) = (
        std::env::var("RELAY_CHILD_DB"),
        std::env::var("RELAY_CHILD_LISTEN"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(Path::new(&db)).unwrap();
        let relay = Relay::new(store, Settings::default());
        let listener = guarded_server::bind(listen.parse().unwrap()).unwrap();
        relay.serve(listener, std::future::pending()).await.unwrap();
    });
}

/// The relay's process, killed when the test ends however it ends.
struct RelayChild(std::process::Child);

impl RelayChild {
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for RelayChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_relay_child(db: &Path, listen: std::net::SocketAddr) -> RelayChild {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["relay_child", "--exact", "--ignored", "--nocapture"])
        .env("RELAY_CHILD_DB", db)
        .env("RELAY_CHILD_LISTEN", listen.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(listen).is_err() {
        assert!(Instant::now() < deadline, "the relay did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    RelayChild(child)
}

#[test]
fn relay_killed_mid_stream_loses_nothing_it_answered() {
    let Setting { temp, runtime, sim } = setting();
    let db = temp.path().join("relay.sqlite3");
    let (slug, code) = runtime.block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        let shop = store.add_shop("测试小店", now()).await.unwrap();
        let code = relay::desks::new_pairing(&store, shop.id, Role::Owner, now())
            .await
            .unwrap();
        (shop.slug, code.display())
    });
    let listen = free_address();
    let base = format!("http://{listen}");
    let mut relay = start_relay_child(&db, listen);
    let dir = temp.path().join("desk");
    paired_desk(&sim, &dir, &base, &code);
    let mut desk = DeskProcess::new(dir.clone(), free_address(), temp.path().join("logs"));
    desk.start();

    // WeChat's side: four senders, each notification posted until the relay answers SUCCESS
    // (WeChat retries on its schedule; faster here), while the relay is killed three times with
    // posts in flight and an open stream to the desk.
    let notify_url = format!("{base}{}", paths::for_shop(paths::PAYMENT_NOTIFY, &slug));
    let orders: Vec<String> = (0..240).map(|i| format!("KILL{i:04}")).collect();
    let bodies: Vec<(String, String)> = orders
        .iter()
        .enumerate()
        .map(|(i, order)| (order.clone(), signed_payment(&sim, order, 100 + i as i64)))
        .collect();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let senders: Vec<_> = bodies
        .chunks(60)
        .map(|chunk| {
            let (chunk, url, answered) = (chunk.to_vec(), notify_url.clone(), answered.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                for (order, body) in chunk {
                    loop {
                        let ok = client
                            .post(&url)
                            .body(body.clone())
                            .send()
                            .ok()
                            .and_then(|reply| reply.text().ok())
                            .is_some_and(|text| text.contains("SUCCESS"));
                        if ok {
                            answered.lock().unwrap().push(order);
                            // A shop's pace, so the kills land among the posts.
                            std::thread::sleep(Duration::from_millis(10));
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(30));
                    }
                }
            })
        })
        .collect();
    let mut kills = 0;
    while senders.iter().any(|s| !s.is_finished()) && kills < 3 {
        std::thread::sleep(Duration::from_millis(100));
        let before = answered.lock().unwrap().len();
        if before == 0 || before == orders.len() {
            continue;
        }
        relay.kill();
        kills += 1;
        std::thread::sleep(Duration::from_millis(200));
        relay = start_relay_child(&db, listen);
    }
    for sender in senders {
        sender.join().unwrap();
    }
    eprintln!(
        "the relay was killed {kills} times while {} notifications were sent",
        orders.len()
    );
    assert_eq!(
        kills, 3,
        "the relay was killed while notifications were sent"
    );
    assert_eq!(answered.lock().unwrap().len(), orders.len());
    for order in &orders {
        wait_for(&desk, "an order the relay answered", |e| {
            e["type"] == "order_paid" && e["out_trade_no"] == order.as_str()
        });
    }
    desk.stop();
    relay.kill();
    for order in &orders {
        assert_eq!(paid_events(&desk, order), 1, "order {order} once");
    }
    let stored = orders_on_desk(&dir);
    assert!(orders.iter().all(|o| stored.contains(o)));
}

/// `merchant-desk-cli relay pair` on a new PC, with the developer switch (the simulator is
/// WeChat here); the code comes from the owner's desk.
fn staff_desk(sim: &SimHandle, dir: &Path, base: &str, code: &str, name: &str) {
    let paired = std::process::Command::new(support::BIN)
        .args([
            "relay", "pair", "--url", base, "--code", code, "--name", name, "--json",
        ])
        .arg("--data-dir")
        .arg(dir)
        .envs(support::dev_switch(sim))
        .env("MERCHANT_DESK_KEYRING", "off")
        .output()
        .unwrap();
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
}

/// The queue as a desk shows it: (request, order, amount, state, refund number).
fn queue_of(dir: &Path) -> Vec<(i64, String, i64, String, Option<String>)> {
    let list = support::cli_json(dir, &["refunds", "list"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["request"].as_i64().unwrap(),
                item["out_trade_no"].as_str().unwrap().to_owned(),
                item["requested_fee"].as_i64().unwrap(),
                item["state"].as_str().unwrap().to_owned(),
                item["refund"]["out_refund_no"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_desks_see_the_same_orders_and_decisions() {
    let setting = setting();
    let (temp, sim) = (&setting.temp, &setting.sim);
    let relay = setting.relay();
    let (owner_dir, secret) = setting.owner_desk(&relay, "owner");
    let mut desks = vec![setting.desk_process(&owner_dir, "logs-owner")];
    let mut dirs = vec![owner_dir.clone()];
    for name in ["收银台", "后厨"] {
        let invite = support::cli_json(&owner_dir, &["relay", "invite"]);
        let code = invite["code"].as_str().unwrap();
        let dir = temp.path().join(name);
        staff_desk(sim, &dir, &relay.base, code, name);
        desks.push(setting.desk_process(&dir, &format!("logs-{name}")));
        dirs.push(dir);
    }
    for desk in &mut desks {
        desk.start();
    }
    let order = pay(sim, &relay.url(paths::PAYMENT_NOTIFY), 8_800);
    for desk in &desks {
        wait_for(desk, "the order's alert on every desk", |e| {
            e["type"] == "alert"
                && e["orders"]
                    .as_array()
                    .is_some_and(|o| o.iter().any(|n| n == order.as_str()))
        });
    }

    // The customer asks for a refund through the mini-program; the backend posts it to the relay.
    let body = format!(
        r#"{{"request_id":"r-{order}","out_trade_no":"{order}","refund_fee":3000,"reason":"尺码不合适"}}"#
    );
    let now = now();
    let posted = reqwest::blocking::Client::new()
        .post(relay.url(paths::REFUND_REQUESTS))
        .header(backend_api::TIMESTAMP_HEADER, now.to_string())
        .header(
            backend_api::SIGNATURE_HEADER,
            backend_api::sign(&secret, now, body.as_bytes()),
        )
        .body(body)
        .send()
        .unwrap();
    assert_eq!(posted.status().as_u16(), 202);
    for dir in &dirs {
        wait_until("the request on every desk", || {
            queue_of(dir)
                .iter()
                .any(|q| q.1 == order && q.3 == "pending")
        });
    }
    for desk in &desks[1..] {
        wait_for(desk, "the request's alert on a staff desk", |e| {
            e["type"] == "alert" && e["alert"]["kind"] == "refund_request"
        });
    }
    let request = queue_of(&owner_dir)[0].0;

    // Staff cannot decide; the owner approves and WeChat pays it out.
    let refused = cli(
        &dirs[1],
        &["refunds", "approve", &request.to_string(), "--by", "收银员"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("staff desk"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let approved = cli(
        &owner_dir,
        &[
            "refunds",
            "approve",
            &request.to_string(),
            "--by",
            "店长",
            "--owner",
        ],
    );
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    for dir in &dirs {
        wait_until("the refund succeeded on every desk", || {
            queue_of(dir)
                .iter()
                .any(|q| q.0 == request && q.3 == "succeeded")
        });
    }
    for desk in &mut desks {
        desk.stop();
    }
    let owner_view = queue_of(&owner_dir);
    for dir in &dirs[1..] {
        assert_eq!(
            queue_of(dir),
            owner_view,
            "a staff desk shows the owner's queue"
        );
        assert!(orders_on_desk(dir).contains(&order));
    }
    // One refund, from the owner's desk only.
    assert_eq!(sim.refunds().len(), 1);

    // The owner lists the shop's desks and revokes the kitchen's PC.
    let listed = support::cli_json(&owner_dir, &["relay", "desks"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["店长", "收银台", "后厨"]);
    let kitchen = listed[2]["id"].as_i64().unwrap();
    support::cli_json(&owner_dir, &["relay", "revoke", &kitchen.to_string()]);
    let listed = support::cli_json(&owner_dir, &["relay", "desks"]);
    assert_eq!(listed[2]["revoked"], true);
    assert_eq!(listed[1]["revoked"], false);
    let refused = cli(&dirs[1], &["relay", "desks"]);
    assert!(
        !refused.status.success(),
        "a staff desk does not manage desks"
    );
}

/// The relay's operator (or whoever broke into it) makes the owner's pairing code, so it knows
/// both halves. It tries to take the owner's desk over at pairing: it answers "staff" for the
/// owner's code with a bundle of its own (another API key, a shop key it knows), or hands the
/// owner a code whose letter says staff. Either way the desk refuses before saving anything:
/// the merchant's key, the configuration and the books stay as they were.
#[test]
fn a_relay_cannot_take_over_the_owners_desk_at_pairing() {
    use relay_protocol::{PairingCode, bundle, token};
    let setting = setting();
    let (temp, sim) = (&setting.temp, &setting.sim);
    let relay = setting.relay();
    let dir = temp.path().join("owner");
    production_desk(sim, &dir, free_address());
    let config_before = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let secrets_before = std::fs::read_to_string(dir.join("secrets.json")).unwrap();
    let hostile_bundle = |code: &PairingCode| {
        bundle::seal(
            &bundle::Bundle {
                appid: sim.credentials().appid.as_str().to_owned(),
                mch_id: sim.credentials().mch_id.as_str().to_owned(),
                sign_type: "MD5".into(),
                api_key: "0123456789abcdef0123456789abcdef".into(),
                shop_key: "known-to-the-relay".into(),
            },
            code,
        )
    };
    // The relay's database says a code makes a staff desk, with the relay's own bundle.
    let as_staff = |code: &PairingCode| {
        relay
            .runtime
            .block_on(relay.store.add_pairing(
                relay.shop_id,
                Role::Staff,
                &token::digest(code.claim()),
                Some(hostile_bundle(code)),
                now() + 900,
                now(),
            ))
            .unwrap();
    };
    // The owner's code, answered as a staff desk's...
    let swapped = PairingCode::generate(Role::Owner);
    as_staff(&swapped);
    // ...and a code whose letter says staff, handed to the owner as "the owner's code".
    let staff_code = PairingCode::generate(Role::Staff);
    as_staff(&staff_code);

    for (code, said) in [
        (&swapped, "the relay answered that it made a staff desk"),
        (&staff_code, "the code typed is a staff desk's"),
    ] {
        let paired = cli(
            &dir,
            &[
                "relay",
                "pair",
                "--url",
                &relay.base,
                "--code",
                &code.display(),
                "--name",
                "店长",
            ],
        );
        let stderr = String::from_utf8_lossy(&paired.stderr);
        assert!(!paired.status.success(), "paired: {stderr}");
        assert!(stderr.contains(said), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.join("config.toml")).unwrap(),
            config_before,
            "nothing saved"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("secrets.json")).unwrap(),
            secrets_before,
            "the merchant's API key untouched"
        );
    }
    // The staff-letter code never reached the relay: it is still unclaimed there.
    let claimed = relay
        .runtime
        .block_on(relay.store.claim_pairing(
            &token::digest(staff_code.claim()),
            "probe",
            &token::digest("probe-token"),
            now(),
        ))
        .unwrap();
    assert!(
        claimed.is_some(),
        "the desk refused before asking the relay"
    );
}

/// Posts `body` to `url` until the relay answers SUCCESS (WeChat's way: it retries).
fn post_until_taken(url: &str, body: &str) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let taken = client
            .post(url)
            .body(body.to_owned())
            .send()
            .ok()
            .and_then(|reply| reply.text().ok())
            .is_some_and(|text| text.contains("SUCCESS"));
        if taken {
            return;
        }
        assert!(Instant::now() < deadline, "the relay never took it");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An owner's desk with the relay as a child process, started; the relay's database, its
/// address, the payment door and the relay.
struct Shop {
    db: std::path::PathBuf,
    listen: std::net::SocketAddr,
    notify_url: String,
    relay: RelayChild,
    desk: DeskProcess,
}

fn shop_with_relay_child(temp: &Path, runtime: &tokio::runtime::Runtime, sim: &SimHandle) -> Shop {
    let db = temp.join("relay.sqlite3");
    let (slug, code) = runtime.block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        let shop = store.add_shop("测试小店", now()).await.unwrap();
        let code = relay::desks::new_pairing(&store, shop.id, Role::Owner, now())
            .await
            .unwrap();
        (shop.slug, code.display())
    });
    let listen = free_address();
    let base = format!("http://{listen}");
    let relay = start_relay_child(&db, listen);
    let dir = temp.join("desk");
    paired_desk(sim, &dir, &base, &code);
    let mut desk = DeskProcess::new(dir, free_address(), temp.join("logs"));
    desk.start();
    Shop {
        db,
        listen,
        notify_url: format!("{base}{}", paths::for_shop(paths::PAYMENT_NOTIFY, &slug)),
        relay,
        desk,
    }
}

fn paid(desk: &DeskProcess, order: &str) {
    wait_for(desk, "the order's payment", |e| {
        e["type"] == "order_paid" && e["out_trade_no"] == order
    });
}

/// The relay's database is restored from last night's backup (or PostgreSQL fails over to a
/// replica behind): the numbers the desk passed are given to new entries. The desk sees it at
/// its next connection (the entry it took last is another one now) and reads again what the
/// relay holds: nothing after the restore is lost, nothing is taken twice.
#[test]
fn a_relay_log_that_went_back_is_read_again_and_nothing_is_lost() {
    let Setting { temp, runtime, sim } = setting();
    let mut shop = shop_with_relay_child(temp.path(), &runtime, &sim);
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "BACK0001", 101));
    paid(&shop.desk, "BACK0001");
    // The operator's backup, taken while the relay runs.
    let backup = temp.path().join("backup.sqlite3");
    rusqlite::Connection::open(&shop.db)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "BACK0002", 102));
    paid(&shop.desk, "BACK0002");

    // The relay's disk fails; the backup goes back in its place.
    shop.relay.kill();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", shop.db.display());
        let _ = std::fs::remove_file(file);
    }
    std::fs::copy(&backup, &shop.db).unwrap();
    shop.relay = start_relay_child(&shop.db, shop.listen);
    // WeChat's next notification takes number 2 again.
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "BACK0003", 103));
    paid(&shop.desk, "BACK0003");
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "BACK0004", 104));
    paid(&shop.desk, "BACK0004");
    shop.desk.stop();
    shop.relay.kill();
    for order in ["BACK0001", "BACK0002", "BACK0003", "BACK0004"] {
        assert_eq!(paid_events(&shop.desk, order), 1, "{order} once");
    }
    let log = std::fs::read_to_string(temp.path().join("logs/serve-1.log")).unwrap();
    assert!(log.contains("the relay's log went back"), "{log}");
}

/// Entries anyone with the API key (every staff desk) or anyone at all can put in the shop's
/// log: a signed payment that contradicts the order WeChat reported, and an unsigned one naming
/// the merchant while WeChat cannot be asked about the desk's key. Neither stops the link: the
/// first is refused for good and raises the alarm that someone else holds the key, the second
/// is put aside until WeChat answers, and the payments after them arrive as ever.
#[test]
fn no_entry_anyone_can_write_holds_up_the_shops_log() {
    let Setting { temp, runtime, sim } = setting();
    let mut shop = shop_with_relay_child(temp.path(), &runtime, &sim);
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "WEDGE001", 500));
    paid(&shop.desk, "WEDGE001");

    // Signed with the merchant's key, contradicting the paid order: another amount.
    post_until_taken(&shop.notify_url, &signed_payment(&sim, "WEDGE001", 1));
    // Names the merchant, signed with another key, while WeChat cannot be asked.
    sim.inject(wxpay_sim::FaultPlan {
        endpoint: wxpay_sim::Endpoint::RefundQuery,
        fault: wxpay_sim::Fault::Drop {
            after_record: false,
        },
        count: 1_000,
    });
    let forged = {
        let c = sim.credentials();
        let fields = wxpay::Fields::from_pairs([
            ("return_code", "SUCCESS".to_owned()),
            ("result_code", "SUCCESS".to_owned()),
            ("appid", c.appid.to_string()),
            ("mch_id", c.mch_id.to_string()),
            ("nonce_str", "forged".to_owned()),
            ("out_trade_no", "WEDGE009".to_owned()),
            ("transaction_id", "4200000000000000000000000999".to_owned()),
            ("total_fee", "999".to_owned()),
            ("time_end", "20261203120000".to_owned()),
        ])
        .unwrap();
        let other_key = wxpay::ApiKey::new("0123456789abcdef0123456789abcdef").unwrap();
        wxpay::sign::sign_and_encode(fields, &other_key, wxpay::SignType::HmacSha256).unwrap()
    };
    post_until_taken(&shop.notify_url, &forged);
    // The payments after them.
    for (order, fee) in [("WEDGE002", 700), ("WEDGE003", 701)] {
        post_until_taken(&shop.notify_url, &signed_payment(&sim, order, fee));
        paid(&shop.desk, order);
    }
    let status = support::cli_json(&shop.desk.dir, &["relay", "status"]);
    assert_eq!(status["position"], 5, "every entry passed: {status}");
    assert_eq!(status["parked"], 1, "the unverifiable one waits: {status}");

    shop.desk.stop();
    shop.relay.kill();
    assert_eq!(paid_events(&shop.desk, "WEDGE001"), 1);
    assert_eq!(paid_events(&shop.desk, "WEDGE009"), 0, "never shown paid");
    let books = std::fs::read_dir(shop.desk.dir.join("merchants"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("desk.sqlite3");
    let store = desk_core::Store::open(&books).unwrap();
    let alarms = store.active_alarms().unwrap();
    assert!(
        alarms
            .iter()
            .any(|a| a.cause == desk_core::AlarmCause::SignedConflict),
        "{alarms:?}"
    );
    let order = store.order("WEDGE001").unwrap().unwrap();
    assert_eq!(
        order.total_fee.get(),
        500,
        "the order as WeChat reported it"
    );
}

/// The backend's signed refund request for `order`, posted to the relay.
fn post_request(relay: &RelayHere, secret: &str, request_id: &str, order: &str, fee: i64) {
    let body = format!(
        r#"{{"request_id":"{request_id}","out_trade_no":"{order}","refund_fee":{fee},"reason":"换货"}}"#
    );
    let now = now();
    let posted = reqwest::blocking::Client::new()
        .post(relay.url(paths::REFUND_REQUESTS))
        .header(backend_api::TIMESTAMP_HEADER, now.to_string())
        .header(
            backend_api::SIGNATURE_HEADER,
            backend_api::sign(secret, now, body.as_bytes()),
        )
        .body(body)
        .send()
        .unwrap();
    assert_eq!(posted.status().as_u16(), 202);
}

fn refunds_of(sim: &SimHandle, order: &str) -> usize {
    sim.refunds()
        .iter()
        .filter(|r| r.out_trade_no == order)
        .count()
}

/// The owner moves to a new PC (`shops pair-owner`): the new owner's desk reads the shop's log
/// from its start and meets every refund request again, the ones the old desk approved among
/// them. None is paid twice: a request's refund number is the same on every desk, WeChat is
/// asked about it before the request is queued, and one WeChat has refunded is queued as
/// approved by WeChat's record. The old desk, revoked, approving a request behind the new one's
/// back sends that same number: WeChat pays it once.
#[test]
fn a_new_owners_desk_never_pays_a_handled_request_again() {
    let setting = setting();
    let (temp, sim) = (&setting.temp, &setting.sim);
    let relay = setting.relay();
    let (old_dir, secret) = setting.owner_desk(&relay, "old-pc");
    let mut old = setting.desk_process(&old_dir, "logs-old");
    old.start();
    let notify = relay.url(paths::PAYMENT_NOTIFY);
    let (first, second) = (pay(sim, &notify, 1_000), pay(sim, &notify, 800));
    post_request(&relay, &secret, "r-1", &first, 300);
    post_request(&relay, &secret, "r-2", &second, 200);
    wait_until("both requests on the old desk", || {
        queue_of(&old_dir)
            .iter()
            .filter(|q| q.3 == "pending")
            .count()
            == 2
    });
    let handled = queue_of(&old_dir)
        .into_iter()
        .find(|q| q.1 == first)
        .unwrap();
    let approved = cli(
        &old_dir,
        &[
            "refunds",
            "approve",
            &handled.0.to_string(),
            "--by",
            "店长",
            "--owner",
        ],
    );
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    wait_until("the first refund paid", || {
        queue_of(&old_dir)
            .iter()
            .any(|q| q.1 == first && q.3 == "succeeded")
    });
    old.stop();

    // The new PC: the same merchant, a new owner's code from the relay's operator.
    let new_dir = new_owners_desk(
        sim,
        &relay,
        &temp.path().join("new-pc"),
        &secret,
        &relay.owner_code(),
    );
    let mut new = setting.desk_process(&new_dir, "logs-new");
    new.start();
    wait_until("the log read on the new desk", || {
        queue_of(&new_dir).len() == 2
    });
    wait_until("the handled request as WeChat has it", || {
        queue_of(&new_dir)
            .iter()
            .any(|q| q.1 == first && q.3 == "succeeded")
    });
    let queue = queue_of(&new_dir);
    let waiting = queue.iter().find(|q| q.1 == second).unwrap();
    assert_eq!(waiting.3, "pending", "never decided: the owner decides");
    let listed = support::cli_json(&new_dir, &["refunds", "list"]);
    let imported = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["out_trade_no"] == first.as_str())
        .unwrap();
    assert_eq!(imported["decided_by"], "微信支付记录", "{imported}");
    assert_eq!(
        refunds_of(sim, &first),
        1,
        "the handled request is not paid again"
    );

    // The new desk approves the second; the old one, revoked, approves it too.
    let approve = |dir: &Path, id: i64| {
        let output = cli(
            dir,
            &[
                "refunds",
                "approve",
                &id.to_string(),
                "--by",
                "店长",
                "--owner",
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    approve(&new_dir, waiting.0);
    let behind_the_back = queue_of(&old_dir)
        .into_iter()
        .find(|q| q.1 == second)
        .unwrap();
    approve(&old_dir, behind_the_back.0);
    old.start();
    wait_until("the second refund paid on the new desk", || {
        queue_of(&new_dir)
            .iter()
            .any(|q| q.1 == second && q.3 == "succeeded")
    });
    // The old desk sent it too, and WeChat answered with the refund it already had (it is
    // followed from there; no notification reaches a revoked desk).
    wait_until("the old desk's send accepted", || {
        queue_of(&old_dir)
            .iter()
            .any(|q| q.1 == second && (q.3 == "processing" || q.3 == "succeeded"))
    });
    new.stop();
    old.stop();
    assert_eq!(refunds_of(sim, &second), 1, "one refund, whoever sent it");
    assert_eq!(sim.refunds().len(), 2);
}

/// The owner's desk pairing again with its shop keeps the shop key: the staff desks go on
/// following its queue. A new owner's desk (another PC) signs with a key of its own: a staff desk
/// shows none of it as the owner's and says it must be paired again, instead of freezing in
/// silence.
#[test]
fn a_staff_desk_follows_the_owner_through_re_pairing_and_says_when_it_cannot() {
    let setting = setting();
    let (temp, sim) = (&setting.temp, &setting.sim);
    let relay = setting.relay();
    let (owner_dir, secret, staff_dir) = owner_and_staff_desk(&setting, &relay, "owner");
    let key_before = shop_key_of(&owner_dir);

    // The owner pairs its desk again (a new code from the relay's operator).
    paired_again(&owner_dir, &relay);
    assert_eq!(shop_key_of(&owner_dir), key_before, "the shop key is kept");
    let mut owner = setting.desk_process(&owner_dir, "logs-owner");
    let mut staff = setting.desk_process(&staff_dir, "logs-staff");
    owner.start();
    staff.start();
    let notify = relay.url(paths::PAYMENT_NOTIFY);
    let first = pay(sim, &notify, 900);
    post_request(&relay, &secret, "s-1", &first, 100);
    wait_until("the request on the staff desk", || {
        queue_of(&staff_dir).iter().any(|q| q.1 == first)
    });
    owner.stop();

    // Another PC becomes the owner's desk: a new shop key.
    let new_dir = new_owners_desk(
        sim,
        &relay,
        &temp.path().join("new-owner"),
        &secret,
        &relay.owner_code(),
    );
    let mut new_owner = setting.desk_process(&new_dir, "logs-new");
    new_owner.start();
    let second = pay(sim, &notify, 700);
    post_request(&relay, &secret, "s-2", &second, 100);
    wait_until("the request on the new owner's desk", || {
        queue_of(&new_dir).iter().any(|q| q.1 == second)
    });
    wait_until("the staff desk says it", || {
        std::fs::read_to_string(temp.path().join("logs-staff/serve-1.log"))
            .unwrap_or_default()
            .contains("signed with a key this desk does not have")
    });
    new_owner.stop();
    staff.stop();
    assert!(
        !queue_of(&staff_dir).iter().any(|q| q.1 == second),
        "nothing shown as the owner's that the shop key did not sign"
    );
}

/// `relay pair` again on a desk that is paired (a new owner's code from the relay's operator).
fn paired_again(dir: &Path, relay: &RelayHere) {
    let paired = cli(
        dir,
        &[
            "relay",
            "pair",
            "--url",
            &relay.base,
            "--code",
            &relay.owner_code(),
            "--name",
            "店长",
        ],
    );
    assert!(
        paired.status.success(),
        "{}",
        String::from_utf8_lossy(&paired.stderr)
    );
}

/// Another PC set up as the merchant's and paired as the shop's owner's desk with `code`; the
/// owner copies the backend's shared secret over (Settings → intake), as the backend keeps
/// signing with it.
fn new_owners_desk(
    sim: &SimHandle,
    relay: &RelayHere,
    dir: &Path,
    secret: &str,
    code: &str,
) -> std::path::PathBuf {
    paired_desk(sim, dir, &relay.base, code);
    let config_path = dir.join("config.toml");
    let mut config = desk_runtime::Config::load(&config_path).unwrap().unwrap();
    config.intake.shared_secret = secret.to_owned();
    config.save(&config_path).unwrap();
    dir.to_owned()
}

/// Moving the owner's desk to a new PC while the old one still works: the old desk hands it
/// over (`relay invite --owner`); the new one keeps the shop key, so the staff desks follow it
/// without being paired again, and the old one is revoked as the new one pairs.
#[test]
fn the_owners_desk_handed_over_keeps_the_staff_desks_following() {
    let setting = setting();
    let (temp, sim) = (&setting.temp, &setting.sim);
    let relay = setting.relay();
    let (old_dir, secret, staff_dir) = owner_and_staff_desk(&setting, &relay, "old-pc");

    let handover = support::cli_json(&old_dir, &["relay", "invite", "--owner"]);
    let code = handover["code"].as_str().unwrap();
    let new_dir = new_owners_desk(sim, &relay, &temp.path().join("new-pc"), &secret, code);
    assert_eq!(
        shop_key_of(&new_dir),
        shop_key_of(&old_dir),
        "the shop key handed over"
    );
    assert!(
        !cli(&old_dir, &["relay", "desks"]).status.success(),
        "the old desk is revoked"
    );

    let mut new = setting.desk_process(&new_dir, "logs-new");
    let mut staff = setting.desk_process(&staff_dir, "logs-staff");
    new.start();
    staff.start();
    let order = pay(sim, &relay.url(paths::PAYMENT_NOTIFY), 900);
    post_request(&relay, &secret, "h-1", &order, 100);
    wait_until("the new owner's request on the staff desk", || {
        queue_of(&staff_dir).iter().any(|q| q.1 == order)
    });
    new.stop();
    staff.stop();
    let log = std::fs::read_to_string(temp.path().join("logs-staff/serve-1.log")).unwrap();
    assert!(
        !log.contains("signed with a key this desk does not have"),
        "{log}"
    );
}

/// The owner's desk `owner` of `relay`, set up and paired, and a staff desk it invited; the
/// backend's shared secret.
fn owner_and_staff_desk(
    setting: &Setting,
    relay: &RelayHere,
    owner: &str,
) -> (std::path::PathBuf, String, std::path::PathBuf) {
    let (owner_dir, secret) = setting.owner_desk(relay, owner);
    let invite = support::cli_json(&owner_dir, &["relay", "invite"]);
    let staff_dir = setting.temp.path().join("staff");
    staff_desk(
        &setting.sim,
        &staff_dir,
        &relay.base,
        invite["code"].as_str().unwrap(),
        "收银台",
    );
    (owner_dir, secret, staff_dir)
}

fn shop_key_of(dir: &Path) -> String {
    desk_runtime::Config::load(&dir.join("config.toml"))
        .unwrap()
        .unwrap()
        .relay
        .unwrap()
        .shop_key
        .expose()
        .to_owned()
}
