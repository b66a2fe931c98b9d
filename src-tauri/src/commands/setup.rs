//! Setting the merchant up, as the guided setup walks it: each step checked live with the
//! doctor's checks, the save only of a setup whose checks all passed, the public address's
//! test, and the sandbox's first refund.

use std::time::SystemTime;

use base64::Engine as _;
use desk_core::unix_now;
use desk_runtime::{
    CertificateFiles, Check, MerchantSetup, ModeAfterSave, Secrets, Verify, check_setup,
    reach_check,
};
use serde::{Deserialize, Serialize};
use tauri::State;
use wxpay::{ApiKey, CertPassword, SignType};

use crate::commands::queue::OWNER;
use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

/// The certificate as the owner picked it: the files' contents.
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

/// What the owner typed so far: the key and the certificate come in later steps.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MerchantInput {
    pub appid: String,
    pub mch_id: String,
    /// `MD5` or `HMAC-SHA256`.
    pub sign_type: String,
    pub api_key: Option<String>,
    pub certificate: Option<CertificateInput>,
}

impl MerchantInput {
    fn into_setup(self, state: &AppState) -> IpcResult<MerchantSetup> {
        let invalid = |message: String| IpcError::new(ErrorCode::InvalidInput, message);
        let sign_type = SignType::from_wire(&self.sign_type)
            .ok_or_else(|| invalid("the sign type is MD5 or HMAC-SHA256".into()))?;
        let api_key = self
            .api_key
            .map(|key| ApiKey::new(key.trim()).map_err(|e| invalid(e.to_string())))
            .transpose()?;
        let (certificate, cert_password) = match self.certificate {
            None => (None, None),
            Some(CertificateInput::P12 {
                p12_base64,
                password,
            }) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(p12_base64.trim())
                    .map_err(|_| invalid("the certificate file could not be read".into()))?;
                let password = password.filter(|p| !p.is_empty()).map(CertPassword::new);
                (Some(CertificateFiles::P12(bytes)), password)
            }
            Some(CertificateInput::Pem { cert_pem, key_pem }) => (
                Some(CertificateFiles::Pem {
                    cert: cert_pem.into_bytes(),
                    key: key_pem.into_bytes(),
                }),
                None,
            ),
        };
        Ok(MerchantSetup {
            appid: self.appid.trim().to_owned(),
            mch_id: self.mch_id.trim().to_owned(),
            sign_type,
            api_key,
            certificate,
            cert_password,
            wechat: state.launch.wechat.clone(),
        })
    }
}

/// The checks of what was typed so far, asking WeChat Pay (nothing is saved).
#[tauri::command]
pub async fn check_merchant(
    state: State<'_, AppState>,
    merchant: MerchantInput,
    pin: Option<String>,
) -> IpcResult<Vec<Check>> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    let setup = merchant.into_setup(&state)?;
    Ok(check_setup(setup, Verify::Live, SystemTime::now())
        .await
        .into_checks())
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SaveOutcome {
    /// False when a check failed: nothing was changed, the working setup goes on.
    pub saved: bool,
    pub checks: Vec<Check>,
}

/// Checks the whole setup live and saves it only when every check passed (secrets to the
/// keyring or the private file, the certificate beside the old one until the switch). The mode
/// does not change: going live is its own, confirmed step. A desk already live restarts on the
/// new setup.
#[tauri::command]
pub async fn save_merchant_settings(
    state: State<'_, AppState>,
    merchant: MerchantInput,
    pin: Option<String>,
) -> IpcResult<SaveOutcome> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    let setup = merchant.into_setup(&state)?;
    if setup.api_key.is_none() || setup.certificate.is_none() {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "the API key and the certificate are both needed to save",
        ));
    }
    let checked = check_setup(setup, Verify::Live, SystemTime::now()).await;
    if !checked.passed() {
        return Ok(SaveOutcome {
            saved: false,
            checks: checked.into_checks(),
        });
    }
    let checks = checked.checks().to_vec();
    let dir = state.launch.data_dir.clone();
    let config = tauri::async_runtime::spawn_blocking(move || {
        let (secrets, _warning) = Secrets::best_available(&dir.secrets_fallback());
        checked.save(&dir, &secrets, ModeAfterSave::Unchanged)
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))??;
    if config.mode == desk_runtime::Mode::Production {
        state.restart().await?;
    }
    Ok(SaveOutcome {
        saved: true,
        checks,
    })
}

/// Whether the public address reaches this desk's intake, the way WeChat's notifications will.
#[tauri::command]
pub async fn check_intake(state: State<'_, AppState>, pin: Option<String>) -> IpcResult<Check> {
    let now = unix_now();
    state.access.require_owner(pin.as_deref(), now)?;
    let public_url = state.config()?.intake.public_url;
    let secret = match &*state.desk().await {
        Ok(desk) => desk.intake_secret().to_owned(),
        Err(error) => return Err(error.clone()),
    };
    Ok(reach_check(
        public_url.as_deref(),
        &secret,
        state.launch.wechat.extra_ca.as_deref(),
        now,
    )
    .await)
}

/// The sandbox's first refund of ¥0.01, approved by the owner: the window follows it like the
/// real one. Returns the request.
#[tauri::command]
pub async fn sandbox_trial_refund(
    state: State<'_, AppState>,
    pin: Option<String>,
) -> IpcResult<i64> {
    let now = unix_now();
    state.access.require_owner(pin.as_deref(), now)?;
    let request = match &*state.desk().await {
        Ok(desk) => desk.sandbox_trial(now).await?,
        Err(error) => return Err(error.clone()),
    };
    let (store, access) = (state.store().await?, state.access.clone());
    tauri::async_runtime::spawn_blocking(move || {
        // The PIN was checked above and keeps the desk unlocked.
        let approval = desk_runtime::Approval {
            request,
            amount: None,
            by: OWNER.into(),
            claim: desk_runtime::Claim::Owner { pin: None },
        };
        desk_runtime::approve(&store, &access, &approval, unix_now())
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Storage, e.to_string()))??;
    Ok(request)
}
