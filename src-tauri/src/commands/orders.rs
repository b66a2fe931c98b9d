use desk_core::{ManualRefund, Order, QueueItem, unix_now};
use serde::{Deserialize, Serialize};
use tauri::State;
use wxpay::{Fen, OrderRef, OutTradeNo, TransactionId};

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

/// Today's takings at a glance, China time, with the four newest orders (what the board shows).
#[tauri::command]
pub async fn today_board(state: State<'_, AppState>) -> IpcResult<desk_core::DayBoard> {
    let day_start = desk_runtime::china_day_start(unix_now());
    state
        .with_store(move |store| store.day_board(day_start, 4))
        .await
}

#[tauri::command]
pub async fn orders_list(
    state: State<'_, AppState>,
    search: Option<String>,
    limit: Option<u32>,
) -> IpcResult<Vec<Order>> {
    let limit = super::limit(limit);
    let search = search
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    state
        .with_store(move |store| store.orders(search.as_deref(), limit))
        .await
}

/// An order with every refund request and refund made for it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct OrderDetail {
    pub order: Order,
    pub requests: Vec<QueueItem>,
}

#[tauri::command]
pub async fn order_detail(
    state: State<'_, AppState>,
    out_trade_no: String,
) -> IpcResult<OrderDetail> {
    state
        .with_store(move |store| {
            let order = store
                .order(&out_trade_no)?
                .ok_or_else(|| desk_core::CoreError::OrderUnknown(out_trade_no.clone()))?;
            let requests = store.order_requests(&out_trade_no)?;
            Ok(OrderDetail { order, requests })
        })
        .await
}

/// A refund for a customer who phoned: by the shop's order number or WeChat's transaction id.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ManualRefundInput {
    pub out_trade_no: Option<String>,
    pub transaction_id: Option<String>,
    pub amount: i64,
    pub reason: String,
    pub customer: Option<String>,
}

impl ManualRefundInput {
    fn into_manual(self) -> IpcResult<ManualRefund> {
        let invalid = |e: wxpay::IdError| IpcError::new(ErrorCode::InvalidInput, e.to_string());
        let order = match (self.out_trade_no, self.transaction_id) {
            (Some(no), None) => OrderRef::OutTradeNo(OutTradeNo::new(no.trim()).map_err(invalid)?),
            (None, Some(id)) => {
                OrderRef::TransactionId(TransactionId::new(id.trim()).map_err(invalid)?)
            }
            _ => {
                return Err(IpcError::new(
                    ErrorCode::InvalidInput,
                    "give either the order number or the WeChat transaction id",
                ));
            }
        };
        Ok(ManualRefund {
            order,
            amount: Fen::new(self.amount),
            reason: self.reason,
            customer: self.customer.filter(|c| !c.trim().is_empty()),
        })
    }
}

/// Confirms the order with WeChat and queues the request (pending, approved like any other).
#[tauri::command]
pub async fn create_manual_refund(
    state: State<'_, AppState>,
    manual: ManualRefundInput,
    pin: Option<String>,
) -> IpcResult<QueueItem> {
    let now = unix_now();
    state.access.require_refund_desk()?;
    state.access.require_owner(pin.as_deref(), now)?;
    let manual = manual.into_manual()?;
    let request = match &*state.desk().await {
        Ok(desk) => desk.create_manual_request(manual, now).await?,
        Err(error) => return Err(error.clone()),
    };
    state
        .with_store(move |store| store.queue_item(request))
        .await
}
