//! 支付结果通知: the payment-result notification WeChat posts to the order's `notify_url`.
//!
//! Parse, verify (either algorithm: WeChat omits `sign_type` for HMAC-SHA256 orders), check it is
//! for this merchant, then decode. The amount must still be checked against the order the shop
//! knows: that is the desk core's job, which has the orders.

use crate::err_code::ErrCode;
use crate::error::Error;
use crate::fields::{FieldError, Fields, parse_optional, parse_required};
use crate::ids::{OutTradeNo, TransactionId};
use crate::money::Fen;
use crate::request::{Merchant, check_return_code_values};
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
        // One pass over the sorted fields: this is the hot path of a flash sale.
        let [
            appid,
            attach,
            bank_type,
            cash_fee,
            coupon_fee,
            device_info,
            err_code,
            err_code_des,
            fee_type,
            is_subscribe,
            mch_id,
            openid,
            out_trade_no,
            result_code,
            return_code,
            return_msg,
            settlement_total_fee,
            time_end,
            total_fee,
            trade_type,
            transaction_id,
        ] = fields.lookup(&[
            "appid",
            "attach",
            "bank_type",
            "cash_fee",
            "coupon_fee",
            "device_info",
            "err_code",
            "err_code_des",
            "fee_type",
            "is_subscribe",
            "mch_id",
            "openid",
            "out_trade_no",
            "result_code",
            "return_code",
            "return_msg",
            "settlement_total_fee",
            "time_end",
            "total_fee",
            "trade_type",
            "transaction_id",
        ]);
        check_return_code_values(return_code, return_msg)?;
        let sign_type = sign::verify(fields, &merchant.api_key, Expect::Detect)?;
        merchant.check_identity_values(appid, mch_id)?;
        let result = match result_code {
            Some("SUCCESS") => PaymentResult::Success,
            Some("FAIL") => PaymentResult::Fail {
                err_code: ErrCode::from_wire(err_code.unwrap_or("")),
                err_code_des: err_code_des.unwrap_or("").to_owned(),
            },
            _ => return Err(FieldError::invalid("result_code", "must be SUCCESS or FAIL").into()),
        };
        let time_end: String = parse_required("time_end", time_end)?;
        if time_end.len() != 14 || !time_end.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::invalid("time_end", "must be yyyyMMddHHmmss").into());
        }
        Ok(PaymentNotification {
            sign_type,
            result,
            transaction_id: parse_required("transaction_id", transaction_id)?,
            out_trade_no: parse_required("out_trade_no", out_trade_no)?,
            total_fee: parse_required("total_fee", total_fee)?,
            settlement_total_fee: parse_optional("settlement_total_fee", settlement_total_fee)?,
            cash_fee: parse_optional("cash_fee", cash_fee)?,
            coupon_fee: parse_optional("coupon_fee", coupon_fee)?,
            fee_type: parse_optional("fee_type", fee_type)?,
            openid: parse_optional("openid", openid)?,
            is_subscribe: parse_optional("is_subscribe", is_subscribe)?,
            trade_type: parse_optional("trade_type", trade_type)?,
            bank_type: parse_optional("bank_type", bank_type)?,
            device_info: parse_optional("device_info", device_info)?,
            attach: parse_optional("attach", attach)?,
            time_end,
        })
    }
}
