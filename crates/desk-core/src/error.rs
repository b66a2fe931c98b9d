//! The core's errors, each with a stable code the UI and the intake API branch on.

use wxpay::Fen;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the desk has no paid order {0}")]
    OrderUnknown(String),
    #[error(
        "order {out_trade_no} is already recorded with other details ({detail}); the new report was not stored"
    )]
    PaymentConflict {
        out_trade_no: String,
        detail: &'static str,
    },
    #[error("no refund request {0}")]
    RequestNotFound(i64),
    #[error("refund request {id} is {state}, not pending")]
    NotPending { id: i64, state: String },
    #[error("the amount must be at least 1 fen")]
    AmountNotPositive,
    #[error("{amount} fen is more than the {requested} fen the customer asked for")]
    AboveRequested { amount: Fen, requested: Fen },
    #[error(
        "{amount} fen is more than the {remaining} fen that can still be refunded on this order"
    )]
    ExceedsRefundable { amount: Fen, remaining: Fen },
    #[error(
        "{amount} fen is above {approver}'s approval limit of {limit} fen: the owner must approve it"
    )]
    OverApprovalLimit {
        approver: String,
        amount: Fen,
        limit: Fen,
    },
    #[error("this order already has 50 refunds, WeChat's limit: refund the rest another way")]
    TooManyRefunds,
    #[error(
        "the order was paid more than a year ago, past WeChat's refund limit: refund the customer another way"
    )]
    OrderTooOld,
    #[error("request id {0} was already used for a different refund request")]
    RequestIdConflict(String),
    #[error(
        "refund {refund} was not {expected} any more (another worker moved it); nothing was changed"
    )]
    TransitionLost { refund: i64, expected: &'static str },
    #[error("WeChat Pay has no order with {0}: check the number")]
    NotOnWeChat(String),
    #[error(
        "WeChat Pay says order {out_trade_no} is {trade_state}, not paid: there is nothing to refund"
    )]
    OrderNotPaid {
        out_trade_no: String,
        trade_state: String,
    },
    #[error("could not ask WeChat Pay: {}", .0.user_message(wxpay::Lang::En))]
    WeChat(#[source] wxpay::Error),
    /// Stored with others in one transaction, whose commit failed (nothing of it was kept).
    #[error("{0}")]
    Batch(std::sync::Arc<CoreError>),
    #[error("{0}")]
    Invalid(String),
}

impl From<rusqlite::Error> for CoreError {
    fn from(error: rusqlite::Error) -> Self {
        CoreError::Store(StoreError::Sqlite(error))
    }
}

impl CoreError {
    /// A small closed set of codes for the UI and the intake API.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Store(_) => "storage",
            CoreError::Batch(cause) => cause.code(),
            CoreError::OrderUnknown(_) | CoreError::NotOnWeChat(_) => "order_unknown",
            CoreError::OrderNotPaid { .. } => "order_not_paid",
            CoreError::WeChat(_) => "wechat_unavailable",
            CoreError::PaymentConflict { .. } => "payment_conflict",
            CoreError::RequestNotFound(_) => "not_found",
            CoreError::NotPending { .. } | CoreError::TransitionLost { .. } => "conflict",
            CoreError::AmountNotPositive
            | CoreError::AboveRequested { .. }
            | CoreError::ExceedsRefundable { .. }
            | CoreError::Invalid(_) => "invalid_amount",
            CoreError::OverApprovalLimit { .. } => "needs_owner",
            CoreError::TooManyRefunds | CoreError::OrderTooOld => "not_refundable",
            CoreError::RequestIdConflict(_) => "request_id_conflict",
        }
    }
}
