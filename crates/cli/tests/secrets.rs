//! Secrets stay where they belong: a whole session with known secrets (the API key, the
//! certificate's own password, and the md5 of the API key that decrypts refund notifications) —
//! setup with mistakes, the doctor, the desk serving payments, refund requests and refunds through
//! injected faults, refund notifications, every listing — and then none of them may appear in
//! anything printed, logged, exchanged with WeChat or stored, except the keyring's fallback file
//! (no keyring here), which must hold them.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::{Value, json};
use wxpay_sim::{Endpoint, Fault, FaultPlan, NewOrder, SimConfig};

use support::{DeskProcess, cli, free_address, intake_at, now, setup_command};

const CERT_PASSWORD: &str = "Cert-Pass-7d1e9b4a";

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((path, bytes));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn known_secrets_appear_nowhere_but_the_keyring_fallback() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = SimConfig::new(temp.path().join("wechat"));
    config.refund_delay = Duration::from_millis(200);
    config.notifier.time_scale = 0.002;
    let sim = runtime.block_on(wxpay_sim::start(config)).unwrap();
    let c = sim.credentials();
    let api_key = c.api_key.expose().to_owned();
    let md5_key = hex::encode(Md5::digest(api_key.as_bytes()));
    let secrets = [
        ("the API key", api_key.clone()),
        ("the API key, upper case", api_key.to_uppercase()),
        ("the API key, lower case", api_key.to_lowercase()),
        ("md5 of the API key (the req_info key)", md5_key.clone()),
        ("md5 of the API key, upper case", md5_key.to_uppercase()),
        ("the certificate password", CERT_PASSWORD.to_owned()),
    ];

    // The merchant's certificate under a password of its own (not the default mch_id).
    let p12 = temp.path().join("apiclient_cert.p12");
    let exported = Command::new("openssl")
        .args(["pkcs12", "-export", "-passout"])
        .arg(format!("pass:{CERT_PASSWORD}"))
        .arg("-in")
        .arg(&c.files.cert_pem)
        .arg("-inkey")
        .arg(&c.files.key_pem)
        .arg("-out")
        .arg(&p12)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", text(&exported));

    let dir = temp.path().join("desk");
    let listen = free_address();
    let mut printed = String::new();
    let setup = |key: &str, password: &str| {
        setup_command(&sim, &dir, &p12)
            .env("WXPAY_API_KEY", key)
            .env("WXPAY_CERT_PASSWORD", password)
            .output()
            .unwrap()
    };
    // Mistakes first: their error messages are checked too.
    let wrong_password = setup(&api_key, &format!("{CERT_PASSWORD}x"));
    assert!(!wrong_password.status.success());
    printed.push_str(&text(&wrong_password));
    let mut wrong_key = api_key.clone();
    wrong_key.replace_range(0..1, if api_key.starts_with('a') { "b" } else { "a" });
    let refused = setup(&wrong_key, CERT_PASSWORD);
    printed.push_str(&text(&refused));
    let saved = setup(&api_key, CERT_PASSWORD);
    assert!(saved.status.success(), "{}", text(&saved));
    printed.push_str(&text(&saved));
    let intake_secret = intake_at(&dir, listen);

    for args in [vec!["doctor"], vec!["doctor", "--json"]] {
        printed.push_str(&text(&cli(&dir, &args)));
    }

    // A session: payments, refund requests, refunds through faults, refund notifications.
    let mut desk = DeskProcess::new(dir.clone(), listen, temp.path().join("logs"));
    desk.start();
    for fault in [
        Fault::Error {
            err_code: "SYSTEMERROR".into(),
            after_record: true,
        },
        Fault::Garbage {
            after_record: false,
        },
        Fault::HttpStatus {
            status: 500,
            after_record: false,
        },
    ] {
        sim.inject(FaultPlan {
            endpoint: Endpoint::Refund,
            fault,
            count: 1,
        });
    }
    let http = reqwest::blocking::Client::new();
    let mut requests = Vec::new();
    for (n, total) in [12_800, 4_580, 19_900].into_iter().enumerate() {
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                notify_url: Some(format!("http://{listen}/wxpay/notify")),
                ..NewOrder::default()
            })
            .unwrap();
        sim.pay(&order.out_trade_no).unwrap();
        let body = json!({
            "request_id": format!("secret-{n}"),
            "out_trade_no": order.out_trade_no,
            "refund_fee": total / 2,
            "reason": "尺码不合适",
        })
        .to_string();
        let timestamp = now();
        let answer = http
            .post(format!("http://{listen}/api/v1/refund-requests"))
            .header(backend_api::TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                backend_api::SIGNATURE_HEADER,
                backend_api::sign(&intake_secret, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .unwrap();
        let answer: Value = serde_json::from_str(&answer.text().unwrap()).unwrap();
        printed.push_str(&answer.to_string());
        let id = answer["id"].as_i64().unwrap().to_string();
        let approved = cli(
            &dir,
            &["refunds", "approve", &id, "--by", "店主", "--owner"],
        );
        printed.push_str(&text(&approved));
        requests.push(id);
    }
    // A wrong intake signature and a forged notification: their refusals are checked too.
    let forged = http
        .post(format!("http://{listen}/wxpay/notify"))
        .body("<xml><return_code>SUCCESS</return_code><sign>00</sign></xml>")
        .send()
        .unwrap();
    printed.push_str(&forged.text().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = cli(&dir, &["refunds", "list", "--json"]);
        let items: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
        if items.iter().all(|item| item["state"] == "succeeded") {
            printed.push_str(&text(&listed));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "refunds did not settle: {items:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    for args in [
        vec!["orders", "list"],
        vec!["refunds", "list"],
        vec!["orders", "list", "--json"],
    ] {
        printed.push_str(&text(&cli(&dir, &args)));
    }
    desk.stop();
    for event in desk.events.lock().unwrap().iter() {
        printed.push_str(&event.to_string());
    }

    // Look everywhere.
    let mut places: Vec<(String, Vec<u8>)> = vec![("printed output".into(), printed.into_bytes())];
    for (path, bytes) in files(&dir)
        .into_iter()
        .chain(files(&temp.path().join("logs")))
    {
        places.push((path.display().to_string(), bytes));
    }
    let fallback = dir.join("secrets.json");
    let mut fallback_holds = Vec::new();
    for (place, bytes) in &places {
        for (what, secret) in &secrets {
            let found = contains(bytes, secret);
            if *place == fallback.display().to_string() {
                fallback_holds.push((what, found));
            } else {
                assert!(!found, "{what} appears in {place}");
            }
        }
    }
    // The fallback is where they are (the raw key and password; nothing derived).
    assert!(
        fallback_holds
            .iter()
            .any(|(what, found)| **what == "the API key" && *found),
        "the API key is in the keyring fallback: {fallback_holds:?}"
    );
    assert!(
        fallback_holds
            .iter()
            .any(|(what, found)| **what == "the certificate password" && *found),
        "the certificate password is in the keyring fallback: {fallback_holds:?}"
    );
    // The exchange log was really written (so its absence of secrets means something).
    let data_dir = desk_runtime::DataDir::resolve(Some(dir.clone())).unwrap();
    let config = desk_runtime::Config::load(&data_dir.config())
        .unwrap()
        .unwrap();
    let books =
        desk_runtime::Books::of(&config, desk_runtime::Mode::Production, &data_dir).unwrap();
    let store = desk_core::Store::open(&books.database(&data_dir)).unwrap();
    let exchanges = store.exchanges(1000).unwrap();
    assert!(
        exchanges.len() > 3,
        "refunds and their retries were logged: {exchanges:?}"
    );
    assert!(
        exchanges
            .iter()
            .any(|e| e.request.contains("out_refund_no"))
    );
    let outcomes: Vec<&str> = exchanges.iter().map(|e| e.outcome.as_str()).collect();
    assert!(
        outcomes.iter().any(|o| !o.starts_with("ok")),
        "the faults' answers were logged: {outcomes:?}"
    );
    sim.shutdown();
}
