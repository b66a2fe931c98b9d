//! `sign` and `verify`.

use clap::Args;
use wxpay::sign::{self, Expect};
use wxpay::{ApiKey, Fields, SignType};

use super::{CliError, read_stdin};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The API v2 key (or set WXPAY_API_KEY, which keeps it out of shell history).
    #[arg(long, env = "WXPAY_API_KEY", hide_env_values = true)]
    key: String,
    /// MD5 or HMAC-SHA256; defaults to the sign_type parameter, else MD5.
    #[arg(long)]
    sign_type: Option<SignType>,
    /// Also print the string that was signed (without the key) to standard error.
    #[arg(long)]
    show_string: bool,
    /// Parameters as name=value; empty values and `sign` are left out, as v2 requires.
    #[arg(value_name = "NAME=VALUE")]
    params: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The API v2 key (or set WXPAY_API_KEY).
    #[arg(long, env = "WXPAY_API_KEY", hide_env_values = true)]
    key: String,
}

pub fn sign(args: SignArgs) -> Result<String, CliError> {
    let key = ApiKey::new(args.key)?;
    if args.params.is_empty() {
        return Err(CliError::NoParameters);
    }
    let pairs = args
        .params
        .iter()
        .map(|param| match param.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name, value)),
            _ => Err(CliError::NotKeyValue(param.clone())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fields = Fields::from_pairs(pairs).map_err(|e| match e {
        wxpay::FieldError::Duplicate(name) => CliError::DuplicateParameter(name),
        other => CliError::Protocol(other.into()),
    })?;
    let declared = fields.get("sign_type");
    let sign_type = match (args.sign_type, declared) {
        (Some(flag), Some(param)) if flag.as_str() != param => {
            return Err(CliError::SignTypeConflict {
                flag: flag.to_string(),
                param: param.to_owned(),
            });
        }
        (Some(flag), _) => flag,
        (None, Some(param)) => param
            .parse()
            .map_err(|e: wxpay::SignatureError| CliError::Protocol(e.into()))?,
        (None, None) => SignType::Md5,
    };
    if args.show_string {
        eprintln!("{}&key=<API key>", sign::string_to_sign(&fields));
    }
    Ok(sign::sign(&fields, &key, sign_type))
}

pub fn verify(args: VerifyArgs) -> Result<String, CliError> {
    let key = ApiKey::new(args.key)?;
    let input = read_stdin()?;
    let fields = wxpay::xml::decode(&input)?;
    let sign_type =
        sign::verify(&fields, &key, Expect::Detect).map_err(|e| CliError::Protocol(e.into()))?;
    Ok(format!("valid {sign_type} signature"))
}
