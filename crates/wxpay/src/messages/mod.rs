//! The typed v2 messages Merchant Desk sends and receives.

pub mod order_query;
pub mod payment_notify;
pub mod refund;
pub mod refund_query;
pub mod unified_order;

use crate::ids::{OutTradeNo, TransactionId};

/// How a request names the paid order. When WeChat gets both, `transaction_id` wins, so a
/// request carries exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRef {
    TransactionId(TransactionId),
    OutTradeNo(OutTradeNo),
}

impl OrderRef {
    pub(crate) fn field(&self) -> (&'static str, String) {
        match self {
            OrderRef::TransactionId(id) => ("transaction_id", id.to_string()),
            OrderRef::OutTradeNo(no) => ("out_trade_no", no.to_string()),
        }
    }
}

/// `out_trade_no 2026…` or `transaction_id 4200…`, for messages.
impl std::fmt::Display for OrderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderRef::TransactionId(id) => write!(f, "transaction_id {id}"),
            OrderRef::OutTradeNo(no) => write!(f, "out_trade_no {no}"),
        }
    }
}
