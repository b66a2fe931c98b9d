//! What happened, for the desktop shell (alerts, live queue) and `serve` on the terminal.
//!
//! The store publishes every event itself, after the transaction that made it true committed:
//! no event for a change that rolled back, and exactly one for each change that did.

use serde::Serialize;
use wxpay::Fen;

use crate::lifecycle::{Problem, RefundState, RequestState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DeskEvent {
    /// A new paid order (never twice for one order).
    OrderPaid {
        out_trade_no: String,
        total_fee: Fen,
        paid_at: i64,
    },
    /// A customer (or the owner, by hand) asked for a refund.
    RefundRequested {
        request: i64,
        out_trade_no: String,
        refund_fee: Fen,
    },
    /// A pending request was rejected or withdrawn.
    RequestClosed {
        request: i64,
        out_trade_no: String,
        /// Rejected or withdrawn.
        state: RequestState,
    },
    /// A refund was approved, moved to another state, or met a problem on its way.
    RefundChanged {
        refund: i64,
        request: i64,
        out_trade_no: String,
        out_refund_no: String,
        refund_fee: Fen,
        state: RefundState,
        /// Why it waits, is held or failed.
        problem: Option<Problem>,
        /// WeChat's own words about the problem.
        wechat_detail: Option<String>,
        /// WeChat's evidence overrode the desk's record (a refund held as failed was paid).
        contradicted: bool,
    },
}

/// The channel events go out on; receivers that lag lose the oldest events, never block the desk.
pub type EventSender = tokio::sync::broadcast::Sender<DeskEvent>;
pub type EventReceiver = tokio::sync::broadcast::Receiver<DeskEvent>;

/// Room for a flash sale's burst: the intake commits up to 512 payments at once, and at 256
/// connections a listener busy for a moment fell behind 1,024 events (seen in the intake
/// benchmark). An event is about a hundred bytes.
const EVENT_BACKLOG: usize = 16 * 1024;

pub(crate) fn sender() -> EventSender {
    tokio::sync::broadcast::channel(EVENT_BACKLOG).0
}
