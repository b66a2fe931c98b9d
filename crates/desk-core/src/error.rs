//! The core's errors, each with a [`Code`] the window, the intake API and the CLI branch on.

use wxpay::Fen;

use crate::lifecycle::{Code, RefundState, RequestState};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A background task of the desk (the storage thread, the payment writer) stopped.
    #[error("the desk's {0} stopped; restart the desk")]
    TaskStopped(&'static str),
    /// The database holds a value this version does not know (written by hand, or corrupt).
    #[error("the database holds an unknown value {0:?}")]
    UnknownState(String),
    #[error("an order or refund number is invalid: {0}")]
    BadId(#[source] wxpay::IdError),
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
    #[error("refund request {id} is {}, not pending", state.as_str())]
    NotPending { id: i64, state: RequestState },
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
    #[error("{what} needs a reason the customer will see")]
    ReasonMissing { what: &'static str },
    #[error(
        "refund {refund} was not {} any more (another worker moved it); nothing was changed",
        expected.as_str()
    )]
    TransitionLost { refund: i64, expected: RefundState },
    #[error("a refund cannot go from {} to {}", from.as_str(), to.as_str())]
    NotAStep { from: RefundState, to: RefundState },
    #[error(
        "the refund notification for {out_refund_no} names another order or amount than the desk's refund; not applied"
    )]
    NotificationMismatch { out_refund_no: String },
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
    /// An update from the owner's desk names a column this desk's database does not have: the
    /// owner's desk is a newer version.
    #[error("the owner's desk sent a record this desk cannot store ({0}): update this desk")]
    MirrorFromNewerDesk(String),
    /// Stored with others in one transaction, whose commit failed (nothing of it was kept).
    #[error("{0}")]
    Batch(std::sync::Arc<CoreError>),
}

impl From<rusqlite::Error> for CoreError {
    fn from(error: rusqlite::Error) -> Self {
        CoreError::Store(StoreError::Sqlite(error))
    }
}

impl CoreError {
    /// The code the edges branch on.
    pub fn code(&self) -> Code {
        match self {
            CoreError::Store(_)
            | CoreError::TaskStopped(_)
            | CoreError::UnknownState(_)
            | CoreError::BadId(_)
            | CoreError::MirrorFromNewerDesk(_) => Code::Storage,
            CoreError::Batch(cause) => cause.code(),
            CoreError::OrderUnknown(_) | CoreError::NotOnWeChat(_) => Code::OrderUnknown,
            CoreError::OrderNotPaid { .. } => Code::OrderNotPaid,
            CoreError::WeChat(_) => Code::WechatUnavailable,
            CoreError::PaymentConflict { .. } => Code::PaymentConflict,
            CoreError::RequestNotFound(_) => Code::NotFound,
            CoreError::NotPending { .. }
            | CoreError::TransitionLost { .. }
            | CoreError::NotAStep { .. }
            | CoreError::NotificationMismatch { .. } => Code::Conflict,
            CoreError::AmountNotPositive
            | CoreError::AboveRequested { .. }
            | CoreError::ExceedsRefundable { .. } => Code::InvalidAmount,
            CoreError::ReasonMissing { .. } => Code::InvalidInput,
            CoreError::OverApprovalLimit { .. } => Code::NeedsOwner,
            CoreError::TooManyRefunds | CoreError::OrderTooOld => Code::NotRefundable,
            CoreError::RequestIdConflict(_) => Code::RequestIdConflict,
        }
    }
}
