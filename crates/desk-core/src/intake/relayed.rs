//! An entry of the shop's log on the relay, taken as if it had come to the intake's own door:
//! the same verification (WeChat's signature, the backend's HMAC against the time the relay
//! received it) and the same storing. The relay holds no secret, so it cannot make the desk
//! believe anything it could not have been told directly.
//!
//! Taking an entry twice stores it once (payments by order, requests by `request_id`, refund
//! notifications by the refund's state), so the link may deliver at least once, and an entry
//! waiting for an outside answer may be taken after those behind it.

use std::sync::Arc;

use axum::http::StatusCode;
use relay_protocol::{Entry, Kind};
use wxpay_client::Transport;

use crate::error::CoreError;
use crate::mirror::QueueSnapshot;
use crate::remote::blocking;

use super::{
    ApiError, Arrival, IntakeState, Taken, take_payment_notification, take_refund_notification,
    take_refund_request,
};

/// What became of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stored (or stored before, or nothing to store): the position moves past it.
    Stored,
    /// Refused for good (forged, malformed, another merchant's, an invalid request); counted
    /// like the intake's refusals. The position moves past it.
    Refused,
    /// Not now: an outside answer is missing (WeChat could not be asked about an unknown order
    /// or a refund, or it names this merchant but does not verify while the desk's key is in
    /// doubt). Put aside and taken again later; the entries after it go on meanwhile, so no
    /// entry anyone can write holds up the shop's log.
    Later,
    /// Not now: the desk's own storage failed. Taken again, nothing after it before (nothing
    /// after it could be stored either).
    Retry,
    /// On a staff desk: an owner's update signed with a key this desk does not have (the
    /// owner's desk was replaced, or someone else wrote it). Passed over like a refusal, but
    /// said: while the owner's updates come so, this desk's queue does not follow the owner's.
    ForeignUpdate,
}

/// Which desk takes the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taker<'a> {
    /// The owner's desk: takes what WeChat and the backend sent, as its intake would; its own
    /// updates come back to it and are passed over. A refund request in the shop's log may have
    /// been decided on another owner's desk (the one this desk replaced): WeChat is asked about
    /// its refund number first.
    Owner,
    /// A staff desk: verifies and stores payments itself (its alerts do not wait for the owner's
    /// desk); the queue it stores as the owner's updates say, signed with `shop_key`.
    Staff { shop_key: &'a str },
}

/// Takes one entry of the relay's log.
pub async fn take_entry<T: Transport + 'static>(
    state: &Arc<IntakeState<T>>,
    entry: &Entry,
    taker: Taker<'_>,
) -> Applied {
    if let Taker::Staff { shop_key } = taker {
        return match entry.kind {
            Kind::PaymentNotification => {
                applied(take_payment_notification(state, entry.body.as_bytes()).await)
            }
            // The owner's desk takes these; what became of them arrives as its update.
            Kind::RefundNotification | Kind::RefundRequest => Applied::Stored,
            Kind::DeskUpdate => mirror(state, entry, shop_key).await,
        };
    }
    let taken = match entry.kind {
        Kind::DeskUpdate => return Applied::Stored,
        Kind::PaymentNotification => take_payment_notification(state, entry.body.as_bytes()).await,
        Kind::RefundNotification => take_refund_notification(state, entry.body.as_bytes()).await,
        Kind::RefundRequest => {
            return match take_refund_request(
                state,
                entry.timestamp.as_deref(),
                entry.signature.as_deref(),
                entry.body.as_bytes(),
                Arrival::Relayed(entry.received_at),
            )
            .await
            {
                Ok(_) => Applied::Stored,
                // WeChat was asked about an order the desk had not seen and did not answer.
                Err(ApiError(StatusCode::BAD_GATEWAY, ..)) => Applied::Later,
                Err(ApiError(status, ..)) if status.is_server_error() => Applied::Retry,
                Err(_) => Applied::Refused,
            };
        }
    };
    applied(taken)
}

fn applied(taken: Taken) -> Applied {
    match taken {
        Taken::Stored => Applied::Stored,
        Taken::Refused(_) => Applied::Refused,
        Taken::Retry => Applied::Retry,
        Taken::Awaiting => Applied::Later,
    }
}

/// A staff desk stores the owner's record of a request, if the shop key signed it.
async fn mirror<T>(state: &Arc<IntakeState<T>>, entry: &Entry, shop_key: &str) -> Applied {
    let signed = entry
        .signature
        .as_deref()
        .is_some_and(|signature| relay_protocol::update::verify(shop_key, &entry.body, signature));
    if !signed {
        return Applied::ForeignUpdate;
    }
    let Ok(snapshot) = serde_json::from_str::<QueueSnapshot>(&entry.body) else {
        return Applied::Refused;
    };
    let store = state.store.clone();
    match blocking(move || store.mirror(&snapshot)).await {
        Ok(()) => Applied::Stored,
        // Written by a newer owner's desk: this desk shows that request as it was until it is
        // updated (what is shown, not money: the owner's desk holds the queue).
        Err(CoreError::MirrorFromNewerDesk(_)) => Applied::Refused,
        Err(_) => Applied::Retry,
    }
}
