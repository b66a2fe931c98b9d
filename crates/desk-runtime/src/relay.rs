//! The desk's link to the shop's relay: pairing once, then reading the shop's log from the
//! stored position and taking each entry as the intake would, for as long as the desk runs.
//!
//! A desk with a relay listens on no port at all: WeChat and the backend post to the relay, and
//! the desk connects out to it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use desk_core::Store;
use desk_core::intake::{Applied, IntakeState, Taker, take_entry};
use relay_client::{Received, RelayClient, RelayError};
use relay_protocol::{Kind, PairingCode, Role, bundle, paths};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use wxpay::SignType;
use wxpay_client::Transport;

use crate::config::{Config, Mode};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::merchant::WechatServer;
use crate::secrets::{SecretBackend, SecretKind, Secrets};

/// `[relay]` in config.toml: which relay, as which desk of which shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// `https://relay.example.com`
    pub url: String,
    /// The shop's part of the relay's inbound URLs.
    pub shop: String,
    pub desk_id: i64,
    pub role: Role,
    /// This desk's token at the relay.
    pub token: RelaySecret,
    /// Signs the owner's queue updates; every desk of the shop has it.
    pub shop_key: RelaySecret,
    /// A staff desk's merchant: enough to verify WeChat's notifications (with the API key in
    /// the keyring), no certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffMerchant>,
    /// One more trusted root CA, for a relay with a certificate of the shop's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// What a staff desk knows of the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffMerchant {
    pub appid: String,
    pub mch_id: String,
    #[serde(default)]
    pub sign_type: SignType,
    /// Where the API key was saved.
    pub secrets: SecretBackend,
    /// A test server (developer switch only), as for the owner's merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_ca: Option<PathBuf>,
}

/// A token or key for the relay; never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelaySecret(String);

impl RelaySecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RelaySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelaySecret(..)")
    }
}

impl RelayConfig {
    /// What the desk's read position is kept under.
    pub fn source(&self) -> String {
        format!("{} {}", self.url, self.shop)
    }

    /// The shop's inbound address on the relay: `{url}/shops/{shop}`.
    pub fn shop_url(&self) -> String {
        format!(
            "{}{}",
            self.url,
            paths::for_shop("/shops/{shop}", &self.shop)
        )
    }

    pub fn client(&self) -> Result<RelayClient, RuntimeError> {
        let ca = match &self.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|source| {
                RuntimeError::InvalidSetting(format!(
                    "the relay's CA file {} cannot be read: {source}",
                    path.display()
                ))
            })?),
            None => None,
        };
        Ok(RelayClient::new(&self.url, ca.as_deref())?.with_token(self.token.expose()))
    }
}

/// Why a pairing was refused. Nothing was saved.
#[derive(Debug, thiserror::Error)]
pub enum PairingRefusal {
    #[error(transparent)]
    BadCode(#[from] relay_protocol::BadCode),
    /// A staff code typed on a desk set up with the merchant's own certificate and key: the
    /// staff desk's merchant would replace them (and a relay that made the owner's code could
    /// use exactly this to take the desk over).
    #[error(
        "this desk is set up with merchant {mch_id}'s own key and certificate, and the code typed is a staff desk's: pairing would replace them, so nothing was changed. Pair a staff desk on another computer, or in a data folder of its own (--data-dir); the owner's desk needs a code that starts with 0-9 or A-F"
    )]
    StaffCodeOnMerchantDesk { mch_id: String },
    /// The relay answered another role than the code the person typed says.
    #[error(
        "the code typed makes {} desk, but the relay answered that it made {} desk: nothing was saved. The relay is misconfigured or not the shop's own: ask whoever runs it, and do not use it meanwhile",
        role_words(*typed),
        role_words(*answered)
    )]
    RelayContradictsCode { typed: Role, answered: Role },
    #[error(
        "a staff desk pairs with a code from the owner's desk (`relay invite`), not from the relay's operator"
    )]
    NoBundle,
    #[error(transparent)]
    Bundle(#[from] bundle::OpenError),
    #[error("the owner's desk sent a merchant this desk cannot read ({0}): update this desk")]
    UnreadableMerchant(String),
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "the owner's",
        Role::Staff => "a staff",
    }
}

/// Pairs this desk with the relay at `url` using the code its owner (or the relay's operator)
/// gave, and saves the link in the desk's configuration. The desk uses the relay from its next
/// start.
///
/// The role is the code's, as the person typed it (its first letter), never the relay's word:
/// an answer that says otherwise is refused. A staff code is refused on a desk that has the
/// merchant's own setup, so a pairing never replaces a merchant's key. A staff desk receives
/// the merchant's ids and API key (sealed by the owner's desk) and keeps the owner's queue in
/// books of its own (`mirrors/`), which no refund engine runs on. The owner's desk pairing
/// again with the same shop keeps its shop key, so the staff desks still read its updates.
pub async fn pair(
    dir: &DataDir,
    url: &str,
    code: &str,
    name: &str,
    ca_file: Option<PathBuf>,
    wechat: WechatServer,
) -> Result<RelayConfig, RuntimeError> {
    let code = PairingCode::parse(code).map_err(PairingRefusal::from)?;
    let typed = code.role();
    dir.create()?;
    let config_path = dir.config();
    let mut config = Config::load_or_create(&config_path)?;
    if let (Role::Staff, Some(merchant)) = (typed, &config.merchant) {
        return Err(PairingRefusal::StaffCodeOnMerchantDesk {
            mch_id: merchant.mch_id.clone(),
        }
        .into());
    }
    let mut relay = RelayConfig {
        url: url.trim().trim_end_matches('/').to_owned(),
        shop: String::new(),
        desk_id: 0,
        role: typed,
        token: RelaySecret(String::new()),
        shop_key: RelaySecret(bundle::new_shop_key()),
        staff: None,
        ca_file,
    };
    let paired = relay.client()?.pair(&code, name).await?;
    if paired.role != typed {
        return Err(PairingRefusal::RelayContradictsCode {
            typed,
            answered: paired.role,
        }
        .into());
    }
    relay.shop = paired.shop.slug;
    relay.desk_id = paired.desk_id;
    relay.token = RelaySecret(paired.token);
    match (typed, paired.bundle) {
        // The owner's desk keeps its merchant; the shop key is its own: the one it had for
        // this shop, else a new one.
        (Role::Owner, _) => {
            if let Some(before) = config.relay.as_ref().filter(|before| {
                before.role == Role::Owner && before.url == relay.url && before.shop == relay.shop
            }) {
                relay.shop_key = before.shop_key.clone();
            }
        }
        (Role::Staff, Some(sealed)) => {
            let bundle = bundle::open(&sealed, &code).map_err(PairingRefusal::from)?;
            let sign_type = bundle
                .sign_type
                .parse()
                .map_err(|_| PairingRefusal::UnreadableMerchant(bundle.sign_type.clone()))?;
            let (secrets, _) = Secrets::best_available(&dir.secrets_fallback());
            secrets.set(&bundle.mch_id, SecretKind::ApiKey, &bundle.api_key)?;
            relay.shop_key = RelaySecret(bundle.shop_key);
            relay.staff = Some(StaffMerchant {
                appid: bundle.appid,
                mch_id: bundle.mch_id,
                sign_type,
                secrets: secrets.backend(),
                api_base: wechat.api_base,
                extra_ca: wechat.extra_ca,
            });
            config.mode = Mode::Production;
        }
        (Role::Staff, None) => return Err(PairingRefusal::NoBundle.into()),
    }
    config.relay = Some(relay.clone());
    config.save(&config_path)?;
    Ok(relay)
}

/// On the owner's desk: a pairing code for a staff desk, valid 15 minutes, with the merchant's
/// ids, API key and the shop key sealed inside for that desk alone.
pub async fn invite(dir: &DataDir) -> Result<(PairingCode, i64), RuntimeError> {
    let config =
        Config::load(&dir.config())?.ok_or_else(|| RuntimeError::NoMerchant(dir.config()))?;
    let (Some(relay), Some(merchant)) = (&config.relay, &config.merchant) else {
        return Err(RuntimeError::InvalidSetting(
            "only the owner's desk, paired with the relay and set up with the merchant, invites other desks".into(),
        ));
    };
    if relay.role != Role::Owner {
        return Err(RuntimeError::InvalidSetting(
            "a staff desk cannot invite other desks: use the owner's desk".into(),
        ));
    }
    let secrets = Secrets::open(merchant.secrets, &dir.secrets_fallback(), &merchant.mch_id)?;
    let api_key = secrets
        .api_key(&merchant.mch_id)?
        .ok_or_else(|| RuntimeError::NoApiKey(merchant.mch_id.clone()))?;
    let code = PairingCode::generate(Role::Staff);
    let sealed = bundle::seal(
        &bundle::Bundle {
            appid: merchant.appid.clone(),
            mch_id: merchant.mch_id.clone(),
            sign_type: merchant.sign_type.to_string(),
            api_key: api_key.expose().to_owned(),
            shop_key: relay.shop_key.0.clone(),
        },
        &code,
    );
    let expires_at = relay
        .client()?
        .add_pairing(&code, Role::Staff, Some(&sealed))
        .await?;
    Ok((code, expires_at))
}

/// Why the link is down; the window says it in its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LinkProblem {
    /// The relay or the network between: tried again, sooner, then every 30 s.
    Unreachable,
    /// The relay does not know this desk's token (revoked): pair again.
    Unpaired,
    /// The relay refused this desk's request.
    Refused,
    /// The relay answered something this desk does not read (another version?).
    Unreadable,
    /// An entry cannot be taken yet (WeChat unreachable for an unknown order, the desk's key in
    /// doubt, the owner's desk newer): tried again, nothing after it first.
    EntryWaiting,
    /// The desk's own database failed.
    Storage,
    /// The relay ended the stream (it is stopping): reconnected.
    Ended,
}

impl LinkProblem {
    fn of(error: &RelayError) -> LinkProblem {
        match error {
            RelayError::Unreachable(_) => LinkProblem::Unreachable,
            RelayError::Unpaired => LinkProblem::Unpaired,
            RelayError::Refused { .. } => LinkProblem::Refused,
            RelayError::Protocol(_) => LinkProblem::Unreadable,
            RelayError::Address(_) | RelayError::Setup(_) => LinkProblem::Refused,
        }
    }
}

/// How the link stands, for the window, `serve` and the doctor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkStatus {
    pub connected: bool,
    /// The last entry taken.
    pub position: i64,
    /// Why it is not connected (the last failure).
    pub problem: Option<LinkProblem>,
    /// Entries removed by the relay's retention before this desk read them (`from..=to`):
    /// reconcile those days with WeChat's bill.
    pub missed: Option<(i64, i64)>,
}

/// Reconnects after this long at first, doubling to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MOST_BACKOFF: Duration = Duration::from_secs(30);
/// Events read ahead of the entries being taken, at most.
const READ_AHEAD: usize = 4096;
/// Payments taken together at most (the payment writer's own batch).
const MAX_BATCH: usize = 512;
/// Acknowledgements go at most this often (the position is stored at once; the relay only
/// needs it for retention and the owner's list).
const ACK_EVERY: Duration = Duration::from_millis(500);

/// Everything the link task needs.
pub(crate) struct Link<T> {
    pub client: RelayClient,
    pub source: String,
    pub role: Role,
    pub shop_key: RelaySecret,
    pub intake: Arc<IntakeState<T>>,
    pub store: Arc<Store>,
    pub notices: broadcast::Sender<String>,
    pub status: watch::Sender<LinkStatus>,
}

impl<T: Transport + 'static> Link<T> {
    /// Runs until `stopped` says so.
    pub(crate) async fn run(self, mut stopped: watch::Receiver<bool>) {
        let (acked, to_ack) = watch::channel(0i64);
        let acks = tokio::spawn(ack_loop(self.client.clone(), to_ack, stopped.clone()));
        let mut backoff = FIRST_BACKOFF;
        while !*stopped.borrow() {
            let problem = tokio::select! {
                problem = self.read_stream(&acked, &mut backoff) => problem,
                _ = stopped.wait_for(|stop| *stop) => break,
            };
            self.status.send_modify(|s| {
                s.connected = false;
                s.problem = Some(problem);
            });
            let wait = jittered(backoff);
            backoff = (backoff * 2).min(MOST_BACKOFF);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        acks.abort();
    }

    /// One connection: reads until it breaks or an entry must wait; says why it ended.
    async fn read_stream(&self, acked: &watch::Sender<i64>, backoff: &mut Duration) -> LinkProblem {
        let position = match self.position().await {
            Ok(position) => position,
            Err(problem) => return problem,
        };
        let stream = match self.client.events(position).await {
            Ok(stream) => stream,
            Err(error) => return self.failure(&error),
        };
        let mut position = position;
        self.status.send_modify(|s| {
            s.connected = true;
            s.problem = None;
            s.position = position;
        });
        // The stream is read ahead by a task of its own, so what arrives while entries are being
        // taken waits here to be taken together (the relay keeps it all; this only buffers).
        let (read, mut received) = tokio::sync::mpsc::channel(READ_AHEAD);
        let _reader = AbortOnDrop(tokio::spawn(read_ahead(stream, read)));
        // An entry read ahead while gathering a run of payments, taken next.
        let mut held: Option<Received> = None;
        loop {
            let received_now = match held.take() {
                Some(received) => received,
                None => match received.recv().await {
                    Some(Ok(received)) => received,
                    None => return LinkProblem::Ended,
                    Some(Err(error)) => return self.failure(&error),
                },
            };
            let first = match received_now {
                Received::Hello(hello) => {
                    if hello.first_seq > position + 1 {
                        let missed = (position + 1, hello.first_seq - 1);
                        self.status.send_modify(|s| s.missed = Some(missed));
                        let _ = self.notices.send(format!(
                            "the relay no longer has entries {}..{}: reconcile those days with WeChat's bill",
                            missed.0, missed.1
                        ));
                        // Nothing can bring them back; read on from what is there.
                        position = missed.1;
                    }
                    continue;
                }
                Received::Entry(entry) if entry.seq <= position => continue,
                Received::Entry(entry) => entry,
            };
            // A flash sale: the payments already received are taken together (the payment
            // writer commits them in one transaction) and the position stored once after them.
            // Anything else is taken alone, in order.
            let mut batch = vec![first];
            if batch[0].kind == Kind::PaymentNotification {
                while batch.len() < MAX_BATCH {
                    match received.try_recv() {
                        Ok(Ok(Received::Entry(entry)))
                            if entry.kind == Kind::PaymentNotification =>
                        {
                            batch.push(entry);
                        }
                        Ok(Ok(other)) => {
                            held = Some(other);
                            break;
                        }
                        Ok(Err(error)) => return self.failure(&error),
                        // Nothing more now; an ended stream is seen at the next read.
                        Err(_) => break,
                    }
                }
            }
            let taker = match self.role {
                Role::Owner => Taker::Owner,
                Role::Staff => Taker::Staff {
                    shop_key: self.shop_key.expose(),
                },
            };
            let taken = futures_util::future::join_all(
                batch
                    .iter()
                    .map(|entry| take_entry(&self.intake, entry, taker)),
            )
            .await;
            // Each entry before one that must wait was taken; that one and those after are
            // taken again from the position (taking one twice stores it once).
            let done = taken
                .iter()
                .take_while(|applied| **applied != Applied::Retry)
                .count();
            if let Some(last) = done.checked_sub(1).map(|i| batch[i].seq) {
                let (store, source) = (self.store.clone(), self.source.clone());
                let stored = tokio::task::spawn_blocking(move || {
                    store.set_relay_position(&source, last, desk_core::unix_now())
                })
                .await;
                if !matches!(stored, Ok(Ok(()))) {
                    return LinkProblem::Storage;
                }
                position = last;
                *backoff = FIRST_BACKOFF;
                self.status.send_modify(|s| s.position = position);
                acked.send_replace(position);
            }
            if done < batch.len() {
                return LinkProblem::EntryWaiting;
            }
        }
    }

    async fn position(&self) -> Result<i64, LinkProblem> {
        let (store, source) = (self.store.clone(), self.source.clone());
        match tokio::task::spawn_blocking(move || store.relay_position(&source)).await {
            Ok(Ok(position)) => Ok(position),
            _ => Err(LinkProblem::Storage),
        }
    }

    fn failure(&self, error: &RelayError) -> LinkProblem {
        if !error.is_transient() {
            let _ = self.notices.send(format!("the relay link: {error}"));
        }
        LinkProblem::of(error)
    }
}

/// Reads the stream into `read` until it ends, fails or nobody takes what was read.
async fn read_ahead(
    mut stream: relay_client::EventStream,
    read: tokio::sync::mpsc::Sender<Result<Received, RelayError>>,
) {
    loop {
        let next = match stream.next().await {
            Ok(Some(received)) => Ok(received),
            Ok(None) => return,
            Err(error) => Err(error),
        };
        let failed = next.is_err();
        if read.send(next).await.is_err() || failed {
            return;
        }
    }
}

/// A task stopped when its handle is dropped (the connection it reads goes with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tells the relay the newest position, at most every [`ACK_EVERY`].
async fn ack_loop(
    client: RelayClient,
    mut position: watch::Receiver<i64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut sent = 0;
    loop {
        tokio::select! {
            changed = position.changed() => if changed.is_err() { return },
            _ = stopped.wait_for(|stop| *stop) => {}
        }
        let through = *position.borrow_and_update();
        if through > sent && client.ack(through).await.is_ok() {
            sent = through;
        }
        if *stopped.borrow() {
            return;
        }
        tokio::time::sleep(ACK_EVERY).await;
    }
}

/// `wait` give or take a quarter, so desks cut off together do not return together.
fn jittered(wait: Duration) -> Duration {
    use rand::RngExt as _;
    wait.mul_f64(rand::rng().random_range(0.75..1.25))
}

/// How often the owner's desk looks for changed requests when nothing woke it.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// On the owner's desk: sends each changed request's record to the relay for the staff desks,
/// from the store's outbox (so a change made while the relay was away is sent when it is back).
pub(crate) async fn publish(
    client: RelayClient,
    shop_key: RelaySecret,
    store: Arc<Store>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut changes = store.subscribe();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let due = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.relay_outbox(64))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        };
        let mut failed = false;
        for (request, version) in due {
            let snapshot = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.queue_snapshot(request)).await
            };
            let Ok(Ok(snapshot)) = snapshot else {
                failed = true;
                break;
            };
            if let Some(snapshot) = snapshot {
                let update = serde_json::to_string(&snapshot)
                    .unwrap_or_else(|_| unreachable!("rows of plain values"));
                let signed = relay_protocol::update::SignedUpdate {
                    signature: relay_protocol::update::sign(shop_key.expose(), &update),
                    update,
                };
                if client.update(&signed).await.is_err() {
                    failed = true;
                    break;
                }
            }
            let store = store.clone();
            let _ = tokio::task::spawn_blocking(move || store.relay_sent(request, version)).await;
        }
        if failed {
            // The relay is away: try again later, however much changes meanwhile.
            backoff = (backoff * 2).min(MOST_BACKOFF);
            tokio::select! {
                () = tokio::time::sleep(jittered(backoff)) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            continue;
        }
        backoff = FIRST_BACKOFF;
        let closed = tokio::select! {
            changed = changes.recv() => {
                matches!(changed, Err(tokio::sync::broadcast::error::RecvError::Closed))
            }
            () = tokio::time::sleep(PUBLISH_EVERY) => false,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        if closed {
            tokio::time::sleep(PUBLISH_EVERY).await;
        }
    }
}

/// A staff desk's WeChat Pay client: the merchant's ids and key, no certificate (WeChat's
/// refund API refuses it; the desk only verifies notifications and asks about its key).
pub(crate) fn staff_client(
    staff: &StaffMerchant,
    fallback: &std::path::Path,
    now: std::time::SystemTime,
) -> Result<crate::merchant::Client, RuntimeError> {
    let secrets = Secrets::open(staff.secrets, fallback, &staff.mch_id)?;
    let api_key = secrets
        .api_key(&staff.mch_id)?
        .ok_or_else(|| RuntimeError::NoApiKey(staff.mch_id.clone()))?;
    let merchant = wxpay::Merchant {
        appid: wxpay::AppId::new(staff.appid.as_str())
            .map_err(|e| RuntimeError::InvalidSetting(format!("appid: {e}")))?,
        mch_id: wxpay::MchId::new(staff.mch_id.as_str())
            .map_err(|e| RuntimeError::InvalidSetting(format!("mch_id: {e}")))?,
        api_key,
        sign_type: staff.sign_type,
    };
    let server = WechatServer {
        api_base: staff.api_base.clone(),
        extra_ca: staff.extra_ca.clone(),
    };
    crate::merchant::build_client(merchant, None, &server, now)
}
