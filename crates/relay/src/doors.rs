//! The inbound doors: the desk's own API under `/shops/{shop}`. Each message is appended to the
//! shop's log and answered only after the commit; a message the relay cannot store is answered
//! so that its sender tries again (WeChat's FAIL, a 503 to the backend).
//!
//! The relay does not hold the merchant's key or the backend's secret: it checks that a
//! notification is XML naming the shop's merchant (once the owner's desk or the operator said
//! which) and a refund request is signed within the clock window, and holds each shop and each
//! source to a rate ([`crate::rates`]). Every desk checks the signatures itself.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use backend_api::{AuthFailure, Refusal, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use relay_protocol::Kind;
use serde_json::json;
use wxpay::NotifyReply;

use crate::metrics::Refused;
use crate::server::Relay;
use crate::store::{NewEntry, Shop, ShopMerchant, Store};
use crate::unix_now;

fn xml(status: StatusCode, reply: NotifyReply) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        reply.to_xml(),
    )
        .into_response()
}

async fn shop_of<S: Store>(relay: &Relay<S>, slug: &str) -> Result<Option<Shop>, ()> {
    relay.store.shop(slug).await.map_err(|_| ())
}

/// Who sent the request, when the server knows (the guarded server says).
pub(crate) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn source(peer: &Peer) -> Option<std::net::IpAddr> {
    peer.as_ref().map(|Extension(ConnectInfo(addr))| addr.ip())
}

pub(crate) async fn payment_notify<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    Path(shop): Path<String>,
    peer: Peer,
    body: Bytes,
) -> Response {
    notification(relay, shop, source(&peer), body, Kind::PaymentNotification).await
}

pub(crate) async fn refund_notify<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    Path(shop): Path<String>,
    peer: Peer,
    body: Bytes,
) -> Response {
    notification(relay, shop, source(&peer), body, Kind::RefundNotification).await
}

/// Whether the notification's fields name `merchant` (any merchant while the shop's is not
/// known).
fn names_shop_merchant(fields: &wxpay::Fields<'_>, merchant: Option<&ShopMerchant>) -> bool {
    merchant.is_none_or(|merchant| {
        fields.get("appid") == Some(merchant.appid.as_str())
            && fields.get("mch_id") == Some(merchant.mch_id.as_str())
    })
}

async fn notification<S: Store>(
    relay: Arc<Relay<S>>,
    slug: String,
    source: Option<std::net::IpAddr>,
    body: Bytes,
    kind: Kind,
) -> Response {
    let shop = match shop_of(&relay, &slug).await {
        Ok(Some(shop)) => shop,
        Ok(None) => {
            relay.metrics.refused(kind, Refused::UnknownShop);
            return xml(
                StatusCode::NOT_FOUND,
                NotifyReply::Fail("商户不存在".into()),
            );
        }
        Err(()) => {
            relay.metrics.refused(kind, Refused::Storage);
            return xml(
                StatusCode::SERVICE_UNAVAILABLE,
                NotifyReply::Fail("暂时无法处理，请重试".into()),
            );
        }
    };
    let too_fast = || {
        relay.metrics.refused(kind, Refused::TooFast);
        xml(
            StatusCode::TOO_MANY_REQUESTS,
            NotifyReply::Fail("请求过于频繁，请稍后重试".into()),
        )
    };
    if relay
        .buckets
        .admit_source(source, std::time::Instant::now())
        .is_err()
    {
        return too_fast();
    }
    // XML in UTF-8 as WeChat sends it; anything else could not verify at any desk.
    let text = match String::from_utf8(body.to_vec()) {
        Ok(text) => text,
        Err(_) => {
            relay.metrics.refused(kind, Refused::Malformed);
            return xml(
                StatusCode::BAD_REQUEST,
                NotifyReply::Fail("报文格式错误".into()),
            );
        }
    };
    let names_merchant = match wxpay::xml::decode(text.as_bytes()) {
        Ok(fields) => names_shop_merchant(&fields, shop.merchant.as_ref()),
        Err(_) => {
            relay.metrics.refused(kind, Refused::Malformed);
            return xml(
                StatusCode::BAD_REQUEST,
                NotifyReply::Fail("报文格式错误".into()),
            );
        }
    };
    // Another merchant's: no desk of this shop could take it, and nobody should pay to keep it.
    if !names_merchant {
        relay.metrics.refused(kind, Refused::OtherMerchant);
        return xml(
            StatusCode::BAD_REQUEST,
            NotifyReply::Fail("商户号不符".into()),
        );
    }
    if relay
        .buckets
        .admit_shop(shop.id, kind, std::time::Instant::now())
        .is_err()
    {
        return too_fast();
    }
    let entry = NewEntry {
        kind,
        body: text,
        timestamp: None,
        signature: None,
    };
    match relay.store.append(shop.id, entry, unix_now()).await {
        Ok(appended) => {
            relay.metrics.appended(kind, appended.new);
            xml(StatusCode::OK, NotifyReply::Success)
        }
        Err(_) => {
            relay.metrics.refused(kind, Refused::Storage);
            xml(
                StatusCode::SERVICE_UNAVAILABLE,
                NotifyReply::Fail("暂时无法处理，请重试".into()),
            )
        }
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// The backend's refund request: answered `202 Accepted` once stored, with `created: false`
/// for the same bytes sent again. The desk checks the HMAC and the order when it reads it.
pub(crate) async fn refund_request<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    Path(slug): Path<String>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const KIND: Kind = Kind::RefundRequest;
    let shop = match shop_of(&relay, &slug).await {
        Ok(Some(shop)) => shop,
        Ok(None) => {
            relay.metrics.refused(KIND, Refused::UnknownShop);
            return refusal(
                StatusCode::NOT_FOUND,
                "unknown_shop",
                "no shop has this address on the relay: check the URL the relay printed",
            );
        }
        Err(()) => {
            relay.metrics.refused(KIND, Refused::Storage);
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "relay_unavailable",
                "the relay could not store the request; try again",
            );
        }
    };
    let now = std::time::Instant::now();
    if relay.buckets.admit_source(source(&peer), now).is_err()
        || relay.buckets.admit_shop(shop.id, KIND, now).is_err()
    {
        relay.metrics.refused(KIND, Refused::TooFast);
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "too_fast",
            "more requests than the relay takes for this shop now; try again in a few seconds",
        );
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
    if let Err(Refusal::Unauthenticated { code, message }) =
        backend_api::check_clock(timestamp, signature, unix_now())
    {
        let why = match code {
            AuthFailure::Stale => Refused::Stale,
            AuthFailure::Unsigned | AuthFailure::BadSignature => Refused::Unsigned,
        };
        relay.metrics.refused(KIND, why);
        return refusal(StatusCode::UNAUTHORIZED, code.as_str(), message);
    }
    let text = match String::from_utf8(body.to_vec()) {
        Ok(text)
            if serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|value| value.is_object()) =>
        {
            text
        }
        _ => {
            relay.metrics.refused(KIND, Refused::Malformed);
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body must be a JSON object in UTF-8",
            );
        }
    };
    let entry = NewEntry {
        kind: KIND,
        body: text,
        timestamp: timestamp.map(str::to_owned),
        signature: signature.map(str::to_owned),
    };
    match relay.store.append(shop.id, entry, unix_now()).await {
        Ok(appended) => {
            relay.metrics.appended(KIND, appended.new);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "state": "queued", "created": appended.new })),
            )
                .into_response()
        }
        Err(_) => {
            relay.metrics.refused(KIND, Refused::Storage);
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "relay_unavailable",
                "the relay could not store the request; try again",
            )
        }
    }
}
