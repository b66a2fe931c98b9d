//! `doctor`: checks a desk's setup step by step and names the fix for each failure — the
//! configuration, the secrets, the certificate (parses, password, key, expiry, merchant), and a
//! harmless signed refundquery over mutual TLS that proves key and certificate together.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use wxpay::{OutRefundNo, RefundQueryKey, RefundQueryRequest};
use wxpay_client::IdentityError;

use crate::config::{Config, MerchantConfig, Mode};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::merchant::{Client, SandboxCredentials, load_identity, merchant_client};
use crate::secrets::{SecretBackend, Secrets};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Status {
    Ok,
    Warning,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    /// A stable name: `config`, `secrets`, `certificate`, `certificate_expiry`,
    /// `certificate_merchant`, `wechat_probe`.
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
        }
    }
}

/// Certificates expiring sooner than this get a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Refunds held for a setup problem go on once every check passed: each is asked of WeChat by
/// its number first. Returns how many went on (none when a check failed).
pub fn resume_held_if_passed(
    checks: &[Check],
    store: &desk_core::Store,
    now: i64,
) -> Result<usize, desk_core::CoreError> {
    if checks.iter().any(|check| check.status == Status::Failed) {
        return Ok(0);
    }
    store.resume_held(now)
}

/// Runs every check it can; a failed step skips those that depend on it.
pub async fn doctor(dir: &DataDir, now: SystemTime) -> Vec<Check> {
    let mut checks = Vec::new();
    let config = match Config::load(&dir.config()) {
        Ok(Some(config)) => config,
        Ok(None) => {
            checks.push(Check::new(
                "config",
                Status::Failed,
                format!(
                    "{} does not exist: run `merchant-desk-cli setup` for your merchant, or `serve --sandbox` to try the sandbox",
                    dir.config().display()
                ),
            ));
            return checks;
        }
        Err(error) => {
            checks.push(Check::new("config", Status::Failed, error.to_string()));
            return checks;
        }
    };
    let merchant = match (config.mode, &config.merchant) {
        (Mode::Sandbox, _) => {
            checks.push(Check::new(
                "config",
                Status::Ok,
                "sandbox mode: refunds go to the built-in simulator, no real money moves",
            ));
            let probe = match SandboxCredentials::load(&dir.sandbox_credentials())
                .and_then(|c| c.client(now))
            {
                Ok(client) => probe(&client).await,
                Err(error) => Check::new("wechat_probe", Status::Failed, error.to_string()),
            };
            checks.push(probe);
            return checks;
        }
        (Mode::Production, Some(merchant)) => merchant,
        (Mode::Production, None) => {
            checks.push(Check::new(
                "config",
                Status::Failed,
                RuntimeError::NoMerchant(dir.config()).to_string(),
            ));
            return checks;
        }
    };
    checks.push(Check::new(
        "config",
        Status::Ok,
        format!(
            "merchant {} (appid {}), signing with {}",
            merchant.mch_id,
            merchant.appid,
            merchant.sign_type.as_str()
        ),
    ));
    let secrets = match secrets_check(dir, merchant) {
        Ok((secrets, check)) => {
            checks.push(check);
            secrets
        }
        Err(check) => {
            checks.push(check);
            skip(&mut checks, &["certificate", "wechat_probe"]);
            return checks;
        }
    };
    match load_identity(merchant, &secrets) {
        Ok(identity) => {
            checks.push(Check::new(
                "certificate",
                Status::Ok,
                format!(
                    "readable, password right, matches its private key ({})",
                    identity.subject()
                ),
            ));
            checks.push(expiry_check(&identity, now));
            checks.push(merchant_check(identity.subject(), &merchant.mch_id));
        }
        Err(error) => {
            checks.push(Check::new(
                "certificate",
                Status::Failed,
                certificate_failure(&error),
            ));
            skip(&mut checks, &["wechat_probe"]);
            return checks;
        }
    }
    if checks.iter().any(|c| c.status == Status::Failed) {
        skip(&mut checks, &["wechat_probe"]);
        return checks;
    }
    let probe = match merchant_client(merchant, &secrets, now) {
        Ok(client) => probe(&client).await,
        Err(error) => Check::new("wechat_probe", Status::Failed, error.to_string()),
    };
    checks.push(probe);
    checks
}

fn secrets_check(dir: &DataDir, merchant: &MerchantConfig) -> Result<(Secrets, Check), Check> {
    let failed = |detail: String| Check::new("secrets", Status::Failed, detail);
    let secrets = Secrets::open(merchant.secrets, &dir.secrets_fallback(), &merchant.mch_id)
        .map_err(|e| failed(e.to_string()))?;
    match secrets.api_key(&merchant.mch_id) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(failed(
                RuntimeError::NoApiKey(merchant.mch_id.clone()).to_string(),
            ));
        }
        Err(error) => return Err(failed(error.to_string())),
    }
    let check = match merchant.secrets {
        SecretBackend::Keyring => Check::new(
            "secrets",
            Status::Ok,
            "the API key is in the system keyring",
        ),
        SecretBackend::File => Check::new(
            "secrets",
            Status::Warning,
            format!(
                "the API key is in {} (no system keyring was available when it was saved); it is readable only by your user account",
                dir.secrets_fallback().display()
            ),
        ),
    };
    Ok((secrets, check))
}

fn certificate_failure(error: &RuntimeError) -> String {
    match error {
        RuntimeError::Identity(IdentityError::WrongPassword) => format!(
            "{error}. If you changed the .p12 password, save it with `merchant-desk-cli setup --cert-password-stdin`"
        ),
        RuntimeError::Identity(IdentityError::CertKeyMismatch) => format!(
            "{error}: apiclient_cert.pem and apiclient_key.pem must come from the same download"
        ),
        other => other.to_string(),
    }
}

fn expiry_check(identity: &wxpay_client::ClientIdentity, now: SystemTime) -> Check {
    let until = identity.expiry_date();
    match identity.check_validity(now) {
        Err(error) => Check::new("certificate_expiry", Status::Failed, error.to_string()),
        Ok(()) if identity.not_after() < now + EXPIRY_WARNING => Check::new(
            "certificate_expiry",
            Status::Warning,
            format!(
                "the certificate expires on {until}: download a new API certificate in the merchant platform (商户平台 → 账户中心 → API安全) soon"
            ),
        ),
        Ok(()) => Check::new(
            "certificate_expiry",
            Status::Ok,
            format!("valid until {until}"),
        ),
    }
}

/// WeChat issues API certificates with the merchant id as the common name.
fn merchant_check(subject: &str, mch_id: &str) -> Check {
    let common_name = subject
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="));
    match common_name {
        Some(cn) if cn == mch_id => Check::new(
            "certificate_merchant",
            Status::Ok,
            format!("issued to merchant {mch_id}"),
        ),
        Some(cn) => Check::new(
            "certificate_merchant",
            Status::Failed,
            format!(
                "the certificate was issued to {cn}, not to merchant {mch_id}: import the certificate of merchant {mch_id}"
            ),
        ),
        None => Check::new(
            "certificate_merchant",
            Status::Warning,
            format!("the certificate names no merchant ({subject}); WeChat's name the merchant id"),
        ),
    }
}

/// A refundquery for a refund that cannot exist: WeChat answering "no such refund" (or with
/// records) proves the signature and the client certificate were accepted. Nothing changes.
async fn probe(client: &Client) -> Check {
    let Ok(number) = OutRefundNo::new("MD-DOCTOR-PROBE") else {
        return Check::new("wechat_probe", Status::Failed, "internal: probe number");
    };
    let request = RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(number),
        offset: None,
    };
    match client.execute(&request).await {
        Ok(_)
        | Err(wxpay::Error::Business {
            code: wxpay::ErrCode::RefundNotExist,
            ..
        }) => Check::new(
            "wechat_probe",
            Status::Ok,
            "a signed refund query over mutual TLS was accepted: API key and certificate work",
        ),
        Err(error) => Check::new(
            "wechat_probe",
            Status::Failed,
            error.user_message(wxpay::Lang::En),
        ),
    }
}

fn skip(checks: &mut Vec<Check>, names: &[&'static str]) {
    for name in names {
        if !checks.iter().any(|c| c.name == *name) {
            checks.push(Check::new(
                name,
                Status::Skipped,
                "skipped: fix the problem above first",
            ));
        }
    }
}
