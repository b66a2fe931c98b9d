//! 申请退款 `POST /secapi/pay/refund` (mutual TLS).
//!
//! `result_code=SUCCESS` only means WeChat accepted the refund; its outcome comes later from
//! [`crate::RefundQueryRequest`] or a refund notification.

use super::OrderRef;
use crate::fields::{FieldError, Fields, expect_same};
use crate::ids::{OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::money::Fen;
use crate::request::{Request, RequestError, check_notify_url, check_text};
use crate::wire_enum::wire_enum;

wire_enum!(
    /// Which funds a refund is paid from (`refund_account`).
    RefundAccount {
        /// 未结算资金 (WeChat's default when the field is absent).
        UnsettledFunds = "REFUND_SOURCE_UNSETTLED_FUNDS",
        /// 可用余额.
        RechargeFunds = "REFUND_SOURCE_RECHARGE_FUNDS",
    }
);

/// A refund of part or all of one paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order: OrderRef,
    /// The refund's number. Every retry of one refund reuses it; WeChat refunds a number once.
    pub out_refund_no: OutRefundNo,
    /// The **order's** total as paid, not the refund amount.
    pub total_fee: Fen,
    pub refund_fee: Fen,
    /// ISO 4217; WeChat assumes CNY when absent.
    pub refund_fee_type: Option<String>,
    /// Shown to the customer in the refund message; at most 80 characters.
    pub refund_desc: Option<String>,
    pub refund_account: Option<RefundAccount>,
    /// Where WeChat posts the refund notification.
    pub notify_url: Option<String>,
}

/// WeChat's acceptance of a refund.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundResponse {
    pub transaction_id: TransactionId,
    pub out_trade_no: OutTradeNo,
    pub out_refund_no: OutRefundNo,
    pub refund_id: RefundId,
    pub refund_fee: Fen,
    pub total_fee: Fen,
    pub cash_fee: Option<Fen>,
    pub settlement_refund_fee: Option<Fen>,
    pub settlement_total_fee: Option<Fen>,
    pub cash_refund_fee: Option<Fen>,
    pub coupon_refund_fee: Option<Fen>,
    pub fee_type: Option<String>,
}

impl Request for RefundRequest {
    type Response = RefundResponse;
    const PATH: &'static str = "/secapi/pay/refund";
    const NEEDS_CLIENT_CERT: bool = true;

    fn fields(&self) -> Result<Vec<(&'static str, String)>, RequestError> {
        if !self.total_fee.is_positive() {
            return Err(RequestError::NotPositive { field: "total_fee" });
        }
        if !self.refund_fee.is_positive() {
            return Err(RequestError::NotPositive {
                field: "refund_fee",
            });
        }
        if self.refund_fee > self.total_fee {
            return Err(RequestError::RefundExceedsTotal {
                refund_fee: self.refund_fee.get(),
                total_fee: self.total_fee.get(),
            });
        }
        let mut fields = vec![
            self.order.field(),
            ("out_refund_no", self.out_refund_no.to_string()),
            ("total_fee", self.total_fee.to_string()),
            ("refund_fee", self.refund_fee.to_string()),
        ];
        if let Some(currency) = &self.refund_fee_type {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(RequestError::Invalid {
                    field: "refund_fee_type",
                    reason: "must be a three-letter ISO 4217 code such as CNY",
                });
            }
            fields.push(("refund_fee_type", currency.clone()));
        }
        if let Some(desc) = &self.refund_desc {
            check_text("refund_desc", desc, 80)?;
            fields.push(("refund_desc", desc.clone()));
        }
        if let Some(account) = &self.refund_account {
            if let RefundAccount::Other(_) = account {
                return Err(RequestError::Invalid {
                    field: "refund_account",
                    reason: "must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS",
                });
            }
            fields.push(("refund_account", account.to_string()));
        }
        if let Some(url) = &self.notify_url {
            check_notify_url(url)?;
            fields.push(("notify_url", url.clone()));
        }
        Ok(fields)
    }

    fn parse_response(&self, fields: &Fields<'_>) -> Result<RefundResponse, FieldError> {
        let response = RefundResponse {
            transaction_id: fields.required("transaction_id")?,
            out_trade_no: fields.required("out_trade_no")?,
            out_refund_no: fields.required("out_refund_no")?,
            refund_id: fields.required("refund_id")?,
            refund_fee: fields.required("refund_fee")?,
            total_fee: fields.required("total_fee")?,
            cash_fee: fields.optional("cash_fee")?,
            settlement_refund_fee: fields.optional("settlement_refund_fee")?,
            settlement_total_fee: fields.optional("settlement_total_fee")?,
            cash_refund_fee: fields.optional("cash_refund_fee")?,
            coupon_refund_fee: fields.optional("coupon_refund_fee")?,
            fee_type: fields.optional("fee_type")?,
        };
        // An acceptance of some other refund must not be mistaken for this one.
        let order_matches = match &self.order {
            OrderRef::TransactionId(id) => (
                "transaction_id",
                id.as_str(),
                response.transaction_id.as_str(),
            ),
            OrderRef::OutTradeNo(no) => {
                ("out_trade_no", no.as_str(), response.out_trade_no.as_str())
            }
        };
        expect_same(order_matches.0, order_matches.1, order_matches.2)?;
        expect_same(
            "out_refund_no",
            self.out_refund_no.as_str(),
            response.out_refund_no.as_str(),
        )?;
        expect_same(
            "refund_fee",
            &self.refund_fee.to_string(),
            &response.refund_fee.to_string(),
        )?;
        expect_same(
            "total_fee",
            &self.total_fee.to_string(),
            &response.total_fee.to_string(),
        )?;
        Ok(response)
    }
}
