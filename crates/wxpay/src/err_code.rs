//! `err_code` values of v2 business failures (`result_code=FAIL`).

use std::fmt;

macro_rules! err_codes {
    ($($variant:ident = $wire:literal,)*) => {
        /// A business error code. Codes this crate does not know are kept in `Other`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrCode {
            $($variant,)*
            Other(String),
        }

        impl ErrCode {
            pub fn from_wire(code: &str) -> ErrCode {
                match code {
                    $($wire => ErrCode::$variant,)*
                    other => ErrCode::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrCode::$variant => $wire,)*
                    ErrCode::Other(code) => code,
                }
            }
        }
    };
}

err_codes! {
    SystemError = "SYSTEMERROR",
    BizerrNeedRetry = "BIZERR_NEED_RETRY",
    TradeOverdue = "TRADE_OVERDUE",
    Error = "ERROR",
    UserAccountAbnormal = "USER_ACCOUNT_ABNORMAL",
    InvalidReqTooMuch = "INVALID_REQ_TOO_MUCH",
    NotEnough = "NOTENOUGH",
    InvalidTransactionId = "INVALID_TRANSACTIONID",
    ParamError = "PARAM_ERROR",
    AppIdNotExist = "APPID_NOT_EXIST",
    MchIdNotExist = "MCHID_NOT_EXIST",
    AppIdMchIdNotMatch = "APPID_MCHID_NOT_MATCH",
    OrderNotExist = "ORDERNOTEXIST",
    RequirePostMethod = "REQUIRE_POST_METHOD",
    SignError = "SIGNERROR",
    XmlFormatError = "XML_FORMAT_ERROR",
    FrequencyLimited = "FREQUENCY_LIMITED",
    TradeStateError = "TRADE_STATE_ERROR",
    RefundFeeMismatch = "REFUND_FEE_MISMATCH",
    InvalidRequest = "INVALID_REQUEST",
    OrderNotReady = "ORDER_NOT_READY",
    NoAuth = "NOAUTH",
    LackParams = "LACK_PARAMS",
    RefundNotExist = "REFUNDNOTEXIST",
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(ErrCode::from_wire("NOTENOUGH"), ErrCode::NotEnough);
        let other = ErrCode::from_wire("NEW_CODE_2027");
        assert_eq!(other, ErrCode::Other("NEW_CODE_2027".into()));
        assert_eq!(other.as_str(), "NEW_CODE_2027");
        assert_eq!(ErrCode::from_wire("SYSTEMERROR").to_string(), "SYSTEMERROR");
    }
}
