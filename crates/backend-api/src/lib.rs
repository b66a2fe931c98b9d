//! The desk's API for the shop's backend, the part without I/O: how a refund request is signed
//! (`X-Merchant-Desk-Timestamp`, `X-Merchant-Desk-Signature`) and how the desk checks one before
//! anything is stored. This is the desk's own convention, not WeChat's.
#![forbid(unsafe_code)]

pub mod reach;
pub mod request;
pub mod signature;

pub use request::{
    AuthFailure, CLOCK_WINDOW_SECS, CheckedRequest, Refusal, authenticate, check, check_clock,
};
pub use signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
