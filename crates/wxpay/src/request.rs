//! Requests as plain data, and the merchant context that signs them and checks the answers.

use crate::error::Error;
use crate::fields::{FieldError, Fields};
use crate::ids::{AppId, MchId, Nonce};
use crate::secret::ApiKey;
use crate::sign::{self, Expect, SignType};
use crate::xml;

/// A v2 API call: its path, its business fields and how its successful answer is read.
pub trait Request {
    type Response;
    /// Path under the API base URL, e.g. `/secapi/pay/refund`.
    const PATH: &'static str;
    /// Whether WeChat requires the merchant's client certificate (mutual TLS) for this call.
    const NEEDS_CLIENT_CERT: bool = false;

    /// The call's own fields; `appid`, `mch_id`, `nonce_str`, `sign_type` and `sign` are added
    /// by [`Merchant::encode_request`]. Validates the request before anything is sent.
    fn fields(&self) -> Result<Vec<(&'static str, String)>, RequestError>;

    /// Reads a verified answer with `return_code` and `result_code` SUCCESS.
    fn parse_response(&self, fields: &Fields<'_>) -> Result<Self::Response, FieldError>;
}

/// Our own request is invalid: it is refused before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{field} must be greater than zero")]
    NotPositive { field: &'static str },
    #[error("refund_fee ({refund_fee} fen) is more than total_fee ({total_fee} fen)")]
    RefundExceedsTotal { refund_fee: i64, total_fee: i64 },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} is invalid: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("the message cannot be encoded: {0}")]
    Encoding(#[from] xml::XmlError),
}

/// Checks a free-text field: length in characters and no control characters.
pub(crate) fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), RequestError> {
    if text.chars().count() > max {
        return Err(RequestError::TooLong { field, max });
    }
    if text.chars().any(char::is_control) {
        return Err(RequestError::Invalid {
            field,
            reason: "control characters are not allowed",
        });
    }
    Ok(())
}

/// Checks a `notify_url`: HTTPS (or HTTP, allowed on 专线), no query string, at most 256 bytes.
pub(crate) fn check_notify_url(url: &str) -> Result<(), RequestError> {
    let field = "notify_url";
    if url.len() > 256 {
        return Err(RequestError::TooLong { field, max: 256 });
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(RequestError::Invalid {
            field,
            reason: "must be an https:// address",
        });
    }
    if url.contains('?') || url.contains(char::is_whitespace) {
        return Err(RequestError::Invalid {
            field,
            reason: "must have no query string or spaces",
        });
    }
    Ok(())
}

/// The merchant a desk acts for: who it is and how it signs.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub appid: AppId,
    pub mch_id: MchId,
    pub api_key: ApiKey,
    /// Algorithm for requests we sign (answers come back signed the same way).
    pub sign_type: SignType,
}

impl Merchant {
    /// The signed XML body of a request. The nonce is passed in so this stays pure.
    pub fn encode_request<R: Request>(&self, request: &R, nonce: &Nonce) -> Result<String, Error> {
        let mut pairs = request.fields()?;
        pairs.push(("appid", self.appid.to_string()));
        pairs.push(("mch_id", self.mch_id.to_string()));
        pairs.push(("nonce_str", nonce.to_string()));
        if self.sign_type != SignType::Md5 {
            pairs.push(("sign_type", self.sign_type.as_str().to_owned()));
        }
        sign::sign_and_encode(Fields::from_pairs(pairs)?, &self.api_key, self.sign_type)
    }

    /// Reads the answer to `request`: `return_code`, signature, merchant, `result_code`, then the
    /// typed fields. Anything that does not verify is an error, never data.
    pub fn decode_response<R: Request>(
        &self,
        request: &R,
        body: &[u8],
    ) -> Result<R::Response, Error> {
        let fields = xml::decode(body)?;
        check_return_code(&fields)?;
        sign::verify(&fields, &self.api_key, Expect::Exactly(self.sign_type))?;
        self.check_identity(&fields)?;
        check_result_code(&fields)?;
        Ok(request.parse_response(&fields)?)
    }

    /// `appid` and `mch_id` must be present and ours.
    pub(crate) fn check_identity(&self, fields: &Fields<'_>) -> Result<(), Error> {
        self.check_identity_values(fields.get("appid"), fields.get("mch_id"))
    }

    pub(crate) fn check_identity_values(
        &self,
        appid: Option<&str>,
        mch_id: Option<&str>,
    ) -> Result<(), Error> {
        for (field, expected, found) in [
            ("appid", self.appid.as_str(), appid),
            ("mch_id", self.mch_id.as_str(), mch_id),
        ] {
            let found = found.ok_or_else(|| FieldError::Missing(field.to_owned()))?;
            if found != expected {
                return Err(Error::MerchantMismatch {
                    field,
                    expected: expected.to_owned(),
                    found: found.chars().take(64).collect(),
                });
            }
        }
        Ok(())
    }
}

pub(crate) fn check_return_code(fields: &Fields<'_>) -> Result<(), Error> {
    check_return_code_values(fields.get("return_code"), fields.get("return_msg"))
}

pub(crate) fn check_return_code_values(
    return_code: Option<&str>,
    return_msg: Option<&str>,
) -> Result<(), Error> {
    match return_code {
        Some("SUCCESS") => Ok(()),
        Some("FAIL") => Err(Error::Protocol {
            return_msg: return_msg.unwrap_or("").chars().take(256).collect(),
        }),
        Some(other) => Err(FieldError::invalid(
            "return_code",
            format!("unknown value {:?}", truncate(other)),
        )
        .into()),
        None => Err(FieldError::Missing("return_code".into()).into()),
    }
}

pub(crate) fn check_result_code(fields: &Fields<'_>) -> Result<(), Error> {
    match fields.get("result_code") {
        Some("SUCCESS") => Ok(()),
        Some("FAIL") => Err(Error::Business {
            code: crate::ErrCode::from_wire(fields.get("err_code").unwrap_or("")),
            description: fields
                .get("err_code_des")
                .unwrap_or("")
                .chars()
                .take(256)
                .collect(),
        }),
        Some(other) => Err(FieldError::invalid(
            "result_code",
            format!("unknown value {:?}", truncate(other)),
        )
        .into()),
        None => Err(FieldError::Missing("result_code".into()).into()),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(32).collect()
}
