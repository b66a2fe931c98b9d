//! The one error the window sees: `{code, message}`, with the desk's closed set of codes the UI
//! branches on (and translates); `message` is the core's own wording, never a secret.

pub use desk_core::Code as ErrorCode;
use desk_core::CoreError;
use desk_runtime::{AccessError, ApprovalError, RuntimeError};
use serde::Serialize;

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
        IpcError::new(error.code(), error.to_string())
    }
}

impl From<AccessError> for IpcError {
    fn from(error: AccessError) -> Self {
        IpcError::new(error.code(), error.to_string())
    }
}

impl From<ApprovalError> for IpcError {
    fn from(error: ApprovalError) -> Self {
        IpcError::new(error.code(), error.to_string())
    }
}

impl From<RuntimeError> for IpcError {
    fn from(error: RuntimeError) -> Self {
        IpcError::new(error.code(), error.to_string())
    }
}

pub type IpcResult<T> = Result<T, IpcError>;
