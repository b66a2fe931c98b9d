//! Where the relay keeps shops, desks and each shop's log. Two implementations pass one test
//! suite (`tests/store.rs`): SQLite, the one-server default, and PostgreSQL.
//!
//! Every write is committed before it returns: the doors answer only after `append` did.

mod postgres;
mod sqlite;

use std::future::Future;

pub use relay_protocol::DeskInfo;
use relay_protocol::{Entry, Hello, Kind, Role};
use tokio::sync::watch;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
use sqlite::{entry_digest, new_slug};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: i64,
    /// The shop's part of the inbound URLs (`/shops/{slug}/...`).
    pub slug: String,
    pub name: String,
    /// The backend's own payment-notification handler, when the relay is WeChat's notify_url.
    pub forward_url: Option<String>,
    /// The merchant whose notifications the shop's doors take (set by the owner's desk or the
    /// operator); until it is known, any merchant's.
    pub merchant: Option<ShopMerchant>,
}

/// The WeChat Pay merchant a shop is: its notifications name this appid and mch_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopMerchant {
    pub appid: String,
    pub mch_id: String,
}

impl ShopMerchant {
    /// A merchant as the owner's desk or the operator names it, by WeChat Pay's rules for the
    /// two ids (the desk's own identifier types).
    pub fn new(appid: &str, mch_id: &str) -> Result<ShopMerchant, wxpay::IdError> {
        Ok(ShopMerchant {
            appid: wxpay::AppId::new(appid)?.as_str().to_owned(),
            mch_id: wxpay::MchId::new(mch_id)?.as_str().to_owned(),
        })
    }

    /// From a shop's two columns: both set, or no merchant.
    fn from_columns(appid: Option<String>, mch_id: Option<String>) -> Option<ShopMerchant> {
        Some(ShopMerchant {
            appid: appid?,
            mch_id: mch_id?,
        })
    }
}

/// What arrived at an inbound door, to append to the shop's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub kind: Kind,
    pub body: String,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// Where `append` put an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    /// False when the same bytes were stored before (WeChat's retry): stored once.
    pub new: bool,
}

/// A desk, as its token identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    pub id: i64,
    pub shop_id: i64,
    pub role: Role,
    pub name: String,
}

/// What a claimed pairing code gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paired {
    pub desk: Desk,
    pub shop: Shop,
    /// What the owner's desk left for the new desk, sealed with the code's secret part.
    pub bundle: Option<String>,
    /// The owner's desks this one replaced (revoked as it paired): a shop has one at a time.
    pub replaced: Vec<i64>,
}

/// A payment notification to pass on to the shop backend's own handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub shop_id: i64,
    pub seq: i64,
    pub url: String,
    pub body: String,
    /// Tries before this one.
    pub attempts: i64,
}

/// How the forwards of a shop stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ForwardBacklog {
    pub pending: i64,
    /// When the oldest pending one was received.
    pub oldest: Option<i64>,
}

/// Payment notifications waiting to be passed on to one shop's backend, at most: beyond, new
/// ones are kept for the desks but not passed on (the doctor shows the backlog), so a flood
/// cannot queue the genuine ones behind a day of retries of its own.
pub const MAX_PENDING_FORWARDS: i64 = 10_000;

/// How long entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Entries every desk acknowledged go after this long.
    pub acknowledged: i64,
    /// Everything goes after this long, acknowledged or not (a desk away longer reconciles).
    pub at_most: i64,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            acknowledged: 7 * 86_400,
            at_most: 30 * 86_400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database failed (full disk, lost connection, ...): the caller answers "try again".
    #[error("the relay's database failed: {0}")]
    Database(String),
    /// What is stored cannot be read by this version.
    #[error("{0}")]
    Unreadable(String),
}

/// The relay's storage. Each method is one transaction.
pub trait Store: Send + Sync + 'static {
    fn add_shop(
        &self,
        name: &str,
        now: i64,
    ) -> impl Future<Output = Result<Shop, StoreError>> + Send;
    fn shops(&self) -> impl Future<Output = Result<Vec<Shop>, StoreError>> + Send;
    fn shop(&self, slug: &str) -> impl Future<Output = Result<Option<Shop>, StoreError>> + Send;

    /// Appends to the shop's log with the next number, or finds the same bytes stored before.
    fn append(
        &self,
        shop_id: i64,
        entry: NewEntry,
        now: i64,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;
    /// Up to `limit` entries after `after`, in order.
    fn entries_after(
        &self,
        shop_id: i64,
        after: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;
    fn bounds(&self, shop_id: i64) -> impl Future<Output = Result<Hello, StoreError>> + Send;

    /// A pairing code's claim (its digest), valid until `expires_at`, once.
    fn add_pairing(
        &self,
        shop_id: i64,
        role: Role,
        claim_digest: &str,
        bundle: Option<String>,
        expires_at: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Uses a pairing: a new desk named `name` with the token whose digest is given; a new
    /// owner's desk revokes the shop's other owner's desks in the same transaction. `None`
    /// when no unexpired, unused pairing has this claim.
    fn claim_pairing(
        &self,
        claim_digest: &str,
        name: &str,
        token_digest: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Paired>, StoreError>> + Send;
    /// The unrevoked desk holding the token with this digest.
    fn desk(
        &self,
        token_digest: &str,
    ) -> impl Future<Output = Result<Option<Desk>, StoreError>> + Send;
    /// The desk connected or acknowledged (`through`, never going back).
    fn seen(
        &self,
        desk_id: i64,
        through: Option<i64>,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn desks(&self, shop_id: i64)
    -> impl Future<Output = Result<Vec<DeskInfo>, StoreError>> + Send;
    /// False when the shop has no such desk.
    fn revoke(
        &self,
        shop_id: i64,
        desk_id: i64,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The merchant whose notifications the shop's doors take from now on.
    fn set_merchant(
        &self,
        shop_id: i64,
        merchant: ShopMerchant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Where the shop's payment notifications are passed on (`None`: nowhere). Only those
    /// appended from now on are.
    fn set_forward(
        &self,
        shop_id: i64,
        url: Option<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes up to `limit` forwards that are due, for `lease` seconds: another instance takes
    /// them only after that (if this one died trying). Never the same one twice at once.
    fn claim_forwards(
        &self,
        now: i64,
        lease: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Forward>, StoreError>> + Send;
    /// The backend took it.
    fn forward_done(
        &self,
        shop_id: i64,
        seq: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The backend did not take it: try again at `next_at`.
    fn forward_failed(
        &self,
        shop_id: i64,
        seq: i64,
        next_at: i64,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn forward_backlog(
        &self,
        shop_id: i64,
    ) -> impl Future<Output = Result<ForwardBacklog, StoreError>> + Send;

    /// Removes what retention lets go; how many entries went.
    fn prune(
        &self,
        retention: Retention,
        now: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Changes each time an entry may have been appended (by this process or, on PostgreSQL,
    /// by another instance). Only a wake-up: readers re-read the log, and also look on their
    /// own every few seconds.
    fn changes(&self) -> watch::Receiver<u64>;
}
