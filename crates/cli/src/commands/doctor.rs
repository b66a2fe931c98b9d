//! `doctor` and `setup`: check a merchant setup, and save one.

use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use desk_runtime::{CertificateConfig, MerchantSetup, Status};
use serde_json::json;
use wxpay::{ApiKey, CertPassword, SignType};

use super::CliError;
use super::desk::DeskArgs;

/// Runs every check; fails (exit 1) when one failed.
pub async fn doctor(desk: &DeskArgs) -> Result<String, CliError> {
    if desk.sandbox {
        return Err(CliError::Argument(
            "doctor checks the mode config.toml names; --sandbox does not apply".into(),
        ));
    }
    let checks = desk_runtime::doctor(&desk.dir()?, SystemTime::now()).await;
    let failed = checks.iter().any(|c| c.status == Status::Failed);
    let text = desk.render(&checks, |checks| {
        checks
            .iter()
            .map(|check| {
                let mark = match check.status {
                    Status::Ok => "ok  ",
                    Status::Warning => "WARN",
                    Status::Failed => "FAIL",
                    Status::Skipped => "skip",
                };
                format!("[{mark}] {:<21} {}", check.name, check.detail)
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if failed {
        return Err(CliError::ChecksFailed(text));
    }
    // Refunds held for a setup problem go on now (each asked of WeChat first).
    let resumed = match desk.existing_store() {
        Ok(store) => desk_runtime::resume_held_if_passed(&checks, &store, desk_core::unix_now())?,
        Err(CliError::NoDesk(_)) => 0,
        Err(other) => return Err(other),
    };
    if resumed > 0 && !desk.json {
        return Ok(format!(
            "{text}\n{resumed} held refund(s) go on: each is asked of WeChat Pay first"
        ));
    }
    Ok(text)
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("certificate").required(true).args(["p12", "cert_pem"]))]
pub struct SetupArgs {
    /// 公众账号ID / 小程序ID (appid).
    #[arg(long)]
    appid: String,
    /// 商户号 (mch_id).
    #[arg(long)]
    mch_id: String,
    /// apiclient_cert.p12 from the merchant platform.
    #[arg(long)]
    p12: Option<PathBuf>,
    /// apiclient_cert.pem (with --key-pem) instead of the .p12.
    #[arg(long, requires = "key_pem")]
    cert_pem: Option<PathBuf>,
    #[arg(long, requires = "cert_pem")]
    key_pem: Option<PathBuf>,
    /// MD5 (default) or HMAC-SHA256.
    #[arg(long, default_value = "MD5")]
    sign_type: SignType,
    /// Read the API key from standard input instead of WXPAY_API_KEY.
    #[arg(long)]
    api_key_stdin: bool,
    /// Only for a test server: WeChat Pay's API address.
    #[arg(long, hide = true)]
    api_base: Option<String>,
    /// Only for a test server: one more trusted root CA (PEM).
    #[arg(long, hide = true)]
    extra_ca: Option<PathBuf>,
}

/// Checks and saves the merchant; the desk switches from the sandbox to this merchant.
pub fn setup(desk: &DeskArgs, args: SetupArgs) -> Result<String, CliError> {
    if desk.sandbox {
        return Err(CliError::Argument(
            "setup saves a real merchant; the sandbox needs none (run `serve --sandbox`)".into(),
        ));
    }
    let api_key = if args.api_key_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(1024)
            .read_to_string(&mut text)
            .map_err(CliError::Input)?;
        text.trim().to_owned()
    } else {
        std::env::var("WXPAY_API_KEY").map_err(|_| {
            CliError::Argument(
                "no API key: set WXPAY_API_KEY or pass --api-key-stdin and pipe it in".into(),
            )
        })?
    };
    let api_key = ApiKey::new(api_key)?;
    let certificate = match (args.p12, args.cert_pem, args.key_pem) {
        (Some(p12), None, None) => CertificateConfig::Pkcs12 {
            p12: absolute(p12)?,
        },
        (None, Some(cert_pem), Some(key_pem)) => CertificateConfig::Pem {
            cert_pem: absolute(cert_pem)?,
            key_pem: absolute(key_pem)?,
        },
        _ => {
            return Err(CliError::Argument(
                "give --p12, or --cert-pem with --key-pem".into(),
            ));
        }
    };
    let cert_password = std::env::var("WXPAY_CERT_PASSWORD")
        .ok()
        .map(CertPassword::new);
    let setup = MerchantSetup {
        appid: args.appid,
        mch_id: args.mch_id,
        sign_type: args.sign_type,
        certificate,
        api_key,
        cert_password,
        api_base: args.api_base,
        extra_ca: args.extra_ca.map(absolute).transpose()?,
    };
    let dir = desk.dir()?;
    let (secrets, warning) = desk_runtime::Secrets::best_available(&dir.secrets_fallback());
    let config = desk_runtime::save_merchant(&dir, setup, &secrets, SystemTime::now())?;
    if let Some(warning) = &warning {
        eprintln!("warning: {warning}");
    }
    let mch_id = config
        .merchant
        .as_ref()
        .map(|m| m.mch_id.clone())
        .unwrap_or_default();
    let value = json!({
        "mode": "production",
        "mch_id": mch_id,
        "config": dir.config(),
        "secrets": config.merchant.as_ref().map(|m| m.secrets),
    });
    desk.render(&value, |_| {
        format!(
            "merchant {mch_id} saved in {}; the desk now uses it. Run `merchant-desk-cli doctor` to check the connection",
            dir.config().display()
        )
    })
}

fn absolute(path: PathBuf) -> Result<PathBuf, CliError> {
    std::path::absolute(&path).map_err(CliError::Input)
}
