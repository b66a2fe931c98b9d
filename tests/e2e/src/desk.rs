//! A Merchant Desk started for one test: its own data directory, the sandbox (the embedded
//! simulator) without demo traffic, the intake on a free loopback port, and the window.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_api::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::eventually;
use crate::webdriver::{WAIT, Window};

/// What the sandbox writes to `sandbox-credentials.json` on start (the parts tests use).
#[derive(Debug, Clone, Deserialize)]
pub struct Sandbox {
    pub control_url: String,
    pub intake_url: String,
    pub intake_secret: String,
    /// The sandbox merchant's API key: the window must never see it.
    pub api_key: String,
}

/// An order paid in the simulator.
#[derive(Debug, Clone)]
pub struct PaidOrder {
    pub out_trade_no: String,
    pub total_fee: i64,
}

#[derive(Debug)]
pub struct Desk {
    pub window: Window,
    pub sandbox: Sandbox,
    http: reqwest::blocking::Client,
    // Dropped after the window: the app must be gone before its files are.
    data: tempfile::TempDir,
}

impl Desk {
    /// Starts the app on a fresh data directory, without demo traffic, and waits until its
    /// window and sandbox are up.
    pub fn launch() -> Desk {
        Desk::launch_with_demo(None)
    }

    /// Like [`Desk::launch`], with the sandbox's demo traffic paying an order every `seconds`.
    pub fn launch_with_demo(seconds: Option<u32>) -> Desk {
        Desk::launch_in(Desk::new_data_dir(), seconds)
    }

    /// A fresh data directory for [`Desk::launch_in`] (to fill before the app starts), private
    /// like the one the desk creates itself (else the desk narrows it and warns at start).
    pub fn new_data_dir() -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        tempfile::Builder::new()
            .prefix("merchant-desk-e2e-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .expect("a temporary data directory")
    }

    /// Starts the app on `data`, which may already hold a database.
    pub fn launch_in(data: tempfile::TempDir, seconds: Option<u32>) -> Desk {
        Desk::launch_with(data, seconds, "127.0.0.1:0", &[])
    }

    /// A new shop's desk on a fresh data directory whose merchant, once set up in the window,
    /// reaches `wechat` (the developer switch) instead of the real WeChat Pay. Its intake
    /// listens at `listen`.
    pub fn launch_for(wechat: &crate::wechat::Wechat, listen: std::net::SocketAddr) -> Desk {
        Desk::launch_with(
            Desk::new_data_dir(),
            None,
            &listen.to_string(),
            &wechat.env(),
        )
    }

    fn launch_with(
        data: tempfile::TempDir,
        seconds: Option<u32>,
        listen: &str,
        env: &[(&str, String)],
    ) -> Desk {
        let args = [
            "--data-dir".to_owned(),
            data.path().display().to_string(),
            format!(
                "--demo={}",
                seconds.map_or("off".to_owned(), |s| s.to_string())
            ),
            format!("--listen={listen}"),
        ];
        let window = Window::open_with_env(&application(), &args, env);
        window.wait("[data-testid=app-title]");
        let credentials = data.path().join("sandbox-credentials.json");
        let sandbox = eventually("the sandbox credentials", WAIT, || {
            let text = std::fs::read_to_string(&credentials).ok()?;
            serde_json::from_str::<Sandbox>(&text).ok()
        });
        let http = crate::http_client(Duration::from_secs(30));
        Desk {
            window,
            sandbox,
            http,
            data,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// A customer pays `total_fee` fen for `body`; the simulator notifies the desk.
    pub fn pay_order(&self, total_fee: i64, body: &str) -> PaidOrder {
        let notify_url = format!("{}/wxpay/notify", self.sandbox.intake_url);
        let order = self.control(
            "POST",
            "/v1/orders",
            Some(json!({ "total_fee": total_fee, "body": body, "notify_url": notify_url })),
        );
        let out_trade_no = order["out_trade_no"]
            .as_str()
            .expect("the simulator names the order")
            .to_owned();
        self.control("POST", &format!("/v1/orders/{out_trade_no}/pay"), None);
        PaidOrder {
            out_trade_no,
            total_fee,
        }
    }

    /// The shop's backend posts a customer's refund request, signed; returns the desk's id.
    pub fn request_refund(
        &self,
        request_id: &str,
        order: &PaidOrder,
        refund_fee: i64,
        reason: &str,
        customer: &str,
    ) -> i64 {
        let intake = (
            self.sandbox.intake_url.clone(),
            self.sandbox.intake_secret.clone(),
        );
        self.request_refund_at(&intake, request_id, order, refund_fee, reason, customer)
    }

    /// The production intake's shared secret (from `config.toml`), once the desk went live.
    pub fn production_secret(&self) -> String {
        let config = std::fs::read_to_string(self.data.path().join("config.toml"))
            .expect("config.toml exists");
        config
            .lines()
            .find_map(|line| line.trim().strip_prefix("shared_secret"))
            .and_then(|rest| rest.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("config.toml has no shared_secret: {config}"))
    }

    /// Like [`Desk::request_refund`], to the intake at `(url, secret)`.
    pub fn request_refund_at(
        &self,
        (intake_url, intake_secret): &(String, String),
        request_id: &str,
        order: &PaidOrder,
        refund_fee: i64,
        reason: &str,
        customer: &str,
    ) -> i64 {
        let body = json!({
            "request_id": request_id,
            "out_trade_no": order.out_trade_no,
            "refund_fee": refund_fee,
            "reason": reason,
            "customer": customer,
        })
        .to_string();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signature = sign(intake_secret, now, body.as_bytes());
        let response = self
            .http
            .post(format!("{intake_url}/api/v1/refund-requests"))
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .expect("the intake answers");
        let status = response.status();
        let answer: Value = response.json().expect("the intake answers JSON");
        assert!(
            status.is_success(),
            "the intake refused the request: {status} {answer}"
        );
        answer["id"]
            .as_i64()
            .expect("the intake returns the request's id")
    }

    /// The secrets that must stay out of the window, with what they are.
    pub fn secrets(&self) -> Vec<(&'static str, String)> {
        let key = &self.sandbox.api_key;
        let md5 = md5_hex(key.as_bytes());
        vec![
            ("the API key", key.clone()),
            ("the API key, upper case", key.to_uppercase()),
            ("md5 of the API key", md5.clone()),
            ("md5 of the API key, upper case", md5.to_uppercase()),
        ]
    }

    /// Faults for the simulator's next calls (its control API's `POST /v1/faults`).
    pub fn inject_fault(&self, plan: Value) {
        self.control("POST", "/v1/faults", Some(plan));
    }

    /// Every money movement in the simulator.
    pub fn ledger(&self) -> Vec<Value> {
        match self.control("GET", "/v1/ledger", None) {
            Value::Array(entries) => entries,
            other => panic!("the ledger is not a list: {other}"),
        }
    }

    /// The refunds the simulator's ledger holds for `out_trade_no`, in fen (positive).
    pub fn refunds_in_ledger(&self, out_trade_no: &str) -> Vec<i64> {
        self.ledger()
            .iter()
            .filter(|e| e["kind"] == "refund" && e["out_trade_no"] == out_trade_no)
            .map(|e| -e["amount"].as_i64().unwrap_or_default())
            .collect()
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.sandbox.control_url);
        let request = match method {
            "GET" => self.http.get(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("simulator {path}: {e}"));
        let status = response.status();
        let answer: Value = response
            .json()
            .unwrap_or_else(|e| panic!("simulator {path}: {e}"));
        assert!(status.is_success(), "simulator {path}: {status} {answer}");
        answer
    }
}

/// The app under test: `MERCHANT_DESK_APP`, else the workspace's debug build.
pub fn application() -> PathBuf {
    if let Some(path) = std::env::var_os("MERCHANT_DESK_APP") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("debug/merchant-desk")
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
