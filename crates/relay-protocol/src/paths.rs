//! The relay's routes. Inbound doors are the desk's own under `/shops/{shop}`, so a backend
//! integration changes only its base URL.

/// `POST`: WeChat's payment notifications (the `notify_url`), or the backend's byte-for-byte copy.
pub const PAYMENT_NOTIFY: &str = "/shops/{shop}/wxpay/notify";
/// `POST`: WeChat's refund notifications (the desk sets this as each refund's `notify_url`).
pub const REFUND_NOTIFY: &str = "/shops/{shop}/wxpay/refund-notify";
/// `POST`: the backend's HMAC-signed refund requests.
pub const REFUND_REQUESTS: &str = "/shops/{shop}/api/v1/refund-requests";

/// `POST {code, name}`: a desk exchanges a pairing code for its own token.
pub const PAIR: &str = "/desk/v1/pair";
/// `GET`, bearer token: the shop's log as an event stream, after `Last-Event-ID`.
pub const EVENTS: &str = "/desk/v1/events";
/// `POST {through}`, bearer token: what the desk has stored.
pub const ACK: &str = "/desk/v1/ack";
/// `POST {role}`, the owner's token: a pairing code for another desk.
pub const PAIRINGS: &str = "/desk/v1/pairings";
/// `POST {update, signature}`, the owner's token: a signed record of the queue for the other
/// desks (see `update.rs`).
pub const UPDATES: &str = "/desk/v1/updates";
/// `PUT {appid, mch_id}`, the owner's token: the merchant whose notifications the shop's doors
/// take (others are refused at the door).
pub const MERCHANT: &str = "/desk/v1/merchant";
/// `GET`, the owner's token: the shop's desks; `DELETE .../{id}` revokes one.
pub const DESKS: &str = "/desk/v1/desks";

pub const HEALTH: &str = "/healthz";
pub const METRICS: &str = "/metrics";

/// `path` with the shop's slug in place of `{shop}`.
pub fn for_shop(path: &str, shop: &str) -> String {
    path.replace("{shop}", shop)
}
