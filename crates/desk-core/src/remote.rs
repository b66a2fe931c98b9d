//! Orders confirmed with WeChat (orderquery): a refund request about an order the desk has not
//! seen yet, and a refund the owner creates by hand for a customer who phoned. And the question
//! whether WeChat accepts the desk's key, which the intake's watch and the doctor both ask.

use std::sync::Arc;

use rand::RngExt as _;
use wxpay::{
    ErrCode, Fen, OrderQueryRequest, OrderRef, OutRefundNo, OutTradeNo, RefundQueryRequest,
};
use wxpay_client::{Transport, WxPayClient};

use crate::error::CoreError;
use crate::orders::{Payment, PaymentSource};
use crate::refunds::NewRequest;
use crate::store::Store;

/// `MDPROBE` and 24 random hex digits: 31 characters, within the 32 of an order or refund
/// number, and a number no shop's order or refund carries.
pub fn probe_number() -> String {
    let random: [u8; 12] = rand::rng().random();
    format!("MDPROBE{}", hex::encode(random))
}

/// Asks WeChat whether it accepts the client's appid, mch_id and key: a signed refund query
/// for a refund number that cannot exist, which changes nothing. `Ok` when WeChat answered it
/// (no such refund, or records); its error otherwise.
pub async fn ask_key<T: Transport>(client: &WxPayClient<T>) -> Result<(), wxpay::Error> {
    let number = OutRefundNo::new(probe_number())
        .unwrap_or_else(|_| unreachable!("letters and digits, 31 characters"));
    let query = RefundQueryRequest::by_out_refund_no(number);
    match client.execute(&query).await {
        Ok(_)
        | Err(wxpay::Error::Business {
            code: ErrCode::RefundNotExist,
            ..
        }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// What WeChat has under refund number `number`: the refund's amount when WeChat took it (paid,
/// being paid, paid out by hand, or a state this desk does not know, counted the safe way);
/// `None` when WeChat has no such refund or closed it (no money moved).
pub async fn refund_on_wechat<T: Transport>(
    client: &WxPayClient<T>,
    number: &OutRefundNo,
) -> Result<Option<Fen>, CoreError> {
    let query = RefundQueryRequest::by_out_refund_no(number.clone());
    match client.execute(&query).await {
        Ok(answer) => Ok(answer
            .find(number)
            .filter(|record| record.refund_status != wxpay::RefundStatus::RefundClose)
            .map(|record| record.refund_fee)),
        Err(wxpay::Error::Business {
            code: ErrCode::RefundNotExist,
            ..
        }) => Ok(None),
        Err(error) => Err(CoreError::WeChat(error)),
    }
}

/// When to ask WeChat about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Only when the desk has no record of it (refund requests from the backend).
    IfUnknown,
    /// Every time (manual refunds: the owner typed the number, WeChat must know it as paid).
    Always,
}

/// The order's number, recording the payment WeChat reports for an order the desk had not seen.
/// A report contradicting the stored order is refused ([`CoreError::PaymentConflict`]).
pub async fn confirm_order<T: Transport>(
    store: &Arc<Store>,
    client: &WxPayClient<T>,
    order: &OrderRef,
    when: Confirm,
) -> Result<OutTradeNo, CoreError> {
    if when == Confirm::IfUnknown {
        let (store, key) = (store.clone(), order.clone());
        let known = blocking(move || match &key {
            OrderRef::OutTradeNo(no) => Ok(store.order(no.as_str())?.map(|o| o.out_trade_no)),
            OrderRef::TransactionId(id) => store.order_by_transaction(id.as_str()),
        })
        .await?;
        if let Some(no) = known {
            return OutTradeNo::new(no).map_err(CoreError::BadId);
        }
    }
    let answer = client
        .execute(&OrderQueryRequest {
            order: order.clone(),
        })
        .await
        .map_err(|error| match error {
            wxpay::Error::Business {
                code: wxpay::ErrCode::OrderNotExist,
                ..
            } => CoreError::NotOnWeChat(order.to_string()),
            other => CoreError::WeChat(other),
        })?;
    let (Some(transaction_id), Some(total_fee), true) = (
        answer.transaction_id.clone(),
        answer.total_fee,
        answer.trade_state.is_paid(),
    ) else {
        return Err(CoreError::OrderNotPaid {
            out_trade_no: answer.out_trade_no.to_string(),
            trade_state: answer.trade_state.to_string(),
        });
    };
    let payment = Payment {
        out_trade_no: answer.out_trade_no.clone(),
        transaction_id,
        total_fee,
        paid_at: answer
            .time_end
            .as_deref()
            .and_then(china_time)
            .unwrap_or_else(unix_now),
        openid: answer.openid.clone(),
        trade_type: answer.trade_type.clone(),
        attach: answer.attach.clone(),
        source: PaymentSource::OrderQuery,
    };
    let store = store.clone();
    blocking(move || store.record_payment(&payment, unix_now())).await?;
    Ok(answer.out_trade_no)
}

/// A refund the owner starts by hand (a customer phoned the shop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualRefund {
    pub order: OrderRef,
    pub amount: Fen,
    pub reason: String,
    pub customer: Option<String>,
}

/// Checks the order with WeChat, then queues a pending request for it (approved like any other).
pub async fn create_manual_request<T: Transport>(
    store: &Arc<Store>,
    client: &WxPayClient<T>,
    manual: ManualRefund,
    now: i64,
) -> Result<i64, CoreError> {
    if !manual.amount.is_positive() {
        return Err(CoreError::AmountNotPositive);
    }
    if manual.reason.trim().is_empty() {
        return Err(CoreError::ReasonMissing {
            what: "a manual refund",
        });
    }
    let out_trade_no = confirm_order(store, client, &manual.order, Confirm::Always).await?;
    let request = NewRequest {
        request_id: None,
        out_trade_no,
        refund_fee: manual.amount,
        reason: manual.reason,
        customer: manual.customer,
    };
    let store = store.clone();
    blocking(move || store.add_request(&request, now))
        .await
        .map(|(id, _)| id)
}

/// Runs blocking SQLite work off the async workers.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, CoreError> + Send + 'static,
) -> Result<R, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(CoreError::TaskStopped("storage task")))
}

/// The desk's clock: Unix seconds now (every stored time is in these).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `yyyyMMddHHmmss` in China time (UTC+8) as Unix seconds.
pub(crate) use wxpay::china_time::from_compact as china_time;
