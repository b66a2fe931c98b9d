//! 查询订单 `POST /pay/orderquery`.

use super::OrderRef;
use crate::fields::{FieldError, Fields, expect_same};
use crate::ids::{OutTradeNo, TransactionId};
use crate::money::Fen;
use crate::request::{Request, RequestError};
use crate::wire_enum::wire_enum;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQueryRequest {
    pub order: OrderRef,
}

wire_enum!(
    /// `trade_state` of an order.
    TradeState {
        /// 支付成功.
        Success = "SUCCESS",
        /// 转入退款: shown after any refund, even a partial one. The order was paid.
        Refund = "REFUND",
        /// 未支付.
        NotPay = "NOTPAY",
        /// 已关闭.
        Closed = "CLOSED",
        /// 已撤销 (付款码).
        Revoked = "REVOKED",
        /// 用户支付中 (付款码).
        UserPaying = "USERPAYING",
        /// 支付失败 (付款码).
        PayError = "PAYERROR",
        /// 已接收，等待扣款.
        Accept = "ACCEPT",
    }
);

impl TradeState {
    /// True when money was received for the order.
    pub fn is_paid(&self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderQueryResponse {
    pub out_trade_no: OutTradeNo,
    pub trade_state: TradeState,
    pub trade_state_desc: Option<String>,
    /// Present once the order is paid.
    pub transaction_id: Option<TransactionId>,
    pub total_fee: Option<Fen>,
    pub cash_fee: Option<Fen>,
    pub fee_type: Option<String>,
    pub openid: Option<String>,
    pub trade_type: Option<String>,
    pub bank_type: Option<String>,
    pub attach: Option<String>,
    /// `yyyyMMddHHmmss`, GMT+8.
    pub time_end: Option<String>,
}

impl Request for OrderQueryRequest {
    type Response = OrderQueryResponse;
    const PATH: &'static str = "/pay/orderquery";

    fn fields(&self) -> Result<Vec<(&'static str, String)>, RequestError> {
        Ok(vec![self.order.field()])
    }

    fn parse_response(&self, fields: &Fields<'_>) -> Result<OrderQueryResponse, FieldError> {
        let response = OrderQueryResponse {
            out_trade_no: fields.required("out_trade_no")?,
            trade_state: fields.required("trade_state")?,
            trade_state_desc: fields.optional("trade_state_desc")?,
            transaction_id: fields.optional("transaction_id")?,
            total_fee: fields.optional("total_fee")?,
            cash_fee: fields.optional("cash_fee")?,
            fee_type: fields.optional("fee_type")?,
            openid: fields.optional("openid")?,
            trade_type: fields.optional("trade_type")?,
            bank_type: fields.optional("bank_type")?,
            attach: fields.optional("attach")?,
            time_end: fields.optional("time_end")?,
        };
        if response.trade_state.is_paid()
            && (response.transaction_id.is_none() || response.total_fee.is_none())
        {
            return Err(FieldError::Missing(
                "transaction_id/total_fee of a paid order".into(),
            ));
        }
        match &self.order {
            OrderRef::OutTradeNo(no) => {
                expect_same("out_trade_no", no.as_str(), response.out_trade_no.as_str())?
            }
            OrderRef::TransactionId(id) => {
                let found = response.transaction_id.as_ref().map_or("", |t| t.as_str());
                expect_same("transaction_id", id.as_str(), found)?
            }
        }
        Ok(response)
    }
}
