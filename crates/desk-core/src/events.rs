//! What happened, for the desktop shell (alerts, live queue) and `serve` on the terminal.

use serde::Serialize;
use wxpay::Fen;

use crate::refunds::RefundState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskEvent {
    /// A new paid order (never twice for one order).
    OrderPaid {
        out_trade_no: String,
        total_fee: Fen,
        paid_at: i64,
    },
    /// A customer asked for a refund.
    RefundRequested {
        request: i64,
        out_trade_no: String,
        refund_fee: Fen,
    },
    /// A refund moved to another state.
    RefundChanged {
        out_refund_no: String,
        state: RefundState,
    },
}

/// The channel events go out on; receivers that lag lose the oldest events, never block the desk.
pub type EventSender = tokio::sync::broadcast::Sender<DeskEvent>;

pub fn channel() -> (EventSender, tokio::sync::broadcast::Receiver<DeskEvent>) {
    tokio::sync::broadcast::channel(1024)
}
