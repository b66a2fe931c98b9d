//! `merchant-desk-relay`: a small server the shop runs next to its backend, so desks behind a
//! router receive WeChat's notifications and the backend's refund requests without a public
//! address of their own.
//!
//! - Inbound ([`doors`]): the desk's own API under `/shops/{shop}`: each message is appended to
//!   the shop's log and answered only after the commit. The relay holds no merchant secret: it
//!   checks shape and the refund request's clock, never a signature.
//! - Outbound ([`desks`]): each desk pairs once for its own revocable token and keeps one event
//!   stream open, from the position it last stored; it acknowledges what it stored.
//! - Storage ([`store`]): SQLite for one server, PostgreSQL for several.
#![forbid(unsafe_code)]

pub mod desks;
pub mod doctor;
pub mod doors;
pub mod metrics;
pub mod rates;
pub mod seats;
pub mod server;
pub mod store;

pub use server::{Relay, Settings, TlsError, tls_acceptor};
pub use store::{SqliteStore, Store, StoreError};

/// The relay's clock: Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
