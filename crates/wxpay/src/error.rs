//! One error type for every v2 exchange, with what to tell the user. What an error means for a
//! refund (asked about, held, failed) is the desk's to decide: `desk_core::outcome`.

use std::fmt;

use crate::err_code::ErrCode;
use crate::fields::FieldError;
use crate::refund_notify::DecryptError;
use crate::request::RequestError;
use crate::sign::SignatureError;
use crate::xml::XmlError;

/// Any failure of a v2 call or of an inbound v2 message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete over HTTPS, or the answer was not a v2 message.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// `return_code=FAIL`: WeChat refused the request as such (communication level).
    #[error("WeChat Pay refused the request: {return_msg}")]
    Protocol { return_msg: String },
    /// `result_code=FAIL`: the request was valid but the business operation failed.
    #[error("WeChat Pay answered {code}: {description}")]
    Business { code: ErrCode, description: String },
    /// A message whose `sign` does not verify is never treated as data.
    #[error("signature check failed: {0}")]
    Signature(#[from] SignatureError),
    #[error("malformed XML: {0}")]
    Xml(#[from] XmlError),
    #[error("unexpected message content: {0}")]
    Field(#[from] FieldError),
    #[error("the message is for another merchant: {field} is {found:?}, this desk is {expected:?}")]
    MerchantMismatch {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("refund notification could not be decrypted: {0}")]
    Decrypt(#[from] DecryptError),
    /// Our own request failed validation before anything was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] RequestError),
}

/// A transport failure, with its kind and a technical detail (never containing secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub detail: String,
    /// Whether any of the request may have reached the server.
    pub written: Written,
}

/// Whether a failed request may have reached the server: only a failure before the connection
/// was set up (TCP and the TLS handshake) proves it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// It failed before anything of the request was sent.
    Not,
    /// Some or all of it may have been sent (and acted on).
    Maybe,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection was made (DNS, refused, unreachable): the request was never sent.
    Connect,
    /// No complete answer in time: the request may or may not have been processed.
    Timeout,
    /// The connection broke after the request may have been sent.
    ConnectionLost,
    /// TLS failed; see [`TlsProblem`].
    Tls(TlsProblem),
    /// The server rejected or did not receive our client certificate (WeChat's nginx answers
    /// HTTP 400 "No required SSL certificate was sent" or "The SSL certificate error").
    ClientCertificateRejected,
    /// A refund was attempted without a configured client certificate.
    ClientCertificateMissing,
    /// An HTTP status other than 200.
    HttpStatus(u16),
    /// HTTP 200 with a body that is not a v2 XML message (an HTML page from a proxy, say).
    NotXml,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The server's certificate does not chain to a trusted root (wrong CA).
    ServerNotTrusted,
    ServerCertificateExpired,
    /// The certificate is not for the host name we connected to.
    ServerNameMismatch,
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportErrorKind::Connect => f.write_str("could not connect to WeChat Pay"),
            TransportErrorKind::Timeout => f.write_str("WeChat Pay did not answer in time"),
            TransportErrorKind::ConnectionLost => f.write_str("the connection to WeChat Pay broke"),
            TransportErrorKind::Tls(TlsProblem::ServerNotTrusted) => {
                f.write_str("the server's certificate is not issued by a trusted CA")
            }
            TransportErrorKind::Tls(TlsProblem::ServerCertificateExpired) => {
                f.write_str("the server's certificate has expired")
            }
            TransportErrorKind::Tls(TlsProblem::ServerNameMismatch) => {
                f.write_str("the server's certificate is for another host name")
            }
            TransportErrorKind::Tls(TlsProblem::Other) => f.write_str("TLS handshake failed"),
            TransportErrorKind::ClientCertificateRejected => {
                f.write_str("WeChat Pay did not accept the merchant certificate")
            }
            TransportErrorKind::ClientCertificateMissing => {
                f.write_str("refunds need the merchant certificate, and none is configured")
            }
            TransportErrorKind::HttpStatus(status) => {
                write!(f, "WeChat Pay answered HTTP {status}")
            }
            TransportErrorKind::NotXml => f.write_str("the answer is not a WeChat Pay message"),
        }
    }
}

impl TransportError {
    /// A failure that may have come after the request was sent (the safe assumption).
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            detail: detail.into(),
            written: Written::Maybe,
        }
    }

    /// A failure before anything of the request was sent.
    pub fn before_sending(kind: TransportErrorKind, detail: impl Into<String>) -> TransportError {
        TransportError {
            written: Written::Not,
            ..TransportError::new(kind, detail)
        }
    }
}

/// The language of a message for shop staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Error {
    /// A short message for shop staff saying what happened and what to do.
    pub fn user_message(&self, lang: Lang) -> String {
        let (zh, en): (&str, &str) = match self {
            Error::Transport(t) => transport_message(&t.kind),
            Error::Protocol { return_msg } => {
                return match lang {
                    Lang::ZhCn => format!(
                        "微信支付拒绝了请求（{return_msg}）。请检查商户号、AppID 和 API 密钥设置。"
                    ),
                    Lang::En => format!(
                        "WeChat Pay refused the request ({return_msg}). Check the merchant id, AppID and API key in Settings."
                    ),
                };
            }
            Error::Business { code, description } => {
                let (zh, en) = code_message(code);
                return match lang {
                    Lang::ZhCn if description.is_empty() => zh.to_owned(),
                    Lang::ZhCn => format!("{zh}（{description}）"),
                    Lang::En if description.is_empty() => en.to_owned(),
                    Lang::En => format!("{en} (WeChat: {description})"),
                };
            }
            Error::Signature(_) => (
                "微信支付的应答签名不正确：请确认 API 密钥（不是 APIv3 密钥）。退款结果未知，系统会先查询再决定。",
                "WeChat Pay's answer failed the signature check: confirm the API v2 key (not the APIv3 key). The result is unknown; the refund will be queried before anything else.",
            ),
            Error::Xml(_) | Error::Field(_) => (
                "收到无法识别的应答。退款结果未知，系统会先查询再决定，不会重复退款。",
                "The answer could not be read. The result is unknown; the refund will be queried first and never sent twice.",
            ),
            Error::MerchantMismatch { .. } => (
                "消息属于另一个商户号或 AppID：请检查设置中的商户号和 AppID。",
                "The message belongs to another merchant or AppID: check the merchant id and AppID in Settings.",
            ),
            Error::Decrypt(_) => (
                "退款通知无法解密：请确认 API 密钥与商户平台一致。",
                "The refund notification could not be decrypted: make sure the API key matches the merchant platform.",
            ),
            Error::InvalidRequest(_) => (
                "请求内容不正确（例如金额或单号），未发送给微信支付。请修改后重试。",
                "The request is invalid (an amount or a number, say) and was not sent. Correct it and try again.",
            ),
        };
        match lang {
            Lang::ZhCn => zh.to_owned(),
            Lang::En => en.to_owned(),
        }
    }
}

fn transport_message(kind: &TransportErrorKind) -> (&'static str, &'static str) {
    use TransportErrorKind as T;
    match kind {
        T::Connect => (
            "无法连接微信支付：请检查网络。退款会用同一退款单号自动重试。",
            "Cannot reach WeChat Pay: check the network. The refund is retried automatically with the same refund number.",
        ),
        T::Timeout | T::ConnectionLost => (
            "微信支付未及时应答，结果未知：系统会先查询退款，再用同一退款单号重试，不会重复退款。",
            "WeChat Pay did not answer in time, so the result is unknown: the refund is queried first and retried with the same number, never twice.",
        ),
        T::Tls(TlsProblem::ServerNotTrusted) => (
            "服务器证书不受信任：可能连接到了错误的地址或被拦截。请检查网络和接口地址。",
            "The server's certificate is not trusted: the address may be wrong or the connection intercepted. Check the network and API address.",
        ),
        T::Tls(TlsProblem::ServerCertificateExpired) => (
            "服务器证书已过期：请检查电脑的日期和时间。",
            "The server's certificate has expired: check this computer's date and time.",
        ),
        T::Tls(TlsProblem::ServerNameMismatch) => (
            "服务器证书与地址不符：请检查设置中的接口地址。",
            "The server's certificate does not match the address: check the API address in Settings.",
        ),
        T::Tls(TlsProblem::Other) => (
            "与微信支付的安全连接失败：请稍后重试，或检查网络代理。",
            "The secure connection to WeChat Pay failed: try again later, or check any network proxy.",
        ),
        T::ClientCertificateRejected => (
            "微信支付不接受商户证书：请在设置中重新导入本商户号的 API 证书（apiclient_cert.p12）。",
            "WeChat Pay did not accept the merchant certificate: import this merchant's API certificate (apiclient_cert.p12) again in Settings.",
        ),
        T::ClientCertificateMissing => (
            "退款需要商户 API 证书：请在设置中导入 apiclient_cert.p12。",
            "Refunds need the merchant API certificate: import apiclient_cert.p12 in Settings.",
        ),
        T::HttpStatus(_) | T::NotXml => (
            "微信支付暂时异常，结果未知：系统会先查询，再用同一退款单号重试。",
            "WeChat Pay answered abnormally and the result is unknown: the refund is queried first, then retried with the same number.",
        ),
    }
}

fn code_message(code: &ErrCode) -> (&'static str, &'static str) {
    use ErrCode as C;
    match code {
        C::SystemError | C::BizerrNeedRetry => (
            "微信支付系统繁忙：将用同一退款单号自动重试。",
            "WeChat Pay is busy: the refund is retried automatically with the same number.",
        ),
        C::FrequencyLimited | C::InvalidReqTooMuch => (
            "请求过于频繁：稍后会自动重试。",
            "Too many requests: the refund is retried automatically after a pause.",
        ),
        C::OrderNotReady => (
            "订单处理中，暂时无法退款：稍后会自动重试。",
            "The order is still being processed: the refund is retried automatically later.",
        ),
        C::NotEnough => (
            "商户可用退款余额不足：请充值，或在设置中允许从可用余额退款，然后重试。",
            "The merchant's refundable balance is too low: top it up, or allow refunds from available balance in Settings, then retry.",
        ),
        C::TradeOverdue => (
            "订单已超过一年的退款期限：请通过其他方式自行退款给顾客。",
            "The order is past the one-year refund limit: refund the customer another way.",
        ),
        C::UserAccountAbnormal => (
            "顾客的微信账户已注销或异常：请通过其他方式自行退款。",
            "The customer's WeChat account is closed or abnormal: refund the customer another way.",
        ),
        C::OrderNotExist | C::InvalidTransactionId => (
            "微信支付找不到该订单（未支付的订单不能退款）：请核对订单号。",
            "WeChat Pay has no such paid order (unpaid orders cannot be refunded): check the order number.",
        ),
        C::TradeStateError => (
            "订单状态不允许退款（例如未支付或已关闭）：请在订单详情中核对。",
            "The order's state does not allow a refund (unpaid or closed, say): check the order's details.",
        ),
        C::RefundFeeMismatch | C::InvalidRequest => (
            "订单金额或退款金额与之前的请求不一致：请核对金额，不要更换退款单号。",
            "The order or refund amount differs from an earlier request with this number: check the amounts; do not change the refund number.",
        ),
        C::SignError => (
            "签名错误：请确认设置中的 API 密钥（APIv2 密钥，不是 APIv3 密钥）。",
            "Signature error: check the API key in Settings (the API v2 key, not the APIv3 key).",
        ),
        C::AppIdNotExist | C::MchIdNotExist | C::AppIdMchIdNotMatch | C::NoAuth => (
            "AppID 或商户号不正确，或没有退款权限：请检查设置。",
            "The AppID or merchant id is wrong, or refunds are not enabled for it: check Settings.",
        ),
        C::RefundNotExist => (
            "微信支付没有该退款记录。",
            "WeChat Pay has no record of this refund.",
        ),
        C::ParamError | C::LackParams | C::XmlFormatError | C::RequirePostMethod => (
            "请求参数有误，未能退款：请联系技术支持。",
            "The request's parameters were refused and nothing was refunded: contact support.",
        ),
        C::Error | C::Other(_) => (
            "微信支付返回业务错误：请查看详情后处理。",
            "WeChat Pay returned a business error: read the details and act on them.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business(code: &str) -> Error {
        Error::Business {
            code: ErrCode::from_wire(code),
            description: String::new(),
        }
    }

    #[test]
    fn messages_say_what_to_do_in_both_languages() {
        let err = business("NOTENOUGH");
        assert!(err.user_message(Lang::ZhCn).contains("余额不足"));
        assert!(err.user_message(Lang::En).contains("top it up"));
        let err = Error::Business {
            code: ErrCode::Error,
            description: "订单已全额退款".into(),
        };
        assert!(err.user_message(Lang::ZhCn).contains("订单已全额退款"));
    }
}
