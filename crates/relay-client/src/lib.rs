//! A desk's side of the relay: pair once for a token, then read the shop's log as an event
//! stream from the desk's own position and acknowledge what was stored.
//!
//! TLS is verified always (public roots, plus one CA given for a relay with its own); plain
//! `http://` is allowed only to this computer (a relay beside the desk, the tests).
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt as _;
use relay_protocol::sse::{self, Parser};
use relay_protocol::{Ack, DeskInfo, Entry, Hello, PairingCode, Role, paths};
use serde::Deserialize;

/// A stream sends a keep-alive every 15 s: this long without a byte means the connection is
/// dead (a NAT forgot it, the relay's machine went away) and the desk reconnects.
const READ_TIMEOUT: Duration = Duration::from_secs(45);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls other than the stream.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the relay's address is not usable: {0}")]
    Address(String),
    #[error("the relay's TLS trust could not be set up: {0}")]
    Setup(String),
    /// Not reached, or the connection broke: try again later.
    #[error("the relay could not be reached: {0}")]
    Unreachable(String),
    /// The token is unknown or revoked: the desk must pair again.
    #[error("the relay does not know this desk (revoked or never paired): pair it again")]
    Unpaired,
    /// The relay refused, saying why (`code` is stable, `message` says what to do).
    #[error("the relay refused ({status}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The relay answered something this desk cannot read.
    #[error("the relay's answer was not understood: {0}")]
    Protocol(String),
}

impl RelayError {
    /// Worth trying again later (the relay or the network), not the desk's setup.
    pub fn is_transient(&self) -> bool {
        match self {
            RelayError::Unreachable(_) | RelayError::Protocol(_) => true,
            RelayError::Refused { status, .. } => *status >= 500,
            RelayError::Address(_) | RelayError::Setup(_) | RelayError::Unpaired => false,
        }
    }
}

/// What pairing gave the desk.
#[derive(Clone, Deserialize)]
pub struct Pairing {
    pub desk_id: i64,
    pub role: Role,
    pub token: String,
    pub shop: ShopRef,
    /// What the owner's desk left, sealed with the code's secret half.
    pub bundle: Option<String>,
    /// The owner's desks this one replaced (revoked as it paired).
    #[serde(default)]
    pub replaced: Vec<i64>,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("desk_id", &self.desk_id)
            .field("role", &self.role)
            .field("shop", &self.shop)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopRef {
    pub slug: String,
    pub name: String,
}

/// One thing read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Hello(Hello),
    Entry(Entry),
}

/// A client for one relay, as one desk (once paired).
#[derive(Clone)]
pub struct RelayClient {
    base: String,
    calls: reqwest::Client,
    streams: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Whether `base` is `http://` to this computer.
fn loopback_http(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

impl RelayClient {
    /// A client for the relay at `base` (`https://relay.example.com`), trusting the public roots
    /// and `extra_ca_pem` when given.
    pub fn new(base: &str, extra_ca_pem: Option<&[u8]>) -> Result<RelayClient, RelayError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        let plain = loopback_http(&base);
        if !plain && !base.starts_with("https://") {
            return Err(RelayError::Address(format!(
                "{base:?}: use https:// (plain http:// only to this computer)"
            )));
        }
        let builder = || {
            wxpay_client::verified_client_builder(extra_ca_pem)
                .map(|b| b.https_only(!plain).connect_timeout(CONNECT_TIMEOUT))
                .map_err(|e| RelayError::Setup(e.to_string()))
        };
        let calls = builder()?
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| RelayError::Setup(e.to_string()))?;
        let streams = builder()?
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| RelayError::Setup(e.to_string()))?;
        Ok(RelayClient {
            base,
            calls,
            streams,
            token: None,
        })
    }

    /// The same client, as the desk holding `token`.
    pub fn with_token(mut self, token: &str) -> RelayClient {
        self.token = Some(token.to_owned());
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Exchanges a pairing code (only its claim half is sent) for this desk's own token.
    pub async fn pair(&self, code: &PairingCode, name: &str) -> Result<Pairing, RelayError> {
        let request = self
            .calls
            .post(self.url(paths::PAIR))
            .json(&serde_json::json!({ "claim": code.claim(), "name": name }));
        json(send(request).await?).await
    }

    /// Registers a code this (owner's) desk generated, with what the new desk receives sealed.
    pub async fn add_pairing(
        &self,
        code: &PairingCode,
        role: Role,
        bundle: Option<&str>,
    ) -> Result<i64, RelayError> {
        #[derive(Deserialize)]
        struct Created {
            expires_at: i64,
        }
        let request =
            self.authorized(self.calls.post(self.url(paths::PAIRINGS)).json(
                &serde_json::json!({ "claim": code.claim(), "role": role, "bundle": bundle }),
            ));
        let created: Created = json(send(request).await?).await?;
        Ok(created.expires_at)
    }

    /// Posts the owner's signed record of a request for the other desks.
    pub async fn update(
        &self,
        update: &relay_protocol::update::SignedUpdate,
    ) -> Result<(), RelayError> {
        let request = self.authorized(self.calls.post(self.url(paths::UPDATES)).json(update));
        send(request).await.map(drop)
    }

    /// Tells the relay which merchant the shop is (the owner's desk): notifications naming
    /// another are refused at its doors.
    pub async fn set_merchant(&self, appid: &str, mch_id: &str) -> Result<(), RelayError> {
        let request = self.authorized(
            self.calls
                .put(self.url(paths::MERCHANT))
                .json(&serde_json::json!({ "appid": appid, "mch_id": mch_id })),
        );
        send(request).await.map(drop)
    }

    pub async fn desks(&self) -> Result<Vec<DeskInfo>, RelayError> {
        let request = self.authorized(self.calls.get(self.url(paths::DESKS)));
        json(send(request).await?).await
    }

    pub async fn revoke(&self, desk_id: i64) -> Result<(), RelayError> {
        let request = self.authorized(
            self.calls
                .delete(self.url(&format!("{}/{desk_id}", paths::DESKS))),
        );
        send(request).await.map(drop)
    }

    /// Says every entry through `through` is stored.
    pub async fn ack(&self, through: i64) -> Result<(), RelayError> {
        let request = self.authorized(self.calls.post(self.url(paths::ACK)).json(&Ack { through }));
        send(request).await.map(drop)
    }

    /// Opens the stream of the shop's log after entry `after`.
    pub async fn events(&self, after: i64) -> Result<EventStream, RelayError> {
        let request = self.authorized(
            self.streams
                .get(self.url(paths::EVENTS))
                .header("Last-Event-ID", after.to_string())
                .header(reqwest::header::ACCEPT, "text/event-stream"),
        );
        let response = send(request).await?;
        Ok(EventStream {
            body: Box::pin(response.bytes_stream()),
            parser: Parser::default(),
            ready: VecDeque::new(),
        })
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, RelayError> {
    let response = request
        .send()
        .await
        .map_err(|e| RelayError::Unreachable(wxpay_client::describe_failure(e).to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    #[derive(Deserialize)]
    struct Problem {
        code: String,
        message: String,
    }
    let problem = response.json::<Problem>().await.ok();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(RelayError::Unpaired);
    }
    Err(match problem {
        Some(problem) => RelayError::Refused {
            status: status.as_u16(),
            code: problem.code,
            message: problem.message,
        },
        None => RelayError::Refused {
            status: status.as_u16(),
            code: "unexpected".into(),
            message: format!("the relay answered {status}: is this the relay's address?"),
        },
    })
}

async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, RelayError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| RelayError::Protocol(e.to_string()))
}

type Body = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>,
>;

/// An open event stream.
pub struct EventStream {
    body: Body,
    parser: Parser,
    ready: VecDeque<sse::Event>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next hello or entry already received, without waiting for more.
    pub fn received(&mut self) -> Result<Option<Received>, RelayError> {
        while let Some(event) = self.ready.pop_front() {
            match event.event.as_str() {
                "hello" => {
                    return serde_json::from_str(&event.data)
                        .map(|hello| Some(Received::Hello(hello)))
                        .map_err(|e| RelayError::Protocol(e.to_string()));
                }
                "entry" => {
                    return serde_json::from_str(&event.data)
                        .map(|entry| Some(Received::Entry(entry)))
                        .map_err(|e| RelayError::Protocol(e.to_string()));
                }
                // Events a newer relay may add: skipped.
                _ => {}
            }
        }
        Ok(None)
    }

    /// The next hello or entry; `Ok(None)` when the relay ended the stream.
    pub async fn next(&mut self) -> Result<Option<Received>, RelayError> {
        loop {
            if let Some(received) = self.received()? {
                return Ok(Some(received));
            }
            let Some(chunk) = self.body.next().await else {
                return Ok(None);
            };
            let chunk = chunk.map_err(|e| RelayError::Unreachable(e.to_string()))?;
            let events = self
                .parser
                .feed(&chunk)
                .map_err(|e| RelayError::Protocol(e.to_string()))?;
            self.ready.extend(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_computer() {
        assert!(loopback_http("http://127.0.0.1:8730"));
        assert!(loopback_http("http://localhost/x"));
        assert!(loopback_http("http://[::1]:80"));
        assert!(loopback_http("http://[::1]"));
        assert!(!loopback_http("http://relay.example.com"));
        assert!(!loopback_http("http://127.0.0.1.example.com"));
        assert!(!loopback_http("https://127.0.0.1"));
        assert!(RelayClient::new("http://relay.example.com", None).is_err());
        assert!(RelayClient::new("https://relay.example.com/", None).is_ok());
    }
}
