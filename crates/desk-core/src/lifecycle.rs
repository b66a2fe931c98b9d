//! The refund lifecycle in one place: the states of a request and of its refund (to and from
//! SQL), which steps between them exist, and the problems a refund can have, stored as codes
//! and translated only at the edges (window, CLI, desktop alerts).
//!
//! ```text
//! request:  pending → approved | rejected | withdrawn
//! refund:   approved → submitting → processing → succeeded | closed | needs_manual
//!           submitting → approved   WeChat has no record of it (asked): send again, same number
//!           submitting → failed     WeChat refused it, and then said it has no record of it
//!           submitting → held       the desk's own setup is wrong; the owner fixes it
//!           held → submitting       the doctor passed: ask WeChat first, then go on
//!           approved | submitting | held → processing   WeChat reported it (query, notification)
//!           failed → succeeded | closed | needs_manual  WeChat's evidence beats our record
//! ```
//!
//! A refund in `submitting` is one whose fate WeChat has not told us: the engine asks
//! (refundquery by `out_refund_no`) before anything else happens to it.

use serde::{Deserialize, Serialize};

/// Where a refund request stands by itself (once approved, its refund says the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RequestState {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl RequestState {
    pub const ALL: [RequestState; 4] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Rejected,
        RequestState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RefundState {
    /// Approved; to be sent (WeChat has no record of it).
    Approved,
    /// Sent, or being sent, and WeChat has not told us its fate: asked before anything else.
    Submitting,
    /// The desk's own setup is wrong (certificate, API key, clock, proxy): waits for the owner.
    Held,
    /// Accepted by WeChat; its outcome is being followed.
    Processing,
    Succeeded,
    /// REFUNDCLOSE: WeChat gave up; the money stayed with the merchant.
    Closed,
    /// CHANGE: the customer's card failed; finish in the merchant platform.
    NeedsManual,
    /// WeChat refused it and has no record of it: no money moved.
    Failed,
}

impl RefundState {
    pub const ALL: [RefundState; 8] = [
        RefundState::Approved,
        RefundState::Submitting,
        RefundState::Held,
        RefundState::Processing,
        RefundState::Succeeded,
        RefundState::Closed,
        RefundState::NeedsManual,
        RefundState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Approved => "approved",
            RefundState::Submitting => "submitting",
            RefundState::Held => "held",
            RefundState::Processing => "processing",
            RefundState::Succeeded => "succeeded",
            RefundState::Closed => "closed",
            RefundState::NeedsManual => "needs_manual",
            RefundState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RefundState> {
        RefundState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// The final state WeChat's `refund_status` names, if it is final.
    pub fn from_wire(status: &wxpay::RefundStatus) -> Option<RefundState> {
        match status {
            wxpay::RefundStatus::Success => Some(RefundState::Succeeded),
            wxpay::RefundStatus::RefundClose => Some(RefundState::Closed),
            wxpay::RefundStatus::Change => Some(RefundState::NeedsManual),
            wxpay::RefundStatus::Processing | wxpay::RefundStatus::Other(_) => None,
        }
    }

    /// Money this refund moved or may still move: it counts against what the order can still
    /// refund. Only a refund WeChat closed or refused (and has no record of) frees its amount.
    pub fn commits_money(self) -> bool {
        match self {
            RefundState::Approved
            | RefundState::Submitting
            | RefundState::Held
            | RefundState::Processing
            | RefundState::Succeeded
            | RefundState::NeedsManual => true,
            RefundState::Closed | RefundState::Failed => false,
        }
    }

    /// Whether `self → to` is a step of the lifecycle (the table in the module's docs).
    pub fn may_become(self, to: RefundState) -> bool {
        use RefundState::*;
        matches!(
            (self, to),
            (Approved, Submitting | Processing)
                | (Submitting, Processing | Approved | Failed | Held)
                | (Held, Submitting | Processing)
                | (Processing, Succeeded | Closed | NeedsManual)
                | (Failed, Succeeded | Closed | NeedsManual)
        )
    }
}

/// Why a refund waits, is held or failed. Stored in `refunds.problem` as its code; WeChat's own
/// words (err_code, err_code_des, an HTTP page's title) go beside it in `refunds.wechat_detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Problem {
    // WeChat's answer is unknown, or "not now": asked, then sent again with the same number.
    /// No connection could be made.
    Unreachable,
    /// A timeout, a dropped connection, an answer cut off.
    NoAnswer,
    /// An answer that is not a v2 message, does not verify, or names another merchant.
    UnreadableAnswer,
    /// HTTP 5xx, 408 or 429.
    WechatError,
    /// SYSTEMERROR, BIZERR_NEED_RETRY.
    WechatBusy,
    /// FREQUENCY_LIMITED, INVALID_REQ_TOO_MUCH.
    RateLimited,
    /// ORDER_NOT_READY.
    OrderNotReady,
    /// NOTENOUGH: the merchant's refundable balance is too low.
    NotEnoughFunds,
    // The desk's own setup is wrong: the refund is held until the doctor passes.
    CertificateMissing,
    CertificateRejected,
    /// The server's certificate is not trusted: a proxy intercepts, or a wrong address.
    ServerNotTrusted,
    /// The server's certificate looks expired: usually this computer's clock is wrong.
    ClockWrong,
    ServerNameMismatch,
    /// The TLS handshake failed before anything was sent (a proxy, a firewall).
    SecureConnectionFailed,
    /// HTTP 4xx (other than WeChat's certificate page): a proxy or a wrong address refused it.
    HttpRefused,
    /// SIGNERROR, or `return_code=FAIL` about the signature: the API key is wrong.
    ApiKeyWrong,
    /// APPID_NOT_EXIST, MCHID_NOT_EXIST, APPID_MCHID_NOT_MATCH, NOAUTH.
    MerchantWrong,
    /// The desk's own request failed its checks before sending (a number or an amount).
    RequestInvalid,
    // WeChat refused this refund number: failed once WeChat confirms it has no record of it.
    /// TRADE_OVERDUE: paid more than a year ago.
    OrderTooOld,
    /// USER_ACCOUNT_ABNORMAL.
    AccountAbnormal,
    /// ORDERNOTEXIST, INVALID_TRANSACTIONID.
    OrderNotOnWechat,
    /// TRADE_STATE_ERROR.
    OrderStateRefused,
    /// REFUND_FEE_MISMATCH, INVALID_REQUEST.
    AmountMismatch,
    /// PARAM_ERROR, LACK_PARAMS, XML_FORMAT_ERROR, REQUIRE_POST_METHOD.
    ParametersRefused,
    /// ERROR and codes this desk does not know: WeChat's words say why.
    BusinessError,
    /// `return_code=FAIL` (not about the signature).
    RequestRefused,
    /// WeChat refused a send and has no record of the refund, but an earlier send's outcome
    /// was unknown: asked again a few minutes later before the refund is failed.
    NoRecordYet,
    // Following an accepted refund.
    /// WeChat accepted the refund but its query does not find it (yet).
    NotFoundAfterAccepted,
}

impl Problem {
    pub const ALL: [Problem; 28] = [
        Problem::Unreachable,
        Problem::NoAnswer,
        Problem::UnreadableAnswer,
        Problem::WechatError,
        Problem::WechatBusy,
        Problem::RateLimited,
        Problem::OrderNotReady,
        Problem::NotEnoughFunds,
        Problem::CertificateMissing,
        Problem::CertificateRejected,
        Problem::ServerNotTrusted,
        Problem::ClockWrong,
        Problem::ServerNameMismatch,
        Problem::SecureConnectionFailed,
        Problem::HttpRefused,
        Problem::ApiKeyWrong,
        Problem::MerchantWrong,
        Problem::RequestInvalid,
        Problem::OrderTooOld,
        Problem::AccountAbnormal,
        Problem::OrderNotOnWechat,
        Problem::OrderStateRefused,
        Problem::AmountMismatch,
        Problem::ParametersRefused,
        Problem::BusinessError,
        Problem::RequestRefused,
        Problem::NoRecordYet,
        Problem::NotFoundAfterAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Unreachable => "unreachable",
            Problem::NoAnswer => "no_answer",
            Problem::UnreadableAnswer => "unreadable_answer",
            Problem::WechatError => "wechat_error",
            Problem::WechatBusy => "wechat_busy",
            Problem::RateLimited => "rate_limited",
            Problem::OrderNotReady => "order_not_ready",
            Problem::NotEnoughFunds => "not_enough_funds",
            Problem::CertificateMissing => "certificate_missing",
            Problem::CertificateRejected => "certificate_rejected",
            Problem::ServerNotTrusted => "server_not_trusted",
            Problem::ClockWrong => "clock_wrong",
            Problem::ServerNameMismatch => "server_name_mismatch",
            Problem::SecureConnectionFailed => "secure_connection_failed",
            Problem::HttpRefused => "http_refused",
            Problem::ApiKeyWrong => "api_key_wrong",
            Problem::MerchantWrong => "merchant_wrong",
            Problem::RequestInvalid => "request_invalid",
            Problem::OrderTooOld => "order_too_old",
            Problem::AccountAbnormal => "account_abnormal",
            Problem::OrderNotOnWechat => "order_not_on_wechat",
            Problem::OrderStateRefused => "order_state_refused",
            Problem::AmountMismatch => "amount_mismatch",
            Problem::ParametersRefused => "parameters_refused",
            Problem::BusinessError => "business_error",
            Problem::RequestRefused => "request_refused",
            Problem::NoRecordYet => "no_record_yet",
            Problem::NotFoundAfterAccepted => "not_found_after_accepted",
        }
    }

    pub fn parse(text: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// A short English sentence for terminals and logs; the window translates the code itself.
    pub fn describe(self) -> &'static str {
        match self {
            Problem::Unreachable => {
                "WeChat Pay could not be reached; retried with the same refund number"
            }
            Problem::NoAnswer => {
                "WeChat Pay did not answer; the refund is looked up before anything else"
            }
            Problem::UnreadableAnswer => {
                "WeChat Pay's answer could not be read or verified; the refund is looked up before anything else"
            }
            Problem::WechatError => {
                "WeChat Pay answered with an HTTP error; the refund is looked up before anything else"
            }
            Problem::WechatBusy => {
                "WeChat Pay was busy; the refund is looked up, then retried with the same number"
            }
            Problem::RateLimited => "too many requests; retried after a pause",
            Problem::OrderNotReady => {
                "the order is still being processed at WeChat Pay; retried later"
            }
            Problem::NotEnoughFunds => {
                "the merchant's refundable balance is too low: top it up (or allow refunds from the available balance)"
            }
            Problem::CertificateMissing => {
                "refunds need the merchant API certificate: import apiclient_cert.p12 in Settings"
            }
            Problem::CertificateRejected => {
                "WeChat Pay did not accept the merchant certificate: import this merchant's apiclient_cert.p12 again"
            }
            Problem::ServerNotTrusted => {
                "the server's certificate is not trusted: a proxy may intercept the connection, or the address is wrong"
            }
            Problem::ClockWrong => {
                "the server's certificate looks expired: check this computer's date and time"
            }
            Problem::ServerNameMismatch => {
                "the server's certificate is for another host: check the API address"
            }
            Problem::SecureConnectionFailed => {
                "the secure connection failed before anything was sent: check any proxy or firewall"
            }
            Problem::HttpRefused => {
                "a proxy or a wrong address refused the request: check the network and the API address"
            }
            Problem::ApiKeyWrong => {
                "the API key is wrong: set the API v2 key from the merchant platform (not the APIv3 key)"
            }
            Problem::MerchantWrong => {
                "the AppID or merchant id is wrong, or refunds are not enabled for it: check Settings"
            }
            Problem::RequestInvalid => {
                "the refund request failed the desk's own checks and was not sent"
            }
            Problem::OrderTooOld => {
                "the order is past WeChat's one-year refund limit: refund the customer another way"
            }
            Problem::AccountAbnormal => {
                "the customer's WeChat account is closed or abnormal: refund the customer another way"
            }
            Problem::OrderNotOnWechat => {
                "WeChat Pay has no such paid order: check the order number"
            }
            Problem::OrderStateRefused => "the order's state does not allow a refund",
            Problem::AmountMismatch => {
                "the amounts differ from an earlier request with this refund number"
            }
            Problem::ParametersRefused => {
                "WeChat Pay refused the request's parameters: contact support"
            }
            Problem::BusinessError => {
                "WeChat Pay refused the refund: read WeChat's words beside this"
            }
            Problem::RequestRefused => {
                "WeChat Pay refused the request as such: check the merchant settings"
            }
            Problem::NoRecordYet => {
                "WeChat Pay refused the refund and has no record of it, but an earlier try may not show yet: asked again in a few minutes before it is marked failed"
            }
            Problem::NotFoundAfterAccepted => {
                "WeChat Pay accepted the refund but does not find it yet; asked again later"
            }
        }
    }
}

/// Every refusal the desk can give, closed: the window, the intake API and the CLI match on it
/// exhaustively and translate it themselves. Its JSON is pinned by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Code {
    /// The owner PIN is needed (locked, or the amount is above a limit).
    NeedsOwner,
    WrongPin,
    /// Too many wrong PINs: no PIN is checked until a wait ends.
    PinWait,
    InvalidInput,
    InvalidAmount,
    /// Past WeChat's limits (a year, 50 refunds).
    NotRefundable,
    /// The request or refund was changed meanwhile (decided already, moved by the engine).
    Conflict,
    /// The backend's `request_id` was used for another request.
    RequestIdConflict,
    /// Refunds are on their way: switching modes or merchants waits until they end.
    RefundsInFlight,
    NotFound,
    OrderUnknown,
    OrderNotPaid,
    PaymentConflict,
    WechatUnavailable,
    /// The certificate, API key or configuration is wrong: fix it in settings.
    Setup,
    /// The desk could not start (another copy runs, a broken file).
    DeskUnavailable,
    Storage,
}

impl Code {
    pub const ALL: [Code; 17] = [
        Code::NeedsOwner,
        Code::WrongPin,
        Code::PinWait,
        Code::InvalidInput,
        Code::InvalidAmount,
        Code::NotRefundable,
        Code::Conflict,
        Code::RequestIdConflict,
        Code::RefundsInFlight,
        Code::NotFound,
        Code::OrderUnknown,
        Code::OrderNotPaid,
        Code::PaymentConflict,
        Code::WechatUnavailable,
        Code::Setup,
        Code::DeskUnavailable,
        Code::Storage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::NeedsOwner => "needs_owner",
            Code::WrongPin => "wrong_pin",
            Code::PinWait => "pin_wait",
            Code::InvalidInput => "invalid_input",
            Code::InvalidAmount => "invalid_amount",
            Code::NotRefundable => "not_refundable",
            Code::Conflict => "conflict",
            Code::RequestIdConflict => "request_id_conflict",
            Code::RefundsInFlight => "refunds_in_flight",
            Code::NotFound => "not_found",
            Code::OrderUnknown => "order_unknown",
            Code::OrderNotPaid => "order_not_paid",
            Code::PaymentConflict => "payment_conflict",
            Code::WechatUnavailable => "wechat_unavailable",
            Code::Setup => "setup",
            Code::DeskUnavailable => "desk_unavailable",
            Code::Storage => "storage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_problem_reads_back_from_its_code() {
        for state in RefundState::ALL {
            assert_eq!(RefundState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(
                json,
                format!("\"{}\"", state.as_str()),
                "serde and SQL agree"
            );
        }
        for state in RequestState::ALL {
            assert_eq!(RequestState::parse(state.as_str()), Some(state));
        }
        for problem in Problem::ALL {
            assert_eq!(Problem::parse(problem.as_str()), Some(problem));
            let json = serde_json::to_string(&problem).unwrap_or_default();
            assert_eq!(
                json,
                format!("\"{}\"", problem.as_str()),
                "serde and SQL agree"
            );
        }
        assert_eq!(RefundState::parse("sent"), None);
        assert_eq!(Problem::parse("Timeout"), None);
    }

    #[test]
    fn the_json_of_every_code_is_pinned() {
        let pinned = [
            "\"needs_owner\"",
            "\"wrong_pin\"",
            "\"pin_wait\"",
            "\"invalid_input\"",
            "\"invalid_amount\"",
            "\"not_refundable\"",
            "\"conflict\"",
            "\"request_id_conflict\"",
            "\"refunds_in_flight\"",
            "\"not_found\"",
            "\"order_unknown\"",
            "\"order_not_paid\"",
            "\"payment_conflict\"",
            "\"wechat_unavailable\"",
            "\"setup\"",
            "\"desk_unavailable\"",
            "\"storage\"",
        ];
        for (code, json) in Code::ALL.into_iter().zip(pinned) {
            assert_eq!(serde_json::to_string(&code).unwrap_or_default(), json);
            assert_eq!(format!("\"{}\"", code.as_str()), json);
        }
    }

    #[test]
    fn the_transition_table() {
        use RefundState::*;
        let allowed: &[(RefundState, RefundState)] = &[
            (Approved, Submitting),
            (Approved, Processing),
            (Submitting, Processing),
            (Submitting, Approved),
            (Submitting, Failed),
            (Submitting, Held),
            (Held, Submitting),
            (Held, Processing),
            (Processing, Succeeded),
            (Processing, Closed),
            (Processing, NeedsManual),
            (Failed, Succeeded),
            (Failed, Closed),
            (Failed, NeedsManual),
        ];
        for from in RefundState::ALL {
            for to in RefundState::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{} → {}",
                    from.as_str(),
                    to.as_str()
                );
            }
        }
        // Never failed straight from a send, never approved again once WeChat accepted it.
        assert!(!Approved.may_become(Failed));
        assert!(!Processing.may_become(Approved));
    }
}
