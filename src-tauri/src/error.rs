//! The one error the window sees: `{code, message}`, with a small closed set of codes the UI
//! branches on (and translates); `message` is the core's own wording, never a secret.

use desk_core::CoreError;
use desk_runtime::{AccessError, RuntimeError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum ErrorCode {
    /// The owner PIN is needed (locked, or the amount always asks for it).
    NeedsOwner,
    WrongPin,
    InvalidInput,
    InvalidAmount,
    NotRefundable,
    Conflict,
    NotFound,
    OrderUnknown,
    OrderNotPaid,
    PaymentConflict,
    WechatUnavailable,
    /// The certificate, API key or configuration is wrong: fix it in settings.
    Setup,
    /// The desk could not start (another copy runs, a broken file): the message says what to do.
    DeskUnavailable,
    Storage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> IpcError {
        IpcError {
            code,
            message: message.into(),
        }
    }
}

impl From<CoreError> for IpcError {
    fn from(error: CoreError) -> Self {
        let code = match error.code() {
            "order_unknown" => ErrorCode::OrderUnknown,
            "order_not_paid" => ErrorCode::OrderNotPaid,
            "wechat_unavailable" => ErrorCode::WechatUnavailable,
            "payment_conflict" => ErrorCode::PaymentConflict,
            "not_found" => ErrorCode::NotFound,
            "conflict" | "request_id_conflict" => ErrorCode::Conflict,
            "invalid_amount" => ErrorCode::InvalidAmount,
            "needs_owner" => ErrorCode::NeedsOwner,
            "not_refundable" => ErrorCode::NotRefundable,
            _ => ErrorCode::Storage,
        };
        IpcError::new(code, error.to_string())
    }
}

impl From<AccessError> for IpcError {
    fn from(error: AccessError) -> Self {
        let code = match error.code() {
            "needs_owner" => ErrorCode::NeedsOwner,
            "wrong_pin" => ErrorCode::WrongPin,
            _ => ErrorCode::InvalidInput,
        };
        IpcError::new(code, error.to_string())
    }
}

impl From<RuntimeError> for IpcError {
    fn from(error: RuntimeError) -> Self {
        let code = match error {
            RuntimeError::Core(core) => return IpcError::from(core),
            RuntimeError::Store(_) => ErrorCode::Storage,
            RuntimeError::Lock(_) | RuntimeError::Bind { .. } | RuntimeError::Sandbox(_) => {
                ErrorCode::DeskUnavailable
            }
            RuntimeError::InvalidSetting(_) => ErrorCode::InvalidInput,
            _ => ErrorCode::Setup,
        };
        IpcError::new(code, error.to_string())
    }
}

pub type IpcResult<T> = Result<T, IpcError>;
