//! WeChat Pay API v2, the protocol only: signatures, safe XML, typed messages and one error type.
//!
//! Nothing here does I/O or reads the clock; nonces and timestamps are passed in. The HTTPS
//! transport lives in `wxpay-client`.
//!
//! ```
//! use wxpay::{ApiKey, AppId, Fen, MchId, Merchant, Nonce, OrderRef, OutRefundNo, OutTradeNo,
//!             RefundRequest, SignType};
//!
//! let merchant = Merchant {
//!     appid: AppId::new("wxd930ea5d5a258f4f")?,
//!     mch_id: MchId::new("10000100")?,
//!     api_key: ApiKey::new("192006250b4c09247ec02edce69f6a2d")?,
//!     sign_type: SignType::HmacSha256,
//! };
//! let refund = RefundRequest {
//!     order: OrderRef::OutTradeNo(OutTradeNo::new("1415757673")?),
//!     out_refund_no: OutRefundNo::new("R1415757673-1")?,
//!     total_fee: Fen::new(1000),
//!     refund_fee: Fen::new(250),
//!     refund_fee_type: None,
//!     refund_desc: Some("尺码不合适".into()),
//!     refund_account: None,
//!     notify_url: None,
//! };
//! let body = merchant.encode_request(&refund, &Nonce::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS")?)?;
//! assert!(body.starts_with("<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod china_time;
mod err_code;
mod error;
mod fields;
mod ids;
pub mod messages;
mod money;
mod notify_reply;
pub mod refund_notify;
mod request;
mod secret;
pub mod sign;
mod wire_enum;
pub mod xml;

pub use err_code::ErrCode;
pub use error::{Error, Lang, TlsProblem, TransportError, TransportErrorKind, Written};
pub use fields::{FieldError, Fields, FromField};
pub use ids::{AppId, IdError, MchId, Nonce, OutRefundNo, OutTradeNo, RefundId, TransactionId};
pub use messages::OrderRef;
pub use messages::order_query::{OrderQueryRequest, OrderQueryResponse, TradeState};
pub use messages::payment_notify::{PaymentNotification, PaymentResult};
pub use messages::refund::{RefundAccount, RefundRequest, RefundResponse};
pub use messages::refund_query::{
    RefundQueryKey, RefundQueryRequest, RefundQueryResponse, RefundRecord, RefundStatus,
};
pub use messages::unified_order::{
    JsapiPayParams, TradeType, UnifiedOrderRequest, UnifiedOrderResponse,
};
pub use money::{Fen, FenError};
pub use notify_reply::{NotifyReply, SUCCESS_REPLY};
pub use refund_notify::{DecryptError, RefundNotification};
pub use request::{Merchant, Request, RequestError};
pub use secret::{ApiKey, ApiKeyError, CertPassword};
pub use sign::{SignType, SignatureError};
pub use xml::{MAX_BODY_BYTES, XmlError};
