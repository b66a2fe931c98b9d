//! 支付结果通知: the payment-result notification WeChat posts to the order's `notify_url`.
//!
//! Parse, verify (either algorithm: WeChat omits `sign_type` for HMAC-SHA256 orders), check it is
//! for this merchant, then decode. The amount must still be checked against the order the shop
//! knows: that is the desk core's job, which has the orders.

use crate::err_code::ErrCode;
use crate::error::Error;
use crate::fields::Fields;
use crate::ids::{OutTradeNo, TransactionId};
use crate::money::Fen;
use crate::request::{Merchant, check_return_code};
use crate::sign::{self, Expect, SignType};
use crate::xml;

/// Whether the payment succeeded (`result_code`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum PaymentResult {
    Success,
    Fail {
        err_code: ErrCode,
        err_code_des: String,
    },
}

impl serde::Serialize for ErrCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A verified payment-result notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentNotification {
    /// The algorithm it was signed with.
    pub sign_type: SignType,
    pub result: PaymentResult,
    pub transaction_id: TransactionId,
    pub out_trade_no: OutTradeNo,
    pub total_fee: Fen,
    pub settlement_total_fee: Option<Fen>,
    pub cash_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub fee_type: Option<String>,
    pub openid: Option<String>,
    pub is_subscribe: Option<String>,
    pub trade_type: Option<String>,
    pub bank_type: Option<String>,
    pub device_info: Option<String>,
    pub attach: Option<String>,
    /// `yyyyMMddHHmmss`, GMT+8.
    pub time_end: String,
}

impl PaymentNotification {
    /// Reads a notification body exactly as WeChat posted it.
    pub fn parse(body: &[u8], merchant: &Merchant) -> Result<PaymentNotification, Error> {
        let fields = xml::decode(body)?;
        Self::from_fields(&fields, merchant)
    }

    /// The same, from fields already decoded (for callers that keep the raw fields too).
    pub fn from_fields(
        fields: &Fields<'_>,
        merchant: &Merchant,
    ) -> Result<PaymentNotification, Error> {
        check_return_code(fields)?;
        let sign_type = sign::verify(fields, &merchant.api_key, Expect::Detect)?;
        merchant.check_identity(fields)?;
        let result = match fields.get("result_code") {
            Some("SUCCESS") => PaymentResult::Success,
            Some("FAIL") => PaymentResult::Fail {
                err_code: ErrCode::from_wire(fields.get("err_code").unwrap_or("")),
                err_code_des: fields.get("err_code_des").unwrap_or("").to_owned(),
            },
            _ => {
                return Err(
                    crate::FieldError::invalid("result_code", "must be SUCCESS or FAIL").into(),
                );
            }
        };
        let time_end: String = fields.required("time_end")?;
        if time_end.len() != 14 || !time_end.bytes().all(|b| b.is_ascii_digit()) {
            return Err(crate::FieldError::invalid("time_end", "must be yyyyMMddHHmmss").into());
        }
        Ok(PaymentNotification {
            sign_type,
            result,
            transaction_id: fields.required("transaction_id")?,
            out_trade_no: fields.required("out_trade_no")?,
            total_fee: fields.required("total_fee")?,
            settlement_total_fee: fields.optional("settlement_total_fee")?,
            cash_fee: fields.optional("cash_fee")?,
            coupon_fee: fields.optional("coupon_fee")?,
            fee_type: fields.optional("fee_type")?,
            openid: fields.optional("openid")?,
            is_subscribe: fields.optional("is_subscribe")?,
            trade_type: fields.optional("trade_type")?,
            bank_type: fields.optional("bank_type")?,
            device_info: fields.optional("device_info")?,
            attach: fields.optional("attach")?,
            time_end,
        })
    }
}
