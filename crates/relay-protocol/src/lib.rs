//! What desks and the relay say to each other, without I/O.
//!
//! The relay keeps one ordered log per shop. What arrives at its inbound doors (WeChat's
//! notifications, the backend's refund requests) is appended as an [`Entry`] with the next
//! sequence number and answered after the commit. Each desk reads the log over one event stream
//! ([`sse`]), from the position it last stored, and acknowledges what it stored.
//!
//! The relay is trusted with availability, not with facts: an entry carries the bytes as they
//! arrived, and the desk checks WeChat's signature or the backend's HMAC itself.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod entry;
pub mod paths;
pub mod sse;
pub mod token;
pub mod update;

pub use entry::{Ack, Entry, Hello, Kind, UnknownKind};
pub use token::{BadCode, DeskInfo, PairingCode, Role, UnknownRole, role_of_claim};
