//! The WeChat Pay client for the configured merchant, or for the sandbox's simulated one.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use wxpay::{ApiKey, AppId, MchId, Merchant};
use wxpay_client::{ClientIdentity, HttpsSettings, HttpsTransport, WxPayClient, default_password};
use wxpay_sim::CredentialFiles;

use crate::config::{CertificateConfig, MerchantConfig};
use crate::error::RuntimeError;
use crate::files::{read_optional, write_private};
use crate::secrets::Secrets;

pub type Client = WxPayClient<HttpsTransport>;

/// The certificate of a configured merchant, with the saved password or WeChat's default.
pub fn load_identity(
    merchant: &MerchantConfig,
    secrets: &Secrets,
) -> Result<ClientIdentity, RuntimeError> {
    let mch_id = mch_id(merchant)?;
    match &merchant.certificate {
        CertificateConfig::Pkcs12 { p12 } => {
            let password = secrets
                .cert_password(&merchant.mch_id)?
                .unwrap_or_else(|| default_password(&mch_id));
            Ok(ClientIdentity::from_pkcs12_file(p12, &password)?)
        }
        CertificateConfig::Pem { cert_pem, key_pem } => {
            Ok(ClientIdentity::from_pem_files(cert_pem, key_pem)?)
        }
    }
}

/// The configured merchant's client: key from the secrets, certificate checked for validity.
pub fn merchant_client(
    merchant: &MerchantConfig,
    secrets: &Secrets,
    now: SystemTime,
) -> Result<Client, RuntimeError> {
    let api_key = secrets
        .api_key(&merchant.mch_id)?
        .ok_or_else(|| RuntimeError::NoApiKey(merchant.mch_id.clone()))?;
    let identity = load_identity(merchant, secrets)?;
    let merchant_ids = Merchant {
        appid: AppId::new(merchant.appid.as_str())
            .map_err(|e| RuntimeError::InvalidSetting(format!("appid: {e}")))?,
        mch_id: mch_id(merchant)?,
        api_key,
        sign_type: merchant.sign_type,
    };
    let server = WechatServer {
        api_base: merchant.api_base.clone(),
        extra_ca: merchant.extra_ca.clone(),
    };
    build_client(merchant_ids, Some(identity), &server, now)
}

/// Where WeChat Pay is: the real one, or a test server (the simulator acting as WeChat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WechatServer {
    pub api_base: Option<String>,
    pub extra_ca: Option<std::path::PathBuf>,
}

/// A client for `merchant` at `server`, with the certificate when there is one. A test server
/// only under the developer switch (`developer.rs`).
pub fn build_client(
    merchant: Merchant,
    identity: Option<ClientIdentity>,
    server: &WechatServer,
    now: SystemTime,
) -> Result<Client, RuntimeError> {
    if *server != WechatServer::default() && !crate::developer::test_servers_allowed() {
        let named = server
            .api_base
            .clone()
            .or_else(|| server.extra_ca.as_ref().map(|ca| ca.display().to_string()))
            .unwrap_or_default();
        return Err(RuntimeError::TestServerRefused(named));
    }
    let mut settings = HttpsSettings {
        identity,
        ..HttpsSettings::default()
    };
    if let Some(base) = &server.api_base {
        settings.base_url = base.clone();
    }
    if let Some(ca) = &server.extra_ca {
        settings = settings.with_extra_root_ca_file(ca)?;
    }
    Ok(WxPayClient::new(
        merchant,
        HttpsTransport::new(settings, now)?,
    ))
}

fn mch_id(merchant: &MerchantConfig) -> Result<MchId, RuntimeError> {
    MchId::new(merchant.mch_id.as_str())
        .map_err(|e| RuntimeError::InvalidSetting(format!("mch_id: {e}")))
}

/// What `serve --sandbox` writes for testers: the simulator's merchant (the same fields as the
/// simulator's own `sim.json`) and where the desk's intake listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxCredentials {
    pub base_url: String,
    pub control_url: String,
    pub appid: String,
    pub mch_id: String,
    /// Opens only this simulator.
    pub api_key: String,
    pub files: CredentialFiles,
    /// The desk's intake, e.g. `http://127.0.0.1:8720`.
    pub intake_url: String,
    /// The intake's shared secret for signing refund requests.
    pub intake_secret: String,
}

impl SandboxCredentials {
    pub fn save(&self, path: &Path) -> Result<(), RuntimeError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| RuntimeError::InvalidSetting(e.to_string()))?;
        write_private(path, text.as_bytes())?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<SandboxCredentials, RuntimeError> {
        let text =
            read_optional(path)?.ok_or_else(|| RuntimeError::SandboxNotRunning(path.to_owned()))?;
        serde_json::from_str(&text).map_err(|_| RuntimeError::SandboxNotRunning(path.to_owned()))
    }

    /// A client for the simulated merchant, trusting the simulator's CA.
    pub fn client(&self, now: SystemTime) -> Result<Client, RuntimeError> {
        let mch_id = MchId::new(self.mch_id.as_str())
            .map_err(|e| RuntimeError::InvalidSetting(format!("sandbox mch_id: {e}")))?;
        let identity =
            ClientIdentity::from_pkcs12_file(&self.files.cert_p12, &default_password(&mch_id))?;
        let settings = HttpsSettings {
            base_url: self.base_url.clone(),
            identity: Some(identity),
            request_timeout: Duration::from_secs(10),
            ..HttpsSettings::default()
        }
        .with_extra_root_ca_file(&self.files.ca_pem)?;
        let merchant = Merchant {
            appid: AppId::new(self.appid.as_str())
                .map_err(|e| RuntimeError::InvalidSetting(format!("sandbox appid: {e}")))?,
            mch_id,
            api_key: ApiKey::new(self.api_key.as_str())
                .map_err(|e| RuntimeError::InvalidSetting(format!("sandbox API key: {e}")))?,
            sign_type: wxpay::SignType::Md5,
        };
        Ok(WxPayClient::new(
            merchant,
            HttpsTransport::new(settings, now)?,
        ))
    }
}

/// The client a one-off command uses (a manual refund's order check): the configured merchant,
/// or the sandbox that `serve --sandbox` (or the app) is running.
pub fn command_client(
    dir: &crate::files::DataDir,
    config: &crate::config::Config,
    now: SystemTime,
) -> Result<Client, RuntimeError> {
    match (config.mode, &config.merchant) {
        (crate::config::Mode::Sandbox, _) => {
            SandboxCredentials::load(&dir.sandbox_credentials())?.client(now)
        }
        (crate::config::Mode::Production, Some(merchant)) => {
            let secrets =
                Secrets::open(merchant.secrets, &dir.secrets_fallback(), &merchant.mch_id)?;
            merchant_client(merchant, &secrets, now)
        }
        (crate::config::Mode::Production, None) => Err(RuntimeError::NoMerchant(dir.config())),
    }
}
