//! A refund request from the shop's backend, checked without I/O: the signature and the clock
//! first (nothing of an unsigned body is read), then the JSON. What stays for the intake is the
//! stateful part: the replay guard, asking WeChat about an unknown order, storing.

use crate::signature::sign;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use wxpay::{Fen, OrderRef, OutTradeNo, TransactionId};

/// How far a request's timestamp may be from the desk's clock.
pub const CLOCK_WINDOW_SECS: i64 = 300;

/// A request whose signature, timestamp and body are in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    /// The verified signature: a request is accepted once, so the intake remembers it.
    pub signature: String,
    pub request_id: String,
    pub order: OrderRef,
    pub refund_fee: Fen,
    pub reason: String,
    pub customer: Option<String>,
}

/// Why a request was refused: `code` is stable for the backend's code, the message says what to
/// do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not signed, signed wrongly or too old: nothing of the body was read.
    #[error("{message}")]
    Unauthenticated {
        code: AuthFailure,
        message: &'static str,
    },
    /// Signed, but not a valid refund request.
    #[error("{0}")]
    Invalid(String),
}

/// Why a request's signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No signature or timestamp, or a timestamp that is not Unix seconds.
    Unsigned,
    /// More than five minutes from the desk's clock.
    Stale,
    BadSignature,
}

impl AuthFailure {
    /// The code the backend branches on.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Unsigned => "unauthenticated",
            AuthFailure::Stale => "stale_request",
            AuthFailure::BadSignature => "bad_signature",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    request_id: String,
    out_trade_no: Option<String>,
    transaction_id: Option<String>,
    refund_fee: i64,
    reason: String,
    customer: Option<String>,
}

/// Checks a request given its two headers (absent ones as `None`) and body.
pub fn check(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<CheckedRequest, Refusal> {
    let signature = authenticate(secret, timestamp, signature, body, now)?;
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| Refusal::Invalid(format!("the body is not a refund request: {e}")))?;
    let invalid = |message: &str| Refusal::Invalid(message.to_owned());
    if body.request_id.is_empty() || body.request_id.len() > 64 {
        return Err(invalid("request_id must be 1 to 64 characters"));
    }
    if body.reason.trim().is_empty() || body.reason.chars().count() > 200 {
        return Err(invalid("reason must be 1 to 200 characters"));
    }
    if body
        .customer
        .as_ref()
        .is_some_and(|c| c.chars().count() > 64)
    {
        return Err(invalid("customer must be at most 64 characters"));
    }
    if body.refund_fee <= 0 {
        return Err(invalid("refund_fee must be a positive number of fen"));
    }
    let order = match (body.out_trade_no, body.transaction_id) {
        (Some(no), None) => {
            OrderRef::OutTradeNo(OutTradeNo::new(no).map_err(|e| invalid(&e.to_string()))?)
        }
        (None, Some(id)) => {
            OrderRef::TransactionId(TransactionId::new(id).map_err(|e| invalid(&e.to_string()))?)
        }
        _ => {
            return Err(invalid(
                "give exactly one of out_trade_no and transaction_id",
            ));
        }
    };
    Ok(CheckedRequest {
        signature,
        request_id: body.request_id,
        order,
        refund_fee: Fen::new(body.refund_fee),
        reason: body.reason,
        customer: body.customer,
    })
}

/// The part of [`authenticate`] that needs no secret: both headers there, the timestamp Unix
/// seconds within [`CLOCK_WINDOW_SECS`] of `now`. The relay checks this on arrival (it does not
/// hold the secret); the desk checks the signature later, against the relay's arrival time.
pub fn check_clock<'a>(
    timestamp: Option<&str>,
    signature: Option<&'a str>,
    now: i64,
) -> Result<(i64, &'a str), Refusal> {
    let unauthenticated = |code, message| Refusal::Unauthenticated { code, message };
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(unauthenticated(
            AuthFailure::Unsigned,
            "sign the request: see the intake settings for the headers",
        ));
    };
    let timestamp: i64 = timestamp.parse().map_err(|_| {
        unauthenticated(AuthFailure::Unsigned, "the timestamp must be Unix seconds")
    })?;
    if now.abs_diff(timestamp) > CLOCK_WINDOW_SECS.unsigned_abs() {
        return Err(unauthenticated(
            AuthFailure::Stale,
            "the timestamp is more than five minutes from the desk's clock",
        ));
    }
    Ok((timestamp, signature))
}

/// The signature and the clock of a signed request to the intake; nothing of the body is read.
/// Returns the verified signature (lowercase).
pub fn authenticate(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<String, Refusal> {
    let (timestamp, signature) = check_clock(timestamp, signature, now)?;
    let expected = sign(secret, timestamp, body);
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(signature.to_ascii_lowercase().as_bytes()),
    ) {
        return Err(Refusal::Unauthenticated {
            code: AuthFailure::BadSignature,
            message: "the signature does not match: check the shared secret",
        });
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn signed(body: &str, at: i64) -> Result<CheckedRequest, Refusal> {
        let signature = sign("s3cret", at, body.as_bytes());
        check(
            "s3cret",
            Some(&at.to_string()),
            Some(&signature),
            body.as_bytes(),
            NOW,
        )
    }

    #[test]
    fn a_signed_request_is_read() {
        let request = signed(
            r#"{"request_id":"r1","out_trade_no":"A1001","refund_fee":250,"reason":"尺码不合适","customer":"李"}"#,
            NOW - 10,
        )
        .unwrap();
        assert_eq!(request.refund_fee, Fen::new(250));
        assert_eq!(
            request.order,
            OrderRef::OutTradeNo(OutTradeNo::new("A1001").unwrap())
        );
    }

    fn refused_as(result: Result<CheckedRequest, Refusal>) -> &'static str {
        match result {
            Err(Refusal::Unauthenticated { code, .. }) => code.as_str(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_signature_and_clock_come_before_the_body() {
        let now = NOW.to_string();
        assert_eq!(
            refused_as(check("s3cret", None, None, b"{", NOW)),
            "unauthenticated"
        );
        assert_eq!(
            refused_as(check("s3cret", Some("soon"), Some("00"), b"{", NOW)),
            "unauthenticated"
        );
        assert_eq!(refused_as(signed("not json", NOW - 301)), "stale_request");
        assert_eq!(refused_as(signed("not json", NOW + 301)), "stale_request");
        assert_eq!(
            refused_as(check(
                "s3cret",
                Some("-9223372036854775808"),
                Some("00"),
                b"{",
                NOW
            )),
            "stale_request"
        );
        assert_eq!(
            refused_as(check("s3cret", Some(&now), Some("00"), b"{", NOW)),
            "bad_signature"
        );
    }

    #[test]
    fn signed_nonsense_is_invalid_not_a_crash() {
        for body in [
            "not json",
            r#"{"request_id":"","out_trade_no":"A1","refund_fee":1,"reason":"x"}"#,
            r#"{"request_id":"r","out_trade_no":"A1","refund_fee":0,"reason":"x"}"#,
            r#"{"request_id":"r","out_trade_no":"A1","refund_fee":-5,"reason":"x"}"#,
            r#"{"request_id":"r","out_trade_no":"A1","refund_fee":99999999999999999999,"reason":"x"}"#,
            r#"{"request_id":"r","out_trade_no":"A1","transaction_id":"4200","refund_fee":1,"reason":"x"}"#,
            r#"{"request_id":"r","refund_fee":1,"reason":"x"}"#,
            r#"{"request_id":"r","out_trade_no":"A1","refund_fee":1,"reason":" "}"#,
            r#"{"request_id":"r","out_trade_no":"A1","refund_fee":1,"reason":"x","admin":true}"#,
            r#"{"request_id":"r","out_trade_no":"A1","out_trade_no":"A2","refund_fee":1,"reason":"x"}"#,
        ] {
            assert!(
                matches!(signed(body, NOW), Err(Refusal::Invalid(_))),
                "{body}"
            );
        }
    }
}
