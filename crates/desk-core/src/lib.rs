//! Merchant Desk's core: the SQLite refund queue and every rule about money, in a crate that
//! builds and tests without a window.
//!
//! - [`Store`]: the database file (WAL, foreign keys, migrations with a snapshot first, refusal of
//!   a database from a newer app).
//! - Orders are recorded once from verified payments ([`Store::record_payment`]).
//! - Refund requests wait as pending; [`Store::approve`] turns one into a refund with its own
//!   `out_refund_no` in the same transaction as every guard: never past the amount paid, at most
//!   50 per order, within a year, within the approver's limit.
#![forbid(unsafe_code)]

mod alerts;
mod board;
mod engine;
mod error;
mod events;
pub mod intake;
mod lifecycle;
mod logs;
mod mirror;
mod orders;
pub mod outcome;
mod payments;
mod queue;
mod refunds;
mod relay_position;
mod remote;
mod store;
mod watch;
mod work;

pub use alerts::{AlertKind, StoredAlert, Unseen};
pub use board::DayBoard;
pub use engine::{Confirmation, Engine, EngineSettings, Pass, confirm_refund_notification};
pub use error::CoreError;
pub use events::{DeskEvent, EventReceiver, EventSender};
pub use lifecycle::{Code, Problem, RefundState, RequestState};
pub use logs::{AuditEntry, ExchangeEntry};
pub use mirror::{QueueSnapshot, Row};
pub use orders::{Order, Payment, PaymentSource, Recorded};
pub use payments::PaymentWriter;
pub use queue::{QueueCount, QueueItem, QueueQuery, QueueState, RefundView, UnknownQueueState};
pub use refunds::{
    ApprovedRefund, Approver, MAX_REFUNDS_PER_ORDER, NewRequest, REFUND_WINDOW_SECS,
    refund_number_for,
};
pub use relay_position::{ParkedEntry, RelayPosition};
pub use remote::{
    Confirm, ManualRefund, ask_key, confirm_order, create_manual_request, probe_number, unix_now,
};
#[cfg(feature = "profile")]
pub use store::StatementCost;
pub use store::{MIGRATIONS, Store, StoreError};
pub use watch::{Alarm, AlarmCause, Door, Refusal, RefusalCount, hour_of};
pub use work::{FoundRefund, Heard};
