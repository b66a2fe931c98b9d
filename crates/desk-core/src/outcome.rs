//! What an answer to a refund call, or to a refund query, means for the refund: one pure
//! function each, listed case by case in the tests below.
//!
//! Every answer to `/secapi/pay/refund` is exactly one of:
//! - **accepted**: WeChat has the refund (its outcome is then followed);
//! - **refused**: WeChat refused this `out_refund_no` (a business error that is final). The
//!   refund fails only after a query for the same number finds no record of it;
//! - **unknown**: WeChat may or may not have it, or said "not now" (timeouts, dropped or cut-off
//!   answers, answers we cannot read or verify, HTTP 5xx, SYSTEMERROR, rate limits, NOTENOUGH).
//!   The refund is asked of WeChat by the same number before anything else, then sent again
//!   with that number if WeChat has no record of it;
//! - **setup**: the desk's own setup is wrong (certificate, API key, merchant ids, clock, proxy).
//!   The refund is held for the owner; it too is asked of WeChat before it is sent again.
//!
//! Not documented by WeChat, and read conservatively here: whether any business error can
//! come after the refund was recorded (we assume it can, hence the confirming query), and
//! whether a 4xx other than the certificate page can come from WeChat itself (we treat it as a
//! proxy or address problem the owner must look at).

use std::time::Duration;

use wxpay::{
    ErrCode, Error, Fen, OutRefundNo, RefundQueryResponse, RefundResponse, RefundStatus,
    TlsProblem, TransportErrorKind, Written,
};

use crate::lifecycle::Problem;

/// What one answer to a refund call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted {
        refund_id: String,
    },
    Refused {
        problem: Problem,
        detail: String,
    },
    Unknown {
        problem: Problem,
        wait: Wait,
        detail: String,
    },
    Setup {
        problem: Problem,
        detail: String,
    },
}

/// How long to wait before sending again, once WeChat has said it has no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The engine's growing backoff.
    Backoff,
    /// At least this long (WeChat asks for it).
    Pause(Duration),
    /// NOTENOUGH: after the balance had time to grow, or at once from the other fund source.
    Funds,
}

/// What one answer to a refund query (by `out_refund_no`) says about that refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    Found {
        refund_id: String,
        status: RefundStatus,
    },
    /// REFUNDNOTEXIST: WeChat has no refund with this number.
    NoRecord,
    Unknown {
        problem: Problem,
        detail: String,
    },
    Setup {
        problem: Problem,
        detail: String,
    },
}

/// The refund call's answer, for the refund `out_refund_no` of `refund_fee`.
pub fn classify_send(
    result: &Result<RefundResponse, Error>,
    out_refund_no: &OutRefundNo,
    refund_fee: Fen,
) -> SendOutcome {
    match result {
        Ok(answer) if &answer.out_refund_no == out_refund_no && answer.refund_fee == refund_fee => {
            SendOutcome::Accepted {
                refund_id: answer.refund_id.to_string(),
            }
        }
        // Signed by WeChat, but about another refund or amount: not an answer we can use.
        Ok(answer) => SendOutcome::Unknown {
            problem: Problem::UnreadableAnswer,
            wait: Wait::Backoff,
            detail: format!(
                "the answer is about refund {} of {} fen",
                answer.out_refund_no, answer.refund_fee
            ),
        },
        Err(error) => {
            let detail = detail(error);
            match class(error) {
                Class::Refused(problem) => SendOutcome::Refused { problem, detail },
                Class::Unknown(problem, wait) => SendOutcome::Unknown {
                    problem,
                    wait,
                    detail,
                },
                Class::Setup(problem) => SendOutcome::Setup { problem, detail },
            }
        }
    }
}

/// The refund query's answer about `out_refund_no`.
pub fn classify_query(
    result: &Result<RefundQueryResponse, Error>,
    out_refund_no: &OutRefundNo,
) -> QueryOutcome {
    match result {
        Ok(answer) => match answer.find(out_refund_no) {
            Some(record) => QueryOutcome::Found {
                refund_id: record.refund_id.to_string(),
                status: record.refund_status.clone(),
            },
            // Asked by this number, answered without it: not something to act on.
            None => QueryOutcome::Unknown {
                problem: Problem::UnreadableAnswer,
                detail: format!("the answer does not list refund {out_refund_no}"),
            },
        },
        Err(Error::Business {
            code: ErrCode::RefundNotExist,
            ..
        }) => QueryOutcome::NoRecord,
        Err(error) => {
            let detail = detail(error);
            match class(error) {
                // A query WeChat refuses says nothing about the refund: ask again later.
                Class::Refused(problem) | Class::Unknown(problem, _) => {
                    QueryOutcome::Unknown { problem, detail }
                }
                Class::Setup(problem) => QueryOutcome::Setup { problem, detail },
            }
        }
    }
}

/// The problem an error names, for reports that do not act on it (the doctor's probes).
pub fn problem_of(error: &Error) -> Problem {
    match class(error) {
        Class::Refused(problem) | Class::Unknown(problem, _) | Class::Setup(problem) => problem,
    }
}

/// True when the error says the desk's own setup is wrong (certificate, key, ids, clock, proxy).
pub fn is_setup_problem(error: &Error) -> bool {
    matches!(class(error), Class::Setup(_))
}

/// WeChat's own words (or the transport's) about an error, never a secret.
pub fn wechat_words(error: &Error) -> String {
    detail(error)
}

enum Class {
    Refused(Problem),
    Unknown(Problem, Wait),
    Setup(Problem),
}

fn class(error: &Error) -> Class {
    match error {
        Error::Transport(transport) => transport_class(&transport.kind, transport.written),
        Error::Business { code, .. } => business_class(code),
        Error::Protocol { return_msg }
            if return_msg.contains("签名") || return_msg.to_ascii_lowercase().contains("sign") =>
        {
            Class::Setup(Problem::ApiKeyWrong)
        }
        // WeChat took the certificate but it names another merchant (a sub-merchant's in
        // partner mode, say): the owner must import the right one.
        Error::Protocol { return_msg } if return_msg.contains("certificate not match") => {
            Class::Setup(Problem::CertificateRejected)
        }
        Error::Protocol { .. } => Class::Refused(Problem::RequestRefused),
        // An answer we cannot read or verify may still mean WeChat acted on the request.
        Error::Xml(_)
        | Error::Signature(_)
        | Error::Field(_)
        | Error::MerchantMismatch { .. }
        | Error::Decrypt(_) => Class::Unknown(Problem::UnreadableAnswer, Wait::Backoff),
        // Refused by our own checks before sending.
        Error::InvalidRequest(_) => Class::Setup(Problem::RequestInvalid),
    }
}

fn transport_class(kind: &TransportErrorKind, written: Written) -> Class {
    use TransportErrorKind as T;
    match kind {
        T::Connect => Class::Unknown(Problem::Unreachable, Wait::Backoff),
        T::Timeout | T::ConnectionLost => Class::Unknown(Problem::NoAnswer, Wait::Backoff),
        T::NotXml => Class::Unknown(Problem::UnreadableAnswer, Wait::Backoff),
        T::HttpStatus(status) if *status >= 500 || *status == 408 || *status == 429 => {
            Class::Unknown(Problem::WechatError, Wait::Backoff)
        }
        T::HttpStatus(_) => Class::Setup(Problem::HttpRefused),
        T::Tls(TlsProblem::ServerNotTrusted) => Class::Setup(Problem::ServerNotTrusted),
        T::Tls(TlsProblem::ServerCertificateExpired) => Class::Setup(Problem::ClockWrong),
        T::Tls(TlsProblem::ServerNameMismatch) => Class::Setup(Problem::ServerNameMismatch),
        T::Tls(TlsProblem::Other) => match written {
            Written::Not => Class::Setup(Problem::SecureConnectionFailed),
            // Broken while the request or its answer was under way.
            Written::Maybe => Class::Unknown(Problem::NoAnswer, Wait::Backoff),
        },
        T::ClientCertificateRejected => Class::Setup(Problem::CertificateRejected),
        T::ClientCertificateMissing => Class::Setup(Problem::CertificateMissing),
    }
}

fn business_class(code: &ErrCode) -> Class {
    use ErrCode as C;
    match code {
        C::SystemError | C::BizerrNeedRetry => Class::Unknown(Problem::WechatBusy, Wait::Backoff),
        C::FrequencyLimited => {
            Class::Unknown(Problem::RateLimited, Wait::Pause(Duration::from_secs(10)))
        }
        C::InvalidReqTooMuch => {
            Class::Unknown(Problem::RateLimited, Wait::Pause(Duration::from_secs(60)))
        }
        C::OrderNotReady => {
            Class::Unknown(Problem::OrderNotReady, Wait::Pause(Duration::from_secs(60)))
        }
        C::NotEnough => Class::Unknown(Problem::NotEnoughFunds, Wait::Funds),
        C::SignError => Class::Setup(Problem::ApiKeyWrong),
        C::AppIdNotExist | C::MchIdNotExist | C::AppIdMchIdNotMatch | C::NoAuth => {
            Class::Setup(Problem::MerchantWrong)
        }
        C::TradeOverdue => Class::Refused(Problem::OrderTooOld),
        C::UserAccountAbnormal => Class::Refused(Problem::AccountAbnormal),
        C::OrderNotExist | C::InvalidTransactionId => Class::Refused(Problem::OrderNotOnWechat),
        C::TradeStateError => Class::Refused(Problem::OrderStateRefused),
        C::RefundFeeMismatch | C::InvalidRequest => Class::Refused(Problem::AmountMismatch),
        C::ParamError | C::LackParams | C::XmlFormatError | C::RequirePostMethod => {
            Class::Refused(Problem::ParametersRefused)
        }
        C::Error | C::RefundNotExist | C::Other(_) => Class::Refused(Problem::BusinessError),
    }
}

/// WeChat's own words (or the transport's), kept beside the code; never a secret.
fn detail(error: &Error) -> String {
    match error {
        Error::Business { code, description } if description.is_empty() => code.to_string(),
        Error::Business { code, description } => format!("{code}: {description}"),
        Error::Protocol { return_msg } => return_msg.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxpay::{RefundId, TransactionId, TransportError};

    fn number() -> OutRefundNo {
        OutRefundNo::new("MD1-abcdefgh").unwrap_or_else(|_| unreachable!())
    }

    fn accepted(no: &str, fee: i64) -> Result<RefundResponse, Error> {
        Ok(RefundResponse {
            transaction_id: TransactionId::new("4200000001").unwrap_or_else(|_| unreachable!()),
            out_trade_no: wxpay::OutTradeNo::new("T1000001").unwrap_or_else(|_| unreachable!()),
            out_refund_no: OutRefundNo::new(no).unwrap_or_else(|_| unreachable!()),
            refund_id: RefundId::new("5000001").unwrap_or_else(|_| unreachable!()),
            refund_fee: Fen::new(fee),
            total_fee: Fen::new(1000),
            cash_fee: None,
            settlement_refund_fee: None,
            settlement_total_fee: None,
            cash_refund_fee: None,
            coupon_refund_fee: None,
            fee_type: None,
        })
    }

    fn transport(kind: TransportErrorKind, written: Written) -> Error {
        Error::Transport(match written {
            Written::Not => TransportError::before_sending(kind, "detail"),
            Written::Maybe => TransportError::new(kind, "detail"),
        })
    }

    fn business(code: &str) -> Error {
        Error::Business {
            code: ErrCode::from_wire(code),
            description: "说明".into(),
        }
    }

    /// An outcome's kind, problem and wait, without the detail text.
    type Expected = (&'static str, Option<Problem>, Option<Wait>);

    fn kind(outcome: &SendOutcome) -> Expected {
        match outcome {
            SendOutcome::Accepted { .. } => ("accepted", None, None),
            SendOutcome::Refused { problem, .. } => ("refused", Some(*problem), None),
            SendOutcome::Unknown { problem, wait, .. } => ("unknown", Some(*problem), Some(*wait)),
            SendOutcome::Setup { problem, .. } => ("setup", Some(*problem), None),
        }
    }

    #[test]
    fn every_answer_to_a_refund_call_has_one_meaning() {
        use Problem as P;
        use TransportErrorKind as T;
        use Written::{Maybe, Not};
        let pause = |s| Some(Wait::Pause(Duration::from_secs(s)));
        let backoff = Some(Wait::Backoff);
        let xml_error = wxpay::xml::decode(b"<xml><a>1</b></xml>")
            .err()
            .unwrap_or_else(|| unreachable!());
        let cases: Vec<(&str, Result<RefundResponse, Error>, Expected)> = vec![
            (
                "SUCCESS for this refund",
                accepted("MD1-abcdefgh", 500),
                ("accepted", None, None),
            ),
            (
                "SUCCESS naming another refund",
                accepted("MD2-zzzzzzzz", 500),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            (
                "SUCCESS with another amount",
                accepted("MD1-abcdefgh", 499),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            // Transport, before anything was sent and after.
            (
                "no connection",
                Err(transport(T::Connect, Not)),
                ("unknown", Some(P::Unreachable), backoff),
            ),
            (
                "timeout while connecting",
                Err(transport(T::Timeout, Not)),
                ("unknown", Some(P::NoAnswer), backoff),
            ),
            (
                "timeout after sending",
                Err(transport(T::Timeout, Maybe)),
                ("unknown", Some(P::NoAnswer), backoff),
            ),
            (
                "connection dropped / body cut off",
                Err(transport(T::ConnectionLost, Maybe)),
                ("unknown", Some(P::NoAnswer), backoff),
            ),
            (
                "HTTP 200 that is not a v2 message (garbage, a portal page)",
                Err(transport(T::NotXml, Maybe)),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            (
                "HTTP 500",
                Err(transport(T::HttpStatus(500), Maybe)),
                ("unknown", Some(P::WechatError), backoff),
            ),
            (
                "HTTP 502",
                Err(transport(T::HttpStatus(502), Maybe)),
                ("unknown", Some(P::WechatError), backoff),
            ),
            (
                "HTTP 503",
                Err(transport(T::HttpStatus(503), Maybe)),
                ("unknown", Some(P::WechatError), backoff),
            ),
            (
                "HTTP 408",
                Err(transport(T::HttpStatus(408), Maybe)),
                ("unknown", Some(P::WechatError), backoff),
            ),
            (
                "HTTP 429",
                Err(transport(T::HttpStatus(429), Maybe)),
                ("unknown", Some(P::WechatError), backoff),
            ),
            (
                "HTTP 403 (a proxy)",
                Err(transport(T::HttpStatus(403), Maybe)),
                ("setup", Some(P::HttpRefused), None),
            ),
            (
                "HTTP 404 (a wrong address)",
                Err(transport(T::HttpStatus(404), Maybe)),
                ("setup", Some(P::HttpRefused), None),
            ),
            (
                "HTTP 407 (proxy authentication)",
                Err(transport(T::HttpStatus(407), Maybe)),
                ("setup", Some(P::HttpRefused), None),
            ),
            (
                "HTTP 301",
                Err(transport(T::HttpStatus(301), Maybe)),
                ("setup", Some(P::HttpRefused), None),
            ),
            (
                "HTTP 400 certificate page",
                Err(transport(T::ClientCertificateRejected, Maybe)),
                ("setup", Some(P::CertificateRejected), None),
            ),
            (
                "client certificate refused in the handshake",
                Err(transport(T::ClientCertificateRejected, Not)),
                ("setup", Some(P::CertificateRejected), None),
            ),
            (
                "no client certificate configured",
                Err(transport(T::ClientCertificateMissing, Not)),
                ("setup", Some(P::CertificateMissing), None),
            ),
            (
                "server not trusted (proxy, wrong CA)",
                Err(transport(T::Tls(TlsProblem::ServerNotTrusted), Not)),
                ("setup", Some(P::ServerNotTrusted), None),
            ),
            (
                "server certificate expired (our clock)",
                Err(transport(T::Tls(TlsProblem::ServerCertificateExpired), Not)),
                ("setup", Some(P::ClockWrong), None),
            ),
            (
                "server name mismatch",
                Err(transport(T::Tls(TlsProblem::ServerNameMismatch), Not)),
                ("setup", Some(P::ServerNameMismatch), None),
            ),
            (
                "TLS failure before sending",
                Err(transport(T::Tls(TlsProblem::Other), Not)),
                ("setup", Some(P::SecureConnectionFailed), None),
            ),
            (
                "TLS failure while reading the answer",
                Err(transport(T::Tls(TlsProblem::Other), Maybe)),
                ("unknown", Some(P::NoAnswer), backoff),
            ),
            // Answers we cannot read or verify.
            (
                "malformed XML",
                Err(Error::Xml(xml_error)),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            (
                "bad signature",
                Err(Error::Signature(wxpay::SignatureError::Mismatch)),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            (
                "missing field",
                Err(Error::Field(wxpay::FieldError::Missing("refund_id".into()))),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            (
                "another merchant's answer",
                Err(Error::MerchantMismatch {
                    field: "mch_id",
                    expected: "1".into(),
                    found: "2".into(),
                }),
                ("unknown", Some(P::UnreadableAnswer), backoff),
            ),
            // return_code=FAIL.
            (
                "return_code FAIL 签名错误",
                Err(Error::Protocol {
                    return_msg: "签名错误".into(),
                }),
                ("setup", Some(P::ApiKeyWrong), None),
            ),
            (
                "return_code FAIL certificate not match",
                Err(Error::Protocol {
                    return_msg: "certificate not match".into(),
                }),
                ("setup", Some(P::CertificateRejected), None),
            ),
            (
                "return_code FAIL other",
                Err(Error::Protocol {
                    return_msg: "参数格式校验错误".into(),
                }),
                ("refused", Some(P::RequestRefused), None),
            ),
            // result_code=FAIL, every err_code of the refund API.
            (
                "SYSTEMERROR",
                Err(business("SYSTEMERROR")),
                ("unknown", Some(P::WechatBusy), backoff),
            ),
            (
                "BIZERR_NEED_RETRY",
                Err(business("BIZERR_NEED_RETRY")),
                ("unknown", Some(P::WechatBusy), backoff),
            ),
            (
                "FREQUENCY_LIMITED",
                Err(business("FREQUENCY_LIMITED")),
                ("unknown", Some(P::RateLimited), pause(10)),
            ),
            (
                "INVALID_REQ_TOO_MUCH",
                Err(business("INVALID_REQ_TOO_MUCH")),
                ("unknown", Some(P::RateLimited), pause(60)),
            ),
            (
                "ORDER_NOT_READY",
                Err(business("ORDER_NOT_READY")),
                ("unknown", Some(P::OrderNotReady), pause(60)),
            ),
            (
                "NOTENOUGH",
                Err(business("NOTENOUGH")),
                ("unknown", Some(P::NotEnoughFunds), Some(Wait::Funds)),
            ),
            (
                "SIGNERROR",
                Err(business("SIGNERROR")),
                ("setup", Some(P::ApiKeyWrong), None),
            ),
            (
                "APPID_NOT_EXIST",
                Err(business("APPID_NOT_EXIST")),
                ("setup", Some(P::MerchantWrong), None),
            ),
            (
                "MCHID_NOT_EXIST",
                Err(business("MCHID_NOT_EXIST")),
                ("setup", Some(P::MerchantWrong), None),
            ),
            (
                "APPID_MCHID_NOT_MATCH",
                Err(business("APPID_MCHID_NOT_MATCH")),
                ("setup", Some(P::MerchantWrong), None),
            ),
            (
                "NOAUTH",
                Err(business("NOAUTH")),
                ("setup", Some(P::MerchantWrong), None),
            ),
            (
                "TRADE_OVERDUE",
                Err(business("TRADE_OVERDUE")),
                ("refused", Some(P::OrderTooOld), None),
            ),
            (
                "USER_ACCOUNT_ABNORMAL",
                Err(business("USER_ACCOUNT_ABNORMAL")),
                ("refused", Some(P::AccountAbnormal), None),
            ),
            (
                "ORDERNOTEXIST",
                Err(business("ORDERNOTEXIST")),
                ("refused", Some(P::OrderNotOnWechat), None),
            ),
            (
                "INVALID_TRANSACTIONID",
                Err(business("INVALID_TRANSACTIONID")),
                ("refused", Some(P::OrderNotOnWechat), None),
            ),
            (
                "TRADE_STATE_ERROR",
                Err(business("TRADE_STATE_ERROR")),
                ("refused", Some(P::OrderStateRefused), None),
            ),
            (
                "REFUND_FEE_MISMATCH",
                Err(business("REFUND_FEE_MISMATCH")),
                ("refused", Some(P::AmountMismatch), None),
            ),
            (
                "INVALID_REQUEST",
                Err(business("INVALID_REQUEST")),
                ("refused", Some(P::AmountMismatch), None),
            ),
            (
                "PARAM_ERROR",
                Err(business("PARAM_ERROR")),
                ("refused", Some(P::ParametersRefused), None),
            ),
            (
                "LACK_PARAMS",
                Err(business("LACK_PARAMS")),
                ("refused", Some(P::ParametersRefused), None),
            ),
            (
                "XML_FORMAT_ERROR",
                Err(business("XML_FORMAT_ERROR")),
                ("refused", Some(P::ParametersRefused), None),
            ),
            (
                "REQUIRE_POST_METHOD",
                Err(business("REQUIRE_POST_METHOD")),
                ("refused", Some(P::ParametersRefused), None),
            ),
            (
                "ERROR",
                Err(business("ERROR")),
                ("refused", Some(P::BusinessError), None),
            ),
            (
                "a code this desk does not know",
                Err(business("NEW_CODE_2027")),
                ("refused", Some(P::BusinessError), None),
            ),
            // Our own checks.
            (
                "invalid request, not sent",
                Err(Error::InvalidRequest(
                    wxpay::RequestError::RefundExceedsTotal {
                        refund_fee: 2,
                        total_fee: 1,
                    },
                )),
                ("setup", Some(P::RequestInvalid), None),
            ),
        ];
        for (name, result, expected) in cases {
            let outcome = classify_send(&result, &number(), Fen::new(500));
            assert_eq!(kind(&outcome), expected, "{name}");
        }
    }

    #[test]
    fn business_errors_keep_wechats_words() {
        let outcome = classify_send(
            &Err(Error::Business {
                code: ErrCode::Error,
                description: "订单已全额退款".into(),
            }),
            &number(),
            Fen::new(500),
        );
        assert_eq!(
            outcome,
            SendOutcome::Refused {
                problem: Problem::BusinessError,
                detail: "ERROR: 订单已全额退款".into()
            }
        );
    }

    #[test]
    fn every_answer_to_a_refund_query_has_one_meaning() {
        let no_record = classify_query(&Err(business("REFUNDNOTEXIST")), &number());
        assert_eq!(no_record, QueryOutcome::NoRecord);
        // A refusal of the query says nothing about the refund.
        for code in ["ORDERNOTEXIST", "SYSTEMERROR", "PARAM_ERROR", "ERROR"] {
            assert!(
                matches!(
                    classify_query(&Err(business(code)), &number()),
                    QueryOutcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        assert!(matches!(
            classify_query(&Err(business("SIGNERROR")), &number()),
            QueryOutcome::Setup {
                problem: Problem::ApiKeyWrong,
                ..
            }
        ));
        for kind in [
            TransportErrorKind::Timeout,
            TransportErrorKind::ConnectionLost,
            TransportErrorKind::NotXml,
            TransportErrorKind::HttpStatus(502),
        ] {
            assert!(
                matches!(
                    classify_query(&Err(transport(kind.clone(), Written::Maybe)), &number()),
                    QueryOutcome::Unknown { .. }
                ),
                "{kind:?}"
            );
        }
    }
}
