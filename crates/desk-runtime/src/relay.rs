//! The desk's link to the shop's relay: pairing once, then reading the shop's log from the
//! stored position and taking each entry as the intake would, for as long as the desk runs.
//!
//! A desk with a relay listens on no port at all: WeChat and the backend post to the relay, and
//! the desk connects out to it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use desk_core::intake::{Applied, IntakeState, Taker, take_entry};
use desk_core::{RelayPosition, Store};
use relay_client::{Received, RelayClient, RelayError};
use relay_protocol::{Entry, Kind, PairingCode, Role, bundle, paths};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use wxpay::SignType;
use wxpay_client::Transport;

use crate::config::{Config, Mode};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::merchant::WechatServer;
use crate::pairing::PairingRefusal;
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
        // Handed over by the owner's desk before it: its shop key, so the staff desks follow
        // this one. The merchant must be the one this desk is set up with, if it is already.
        (Role::Owner, Some(sealed)) => {
            let bundle = bundle::open(&sealed, &code).map_err(PairingRefusal::from)?;
            if let Some(merchant) = config
                .merchant
                .as_ref()
                .filter(|merchant| merchant.mch_id != bundle.mch_id)
            {
                return Err(PairingRefusal::OtherMerchant {
                    here: merchant.mch_id.clone(),
                    handed: bundle.mch_id,
                }
                .into());
            }
            relay.shop_key = RelaySecret(bundle.shop_key);
        }
        // The owner's desk keeps its merchant; the shop key is its own: the one it had for
        // this shop, else a new one.
        (Role::Owner, None) => {
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
///
/// `Role::Owner` hands the owner's desk over to another PC while this one still works: the new
/// desk keeps the shop key (the staff desks go on following it) and this one is revoked when the
/// code is used.
pub async fn invite(dir: &DataDir, role: Role) -> Result<(PairingCode, i64), RuntimeError> {
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
    let code = PairingCode::generate(role);
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
        .add_pairing(&code, role, Some(&sealed))
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
    /// The desk could not store an entry: tried again, nothing after it first.
    EntryWaiting,
    /// The relay's log went back (its database restored, or a fail-over): the desk reads again
    /// what the relay holds; nothing is stored twice.
    LogWentBack,
    /// The relay skipped entries of the log: the desk reconnects and reads them.
    LogSkipped,
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
    /// Entries put aside until an outside answer comes (WeChat unreachable, the key in doubt).
    pub parked: i64,
    /// On a staff desk: owner's updates signed with a key it does not have (pair it again).
    pub foreign_updates: i64,
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
        let link = Arc::new(self);
        let parked = tokio::spawn(link.clone().parked_loop(stopped.clone()));
        let mut backoff = FIRST_BACKOFF;
        while !*stopped.borrow() {
            let problem = tokio::select! {
                problem = link.read_stream(&acked, &mut backoff) => problem,
                _ = stopped.wait_for(|stop| *stop) => break,
            };
            link.status.send_modify(|s| {
                s.connected = false;
                s.problem = Some(problem);
            });
            let wait = match problem {
                // Read again at once: what the relay holds now is what counts.
                LinkProblem::LogWentBack | LinkProblem::LogSkipped => FIRST_BACKOFF,
                _ => jittered(backoff),
            };
            backoff = (backoff * 2).min(MOST_BACKOFF);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        acks.abort();
        parked.abort();
    }

    /// One connection: reads until it breaks or an entry cannot be stored; says why it ended.
    async fn read_stream(&self, acked: &watch::Sender<i64>, backoff: &mut Duration) -> LinkProblem {
        let stored = match self.position().await {
            Ok(position) => position,
            Err(problem) => return problem,
        };
        // The relay sends the last entry taken again, to be compared: a different one there
        // means the log went back under this desk.
        let check = stored
            .digest
            .clone()
            .filter(|_| stored.seq > 0)
            .map(|digest| (stored.seq, digest));
        let after = match &check {
            Some((seq, _)) => seq - 1,
            None => stored.seq,
        };
        let stream = match self.client.events(after).await {
            Ok(stream) => stream,
            Err(error) => return self.failure(&error),
        };
        let mut position = stored.seq;
        let mut check = check;
        let mut first_seq = 1;
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
                    first_seq = hello.first_seq;
                    if hello.last_seq < position {
                        return self.went_back(first_seq, position).await;
                    }
                    // Retention removed the entry taken last: nothing to compare it with.
                    if check
                        .as_ref()
                        .is_some_and(|(seq, _)| hello.first_seq > *seq)
                    {
                        check = None;
                    }
                    if hello.first_seq > position + 1 {
                        let missed = (position + 1, hello.first_seq - 1);
                        self.status.send_modify(|s| s.missed = Some(missed));
                        let _ = self.notices.send(format!(
                            "the relay no longer has entries {}..{}: reconcile those days with WeChat's bill",
                            missed.0, missed.1
                        ));
                        // Nothing can bring them back; read on from what is there.
                        position = missed.1;
                        check = None;
                    }
                    continue;
                }
                Received::Entry(entry) => match check.take() {
                    // The entry taken last, sent again: the same one, or the log went back.
                    Some((seq, digest)) if entry.seq == seq => {
                        if entry.digest() != digest {
                            return self.went_back(first_seq, position).await;
                        }
                        continue;
                    }
                    Some(_) => return self.went_back(first_seq, position).await,
                    None if entry.seq <= position => continue,
                    None if entry.seq > position + 1 => {
                        let _ = self.notices.send(format!(
                            "the relay skipped entries {}..{} of the shop's log: reading again",
                            position + 1,
                            entry.seq - 1
                        ));
                        return LinkProblem::LogSkipped;
                    }
                    None => entry,
                },
            };
            // A flash sale: the payments already received are taken together (the payment
            // writer commits them in one transaction) and the position stored once after them.
            // Anything else is taken alone, in order.
            let mut batch = vec![first];
            if batch[0].kind == Kind::PaymentNotification {
                while batch.len() < MAX_BATCH {
                    match received.try_recv() {
                        Ok(Ok(Received::Entry(entry)))
                            if entry.kind == Kind::PaymentNotification
                                && entry.seq == batch[batch.len() - 1].seq + 1 =>
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
            let taken = futures_util::future::join_all(
                batch
                    .iter()
                    .map(|entry| take_entry(&self.intake, entry, self.taker())),
            )
            .await;
            let foreign = taken
                .iter()
                .filter(|applied| **applied == Applied::ForeignUpdate)
                .count();
            if foreign > 0 {
                self.foreign_updates(foreign);
            }
            // Each entry before one that could not be stored was taken or put aside; that one
            // and those after are read again from the position (taking one twice stores it once).
            let done = taken
                .iter()
                .take_while(|applied| **applied != Applied::Retry)
                .count();
            if let Some(last) = done.checked_sub(1).map(|i| &batch[i]) {
                let parked: Vec<(i64, String)> = batch[..done]
                    .iter()
                    .zip(&taken)
                    .filter(|(_, applied)| **applied == Applied::Later)
                    .map(|(entry, _)| {
                        let json = serde_json::to_string(entry)
                            .unwrap_or_else(|_| unreachable!("plain values"));
                        (entry.seq, json)
                    })
                    .collect();
                let put_aside = !parked.is_empty();
                let (store, source) = (self.store.clone(), self.source.clone());
                let (seq, digest) = (last.seq, last.digest());
                let now = desk_core::unix_now();
                let stored = tokio::task::spawn_blocking(move || {
                    store.advance_relay(&source, seq, &digest, &parked, now + PARK_FIRST, now)
                })
                .await;
                if !matches!(stored, Ok(Ok(()))) {
                    return LinkProblem::Storage;
                }
                position = seq;
                *backoff = FIRST_BACKOFF;
                self.status.send_modify(|s| s.position = position);
                acked.send_replace(position);
                // The parked loop keeps the count otherwise; a run of payments costs no read.
                if put_aside {
                    self.count_parked().await;
                }
            }
            if done < batch.len() {
                return LinkProblem::EntryWaiting;
            }
        }
    }

    /// Owner's updates this staff desk cannot verify: counted, and said the first time.
    fn foreign_updates(&self, count: usize) {
        let mut first = false;
        self.status.send_modify(|s| {
            first = s.foreign_updates == 0;
            s.foreign_updates += i64::try_from(count).unwrap_or(i64::MAX);
        });
        if first {
            let _ = self.notices.send(
                "the owner's queue updates are signed with a key this desk does not have (the owner's desk was replaced or paired anew): pair this desk again with a code from the owner's desk".to_owned(),
            );
        }
    }

    fn taker(&self) -> Taker<'_> {
        match self.role {
            Role::Owner => Taker::Owner,
            Role::Staff => Taker::Staff {
                shop_key: self.shop_key.expose(),
            },
        }
    }

    /// The log holds other entries under numbers this desk passed: read it again from the
    /// oldest the relay keeps (taking an entry again stores nothing twice).
    async fn went_back(&self, first_seq: i64, position: i64) -> LinkProblem {
        let (store, source) = (self.store.clone(), self.source.clone());
        let from = (first_seq - 1).clamp(0, position);
        let now = desk_core::unix_now();
        match tokio::task::spawn_blocking(move || store.rewind_relay(&source, from, now)).await {
            Ok(Ok(())) => {
                let _ = self.notices.send(format!(
                    "the relay's log went back (restored or failed over) from entry {position}: reading again what it holds from entry {}",
                    from + 1
                ));
                self.status.send_modify(|s| s.position = from);
                LinkProblem::LogWentBack
            }
            _ => LinkProblem::Storage,
        }
    }

    /// Takes again the entries put aside whose time has come, for as long as the desk runs.
    async fn parked_loop(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            self.count_parked().await;
            let (store, source) = (self.store.clone(), self.source.clone());
            let now = desk_core::unix_now();
            let due = tokio::task::spawn_blocking(move || store.parked_due(&source, now, 64))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            for parked in due {
                let applied = match serde_json::from_str::<Entry>(&parked.entry) {
                    Ok(entry) => take_entry(&self.intake, &entry, self.taker()).await,
                    // Stored by this desk's own hand: cannot happen short of a broken disk.
                    Err(_) => Applied::Refused,
                };
                let (store, source) = (self.store.clone(), self.source.clone());
                let _ = tokio::task::spawn_blocking(move || match applied {
                    Applied::Stored | Applied::Refused | Applied::ForeignUpdate => {
                        store.unpark(&source, parked.seq)
                    }
                    Applied::Later | Applied::Retry => {
                        store.park_again(&source, parked.seq, now + park_wait(parked.attempts))
                    }
                })
                .await;
            }
            tokio::select! {
                () = tokio::time::sleep(PARK_LOOK) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
        }
    }

    async fn count_parked(&self) {
        let (store, source) = (self.store.clone(), self.source.clone());
        if let Ok(Ok((count, _))) = tokio::task::spawn_blocking(move || store.parked(&source)).await
        {
            self.status.send_modify(|s| s.parked = count);
        }
    }

    async fn position(&self) -> Result<RelayPosition, LinkProblem> {
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

/// An entry put aside is first taken again this long after (seconds)...
const PARK_FIRST: i64 = 30;
/// ...then after twice as long each time, up to this.
const PARK_MOST: i64 = 15 * 60;
/// How often the entries put aside are looked at.
const PARK_LOOK: Duration = Duration::from_secs(5);

/// How long an entry put aside waits after its `attempts`-th try.
fn park_wait(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    PARK_FIRST.saturating_mul(1 << doublings).min(PARK_MOST)
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

/// On the owner's desk: tells the relay which merchant the shop is (its doors then refuse
/// notifications naming another), and sends each changed request's record to the relay for the
/// staff desks, from the store's outbox (so a change made while the relay was away is sent when
/// it is back).
pub(crate) async fn publish(
    client: RelayClient,
    shop_key: RelaySecret,
    (appid, mch_id): (wxpay::AppId, wxpay::MchId),
    store: Arc<Store>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut changes = store.subscribe();
    let mut backoff = FIRST_BACKOFF;
    let mut merchant_told = false;
    loop {
        if !merchant_told {
            // A relay that refuses it for good (an older one) is not asked again this run.
            merchant_told = match client.set_merchant(appid.as_str(), mch_id.as_str()).await {
                Ok(()) => true,
                Err(error) => !error.is_transient(),
            };
        }
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
