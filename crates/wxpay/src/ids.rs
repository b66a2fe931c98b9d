//! Identifiers as types, each checked against the format WeChat documents for it.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 1 to {max_len} characters of {allowed}")]
pub struct IdError {
    pub kind: &'static str,
    pub max_len: usize,
    pub allowed: &'static str,
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal, max = $max:literal, allowed = $allowed:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let valid: fn(u8) -> bool = $valid;
                if value.is_empty() || value.len() > $max || !value.bytes().all(valid) {
                    return Err(IdError { kind: $kind, max_len: $max, allowed: $allowed });
                }
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }
    };
}

fn trade_no_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*')
}

fn refund_no_byte(b: u8) -> bool {
    trade_no_byte(b) || b == b'@'
}

identifier!(
    /// 商户订单号: the shop's own order number.
    OutTradeNo, "out_trade_no", max = 32, allowed = "letters, digits and _-|*", trade_no_byte
);
identifier!(
    /// 商户退款单号: the refund's own number. One number moves money at most once at WeChat.
    OutRefundNo, "out_refund_no", max = 64, allowed = "letters, digits and _-|*@", refund_no_byte
);
identifier!(
    /// 微信订单号: WeChat's payment transaction id.
    TransactionId, "transaction_id", max = 32, allowed = "letters and digits", |b| b.is_ascii_alphanumeric()
);
identifier!(
    /// 微信退款单号: WeChat's refund id.
    RefundId, "refund_id", max = 32, allowed = "letters and digits", |b| b.is_ascii_alphanumeric()
);
identifier!(
    /// The appid bound to the merchant (mini-program or official account).
    AppId, "appid", max = 32, allowed = "letters, digits and _-", |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
);
identifier!(
    /// 商户号: the merchant id.
    MchId, "mch_id", max = 32, allowed = "letters and digits", |b| b.is_ascii_alphanumeric()
);
identifier!(
    /// A request's `nonce_str`: random, at most 32 characters.
    Nonce, "nonce_str", max = 32, allowed = "letters and digits", |b| b.is_ascii_alphanumeric()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_documentation() {
        assert!(OutTradeNo::new("1217752501201407033233368018").is_ok());
        assert!(OutTradeNo::new("a_b-c|d*e").is_ok());
        assert!(OutTradeNo::new("has space").is_err());
        assert!(OutTradeNo::new("").is_err());
        assert!(OutTradeNo::new("x".repeat(33)).is_err());
        assert!(
            OutRefundNo::new("r@1").is_ok(),
            "@ is allowed in refund numbers"
        );
        assert!(
            OutTradeNo::new("r@1").is_err(),
            "@ is not allowed in order numbers"
        );
        assert!(OutRefundNo::new("x".repeat(64)).is_ok());
        assert!(TransactionId::new("4200001234-1").is_err());
    }

    #[test]
    fn error_names_the_field_and_rule() {
        let err = OutRefundNo::new("退款").unwrap_err();
        assert_eq!(
            err.to_string(),
            "out_refund_no must be 1 to 64 characters of letters, digits and _-|*@"
        );
    }

    #[test]
    fn serde_validates() {
        let ok: Result<OutTradeNo, _> = serde_json::from_str("\"A1\"");
        assert!(ok.is_ok());
        let bad: Result<OutTradeNo, _> = serde_json::from_str("\"A 1\"");
        assert!(bad.is_err());
    }
}
