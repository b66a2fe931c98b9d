//! The headless desk through the real binary: `serve --sandbox` driven like a tester would
//! (credentials file, signed notifications and requests, the simulator's control API), the queue
//! commands, `setup` + `doctor` against a test server, and bad arguments that change nothing.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wxpay::{ApiKey, Fields, SignType};

const BIN: &str = env!("CARGO_BIN_EXE_merchant-desk-cli");

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("MERCHANT_DESK_KEYRING", "off")
        .env_remove("WXPAY_API_KEY")
        .env_remove("MERCHANT_DESK_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn error_of(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    serde_json::from_slice::<Value>(&output.stderr).unwrap()["error"].clone()
}

/// `serve` in the background; its stdout lines arrive on a channel.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        Serve::spawn(dir, None)
    }

    /// `serve` started under `umask` (through `sh`, as a login shell would set it); standard
    /// error goes to `DIR.stderr`.
    fn spawn(dir: &Path, umask: Option<&str>) -> Serve {
        let mut command = match umask {
            Some(mask) => {
                let mut command = Command::new("sh");
                command.args(["-c", &format!("umask {mask} && exec \"$0\" \"$@\""), BIN]);
                command
            }
            None => Command::new(BIN),
        };
        let mut child = command
            .args(["serve", "--sandbox", "--json", "--listen", "127.0.0.1:0"])
            .args(["--sandbox-refund-delay", "0.2", "--data-dir"])
            .arg(dir)
            .env("MERCHANT_DESK_KEYRING", "off")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.with_extension("stderr")).unwrap())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Serve { child, lines }
    }

    fn wait_for(&self, mut wanted: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("serve printed nothing more");
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Once the desk is ready, the sandbox's WeChat pays an order of `total_fee` fen to it;
    /// returns its number when the desk has it.
    fn first_paid_order(&self, total_fee: i64) -> String {
        let ready = self.wait_for(|line| line["type"] == "ready");
        let credentials: Value = serde_json::from_str(
            &std::fs::read_to_string(ready["sandbox_credentials"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let (intake, control) = (
            credentials["intake_url"].as_str().unwrap(),
            credentials["control_url"].as_str().unwrap(),
        );
        let (_, created) = post(
            &format!("{control}/v1/orders"),
            json!({ "total_fee": total_fee, "notify_url": format!("{intake}/wxpay/notify") })
                .to_string(),
            &[("content-type", "application/json".to_owned())],
        );
        let out_trade_no = serde_json::from_str::<Value>(&created).unwrap()["out_trade_no"]
            .as_str()
            .unwrap()
            .to_owned();
        post(
            &format!("{control}/v1/orders/{out_trade_no}/pay"),
            String::new(),
            &[],
        );
        self.wait_for(|line| line["type"] == "order_paid");
        out_trade_no
    }

    /// SIGTERM, as a service manager stops it.
    fn stop(mut self) -> Value {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "stopped cleanly: {status:?}");
        self.wait_for(|line| line["type"] == "stopped")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn post(url: &str, body: String, headers: &[(&str, String)]) -> (u16, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    })
}

#[test]
fn serve_sandbox_from_notification_to_refund_by_command() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("desk");
    let serve = Serve::start(&dir);
    let ready = serve.wait_for(|line| line["type"] == "ready");
    assert_eq!(ready["mode"], "sandbox");
    let credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(ready["sandbox_credentials"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let intake = credentials["intake_url"].as_str().unwrap();
    assert_eq!(intake, ready["intake_url"]);
    for field in [
        "appid",
        "mch_id",
        "api_key",
        "base_url",
        "control_url",
        "files",
    ] {
        assert!(!credentials[field].is_null(), "{field} in {credentials}");
    }

    // A tester signs a payment notification for the sandbox merchant.
    let key = ApiKey::new(credentials["api_key"].as_str().unwrap()).unwrap();
    let notification = |total: &str, key: &ApiKey| {
        let fields = Fields::from_pairs([
            ("return_code", "SUCCESS".to_owned()),
            ("result_code", "SUCCESS".to_owned()),
            ("appid", credentials["appid"].as_str().unwrap().to_owned()),
            ("mch_id", credentials["mch_id"].as_str().unwrap().to_owned()),
            ("nonce_str", "n0nce".to_owned()),
            ("out_trade_no", "TESTER-0001".to_owned()),
            ("transaction_id", "4200000000202611230000000001".to_owned()),
            ("total_fee", total.to_owned()),
            ("time_end", "20261123162533".to_owned()),
        ])
        .unwrap();
        wxpay::sign::sign_and_encode(fields, key, SignType::Md5).unwrap()
    };
    let forged = notification("1", &ApiKey::new("f".repeat(32)).unwrap());
    let (_, reply) = post(&format!("{intake}/wxpay/notify"), forged, &[]);
    assert!(reply.contains("FAIL"), "{reply}");
    let (status, reply) = post(
        &format!("{intake}/wxpay/notify"),
        notification("1888", &key),
        &[],
    );
    assert_eq!(status, 200);
    assert!(reply.contains("SUCCESS"), "{reply}");
    let paid = serve.wait_for(|line| line["type"] == "order_paid");
    assert_eq!(paid["out_trade_no"], "TESTER-0001");
    assert_eq!(paid["total_fee"], 1888);

    // An order the simulator knows (so the refund can really be paid), through its control API.
    let control = credentials["control_url"].as_str().unwrap();
    let (status, created) = post(
        &format!("{control}/v1/orders"),
        json!({ "total_fee": 5000, "notify_url": format!("{intake}/wxpay/notify") }).to_string(),
        &[("content-type", "application/json".to_owned())],
    );
    assert!(status < 300, "{created}");
    let order: Value = serde_json::from_str(&created).unwrap();
    let out_trade_no = order["out_trade_no"].as_str().unwrap().to_owned();
    post(
        &format!("{control}/v1/orders/{out_trade_no}/pay"),
        String::new(),
        &[],
    );
    serve.wait_for(|line| line["type"] == "order_paid" && line["out_trade_no"] == out_trade_no);

    // The shop backend asks for a refund, signed with the shared secret.
    let body = json!({
        "request_id": "backend-42",
        "out_trade_no": out_trade_no,
        "refund_fee": 2000,
        "reason": "少发一件",
        "customer": "李先生",
    })
    .to_string();
    let timestamp = now();
    let signature = backend_api::sign(
        credentials["intake_secret"].as_str().unwrap(),
        timestamp,
        body.as_bytes(),
    );
    let (status, answer) = post(
        &format!("{intake}/api/v1/refund-requests"),
        body,
        &[
            ("X-Merchant-Desk-Timestamp", timestamp.to_string()),
            ("X-Merchant-Desk-Signature", signature),
            ("content-type", "application/json".to_owned()),
        ],
    );
    assert_eq!(status, 201, "{answer}");
    let request = serve.wait_for(|line| line["type"] == "refund_requested")["request"]
        .as_i64()
        .unwrap();

    let pending = json_of(&cli(
        &dir,
        &["refunds", "list", "--state", "pending", "--json"],
    ));
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["customer"], "李先生");
    let id = request.to_string();

    // Over the asked amount: refused, still pending.
    let refused = error_of(&cli(
        &dir,
        &[
            "refunds", "approve", &id, "--amount", "2001", "--by", "店长", "--json",
        ],
    ));
    assert_eq!(refused["code"], "invalid_amount");
    let approved = json_of(&cli(
        &dir,
        &[
            "refunds", "approve", &id, "--amount", "1500", "--by", "店长", "--json",
        ],
    ));
    assert_eq!(approved["refund_fee"], 1500);
    let out_refund_no = approved["out_refund_no"].as_str().unwrap().to_owned();
    let again = error_of(&cli(
        &dir,
        &["refunds", "approve", &id, "--by", "店长", "--json"],
    ));
    assert_eq!(again["code"], "conflict", "one approval, one refund");

    let succeeded =
        serve.wait_for(|line| line["type"] == "refund_changed" && line["state"] == "succeeded");
    assert_eq!(succeeded["out_refund_no"], out_refund_no);
    let done = json_of(&cli(
        &dir,
        &["refunds", "list", "--state", "succeeded", "--json"],
    ));
    assert_eq!(done[0]["refund"]["refund_fee"], 1500);
    let orders = json_of(&cli(&dir, &["orders", "list", "--json"]));
    let order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["out_trade_no"] == out_trade_no.as_str())
        .unwrap();
    assert_eq!(order["refundable"], 3500);

    // A second desk on the same directory is refused while the first runs.
    let second = Command::new(BIN)
        .args([
            "serve",
            "--sandbox",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env("MERCHANT_DESK_KEYRING", "off")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    // A manual refund for a customer who phoned: checked with the simulator, then queued.
    let manual = json_of(&cli(
        &dir,
        &[
            "refunds",
            "create",
            "--out-trade-no",
            &out_trade_no,
            "--amount",
            "500",
            "--reason",
            "顾客来电",
            "--json",
        ],
    ));
    assert!(manual["approved"].is_null());
    let unknown = error_of(&cli(
        &dir,
        &[
            "refunds",
            "create",
            "--out-trade-no",
            "NO-SUCH",
            "--amount",
            "1",
            "--reason",
            "x",
            "--json",
        ],
    ));
    assert_eq!(unknown["code"], "order_unknown");

    let doctor = json_of(&cli(&dir, &["doctor", "--json"]));
    assert_eq!(doctor[1]["name"], "wechat_signature");
    assert_eq!(doctor[2]["name"], "wechat_refund");
    assert_eq!(doctor[2]["status"], "ok");
    assert_eq!(doctor[2]["finding"]["code"], "refund_path_accepted");

    serve.stop();
}

#[test]
fn bad_arguments_say_what_to_do_and_change_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("never-started");
    let no_desk = error_of(&cli(&dir, &["refunds", "list", "--json"]));
    assert_eq!(no_desk["code"], "no_desk");
    assert!(no_desk["message"].as_str().unwrap().contains("serve"));
    let approve = cli(&dir, &["refunds", "approve", "1", "--by", "me"]);
    assert_eq!(approve.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&approve.stderr).starts_with("error: no desk in"));

    let bad_state = cli(&dir, &["refunds", "list", "--state", "paid"]);
    assert_eq!(bad_state.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&bad_state.stderr).contains("needs_manual"));
    let no_by = cli(&dir, &["refunds", "approve", "1"]);
    assert_eq!(no_by.status.code(), Some(2));
    let both = cli(
        &dir,
        &[
            "refunds",
            "create",
            "--out-trade-no",
            "A",
            "--transaction-id",
            "B",
            "--amount",
            "1",
            "--reason",
            "r",
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    let no_key = cli(
        &dir,
        &[
            "setup",
            "--appid",
            "wx2421b1c4370ec43b",
            "--mch-id",
            "1900000109",
            "--p12",
            "/nowhere.p12",
        ],
    );
    assert_eq!(no_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("WXPAY_API_KEY"));
    let sandbox_setup = error_of(&cli(
        &dir,
        &[
            "setup",
            "--sandbox",
            "--json",
            "--appid",
            "wx2421b1c4370ec43b",
            "--mch-id",
            "1900000109",
            "--p12",
            "/nowhere.p12",
        ],
    ));
    assert_eq!(sandbox_setup["code"], "invalid_argument");
    assert!(
        sandbox_setup["message"]
            .as_str()
            .unwrap()
            .contains("serve --sandbox")
    );
    let doctor = cli(&dir, &["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&doctor.stdout).contains("[FAIL] config"));

    assert!(!dir.exists(), "no command above created anything");
}

#[test]
fn setup_then_doctor_against_a_test_server() {
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(wxpay_sim::start(wxpay_sim::SimConfig::new(
            temp.path().join("wechat"),
        )))
        .unwrap();
    let c = sim.credentials();
    let dir = temp.path().join("desk");
    let setup = |api_key: &str, extra: &[&str]| {
        Command::new(BIN)
            .args([
                "setup",
                "--appid",
                c.appid.as_str(),
                "--mch-id",
                c.mch_id.as_str(),
                "--p12",
            ])
            .arg(&c.files.cert_p12)
            .args(["--sign-type", "HMAC-SHA256"])
            .env("MERCHANT_DESK_DEV_WECHAT", &sim.info().base_url)
            .env("MERCHANT_DESK_DEV_WECHAT_CA", &c.files.ca_pem)
            .arg("--data-dir")
            .arg(&dir)
            .args(extra)
            .env("MERCHANT_DESK_KEYRING", "off")
            .env("WXPAY_API_KEY", api_key)
            .output()
            .unwrap()
    };
    let short = setup("too-short", &[]);
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stdout).contains("32 letters and digits"));
    assert!(!dir.exists(), "a refused setup writes nothing");

    // A well-formed key WeChat does not take: refused before saving, unless told offline.
    let wrong_key = "0".repeat(32);
    let refused = setup(&wrong_key, &[]);
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("[FAIL] wechat_signature") && said.contains("API key is wrong"),
        "{said}"
    );
    assert!(said.contains("--offline"), "{said}");
    assert!(!dir.exists(), "a refused setup writes nothing");
    let offline = setup(&wrong_key, &["--offline"]);
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let doctor = || {
        Command::new(BIN)
            .args(["doctor", "--data-dir"])
            .arg(&dir)
            .env("MERCHANT_DESK_KEYRING", "off")
            .env("MERCHANT_DESK_DEV_WECHAT", &sim.info().base_url)
            .env("MERCHANT_DESK_DEV_WECHAT_CA", &c.files.ca_pem)
            .output()
            .unwrap()
    };
    let report = doctor();
    assert_eq!(report.status.code(), Some(1));

    let saved = setup(c.api_key.expose(), &[]);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(
        String::from_utf8_lossy(&saved.stderr).contains("no system keyring"),
        "the fallback is announced"
    );
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("mode = \"production\""), "{config}");
    assert!(!config.contains(c.api_key.expose()));

    // The saved merchant talks to a test server: without the developer switch the desk
    // refuses it, and says how to mend it.
    let refused = cli(&dir, &["doctor"]);
    let text = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains("test server"), "{text}");
    let serve = cli(&dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(serve.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains("remove api_base"),
        "{serve:?}"
    );
    let report = doctor();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&report.stderr).contains("developer switch on"),
        "the switch is announced"
    );
    assert!(text.contains("[ok  ] wechat_signature"), "{text}");
    assert!(text.contains("[ok  ] wechat_refund"), "{text}");
    assert!(text.contains("[WARN] secrets"), "{text}");
    assert!(!text.contains(c.api_key.expose()));
    sim.shutdown();
}

#[test]
fn with_an_owner_pin_the_terminal_must_give_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("desk");
    let serve = Serve::start(&dir);
    let out_trade_no = serve.first_paid_order(3000);
    let pending = |reason: &str| {
        json_of(&cli(
            &dir,
            &[
                "refunds",
                "create",
                "--out-trade-no",
                &out_trade_no,
                "--amount",
                "1000",
                "--reason",
                reason,
                "--json",
            ],
        ))["request"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let (first, second) = (pending("少发一件"), pending("包装破损"));

    // The owner sets a PIN (as the app's settings do: only its salted hash is kept).
    let path = dir.join("config.toml");
    let mut config = desk_runtime::Config::load(&path).unwrap().unwrap();
    config.access.pin = Some(desk_runtime::hash_pin("246813").unwrap());
    config.save(&path).unwrap();

    let with_pin = |pin: Option<&str>, args: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .args(["--json", "--data-dir"])
            .arg(&dir)
            .env("MERCHANT_DESK_KEYRING", "off")
            .env_remove("MERCHANT_DESK_PIN");
        if let Some(pin) = pin {
            command.env("MERCHANT_DESK_PIN", pin);
        }
        command.output().unwrap()
    };
    let owner_approves = [
        "refunds",
        "approve",
        first.as_str(),
        "--by",
        "老板",
        "--owner",
    ];
    let refused = error_of(&with_pin(None, &owner_approves));
    assert_eq!(refused["code"], "needs_owner", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("MERCHANT_DESK_PIN")
    );
    assert_eq!(
        error_of(&with_pin(Some("000000"), &owner_approves))["code"],
        "wrong_pin"
    );
    // Staff (no --owner) may approve nothing until the owner grants a limit, PIN or not.
    let staff_approves = |amount: &str| {
        [
            "refunds",
            "approve",
            first.as_str(),
            "--by",
            "店员",
            "--amount",
            amount,
        ]
        .map(str::to_owned)
    };
    let staff = |amount: &str, pin: Option<&str>| {
        let args = staff_approves(amount);
        with_pin(pin, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(error_of(&staff("500", None))["code"], "needs_owner");
    assert_eq!(
        error_of(&staff("500", Some("246813")))["code"],
        "needs_owner"
    );
    let reject = [
        "refunds",
        "reject",
        second.as_str(),
        "--reason",
        "不符合退款条件",
    ];
    assert_eq!(error_of(&with_pin(None, &reject))["code"], "needs_owner");
    let manual = [
        "refunds",
        "create",
        "--out-trade-no",
        out_trade_no.as_str(),
        "--amount",
        "500",
        "--reason",
        "电话",
        "--approve-by",
        "店员",
        "--owner",
    ];
    assert_eq!(error_of(&with_pin(None, &manual))["code"], "needs_owner");
    // Setup replaces the merchant: the owner's, like any setting.
    let setup = [
        "setup",
        "--appid",
        "wx2421b1c4370ec43b",
        "--mch-id",
        "1900000109",
        "--p12",
        "/nowhere.p12",
        "--offline",
    ];
    let config_before = std::fs::read_to_string(&path).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(setup)
        .args(["--json", "--data-dir"])
        .arg(&dir)
        .env("MERCHANT_DESK_KEYRING", "off")
        .env("WXPAY_API_KEY", "0".repeat(32))
        .env_remove("MERCHANT_DESK_PIN");
    assert_eq!(error_of(&command.output().unwrap())["code"], "needs_owner");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), config_before);
    let still: Vec<Value> =
        serde_json::from_value(json_of(&cli(&dir, &["refunds", "list", "--json"]))).unwrap();
    assert_eq!(still.len(), 2, "the refused manual refund left no request");
    assert!(
        still.iter().all(|item| item["state"] == "pending"),
        "{still:?}"
    );

    // The owner grants staff ¥8: above it staff are refused, within it they approve unasked.
    let mut config = desk_runtime::Config::load(&path).unwrap().unwrap();
    config.refunds.staff_limit_fen = Some(800);
    config.save(&path).unwrap();
    let over = error_of(&staff("1000", None));
    assert_eq!(over["code"], "needs_owner", "{over}");
    assert!(
        over["message"].as_str().unwrap().contains("staff"),
        "{over}"
    );
    let within = json_of(&staff("500", None));
    assert_eq!(within["refund_fee"], 500, "{within}");

    // With the PIN, the owner acts.
    json_of(&with_pin(Some("246813"), &reject));
    serve.stop();
}

/// A loop over PINs through the terminal, each guess a new process: five are free, then each
/// wrong one makes the next wait longer, the count kept on disk; while a wait runs even the right
/// PIN is refused.
#[test]
fn a_pin_guessing_loop_through_the_terminal_is_slowed_to_hours() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("desk");
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = desk_runtime::Config::new();
    config.access.pin = Some(desk_runtime::hash_pin("739146").unwrap());
    config.save(&dir.join("config.toml")).unwrap();
    let guess = |pin: &str| {
        let output = Command::new(BIN)
            .args([
                "refunds",
                "reject",
                "1",
                "--reason",
                "x",
                "--json",
                "--data-dir",
            ])
            .arg(&dir)
            .env("MERCHANT_DESK_KEYRING", "off")
            .env("MERCHANT_DESK_PIN", pin)
            .output()
            .unwrap();
        error_of(&output)
    };
    let record = || -> Value {
        serde_json::from_slice(&std::fs::read(dir.join("pin-attempts.json")).unwrap()).unwrap()
    };
    // Moves the record past its wait, as time would.
    let serve_wait = || {
        let mut served = record();
        served["wait_until"] = 0.into();
        std::fs::write(dir.join("pin-attempts.json"), served.to_string()).unwrap();
    };
    for n in 0..desk_runtime::FREE_ATTEMPTS {
        assert_eq!(guess(&format!("{n:06}"))["code"], "wrong_pin");
    }
    // The sixth guess waits, the right PIN included, in any new process.
    let waiting = guess("739146");
    assert_eq!(waiting["code"], "pin_wait", "{waiting}");
    assert!(
        waiting["message"].as_str().unwrap().contains("seconds"),
        "{waiting}"
    );
    assert_eq!(guess("000009")["code"], "pin_wait");
    // Each wait served (the record moved past it, as time would) lets one guess through, and
    // a wrong one makes the next wait twice as long, up to a quarter hour.
    let mut waits = Vec::new();
    for n in 0..8 {
        serve_wait();
        let before = now();
        assert_eq!(guess(&format!("1{n:05}"))["code"], "wrong_pin");
        let wait = record()["wait_until"].as_i64().unwrap() - before;
        waits.push(wait);
    }
    let expected: Vec<i64> = (6..14).map(desk_runtime::wait_after).collect();
    for (wait, expected) in waits.iter().zip(&expected) {
        assert!(
            (expected - 2..=*expected).contains(wait),
            "{waits:?} vs {expected:?}"
        );
    }
    assert_eq!(expected.last(), Some(&desk_runtime::MAX_WAIT_SECS));
    // At that pace half of the six-digit PINs take years; even 30 guesses take hours.
    assert!(desk_runtime::time_to_try(500_000) > 10 * 365 * 24 * 3600);
    assert!(desk_runtime::time_to_try(30) > 4 * 3600);
    // The right PIN, once the wait is over, opens the desk and clears the count.
    serve_wait();
    // Past the PIN, the desk itself is missing (it never ran).
    assert_eq!(guess("739146")["code"], "no_desk");
    assert_eq!(record()["wrong_in_a_row"], 0);
}

/// Every file and folder under the data directory, with the ones others may read or change.
fn shared_with_others(root: &Path) -> (usize, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let (mut count, mut loose) = (0, Vec::new());
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        count += 1;
        if meta.permissions().mode() & 0o077 != 0 {
            loose.push(format!(
                "{} {:o}",
                path.display(),
                meta.permissions().mode() & 0o777
            ));
        }
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    (count, loose)
}

/// A desk started with umask 000 (everything it creates would be world-writable) writes every
/// file 0600 and every folder 0700: database, WAL, the sandbox's keys and books, config, the
/// PIN record. Loosened afterwards by someone, they are narrowed at the next start, which says
/// so.
#[test]
fn every_file_the_desk_writes_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("desk");
    let serve = Serve::spawn(&dir, Some("000"));
    let out_trade_no = serve.first_paid_order(3000);
    let request = json_of(&cli(
        &dir,
        &[
            "refunds",
            "create",
            "--out-trade-no",
            &out_trade_no,
            "--amount",
            "1000",
            "--reason",
            "少发一件",
            "--approve-by",
            "店员",
            "--json",
        ],
    ));
    assert_eq!(request["approved"]["refund_fee"], 1000, "{request}");
    serve.wait_for(|line| line["type"] == "refund_changed" && line["state"] == "succeeded");
    // A wrong PIN leaves its record too.
    let mut config = desk_runtime::Config::load(&dir.join("config.toml"))
        .unwrap()
        .unwrap();
    config.access.pin = Some(desk_runtime::hash_pin("246813").unwrap());
    config.save(&dir.join("config.toml")).unwrap();
    let mut guess = Command::new("sh");
    guess
        .args(["-c", "umask 000 && exec \"$0\" \"$@\"", BIN])
        .args(["refunds", "reject", "1", "--reason", "x", "--data-dir"])
        .arg(&dir)
        .env("MERCHANT_DESK_PIN", "000000");
    assert_eq!(guess.output().unwrap().status.code(), Some(1));
    serve.stop();

    let (count, loose) = shared_with_others(&dir);
    assert!(loose.is_empty(), "{loose:#?}");
    for written in [
        "config.toml",
        "pin-attempts.json",
        "sandbox/desk.sqlite3",
        "sandbox-credentials.json",
    ] {
        assert!(dir.join(written).exists(), "{written} was written");
    }
    assert!(count > 10, "{count} entries looked at");

    // Someone loosens the folder and a few files; the next start narrows them and says so.
    let loosen = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    loosen(&dir, 0o755);
    loosen(&dir.join("config.toml"), 0o644);
    loosen(&dir.join("sandbox/desk.sqlite3"), 0o666);
    let serve = Serve::spawn(&dir, Some("000"));
    serve.wait_for(|line| line["type"] == "ready");
    serve.stop();
    let said = std::fs::read_to_string(dir.with_extension("stderr")).unwrap();
    for path in ["config.toml", "desk.sqlite3"] {
        assert!(
            said.lines()
                .any(|line| line.contains(path) && line.contains("made private again")),
            "{said}"
        );
    }
    assert!(said.contains("mode 755"), "{said}");
    let (_, loose) = shared_with_others(&dir);
    assert!(loose.is_empty(), "{loose:#?}");
}
