//! The desks' side: pairing, the event stream of a shop's log, acknowledgements, and the
//! owner's management of the shop's desks. Every call but pairing carries the desk's token as
//! `Authorization: Bearer mdr_...`.
//!
//! Why an event stream (SSE) and not a WebSocket: the relay only ever pushes; the desk's
//! acknowledgements are rare small POSTs. SSE is one long HTTP response, so it passes the shop's
//! HTTPS reverse proxy as it is (no upgrade to configure, only buffering off), its `id` field
//! and `Last-Event-ID` header are the resume protocol itself, and the relay's connection caps
//! treat it as an answer being written.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use relay_protocol::update::SignedUpdate;
use relay_protocol::{Ack, Entry, Hello, Kind, PairingCode, Role, token};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use crate::server::Relay;
use crate::store::{Desk, NewEntry, ShopMerchant, Store, StoreError};
use crate::unix_now;

/// How long a pairing code may wait to be typed in.
pub const PAIRING_VALID_SECS: i64 = 15 * 60;
/// Entries sent per read of the log.
const BATCH: usize = 256;
/// How often a stream looks at the log when nothing woke it (another instance's append whose
/// notification was lost, a revoked token).
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// A comment line this often keeps proxies and NAT from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A new pairing code for a desk of `role` in the shop, valid [`PAIRING_VALID_SECS`], once:
/// the operator's `shops add` and `pair-owner` make the owner's this way. Only the claim's
/// digest is stored (a staff desk's code comes from the owner's desk instead, with a bundle).
pub async fn new_pairing<S: Store>(
    store: &S,
    shop_id: i64,
    role: Role,
    now: i64,
) -> Result<PairingCode, StoreError> {
    let code = PairingCode::generate(role);
    store
        .add_pairing(
            shop_id,
            role,
            &token::digest(code.claim()),
            None,
            now + PAIRING_VALID_SECS,
            now,
        )
        .await?;
    Ok(code)
}

pub(crate) struct ApiError(StatusCode, &'static str, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "code": self.1, "message": self.2 }))).into_response()
    }
}

const UNAVAILABLE: ApiError = ApiError(
    StatusCode::SERVICE_UNAVAILABLE,
    "relay_unavailable",
    "the relay's database failed; try again",
);

/// The desk holding the request's token.
async fn desk<S: Store>(relay: &Relay<S>, headers: &HeaderMap) -> Result<Desk, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let found = match token {
        Some(token) => relay
            .store
            .desk(&token::digest(token.trim()))
            .await
            .map_err(|_| UNAVAILABLE)?,
        None => None,
    };
    found.ok_or_else(|| {
        relay.metrics.unauthorized();
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unpaired",
            "this desk's token is unknown or was revoked: pair the desk again",
        )
    })
}

async fn owner<S: Store>(relay: &Relay<S>, headers: &HeaderMap) -> Result<Desk, ApiError> {
    let desk = desk(relay, headers).await?;
    match desk.role {
        Role::Owner => Ok(desk),
        Role::Staff => Err(ApiError(
            StatusCode::FORBIDDEN,
            "owner_only",
            "only the owner's desk manages the shop's desks",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PairBody {
    /// The pairing code's first half (its second half never leaves the desks).
    claim: String,
    /// How the desk is listed to the owner ("收银台", "后厨").
    name: String,
}

pub(crate) async fn pair<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    Json(body): Json<PairBody>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            "name the desk in 1 to 40 characters",
        ));
    }
    let token = token::new_token();
    let paired = relay
        .store
        .claim_pairing(
            &token::digest(&body.claim.to_ascii_uppercase()),
            name,
            &token::digest(&token),
            unix_now(),
        )
        .await
        .map_err(|_| UNAVAILABLE)?;
    let Some(paired) = paired else {
        relay.metrics.pairing_refused();
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "pairing_unknown",
            "this pairing code is unknown, used or expired: ask the owner's desk for a new one",
        ));
    };
    Ok(Json(json!({
        "desk_id": paired.desk.id,
        "role": paired.desk.role,
        "token": token,
        "shop": { "slug": paired.shop.slug, "name": paired.shop.name },
        "bundle": paired.bundle,
        "replaced": paired.replaced,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PairingBody {
    claim: String,
    role: Role,
    #[serde(default)]
    bundle: Option<String>,
}

/// The owner's desk registers a code it generated (it keeps the second half to itself).
pub(crate) async fn add_pairing<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Json(body): Json<PairingBody>,
) -> Result<Response, ApiError> {
    let owner = owner(&relay, &headers).await?;
    if body.claim.len() != 8 || body.bundle.as_ref().is_some_and(|b| b.len() > 16 * 1024) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_pairing",
            "a pairing claim is 8 characters and its bundle at most 16 KiB",
        ));
    }
    // The desk that types the code reads its role from the code itself.
    if token::role_of_claim(&body.claim) != Some(body.role) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_pairing",
            "a pairing code's first letter says which desk it makes, and this one says another",
        ));
    }
    let now = unix_now();
    let expires_at = now + PAIRING_VALID_SECS;
    relay
        .store
        .add_pairing(
            owner.shop_id,
            body.role,
            &token::digest(&body.claim.to_ascii_uppercase()),
            body.bundle,
            expires_at,
            now,
        )
        .await
        .map_err(|_| UNAVAILABLE)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "expires_at": expires_at })),
    )
        .into_response())
}

/// The owner's desk posts its signed record of a request; it joins the log for the others.
pub(crate) async fn add_update<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Json(update): Json<SignedUpdate>,
) -> Result<Response, ApiError> {
    let owner = owner(&relay, &headers).await?;
    let entry = NewEntry {
        kind: Kind::DeskUpdate,
        body: update.update,
        timestamp: None,
        signature: Some(update.signature),
    };
    let appended = relay
        .store
        .append(owner.shop_id, entry, unix_now())
        .await
        .map_err(|_| UNAVAILABLE)?;
    relay.metrics.appended(Kind::DeskUpdate, appended.new);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MerchantBody {
    appid: String,
    mch_id: String,
}

/// The owner's desk says which merchant the shop is: from now on the doors refuse
/// notifications naming another.
pub(crate) async fn set_merchant<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Json(body): Json<MerchantBody>,
) -> Result<Response, ApiError> {
    let owner = owner(&relay, &headers).await?;
    let merchant = ShopMerchant::new(&body.appid, &body.mch_id).map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_merchant",
            "an appid and a mch_id as WeChat Pay gives them: letters and digits, 32 at most",
        )
    })?;
    relay
        .store
        .set_merchant(owner.shop_id, merchant)
        .await
        .map_err(|_| UNAVAILABLE)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list_desks<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let owner = owner(&relay, &headers).await?;
    let desks = relay
        .store
        .desks(owner.shop_id)
        .await
        .map_err(|_| UNAVAILABLE)?;
    Ok(Json(desks).into_response())
}

pub(crate) async fn revoke_desk<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let owner = owner(&relay, &headers).await?;
    let revoked = relay
        .store
        .revoke(owner.shop_id, id, unix_now())
        .await
        .map_err(|_| UNAVAILABLE)?;
    if !revoked {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no_such_desk",
            "the shop has no desk with this number",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn ack<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Json(ack): Json<Ack>,
) -> Result<Response, ApiError> {
    let desk = desk(&relay, &headers).await?;
    relay
        .store
        .seen(desk.id, Some(ack.through), unix_now())
        .await
        .map_err(|_| UNAVAILABLE)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct After {
    after: Option<i64>,
}

/// The shop's log from after the desk's position (`Last-Event-ID`, else `?after=`, else the
/// start): first a `hello` with the log's bounds, then each entry as an `entry` event whose id
/// is its number, for as long as the desk reads.
pub(crate) async fn events<S: Store>(
    State(relay): State<Arc<Relay<S>>>,
    headers: HeaderMap,
    Query(query): Query<After>,
) -> Result<Response, ApiError> {
    let desk = desk(&relay, &headers).await?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = last_event_id.or(query.after).unwrap_or(0).max(0);
    let hello = relay
        .store
        .bounds(desk.shop_id)
        .await
        .map_err(|_| UNAVAILABLE)?;
    relay
        .store
        .seen(desk.id, None, unix_now())
        .await
        .map_err(|_| UNAVAILABLE)?;
    let changes = relay.store.changes();
    relay.metrics.stream_opened();
    let (seat, ending) = relay.seats.take(desk.id);
    let stream = Stream {
        relay,
        seat,
        ending,
        desk,
        cursor: after,
        pending: VecDeque::new(),
        hello: Some(hello),
        changes,
        checked: tokio::time::Instant::now(),
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<Event, Infallible>(event), stream))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

struct Stream<S: Store> {
    relay: Arc<Relay<S>>,
    /// Its place among the desk's streams, and how it is told to give it up.
    seat: u64,
    ending: Arc<crate::seats::Ending>,
    desk: Desk,
    cursor: i64,
    pending: VecDeque<Entry>,
    hello: Option<Hello>,
    changes: watch::Receiver<u64>,
    /// When the desk's token was last checked.
    checked: tokio::time::Instant,
}

impl<S: Store> Stream<S> {
    /// The next event; `None` ends the stream (the desk reconnects).
    async fn next(&mut self) -> Option<Event> {
        if let Some(hello) = self.hello.take() {
            return Event::default().event("hello").json_data(hello).ok();
        }
        loop {
            // The same desk opened more streams since: this one gives its place up.
            if self.ending.is_ended() {
                return None;
            }
            // A revoked desk's stream ends within LOOK_EVERY, however busy the log is.
            if self.checked.elapsed() >= LOOK_EVERY {
                self.checked = tokio::time::Instant::now();
                let token_still_valid = self
                    .relay
                    .store
                    .desks(self.desk.shop_id)
                    .await
                    .ok()?
                    .iter()
                    .any(|d| d.id == self.desk.id && !d.revoked);
                if !token_still_valid {
                    return None;
                }
            }
            if let Some(entry) = self.pending.pop_front() {
                self.cursor = entry.seq;
                self.relay.metrics.delivered(1);
                return Event::default()
                    .event("entry")
                    .id(entry.seq.to_string())
                    .json_data(&entry)
                    .ok();
            }
            // Marked seen before reading, so an append after the read wakes the wait below.
            self.changes.borrow_and_update();
            let entries = self
                .relay
                .store
                .entries_after(self.desk.shop_id, self.cursor, BATCH)
                .await
                .ok()?;
            if !entries.is_empty() {
                self.pending.extend(entries);
                continue;
            }
            tokio::select! {
                changed = self.changes.changed() => changed.ok()?,
                () = tokio::time::sleep(LOOK_EVERY) => {}
                () = self.ending.wait() => return None,
            }
        }
    }
}

impl<S: Store> Drop for Stream<S> {
    fn drop(&mut self) {
        self.relay.metrics.stream_closed();
        self.relay.seats.leave(self.desk.id, self.seat);
        let (relay, id) = (self.relay.clone(), self.desk.id);
        // Last seen when it went away; a stopping runtime may not run this, which only leaves
        // the time of its connection or last acknowledgement.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = relay.store.seen(id, None, unix_now()).await;
            });
        }
    }
}
