//! The relay on PostgreSQL, for several relay instances (or one relay for many shops): the
//! database orders each shop's log (a row lock on the shop numbers its entries in commit
//! order), `LISTEN/NOTIFY` wakes the streams of every instance, and a listener that lost its
//! connection wakes them on reconnecting, because notifications sent meanwhile are gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use relay_protocol::{Entry, Hello, Kind, Role};
use tokio::sync::{Mutex, MutexGuard, watch};
use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::{
    Appended, Desk, DeskInfo, Forward, ForwardBacklog, NewEntry, Paired, Retention, Shop,
    ShopMerchant, Store, StoreError, entry_digest, new_slug,
};

/// Each version's changes after the first, in order: `MIGRATIONS[n]` takes version `n + 1` to
/// `n + 2`. Append only.
const MIGRATIONS: &[&str] = &[
    // 2: the shop's merchant, whose notifications its doors take.
    "ALTER TABLE shops ADD COLUMN IF NOT EXISTS appid TEXT;
     ALTER TABLE shops ADD COLUMN IF NOT EXISTS mch_id TEXT;
     CREATE INDEX IF NOT EXISTS forwards_pending ON forwards(shop_id) WHERE done_at IS NULL;",
];
const SCHEMA_VERSION: i32 = 1 + MIGRATIONS.len() as i32;
/// Taken while the schema is created, so instances starting together do it once.
const SCHEMA_LOCK: i64 = 0x6d64_7265_6c61_7901;
const CHANNEL: &str = "merchant_desk_relay";
const LISTEN: &str = "LISTEN merchant_desk_relay";
const CONNECTIONS: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS relay_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shops (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    forward_url TEXT
);
CREATE TABLE IF NOT EXISTS desks (
    id BIGSERIAL PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    paired_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    acked_seq BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT
);
CREATE TABLE IF NOT EXISTS pairings (
    claim_digest TEXT PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    role TEXT NOT NULL,
    bundle TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE TABLE IF NOT EXISTS entries (
    shop_id BIGINT NOT NULL REFERENCES shops(id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    timestamp TEXT,
    signature TEXT,
    digest TEXT NOT NULL,
    PRIMARY KEY (shop_id, seq),
    UNIQUE (shop_id, digest)
);
CREATE INDEX IF NOT EXISTS entries_received ON entries(shop_id, received_at);
CREATE TABLE IF NOT EXISTS forwards (
    shop_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    url TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    done_at BIGINT,
    last_error TEXT,
    PRIMARY KEY (shop_id, seq)
);
CREATE INDEX IF NOT EXISTS forwards_due ON forwards(next_at) WHERE done_at IS NULL;
";

fn db(error: tokio_postgres::Error) -> StoreError {
    // The server's message when there is one (no password is ever in it).
    let message = error
        .as_db_error()
        .map_or_else(|| error.to_string(), |e| e.message().to_owned());
    StoreError::Database(message)
}

fn unreadable<E: std::fmt::Display>(error: E) -> StoreError {
    StoreError::Unreadable(error.to_string())
}

/// The relay's PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    config: Arc<tokio_postgres::Config>,
    pool: Arc<Vec<Mutex<Option<Client>>>>,
    next: Arc<AtomicUsize>,
    changes: watch::Receiver<u64>,
    /// Pending forwards per shop, at most ([`super::MAX_PENDING_FORWARDS`]).
    forward_cap: i64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(db)?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the pool reconnects.
        let _ = connection.await;
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects to the database `url` (`postgres://user@host/db`, or `host=/run/postgresql
    /// dbname=relay`), creating the relay's tables the first time.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("the database address is not valid: {e}")))?;
        let mut client = connect(&config).await?;
        migrate(&mut client).await?;
        let mut slots = vec![Mutex::new(Some(client))];
        slots.extend((1..CONNECTIONS).map(|_| Mutex::new(None)));
        let config = Arc::new(config);
        let (bump, changes) = watch::channel(0);
        tokio::spawn(listen_loop(config.clone(), bump));
        Ok(PostgresStore {
            config,
            pool: Arc::new(slots),
            next: Arc::new(AtomicUsize::new(0)),
            changes,
            forward_cap: super::MAX_PENDING_FORWARDS,
        })
    }

    /// The same store, passing on at most `cap` pending notifications per shop (tests).
    pub fn with_forward_cap(mut self, cap: i64) -> PostgresStore {
        self.forward_cap = cap;
        self
    }

    /// A connection of the pool, connected (again if it was lost).
    async fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut guard = None;
        for i in 0..self.pool.len() {
            if let Ok(slot) = self.pool[(start + i) % self.pool.len()].try_lock() {
                guard = Some(slot);
                break;
            }
        }
        let mut guard = match guard {
            Some(guard) => guard,
            None => self.pool[start % self.pool.len()].lock().await,
        };
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(connect(&self.config).await?);
        }
        Ok(Conn(guard))
    }
}

struct Conn<'a>(MutexGuard<'a, Option<Client>>);

impl Conn<'_> {
    fn client(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("connected by PostgresStore::conn"))
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(db)?;
    tx.batch_execute(SCHEMA).await.map_err(db)?;
    let version: Option<i32> = tx
        .query_opt("SELECT version FROM relay_schema", &[])
        .await
        .map_err(db)?
        .map(|row| row.get(0));
    match version {
        Some(newer) if newer > SCHEMA_VERSION => {
            return Err(StoreError::Unreadable(format!(
                "the relay's database is from a newer relay (schema {newer}, this one reads {SCHEMA_VERSION}): run the newer relay"
            )));
        }
        Some(SCHEMA_VERSION) => {}
        found => {
            let from = usize::try_from(found.unwrap_or(1) - 1).unwrap_or(0);
            for migration in &MIGRATIONS[from..] {
                tx.batch_execute(migration).await.map_err(db)?;
            }
            tx.execute("DELETE FROM relay_schema", &[])
                .await
                .map_err(db)?;
            tx.execute(
                "INSERT INTO relay_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)
}

/// Keeps a connection listening; every notification, and every (re)connection, wakes the
/// streams.
async fn listen_loop(config: Arc<tokio_postgres::Config>, bump: watch::Sender<u64>) {
    use futures_util::StreamExt as _;
    let wake = || bump.send_modify(|n| *n = n.wrapping_add(1));
    let mut wait = Duration::from_millis(200);
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            // The connection is driven by reading its messages; the LISTEN's answer comes
            // through it too, so both are polled together.
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let listen = client.batch_execute(LISTEN);
            tokio::pin!(listen);
            let mut listening = false;
            loop {
                tokio::select! {
                    listened = &mut listen, if !listening => {
                        if listened.is_err() {
                            break;
                        }
                        listening = true;
                        wait = Duration::from_millis(200);
                        // Whatever was appended while no one listened.
                        wake();
                    }
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(_))) => wake(),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    },
                }
            }
        }
        if bump.is_closed() {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

fn role(code: &str) -> Result<Role, StoreError> {
    code.parse().map_err(unreadable)
}

fn shop_of(row: &tokio_postgres::Row) -> Shop {
    Shop {
        id: row.get(0),
        slug: row.get(1),
        name: row.get(2),
        forward_url: row.get(3),
        merchant: ShopMerchant::from_columns(row.get(4), row.get(5)),
    }
}

impl Store for PostgresStore {
    async fn add_shop(&self, name: &str, now: i64) -> Result<Shop, StoreError> {
        let mut conn = self.conn().await?;
        let row = conn
            .client()
            .query_one(
                "INSERT INTO shops (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id, slug, name, forward_url, appid, mch_id",
                &[&new_slug(), &name, &now],
            )
            .await
            .map_err(db)?;
        Ok(shop_of(&row))
    }

    async fn shops(&self) -> Result<Vec<Shop>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = conn
            .client()
            .query(
                "SELECT id, slug, name, forward_url, appid, mch_id FROM shops ORDER BY id",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(shop_of).collect())
    }

    async fn shop(&self, slug: &str) -> Result<Option<Shop>, StoreError> {
        let mut conn = self.conn().await?;
        let row = conn
            .client()
            .query_opt(
                "SELECT id, slug, name, forward_url, appid, mch_id FROM shops WHERE slug = $1",
                &[&slug],
            )
            .await
            .map_err(db)?;
        Ok(row.as_ref().map(shop_of))
    }

    async fn append(
        &self,
        shop_id: i64,
        entry: NewEntry,
        now: i64,
    ) -> Result<Appended, StoreError> {
        let digest = entry_digest(&entry);
        let mut conn = self.conn().await?;
        let tx = conn.client().transaction().await.map_err(db)?;
        // The shop's row lock numbers its entries in the order they commit.
        let last: i64 = tx
            .query_one(
                "SELECT last_seq FROM shops WHERE id = $1 FOR UPDATE",
                &[&shop_id],
            )
            .await
            .map_err(db)?
            .get(0);
        let before = tx
            .query_opt(
                "SELECT seq FROM entries WHERE shop_id = $1 AND digest = $2",
                &[&shop_id, &digest],
            )
            .await
            .map_err(db)?;
        if let Some(row) = before {
            return Ok(Appended {
                seq: row.get(0),
                new: false,
            });
        }
        let seq = last + 1;
        tx.execute(
            "UPDATE shops SET last_seq = $2 WHERE id = $1",
            &[&shop_id, &seq],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO entries (shop_id, seq, kind, received_at, body, timestamp, signature, digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &shop_id,
                &seq,
                &entry.kind.as_str(),
                &now,
                &entry.body,
                &entry.timestamp,
                &entry.signature,
                &digest,
            ],
        )
        .await
        .map_err(db)?;
        if entry.kind == Kind::PaymentNotification {
            tx.execute(
                "INSERT INTO forwards (shop_id, seq, url, next_at)
                 SELECT id, $2, forward_url, $3 FROM shops WHERE id = $1 AND forward_url IS NOT NULL
                   AND (SELECT COUNT(*) FROM (SELECT 1 FROM forwards
                          WHERE shop_id = $1 AND done_at IS NULL LIMIT $4) pending) < $4",
                &[&shop_id, &seq, &now, &self.forward_cap],
            )
            .await
            .map_err(db)?;
        }
        // Delivered to every listening instance when (and only if) this commits.
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &shop_id.to_string()],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Appended { seq, new: true })
    }

    async fn entries_after(
        &self,
        shop_id: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        let rows = conn
            .client()
            .query(
                "SELECT seq, kind, received_at, body, timestamp, signature FROM entries
                 WHERE shop_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&shop_id, &after, &limit],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let kind: &str = row.get(1);
                Ok(Entry {
                    seq: row.get(0),
                    kind: kind.parse::<Kind>().map_err(unreadable)?,
                    received_at: row.get(2),
                    body: row.get(3),
                    timestamp: row.get(4),
                    signature: row.get(5),
                })
            })
            .collect()
    }

    async fn bounds(&self, shop_id: i64) -> Result<Hello, StoreError> {
        let mut conn = self.conn().await?;
        let row = conn
            .client()
            .query_one(
                "SELECT (SELECT MIN(seq) FROM entries WHERE shop_id = $1), last_seq FROM shops WHERE id = $1",
                &[&shop_id],
            )
            .await
            .map_err(db)?;
        let last_seq: i64 = row.get(1);
        Ok(Hello {
            first_seq: row.get::<_, Option<i64>>(0).unwrap_or(last_seq + 1),
            last_seq,
        })
    }

    async fn add_pairing(
        &self,
        shop_id: i64,
        role: Role,
        claim_digest: &str,
        bundle: Option<String>,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "INSERT INTO pairings (claim_digest, shop_id, role, bundle, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &claim_digest,
                    &shop_id,
                    &role.as_str(),
                    &bundle,
                    &now,
                    &expires_at,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn claim_pairing(
        &self,
        claim_digest: &str,
        name: &str,
        token_digest: &str,
        now: i64,
    ) -> Result<Option<Paired>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.client().transaction().await.map_err(db)?;
        let Some(row) = tx
            .query_opt(
                "UPDATE pairings SET used_at = $2
                 WHERE claim_digest = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING shop_id, role, bundle",
                &[&claim_digest, &now],
            )
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let shop_id: i64 = row.get(0);
        let role = role(row.get(1))?;
        let bundle: Option<String> = row.get(2);
        // The shop's row lock: two owner desks pairing at once see each other.
        tx.execute("SELECT 1 FROM shops WHERE id = $1 FOR UPDATE", &[&shop_id])
            .await
            .map_err(db)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO desks (shop_id, name, role, token_digest, paired_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&shop_id, &name, &role.as_str(), &token_digest, &now],
            )
            .await
            .map_err(db)?
            .get(0);
        // One owner's desk per shop: a new one replaces the one before.
        let replaced = match role {
            Role::Owner => tx
                .query(
                    "UPDATE desks SET revoked_at = $3
                     WHERE shop_id = $1 AND role = 'owner' AND id != $2 AND revoked_at IS NULL
                     RETURNING id",
                    &[&shop_id, &id, &now],
                )
                .await
                .map_err(db)?
                .iter()
                .map(|row| row.get(0))
                .collect(),
            Role::Staff => Vec::new(),
        };
        let shop = shop_of(
            &tx.query_one(
                "SELECT id, slug, name, forward_url, appid, mch_id FROM shops WHERE id = $1",
                &[&shop_id],
            )
            .await
            .map_err(db)?,
        );
        tx.commit().await.map_err(db)?;
        Ok(Some(Paired {
            desk: Desk {
                id,
                shop_id,
                role,
                name: name.to_owned(),
            },
            shop,
            bundle,
            replaced,
        }))
    }

    async fn desk(&self, token_digest: &str) -> Result<Option<Desk>, StoreError> {
        let mut conn = self.conn().await?;
        let row = conn
            .client()
            .query_opt(
                "SELECT id, shop_id, role, name FROM desks WHERE token_digest = $1 AND revoked_at IS NULL",
                &[&token_digest],
            )
            .await
            .map_err(db)?;
        row.map(|row| {
            Ok(Desk {
                id: row.get(0),
                shop_id: row.get(1),
                role: role(row.get(2))?,
                name: row.get(3),
            })
        })
        .transpose()
    }

    async fn seen(&self, desk_id: i64, through: Option<i64>, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "UPDATE desks SET last_seen_at = $2, acked_seq = GREATEST(acked_seq, COALESCE($3::BIGINT, 0)) WHERE id = $1",
                &[&desk_id, &now, &through],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn desks(&self, shop_id: i64) -> Result<Vec<DeskInfo>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = conn
            .client()
            .query(
                "SELECT id, name, role, paired_at, last_seen_at, acked_seq, revoked_at IS NOT NULL
                 FROM desks WHERE shop_id = $1 ORDER BY id",
                &[&shop_id],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(DeskInfo {
                    id: row.get(0),
                    name: row.get(1),
                    role: role(row.get(2))?,
                    paired_at: row.get(3),
                    last_seen_at: row.get(4),
                    acked_seq: row.get(5),
                    revoked: row.get(6),
                })
            })
            .collect()
    }

    async fn revoke(&self, shop_id: i64, desk_id: i64, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let changed = conn
            .client()
            .execute(
                "UPDATE desks SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND shop_id = $2",
                &[&desk_id, &shop_id, &now],
            )
            .await
            .map_err(db)?;
        Ok(changed > 0)
    }

    async fn set_merchant(&self, shop_id: i64, merchant: ShopMerchant) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "UPDATE shops SET appid = $2, mch_id = $3 WHERE id = $1",
                &[&shop_id, &merchant.appid, &merchant.mch_id],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_forward(&self, shop_id: i64, url: Option<String>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "UPDATE shops SET forward_url = $2 WHERE id = $1",
                &[&shop_id, &url],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn claim_forwards(
        &self,
        now: i64,
        lease: i64,
        limit: usize,
    ) -> Result<Vec<Forward>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        // SKIP LOCKED: instances claiming at once each take other rows, none waits.
        let rows = conn
            .client()
            .query(
                "UPDATE forwards f SET next_at = $1 + $2
                 FROM (SELECT shop_id, seq FROM forwards
                       WHERE done_at IS NULL AND next_at <= $1
                       ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
                 WHERE f.shop_id = due.shop_id AND f.seq = due.seq
                 RETURNING f.shop_id, f.seq, f.url, f.attempts,
                     (SELECT body FROM entries e WHERE e.shop_id = f.shop_id AND e.seq = f.seq)",
                &[&now, &lease, &limit],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|row| Forward {
                shop_id: row.get(0),
                seq: row.get(1),
                url: row.get(2),
                attempts: row.get(3),
                body: row.get::<_, Option<String>>(4).unwrap_or_default(),
            })
            .collect())
    }

    async fn forward_done(&self, shop_id: i64, seq: i64, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "UPDATE forwards SET done_at = $3, attempts = attempts + 1, last_error = NULL
                 WHERE shop_id = $1 AND seq = $2",
                &[&shop_id, &seq, &now],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn forward_failed(
        &self,
        shop_id: i64,
        seq: i64,
        next_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.client()
            .execute(
                "UPDATE forwards SET attempts = attempts + 1, next_at = $3, last_error = $4
                 WHERE shop_id = $1 AND seq = $2 AND done_at IS NULL",
                &[&shop_id, &seq, &next_at, &error],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn forward_backlog(&self, shop_id: i64) -> Result<ForwardBacklog, StoreError> {
        let mut conn = self.conn().await?;
        let row = conn
            .client()
            .query_one(
                "SELECT COUNT(*), MIN(e.received_at) FROM forwards f
                 JOIN entries e ON e.shop_id = f.shop_id AND e.seq = f.seq
                 WHERE f.shop_id = $1 AND f.done_at IS NULL",
                &[&shop_id],
            )
            .await
            .map_err(db)?;
        Ok(ForwardBacklog {
            pending: row.get(0),
            oldest: row.get(1),
        })
    }

    async fn prune(&self, retention: Retention, now: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let client = conn.client();
        let deleted = client
            .execute(
                "DELETE FROM entries WHERE received_at < $2 OR (
                    received_at < $1 AND seq <= COALESCE((
                        SELECT MIN(acked_seq) FROM desks
                        WHERE desks.shop_id = entries.shop_id AND revoked_at IS NULL), 0))",
                &[&(now - retention.acknowledged), &(now - retention.at_most)],
            )
            .await
            .map_err(db)?;
        client
            .execute(
                "DELETE FROM pairings WHERE expires_at < $1",
                &[&(now - retention.acknowledged)],
            )
            .await
            .map_err(db)?;
        client
            .execute(
                "DELETE FROM forwards f WHERE NOT EXISTS (
                    SELECT 1 FROM entries e WHERE e.shop_id = f.shop_id AND e.seq = f.seq)",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(deleted)
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}
