//! `decrypt-refund-notify`.

use clap::Args;
use wxpay::ApiKey;
use wxpay::refund_notify::decrypt_req_info;

use super::{CliError, read_stdin};

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The API v2 key (or set WXPAY_API_KEY).
    #[arg(long, env = "WXPAY_API_KEY", hide_env_values = true)]
    key: String,
}

pub fn decrypt(args: DecryptArgs) -> Result<String, CliError> {
    let key = ApiKey::new(args.key)?;
    let input = read_stdin()?;
    let text = String::from_utf8_lossy(&input);
    let req_info = if text.trim_start().starts_with('<') {
        let outer = wxpay::xml::decode(&input)?;
        outer.get("req_info").ok_or(CliError::NoReqInfo)?.to_owned()
    } else {
        text.trim().to_owned()
    };
    let plain = decrypt_req_info(&req_info, &key)?;
    // The decrypted XML is as untrusted as the outer message: same strict decoder.
    let fields = wxpay::xml::decode(&plain)?;
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect();
    serde_json::to_string_pretty(&object).map_err(|e| CliError::Output(e.into()))
}
