//! A sandbox per test: the simulator in a temporary directory and a client set up as the app
//! would set it up (the simulator's CA as extra root, the merchant's `.p12` with the default
//! password).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::post;
use wxpay::*;
use wxpay_client::*;
use wxpay_sim::{NewOrder, NotifierSettings, SimConfig, SimHandle};

pub const REFUND_DELAY: Duration = Duration::from_millis(150);

pub struct Sandbox {
    pub handle: SimHandle,
    pub client: WxPayClient<HttpsTransport>,
    pub merchant: Merchant,
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub async fn start() -> Sandbox {
        Self::start_with(SignType::HmacSha256).await
    }

    pub async fn start_with(sign_type: SignType) -> Sandbox {
        // For test code that builds a plain reqwest client (ours configures rustls explicitly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(dir.path());
        config.refund_delay = REFUND_DELAY;
        config.notifier = NotifierSettings {
            time_scale: 0.001,
            duplicate_probability: 0.0,
            timeout: Duration::from_secs(2),
        };
        let handle = wxpay_sim::start(config).await.unwrap();
        let merchant = Merchant {
            appid: handle.credentials().appid.clone(),
            mch_id: handle.credentials().mch_id.clone(),
            api_key: handle.credentials().api_key.clone(),
            sign_type,
        };
        let client = WxPayClient::new(merchant.clone(), transport(&handle, true));
        Sandbox {
            handle,
            client,
            merchant,
            dir,
        }
    }

    /// A client for another merchant configuration against the same simulator.
    pub fn client_for(
        &self,
        merchant: Merchant,
        with_certificate: bool,
    ) -> WxPayClient<HttpsTransport> {
        WxPayClient::new(merchant, transport(&self.handle, with_certificate))
    }

    pub async fn paid_order(&self, total_fee: i64) -> String {
        self.paid_order_with(NewOrder {
            total_fee,
            ..Default::default()
        })
    }

    pub fn paid_order_with(&self, new: NewOrder) -> String {
        let order = self.handle.create_order(new).unwrap();
        self.handle.pay(&order.out_trade_no).unwrap();
        order.out_trade_no
    }

    /// Sends a refund of `refund_fee` for the order, as the app would.
    pub async fn refund_now(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund_fee: i64,
    ) -> Result<RefundResponse, Error> {
        self.client
            .execute(&self.refund(out_trade_no, out_refund_no, refund_fee))
            .await
    }

    pub fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund_fee: i64,
    ) -> RefundRequest {
        let total = self.handle.order(out_trade_no).map_or(0, |o| o.total_fee);
        RefundRequest {
            order: OrderRef::OutTradeNo(OutTradeNo::new(out_trade_no).unwrap()),
            out_refund_no: OutRefundNo::new(out_refund_no).unwrap(),
            total_fee: Fen::new(total),
            refund_fee: Fen::new(refund_fee),
            refund_fee_type: None,
            refund_desc: None,
            refund_account: None,
            notify_url: None,
        }
    }
}

pub fn transport(handle: &SimHandle, with_certificate: bool) -> HttpsTransport {
    let files = &handle.credentials().files;
    let identity = with_certificate.then(|| {
        ClientIdentity::from_pkcs12_file(
            &files.cert_p12,
            &default_password(&handle.credentials().mch_id),
        )
        .unwrap()
    });
    let settings = HttpsSettings {
        base_url: handle.info().base_url.clone(),
        identity,
        request_timeout: Duration::from_secs(5),
        ..HttpsSettings::default()
    }
    .with_extra_root_ca_file(&files.ca_pem)
    .unwrap();
    HttpsTransport::new(settings, SystemTime::now()).unwrap()
}

/// The business error code of a failed call.
pub fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    failure(result).0
}

/// The business error code and description of a failed call.
pub fn failure<T: std::fmt::Debug>(result: Result<T, Error>) -> (String, String) {
    match result {
        Err(Error::Business { code, description }) => (code.as_str().to_owned(), description),
        other => panic!("expected a business error, got {other:?}"),
    }
}

/// A `notify_url` receiver on loopback that records bodies and answers FAIL to the first
/// `failures` deliveries, then SUCCESS.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
}

pub async fn receiver(failures: usize) -> Receiver {
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = bodies.clone();
    let app = Router::new().route(
        "/notify",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push(body);
                if seen.len() <= failures {
                    NotifyReply::Fail("not yet".into()).to_xml()
                } else {
                    NotifyReply::Success.to_xml()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, bodies }
}

/// Polls until `check` holds (or panics after a few seconds with `what`).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}
