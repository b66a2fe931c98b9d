//! `doctor`: checks a desk's setup step by step and names the fix for each failure: the
//! configuration, the secrets, the certificate (opens, password, key, expiry, merchant), and two
//! questions to WeChat Pay that prove the key and the certificate where refunds go
//! (`probe.rs`). `setup` runs the same checks before it saves anything.

mod certificate;
mod finding;
mod probe;
mod watch;

use std::time::SystemTime;

use serde::Serialize;

pub use certificate::certificate_checks;
pub use finding::{CertificateProblem, Finding, ReachProblem, Status};
pub use probe::{refund_probe, signature_probe};

use crate::config::{Config, MerchantConfig, Mode};
use crate::files::DataDir;
use crate::merchant::{Client, SandboxCredentials, load_identity, merchant_client};
use crate::secrets::{SecretBackend, Secrets};

/// What is checked, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CheckName {
    Config,
    /// The appid and mch_id as typed (setup only).
    Merchant,
    /// The API key as typed (setup only).
    ApiKey,
    Secrets,
    Certificate,
    CertificateExpiry,
    CertificateMerchant,
    /// A signed query: appid, mch_id and API key.
    WechatSignature,
    /// A refund that cannot move money, on `/secapi/`: the certificate.
    WechatRefund,
    /// The public address reaches this desk's intake.
    Intake,
    /// What the intake refused in the last day, and any alarm it raised.
    Notifications,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    pub name: CheckName,
    pub status: Status,
    pub finding: Finding,
}

impl Check {
    pub fn new(name: CheckName, finding: Finding) -> Check {
        Check {
            name,
            status: finding.status(),
            finding,
        }
    }

    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }
}

/// True when no check failed (warnings pass).
pub fn passed(checks: &[Check]) -> bool {
    !checks.iter().any(Check::failed)
}

/// Refunds held for a setup problem go on once every check passed: each is asked of WeChat by
/// its number first. Returns how many went on (none when a check failed).
pub fn resume_held_if_passed(
    checks: &[Check],
    store: &desk_core::Store,
    now: i64,
) -> Result<usize, desk_core::CoreError> {
    if !passed(checks) {
        return Ok(0);
    }
    store.resume_held(now)
}

/// Runs every check it can; a failed step skips those that depend on it. Last, what the intake
/// of the configured mode refused in the last day and the alarms it raised.
pub async fn doctor(dir: &DataDir, now: SystemTime) -> Vec<Check> {
    let mut checks = setup_checks(dir, now).await;
    if let Ok(Some(config)) = Config::load(&dir.config()) {
        let unix = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let key_accepted = checks
            .iter()
            .any(|c| c.finding == Finding::SignatureAccepted);
        checks.extend(watch::watch_check(dir, &config, key_accepted, unix));
    }
    checks
}

async fn setup_checks(dir: &DataDir, now: SystemTime) -> Vec<Check> {
    let mut checks = Vec::new();
    let config = match Config::load(&dir.config()) {
        Ok(Some(config)) => config,
        Ok(None) => {
            checks.push(Check::new(
                CheckName::Config,
                Finding::NoConfig {
                    path: dir.config().display().to_string(),
                },
            ));
            return checks;
        }
        Err(error) => {
            checks.push(Check::new(
                CheckName::Config,
                Finding::ConfigUnreadable {
                    detail: error.to_string(),
                },
            ));
            return checks;
        }
    };
    let merchant = match (config.mode, &config.merchant) {
        (Mode::Sandbox, _) => {
            checks.push(Check::new(CheckName::Config, Finding::SandboxMode));
            match SandboxCredentials::load(&dir.sandbox_credentials()).and_then(|c| c.client(now)) {
                Ok(client) => checks.extend(live_checks(&client).await),
                Err(error) => checks.push(Check::new(
                    CheckName::WechatSignature,
                    Finding::ClientUnavailable {
                        detail: error.to_string(),
                    },
                )),
            }
            return checks;
        }
        (Mode::Production, Some(merchant)) => merchant,
        (Mode::Production, None) => {
            checks.push(Check::new(CheckName::Config, Finding::NoMerchant));
            return checks;
        }
    };
    checks.push(Check::new(
        CheckName::Config,
        Finding::MerchantConfigured {
            mch_id: merchant.mch_id.clone(),
            appid: merchant.appid.clone(),
            sign_type: merchant.sign_type.as_str().to_owned(),
        },
    ));
    let secrets = match secrets_check(dir, merchant) {
        Ok((secrets, check)) => {
            checks.push(check);
            secrets
        }
        Err(check) => {
            checks.push(check);
            return skip(
                checks,
                &[
                    CheckName::Certificate,
                    CheckName::WechatSignature,
                    CheckName::WechatRefund,
                ],
            );
        }
    };
    let identity = match load_identity(merchant, &secrets) {
        Ok(identity) => Ok(identity),
        Err(crate::error::RuntimeError::Identity(error)) => Err(error),
        Err(other) => {
            checks.push(Check::new(
                CheckName::Certificate,
                Finding::SecretsUnavailable {
                    detail: other.to_string(),
                },
            ));
            return skip(
                checks,
                &[CheckName::WechatSignature, CheckName::WechatRefund],
            );
        }
    };
    checks.extend(certificate_checks(&identity, &merchant.mch_id, now));
    if !passed(&checks) {
        return skip(
            checks,
            &[CheckName::WechatSignature, CheckName::WechatRefund],
        );
    }
    match merchant_client(merchant, &secrets, now) {
        Ok(client) => checks.extend(live_checks(&client).await),
        Err(error) => checks.push(Check::new(
            CheckName::WechatSignature,
            Finding::ClientUnavailable {
                detail: error.to_string(),
            },
        )),
    }
    checks
}

/// The signed query, then (when it passed) the refund probe.
pub async fn live_checks(client: &Client) -> Vec<Check> {
    let signature = signature_probe(client).await;
    if signature.failed() {
        return skip(vec![signature], &[CheckName::WechatRefund]);
    }
    vec![signature, refund_probe(client).await]
}

fn secrets_check(dir: &DataDir, merchant: &MerchantConfig) -> Result<(Secrets, Check), Check> {
    let unavailable =
        |detail: String| Check::new(CheckName::Secrets, Finding::SecretsUnavailable { detail });
    let secrets = Secrets::open(merchant.secrets, &dir.secrets_fallback(), &merchant.mch_id)
        .map_err(|e| unavailable(e.to_string()))?;
    match secrets.api_key(&merchant.mch_id) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Check::new(CheckName::Secrets, Finding::NoApiKey)),
        Err(error) => return Err(unavailable(error.to_string())),
    }
    let finding = match merchant.secrets {
        SecretBackend::Keyring => Finding::KeyInKeyring,
        SecretBackend::File => Finding::KeyInFile {
            path: dir.secrets_fallback().display().to_string(),
        },
    };
    Ok((secrets, Check::new(CheckName::Secrets, finding)))
}

/// Appends a skipped check for each name not already checked.
pub fn skip(mut checks: Vec<Check>, names: &[CheckName]) -> Vec<Check> {
    for name in names {
        if !checks.iter().any(|c| c.name == *name) {
            checks.push(Check::new(*name, Finding::Skipped));
        }
    }
    checks
}
