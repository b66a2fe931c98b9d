//! Whether the public address the owner entered reaches this desk's intake: a signed challenge
//! goes out to `{public_url}/wxpay/reach` the way WeChat's notifications come in (the name,
//! the internet, the shop's tunnel or proxy, its HTTPS certificate) and only this desk's intake
//! can answer it (`backend_api::reach`).

use std::path::Path;
use std::time::Duration;

use backend_api::reach::{Challenge, Proof, REACH_PATH, proof};
use backend_api::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use rand::RngExt as _;
use wxpay::{TlsProblem, TransportErrorKind};

use crate::doctor::{Check, CheckName, Finding, ReachProblem};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Asks `public_url` (the base WeChat's `notify_url` is made from) to prove it is this desk.
/// `extra_ca` is a test server's CA (the developer switch); public roots are always trusted.
pub async fn reach_check(
    public_url: Option<&str>,
    secret: &str,
    extra_ca: Option<&Path>,
    now: i64,
) -> Check {
    let finding = match public_url {
        None => Finding::NoPublicUrl,
        Some(url) => ask(url.trim_end_matches('/'), secret, extra_ca, now).await,
    };
    Check::new(CheckName::Intake, finding)
}

async fn ask(base: &str, secret: &str, extra_ca: Option<&Path>, now: i64) -> Finding {
    let unreachable = |problem, detail: String| Finding::Unreachable { problem, detail };
    if !base.starts_with("https://") {
        return unreachable(ReachProblem::NotHttps, base.to_owned());
    }
    let ca = match extra_ca.map(std::fs::read).transpose() {
        Ok(ca) => ca,
        Err(error) => {
            return Finding::ClientUnavailable {
                detail: error.to_string(),
            };
        }
    };
    let client = match wxpay_client::https_client(ca.as_deref(), TIMEOUT) {
        Ok(client) => client,
        Err(error) => {
            return Finding::ClientUnavailable {
                detail: error.to_string(),
            };
        }
    };
    let random: [u8; 16] = rand::rng().random();
    let challenge = hex::encode(random);
    let body = serde_json::to_vec(&Challenge {
        challenge: challenge.clone(),
    })
    .unwrap_or_default();
    let url = format!("{base}{REACH_PATH}");
    let sent = client
        .post(&url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(SIGNATURE_HEADER, sign(secret, now, &body))
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            let failure = wxpay_client::describe_failure(error);
            let problem = match failure.kind {
                TransportErrorKind::Timeout => ReachProblem::Timeout,
                TransportErrorKind::Tls(
                    TlsProblem::ServerNotTrusted
                    | TlsProblem::ServerCertificateExpired
                    | TlsProblem::ServerNameMismatch,
                ) => ReachProblem::Certificate,
                TransportErrorKind::Connect
                | TransportErrorKind::ConnectionLost
                | TransportErrorKind::Tls(TlsProblem::Other)
                | TransportErrorKind::ClientCertificateRejected
                | TransportErrorKind::ClientCertificateMissing
                | TransportErrorKind::HttpStatus(_)
                | TransportErrorKind::NotXml => ReachProblem::NoConnection,
            };
            return unreachable(problem, failure.detail);
        }
    };
    let status = response.status().as_u16();
    let answered = response.bytes().await.ok();
    let proven = answered
        .as_deref()
        .and_then(|bytes| serde_json::from_slice::<Proof>(bytes).ok())
        .is_some_and(|answer| answer.proof == proof(secret, now, &challenge));
    if status == 200 && proven {
        Finding::Reached {
            url: base.to_owned(),
        }
    } else {
        Finding::AnotherServer { status }
    }
}
