//! Saving a merchant: checked first (certificate opens with the password and matches its key,
//! the API key has WeChat's form), then secrets to the keyring or the private file, then the
//! configuration. A failed check changes nothing.

use std::time::SystemTime;

use wxpay::{ApiKey, CertPassword, SignType};
use wxpay_client::ClientIdentity;

use crate::config::{CertificateConfig, Config, MerchantConfig, Mode};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::secrets::{SecretKind, Secrets};

/// What the owner types in (or the CLI reads).
#[derive(Debug, Clone)]
pub struct MerchantSetup {
    pub appid: String,
    pub mch_id: String,
    pub sign_type: SignType,
    pub certificate: CertificateConfig,
    pub api_key: ApiKey,
    /// `None`: WeChat's default, the merchant id.
    pub cert_password: Option<CertPassword>,
    pub api_base: Option<String>,
    pub extra_ca: Option<std::path::PathBuf>,
}

/// Checks and saves into `secrets` (usually [`Secrets::best_available`]); the desk switches to
/// production mode.
pub fn save_merchant(
    dir: &DataDir,
    setup: MerchantSetup,
    secrets: &Secrets,
    now: SystemTime,
) -> Result<Config, RuntimeError> {
    let mut config = Config::load(&dir.config())?.unwrap_or_default();
    let merchant = MerchantConfig {
        appid: setup.appid,
        mch_id: setup.mch_id,
        sign_type: setup.sign_type,
        certificate: setup.certificate,
        secrets: secrets.backend(),
        api_base: setup.api_base,
        extra_ca: setup.extra_ca,
    };
    check_api_key(&setup.api_key)?;
    let mch_id = wxpay::MchId::new(merchant.mch_id.as_str())
        .map_err(|e| RuntimeError::InvalidSetting(format!("mch_id: {e}")))?;
    wxpay::AppId::new(merchant.appid.as_str())
        .map_err(|e| RuntimeError::InvalidSetting(format!("appid: {e}")))?;
    let password = setup
        .cert_password
        .clone()
        .unwrap_or_else(|| wxpay_client::default_password(&mch_id));
    let identity = match &merchant.certificate {
        CertificateConfig::Pkcs12 { p12 } => ClientIdentity::from_pkcs12_file(p12, &password)?,
        CertificateConfig::Pem { cert_pem, key_pem } => {
            ClientIdentity::from_pem_files(cert_pem, key_pem)?
        }
    };
    identity.check_validity(now)?;
    ensure_previous_books_settled(dir, &config, &merchant.mch_id)?;

    dir.create()?;
    secrets.set(&merchant.mch_id, SecretKind::ApiKey, setup.api_key.expose())?;
    match &setup.cert_password {
        Some(password) => secrets.set(
            &merchant.mch_id,
            SecretKind::CertPassword,
            password.expose(),
        )?,
        None => secrets.delete(&merchant.mch_id, SecretKind::CertPassword)?,
    }
    config.merchant = Some(merchant);
    config.mode = Mode::Production;
    config.save(&dir.config())?;
    Ok(config)
}

/// The merchant platform only accepts 32 letters and digits as an API v2 key; anything else was
/// copied wrong.
fn check_api_key(key: &ApiKey) -> Result<(), RuntimeError> {
    let text = key.expose();
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(RuntimeError::InvalidSetting(format!(
        "the API v2 key must be 32 letters and digits (this one has {} characters): copy it again from 商户平台 → 账户中心 → API安全",
        text.chars().count()
    )))
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
