//! HTTPS transport for WeChat Pay API v2.
//!
//! reqwest over rustls (ring): server certificates are always verified against the public roots
//! (plus one extra CA for the simulator); the merchant's client certificate comes from
//! `apiclient_cert.p12` (WeChat's legacy RC2-40 files included) or the PEM pair. Every setup
//! mistake has a named error, and every transport failure maps to a
//! [`wxpay::TransportErrorKind`].
#![forbid(unsafe_code)]

mod client;
mod identity;
mod pace;
mod transport;

pub use client::{WxPayClient, random_nonce, v2_body};
pub use identity::{ClientIdentity, IdentityError, default_password};
pub use pace::{Pace, WECHAT_REQUESTS_PER_SECOND};
pub use transport::{
    BACKUP_BASE_URL, HttpReply, HttpsSettings, HttpsTransport, PRODUCTION_BASE_URL, SetupError,
    Transport, describe_failure, https_client, verified_client_builder,
};
