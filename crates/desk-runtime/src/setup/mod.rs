//! Saving a merchant. The doctor's checks run first on what was typed: the ids and the API
//! key as WeChat writes them, the certificate on this computer (opens with the password,
//! matches its key, valid, names this merchant), then, unless told it is offline, the two
//! questions to WeChat Pay that prove the key and the certificate. Only a setup whose checks
//! passed is saved: certificate files into a new folder, secrets, then the configuration, which
//! is the switch. A failed check or a failed write leaves the working setup as it was.

mod certificates;

use std::time::{SystemTime, UNIX_EPOCH};

use wxpay::{ApiKey, AppId, CertPassword, MchId, Merchant, SignType};
use wxpay_client::{ClientIdentity, IdentityError, default_password};

pub use certificates::CertificateFiles;

use crate::config::{Config, MerchantConfig, Mode};
use crate::doctor::{
    Check, CheckName, Finding, certificate_checks, passed, refund_probe, signature_probe, skip,
};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::merchant::{WechatServer, build_client};
use crate::secrets::{SecretError, SecretKind, Secrets};

/// What the owner types in (or the CLI reads). The window's guided setup checks it a step at a
/// time, so the key and the certificate may still be missing.
#[derive(Debug, Clone)]
pub struct MerchantSetup {
    pub appid: String,
    pub mch_id: String,
    pub sign_type: SignType,
    pub api_key: Option<ApiKey>,
    pub certificate: Option<CertificateFiles>,
    /// `None`: WeChat's default, the merchant id.
    pub cert_password: Option<CertPassword>,
    pub wechat: WechatServer,
}

/// Whether the checks ask WeChat Pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Live,
    /// Only what can be checked on this computer (`setup --offline`).
    Offline,
}

/// A setup and what its checks found; only one that passed can be saved.
#[derive(Debug)]
pub struct CheckedSetup {
    setup: MerchantSetup,
    checks: Vec<Check>,
}

impl CheckedSetup {
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    pub fn into_checks(self) -> Vec<Check> {
        self.checks
    }

    pub fn passed(&self) -> bool {
        passed(&self.checks) && self.setup.api_key.is_some() && self.setup.certificate.is_some()
    }
}

/// Runs every check the setup has the parts for; a failed step skips those after it.
pub async fn check_setup(setup: MerchantSetup, verify: Verify, now: SystemTime) -> CheckedSetup {
    let checks = run_checks(&setup, verify, now).await;
    CheckedSetup { setup, checks }
}

async fn run_checks(setup: &MerchantSetup, verify: Verify, now: SystemTime) -> Vec<Check> {
    let ids = (
        MchId::new(setup.mch_id.as_str())
            .ok()
            .filter(merchant_number),
        AppId::new(setup.appid.as_str()).ok().filter(app_id),
    );
    let (mch_id, appid) = match ids {
        (Some(mch_id), Some(appid)) => (mch_id, appid),
        (None, _) => return vec![Check::new(CheckName::Merchant, Finding::MchIdMalformed)],
        (_, None) => return vec![Check::new(CheckName::Merchant, Finding::AppIdMalformed)],
    };
    let mut checks = vec![Check::new(CheckName::Merchant, Finding::IdsWellFormed)];
    let Some(api_key) = &setup.api_key else {
        return checks;
    };
    if let Err(finding) = key_form(api_key) {
        checks.push(Check::new(CheckName::ApiKey, finding));
        return checks;
    }
    checks.push(Check::new(CheckName::ApiKey, Finding::KeyWellFormed));
    let merchant = Merchant {
        appid,
        mch_id: mch_id.clone(),
        api_key: api_key.clone(),
        sign_type: setup.sign_type,
    };
    let live = verify == Verify::Live;
    if live {
        let signature = match build_client(merchant.clone(), None, &setup.wechat, now) {
            Ok(client) => signature_probe(&client).await,
            Err(error) => Check::new(
                CheckName::WechatSignature,
                Finding::ClientUnavailable {
                    detail: error.to_string(),
                },
            ),
        };
        checks.push(signature);
        if !passed(&checks) {
            return checks;
        }
    }
    let Some(files) = &setup.certificate else {
        return checks;
    };
    let password = setup
        .cert_password
        .clone()
        .unwrap_or_else(|| default_password(&mch_id));
    let identity = open_identity(files, &password);
    checks.extend(certificate_checks(&identity, &setup.mch_id, now));
    if !live {
        return checks;
    }
    let identity = match identity {
        Ok(identity) if passed(&checks) => identity,
        _ => return skip(checks, &[CheckName::WechatRefund]),
    };
    let refund = match build_client(merchant, Some(identity), &setup.wechat, now) {
        Ok(client) => refund_probe(&client).await,
        Err(error) => Check::new(
            CheckName::WechatRefund,
            Finding::ClientUnavailable {
                detail: error.to_string(),
            },
        ),
    };
    checks.push(refund);
    checks
}

/// 商户号 are digits: ten today, eight for the oldest merchants; a little room either way.
fn merchant_number(mch_id: &MchId) -> bool {
    let text = mch_id.as_str();
    (8..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// Mini-program and official-account AppIDs are `wx` and 16 hex digits.
fn app_id(appid: &AppId) -> bool {
    let text = appid.as_str();
    text.len() == 18 && text.starts_with("wx") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn open_identity(
    files: &CertificateFiles,
    password: &CertPassword,
) -> Result<ClientIdentity, IdentityError> {
    match files {
        CertificateFiles::P12(bytes) => ClientIdentity::from_pkcs12_der(bytes, password),
        CertificateFiles::Pem { cert, key } => ClientIdentity::from_pem(cert, key),
    }
}

/// The merchant platform only accepts 32 letters and digits as an API v2 key; anything else was
/// copied wrong.
fn key_form(key: &ApiKey) -> Result<(), Finding> {
    let text = key.expose();
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(Finding::ApiKeyMalformed {
        length: text.chars().count(),
    })
}

/// After the save: in production, or the mode it was in (the window switches separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeAfterSave {
    Production,
    Unchanged,
}

impl CheckedSetup {
    /// Saves a setup whose checks passed into `secrets` (usually
    /// [`Secrets::best_available`]; the private file when a keyring refuses to store) and the
    /// configuration, whose `secrets` says which. Blocking (the keyring).
    pub fn save(
        self,
        dir: &DataDir,
        secrets: &Secrets,
        mode: ModeAfterSave,
    ) -> Result<Config, RuntimeError> {
        if !self.passed() {
            return Err(RuntimeError::SetupNotChecked);
        }
        let setup = self.setup;
        let (Some(api_key), Some(files)) = (setup.api_key, setup.certificate) else {
            return Err(RuntimeError::SetupNotChecked);
        };
        let mut config = Config::load(&dir.config())?.unwrap_or_default();
        ensure_previous_books_settled(dir, &config, &setup.mch_id)?;
        dir.create()?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let (folder, certificate) = certificates::write_new(dir, &setup.mch_id, &files, stamp)?;
        let password = setup.cert_password.as_ref();
        let mut used = secrets.clone();
        let mut previous = Previous::read(&used, &setup.mch_id);
        let mut written = write_secrets(&used, &setup.mch_id, &api_key, password);
        if matches!(
            written,
            Err(RuntimeError::Secret(SecretError::KeyringRefused { .. }))
        ) {
            // A keyring that answers but will not store (locked, no prompt to unlock it): the
            // private file, as when there is no keyring at all.
            previous.restore(&used, &setup.mch_id);
            used = Secrets::file(&dir.secrets_fallback());
            previous = Previous::read(&used, &setup.mch_id);
            written = write_secrets(&used, &setup.mch_id, &api_key, password);
        }
        let key_replaced = previous
            .api_key
            .as_ref()
            .is_none_or(|before| before.expose() != api_key.expose());
        config.merchant = Some(MerchantConfig {
            appid: setup.appid,
            mch_id: setup.mch_id.clone(),
            sign_type: setup.sign_type,
            certificate,
            secrets: used.backend(),
            api_base: setup.wechat.api_base,
            extra_ca: setup.wechat.extra_ca,
        });
        if mode == ModeAfterSave::Production {
            config.mode = Mode::Production;
        }
        let written = written.and_then(|()| Ok(config.save(&dir.config())?));
        if let Err(error) = written {
            // Back to the setup that worked: its secrets, and no stray copy of the new key.
            previous.restore(&used, &setup.mch_id);
            let _ = std::fs::remove_dir_all(&folder);
            return Err(error);
        }
        certificates::remove_all_but(dir, &folder);
        if key_replaced {
            key_replaced_in_books(dir, &setup.mch_id);
        }
        Ok(config)
    }
}

/// A new API key mends the alarm that someone else held the old one (`signed_conflict`).
fn key_replaced_in_books(dir: &DataDir, mch_id: &str) {
    let books = crate::books::Books::Merchant(mch_id.to_owned()).database(dir);
    if !books.exists() {
        return;
    }
    // The alarm stays up if the books cannot be opened now; the doctor shows it.
    if let Ok(store) = desk_core::Store::open(&books) {
        let _ = store.resolve_alarm(desk_core::AlarmCause::SignedConflict, desk_core::unix_now());
    }
}

fn write_secrets(
    secrets: &Secrets,
    mch_id: &str,
    api_key: &ApiKey,
    password: Option<&CertPassword>,
) -> Result<(), RuntimeError> {
    secrets.set(mch_id, SecretKind::ApiKey, api_key.expose())?;
    match password {
        Some(password) => secrets.set(mch_id, SecretKind::CertPassword, password.expose())?,
        None => secrets.delete(mch_id, SecretKind::CertPassword)?,
    }
    Ok(())
}

/// The merchant's secrets before a save, to put back if the save fails halfway.
struct Previous {
    api_key: Option<ApiKey>,
    password: Option<CertPassword>,
}

impl Previous {
    fn read(secrets: &Secrets, mch_id: &str) -> Previous {
        Previous {
            api_key: secrets.api_key(mch_id).ok().flatten(),
            password: secrets.cert_password(mch_id).ok().flatten(),
        }
    }

    fn restore(self, secrets: &Secrets, mch_id: &str) {
        let _ = match &self.api_key {
            Some(key) => secrets.set(mch_id, SecretKind::ApiKey, key.expose()),
            None => secrets.delete(mch_id, SecretKind::ApiKey),
        };
        let _ = match &self.password {
            Some(password) => secrets.set(mch_id, SecretKind::CertPassword, password.expose()),
            None => secrets.delete(mch_id, SecretKind::CertPassword),
        };
    }
}

/// Another merchant's refunds still on their way would be left unsent and unfollowed: the
/// switch waits until they ended. Books from before the modes were kept apart are first
/// given to the merchant they belong to.
fn ensure_previous_books_settled(
    dir: &DataDir,
    config: &Config,
    new_mch_id: &str,
) -> Result<(), RuntimeError> {
    let Some(previous) = config.merchant.as_ref().filter(|m| m.mch_id != new_mch_id) else {
        return Ok(());
    };
    if dir.root().join("desk.sqlite3").exists()
        && let Ok(_lock) = crate::lock::DeskLock::acquire(&dir.lock(), dir.root())
    {
        crate::books::adopt_legacy_database(dir, config)?;
    }
    let books = crate::books::Books::Merchant(previous.mch_id.clone()).database(dir);
    if !books.exists() {
        return Ok(());
    }
    let in_flight = desk_core::Store::open(&books)?.refunds_in_flight()?;
    if in_flight > 0 {
        return Err(RuntimeError::RefundsInFlight(in_flight));
    }
    Ok(())
}
