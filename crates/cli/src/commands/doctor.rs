//! `doctor` and `setup`: check a merchant setup, and save one.

use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use desk_runtime::{
    CertificateFiles, MerchantSetup, ModeAfterSave, Verify, WechatServer, check_setup,
};
use serde_json::json;
use wxpay::{ApiKey, CertPassword, SignType};

use super::CliError;
use super::desk::DeskArgs;
use super::findings;

/// Runs every check; fails (exit 1) when one failed.
pub async fn doctor(desk: &DeskArgs) -> Result<String, CliError> {
    if desk.sandbox {
        return Err(CliError::Argument(
            "doctor checks the mode config.toml names; --sandbox does not apply".into(),
        ));
    }
    let checks = desk_runtime::doctor(&desk.dir()?, SystemTime::now()).await;
    let failed = !desk_runtime::passed(&checks);
    let text = desk.render(&checks, |checks| findings::report(checks))?;
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
    /// Save without asking WeChat Pay (no network here): only what this computer can check.
    #[arg(long)]
    offline: bool,
}

/// Checks the merchant (live, unless `--offline`) and saves it only when every check passed;
/// the desk switches from the sandbox to this merchant. The owner PIN is needed when one is
/// set. `wechat` is WeChat Pay, or the developer switch's test server.
pub async fn setup(
    desk: &DeskArgs,
    args: SetupArgs,
    wechat: WechatServer,
) -> Result<String, CliError> {
    if desk.sandbox {
        return Err(CliError::Argument(
            "setup saves a real merchant; the sandbox needs none (run `serve --sandbox`)".into(),
        ));
    }
    // Before anything is read or asked: the merchant and its money are the owner's.
    let access = super::queue::owner_access(desk)?;
    access.require_owner(
        super::queue::pin_from_env().as_deref(),
        desk_core::unix_now(),
    )?;
    super::queue::warn_if_short(&access);
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
        (Some(p12), None, None) => CertificateFiles::P12(read_file(&p12)?),
        (None, Some(cert_pem), Some(key_pem)) => CertificateFiles::Pem {
            cert: read_file(&cert_pem)?,
            key: read_file(&key_pem)?,
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
        appid: args.appid.trim().to_owned(),
        mch_id: args.mch_id.trim().to_owned(),
        sign_type: args.sign_type,
        api_key: Some(api_key),
        certificate: Some(certificate),
        cert_password,
        wechat,
    };
    let verify = if args.offline {
        Verify::Offline
    } else {
        Verify::Live
    };
    let checked = check_setup(setup, verify, SystemTime::now()).await;
    if !checked.passed() {
        let report = desk.render(&checked.checks(), |checks| findings::report(checks))?;
        return Err(CliError::ChecksFailed(format!(
            "{report}\nnothing was saved: fix what failed and run setup again{}",
            if args.offline {
                ""
            } else {
                " (or pass --offline when this computer cannot reach WeChat Pay now)"
            }
        )));
    }
    let report = findings::report(checked.checks());
    let dir = desk.dir()?;
    let (config, warning) = tokio::task::spawn_blocking(move || {
        let (secrets, warning) = desk_runtime::Secrets::best_available(&dir.secrets_fallback());
        checked
            .save(&dir, &secrets, ModeAfterSave::Production)
            .map(|config| (config, warning))
    })
    .await
    .map_err(|e| CliError::Runtime(std::io::Error::other(e.to_string())))??;
    if let Some(warning) = &warning {
        eprintln!("warning: {warning}");
    }
    let dir = desk.dir()?;
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
        "verified": if args.offline { "offline" } else { "live" },
    });
    desk.render(&value, |_| {
        let next = if args.offline {
            "Run `merchant-desk-cli doctor` once this computer can reach WeChat Pay"
        } else {
            "WeChat Pay accepted the key and the certificate"
        };
        format!(
            "{report}\nmerchant {mch_id} saved in {}; the desk now uses it. {next}",
            dir.config().display()
        )
    })
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| {
        CliError::Argument(format!(
            "cannot read {}: {source} (download the API certificate in 商户平台 → 账户中心 → API安全)",
            path.display()
        ))
    })
}
