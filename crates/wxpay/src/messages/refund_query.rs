//! 查询退款 `POST /pay/refundquery`, with the indexed `_$n` fields decoded into a list.

use crate::fields::{FieldError, Fields};
use crate::ids::{OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::money::Fen;
use crate::request::{Request, RequestError};
use crate::wire_enum::wire_enum;

/// What to look refunds up by. WeChat's priority when several are sent is
/// refund_id > out_refund_no > transaction_id > out_trade_no, so a query sends exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundQueryKey {
    RefundId(RefundId),
    OutRefundNo(OutRefundNo),
    TransactionId(TransactionId),
    OutTradeNo(OutTradeNo),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryRequest {
    pub key: RefundQueryKey,
    /// With more than 10 refunds on an order, records `offset..offset+9` are returned.
    pub offset: Option<u32>,
}

impl RefundQueryRequest {
    /// The query for the refund the merchant numbered `out_refund_no` (one record).
    pub fn by_out_refund_no(out_refund_no: OutRefundNo) -> RefundQueryRequest {
        RefundQueryRequest {
            key: RefundQueryKey::OutRefundNo(out_refund_no),
            offset: None,
        }
    }
}

wire_enum!(
    /// `refund_status_$n`.
    RefundStatus {
        /// 退款成功.
        Success = "SUCCESS",
        /// 退款关闭: failed for good.
        RefundClose = "REFUNDCLOSE",
        /// 退款处理中.
        Processing = "PROCESSING",
        /// 退款异常: the customer's card failed; finish by hand in the merchant platform.
        Change = "CHANGE",
    }
);

impl RefundStatus {
    /// True when WeChat will not change the status any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RefundStatus::Success | RefundStatus::RefundClose | RefundStatus::Change
        )
    }
}

/// One refund of the order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundRecord {
    pub out_refund_no: OutRefundNo,
    pub refund_id: RefundId,
    pub refund_channel: Option<String>,
    pub refund_fee: Fen,
    pub settlement_refund_fee: Option<Fen>,
    pub coupon_refund_fee: Option<Fen>,
    pub refund_status: RefundStatus,
    pub refund_account: Option<String>,
    /// 退款入账账户 (WeChat's spelling of the field is `refund_recv_accout`).
    pub refund_recv_account: Option<String>,
    /// "2016-07-25 15:26:26" (GMT+8), only when SUCCESS.
    pub refund_success_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundQueryResponse {
    pub transaction_id: TransactionId,
    pub out_trade_no: OutTradeNo,
    pub total_fee: Fen,
    pub settlement_total_fee: Option<Fen>,
    pub fee_type: Option<String>,
    pub cash_fee: Option<Fen>,
    /// All refunds of the order; present when there are more than fit one page.
    pub total_refund_count: Option<u32>,
    pub refunds: Vec<RefundRecord>,
}

impl RefundQueryResponse {
    pub fn find(&self, out_refund_no: &OutRefundNo) -> Option<&RefundRecord> {
        self.refunds
            .iter()
            .find(|r| &r.out_refund_no == out_refund_no)
    }
}

/// WeChat allows 50 refunds per order; a larger count is not a real answer.
const MAX_REFUND_COUNT: u32 = 50;

impl Request for RefundQueryRequest {
    type Response = RefundQueryResponse;
    const PATH: &'static str = "/pay/refundquery";

    fn fields(&self) -> Result<Vec<(&'static str, String)>, RequestError> {
        let key = match &self.key {
            RefundQueryKey::RefundId(id) => ("refund_id", id.to_string()),
            RefundQueryKey::OutRefundNo(no) => ("out_refund_no", no.to_string()),
            RefundQueryKey::TransactionId(id) => ("transaction_id", id.to_string()),
            RefundQueryKey::OutTradeNo(no) => ("out_trade_no", no.to_string()),
        };
        let mut fields = vec![key];
        if let Some(offset) = self.offset {
            fields.push(("offset", offset.to_string()));
        }
        Ok(fields)
    }

    fn parse_response(&self, fields: &Fields<'_>) -> Result<RefundQueryResponse, FieldError> {
        let count: u32 = fields.required("refund_count")?;
        if count > MAX_REFUND_COUNT {
            return Err(FieldError::invalid(
                "refund_count",
                format!("{count} is more than the {MAX_REFUND_COUNT} refunds an order can have"),
            ));
        }
        let refunds = (0..count)
            .map(|n| {
                let name = |field: &str| format!("{field}_{n}");
                Ok(RefundRecord {
                    out_refund_no: fields.required(&name("out_refund_no"))?,
                    refund_id: fields.required(&name("refund_id"))?,
                    refund_channel: fields.optional(&name("refund_channel"))?,
                    refund_fee: fields.required(&name("refund_fee"))?,
                    settlement_refund_fee: fields.optional(&name("settlement_refund_fee"))?,
                    coupon_refund_fee: fields.optional(&name("coupon_refund_fee"))?,
                    refund_status: fields.required(&name("refund_status"))?,
                    refund_account: fields.optional(&name("refund_account"))?,
                    refund_recv_account: fields.optional(&name("refund_recv_accout"))?,
                    refund_success_time: fields.optional(&name("refund_success_time"))?,
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        Ok(RefundQueryResponse {
            transaction_id: fields.required("transaction_id")?,
            out_trade_no: fields.required("out_trade_no")?,
            total_fee: fields.required("total_fee")?,
            settlement_total_fee: fields.optional("settlement_total_fee")?,
            fee_type: fields.optional("fee_type")?,
            cash_fee: fields.optional("cash_fee")?,
            total_refund_count: fields.optional("total_refund_count")?,
            refunds,
        })
    }
}
