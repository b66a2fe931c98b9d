use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine as _;
use desk_core::unix_now;
use desk_runtime::{
    AlertSettings, CertificateConfig, Check, Language, MerchantSetup, Mode, SecretBackend, Secrets,
    doctor, resume_held_if_passed, save_merchant,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use wxpay::{ApiKey, CertPassword, SignType};

use crate::commands::status::{AppStatus, status};
use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

/// The settings screen. Never the API key or the certificate password: those are write-only.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsView {
    pub mode: Mode,
    pub merchant: Option<MerchantView>,
    pub intake: IntakeView,
    pub alerts: AlertSettings,
    pub language: Language,
    pub recharge_fallback: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MerchantView {
    pub appid: String,
    pub mch_id: String,
    pub sign_type: String,
    /// `p12` or `pem`.
    pub certificate_kind: String,
    pub certificate_path: String,
    pub secrets: SecretBackend,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IntakeView {
    /// Where the intake listens now.
    pub url: Option<String>,
    pub listen: String,
    pub public_url: Option<String>,
    /// For the shop's backend developer (it signs refund requests with it).
    pub shared_secret: String,
    /// A complete, correctly signed example request to copy.
    pub example_request: String,
}

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> IpcResult<SettingsView> {
    let now = unix_now();
    state.access.require_owner(None, now)?;
    let config = state.config()?;
    // What the running intake checks (the sandbox has its own secret).
    let (url, secret) = match &*state.desk().await {
        Ok(desk) => (
            Some(desk.intake_url().to_owned()),
            desk.intake_secret().to_owned(),
        ),
        Err(_) => (None, config.intake.shared_secret.clone()),
    };
    let example_base = url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.intake.listen));
    Ok(SettingsView {
        mode: config.mode,
        merchant: config.merchant.as_ref().map(|m| {
            let (kind, path) = match &m.certificate {
                CertificateConfig::Pkcs12 { p12 } => ("p12", p12.display().to_string()),
                CertificateConfig::Pem { cert_pem, .. } => ("pem", cert_pem.display().to_string()),
            };
            MerchantView {
                appid: m.appid.clone(),
                mch_id: m.mch_id.clone(),
                sign_type: m.sign_type.as_str().to_owned(),
                certificate_kind: kind.into(),
                certificate_path: path,
                secrets: m.secrets,
            }
        }),
        intake: IntakeView {
            url,
            listen: config.intake.listen.to_string(),
            public_url: config.intake.public_url.clone(),
            example_request: desk_core::intake::example_request(&example_base, &secret, now),
            shared_secret: secret,
        },
        alerts: config.alerts.clone(),
        language: config.language,
        recharge_fallback: config.refunds.recharge_fallback,
    })
}

/// The certificate as the owner picked it: the file's bytes, copied into the data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum CertificateInput {
    /// `apiclient_cert.p12`, base64; the password defaults to the merchant id.
    P12 {
        p12_base64: String,
        password: Option<String>,
    },
    /// `apiclient_cert.pem` and `apiclient_key.pem`.
    Pem { cert_pem: String, key_pem: String },
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MerchantInput {
    pub appid: String,
    pub mch_id: String,
    /// `MD5` or `HMAC-SHA256`.
    pub sign_type: String,
    pub api_key: String,
    pub certificate: CertificateInput,
}

/// Checks and saves the merchant (secrets to the keyring or the private file), then runs the
/// doctor. The mode does not change: switching to production is its own, confirmed step.
#[tauri::command]
pub async fn save_merchant_settings(
    state: State<'_, AppState>,
    merchant: MerchantInput,
    pin: Option<String>,
) -> IpcResult<Vec<Check>> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    let dir = state.launch.data_dir.clone();
    let mode = state.config()?.mode;
    let invalid = |message: String| IpcError::new(ErrorCode::InvalidInput, message);
    let sign_type = SignType::from_wire(&merchant.sign_type)
        .ok_or_else(|| invalid("the sign type is MD5 or HMAC-SHA256".into()))?;
    let api_key = ApiKey::new(merchant.api_key.trim()).map_err(|e| invalid(e.to_string()))?;
    let certificates = dir.root().join("certificates");
    let write = |name: &str, bytes: &[u8]| -> IpcResult<PathBuf> {
        let path = certificates.join(name);
        desk_runtime::write_private(&path, bytes)
            .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))?;
        Ok(path)
    };
    let (certificate, cert_password) = match merchant.certificate {
        CertificateInput::P12 {
            p12_base64,
            password,
        } => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p12_base64.trim())
                .map_err(|_| invalid("the certificate file could not be read".into()))?;
            let p12 = write("apiclient_cert.p12", &bytes)?;
            let password = password.filter(|p| !p.is_empty()).map(CertPassword::new);
            (CertificateConfig::Pkcs12 { p12 }, password)
        }
        CertificateInput::Pem { cert_pem, key_pem } => (
            CertificateConfig::Pem {
                cert_pem: write("apiclient_cert.pem", cert_pem.as_bytes())?,
                key_pem: write("apiclient_key.pem", key_pem.as_bytes())?,
            },
            None,
        ),
    };
    let setup = MerchantSetup {
        appid: merchant.appid.trim().to_owned(),
        mch_id: merchant.mch_id.trim().to_owned(),
        sign_type,
        certificate,
        api_key,
        cert_password,
        api_base: None,
        extra_ca: None,
    };
    let save_dir = dir.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let (secrets, _warning) = Secrets::best_available(&save_dir.secrets_fallback());
        save_merchant(&save_dir, setup, &secrets, SystemTime::now())
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))??;
    state.update_config(|config| config.mode = mode)?;
    Ok(doctor(&dir, SystemTime::now()).await)
}

/// The doctor's checks for the saved merchant (certificate, password, expiry, a live probe).
#[tauri::command]
pub async fn run_doctor(state: State<'_, AppState>) -> IpcResult<Vec<Check>> {
    state.access.require_owner(None, unix_now())?;
    let checks = doctor(&state.launch.data_dir, SystemTime::now()).await;
    let passed = checks.clone();
    state
        .with_store(move |store| resume_held_if_passed(&passed, store, unix_now()))
        .await?;
    Ok(checks)
}

/// Switches between the sandbox and the merchant's real WeChat Pay; the desk restarts.
#[tauri::command]
pub async fn set_mode(
    state: State<'_, AppState>,
    mode: Mode,
    pin: Option<String>,
) -> IpcResult<AppStatus> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    if let Ok(desk) = &*state.desk().await {
        desk.ensure_can_switch()?;
    }
    let previous = state.config()?.mode;
    state.update_config(|config| config.mode = mode)?;
    if let Err(error) = state.restart().await {
        // Back to what worked, so the shop is never left without a desk.
        state.update_config(|config| config.mode = previous)?;
        state.restart().await?;
        return Err(error);
    }
    Ok(status(&state).await)
}

/// The address WeChat reaches the intake at, and a new shared secret on request.
#[tauri::command]
pub async fn save_intake(
    state: State<'_, AppState>,
    public_url: Option<String>,
    new_secret: bool,
    pin: Option<String>,
) -> IpcResult<SettingsView> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    let public_url = public_url
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty());
    if let Some(url) = &public_url
        && !url.starts_with("https://")
    {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "the public address must start with https:// (WeChat only calls HTTPS addresses)",
        ));
    }
    state.update_config(|config| {
        config.intake.public_url = public_url;
        if new_secret {
            config.intake.shared_secret = desk_runtime::Config::new().intake.shared_secret;
        }
    })?;
    state.restart().await?;
    settings_get(state).await
}
