use std::time::SystemTime;

use desk_core::unix_now;
use desk_runtime::{
    AlertSettings, CertificateConfig, Check, Language, Mode, SecretBackend, doctor,
    resume_held_if_passed,
};
use serde::Serialize;
use tauri::State;

use crate::commands::relay::{RelayView, relay_view};
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
    /// The shop's relay, when this desk reads there instead of listening.
    pub relay: Option<RelayView>,
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
        relay: relay_view(&state).await,
    })
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
            config.intake.replace_secret();
        }
    })?;
    state.restart().await?;
    settings_get(state).await
}
