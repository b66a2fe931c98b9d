//! The relay on one SQLite file: a writer thread commits whatever waits in one transaction
//! (each job in its own savepoint), and answers each job only after the commit; reads go to a
//! few read-only connections (WAL lets them run beside the writer).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::RngExt as _;
use relay_protocol::{Entry, Hello, Kind, Role};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    Appended, Desk, DeskInfo, Forward, ForwardBacklog, NewEntry, Paired, Retention, Shop,
    ShopMerchant, Store, StoreError,
};

const SCHEMA: &str = "
CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    forward_url TEXT
);
CREATE TABLE desks (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    paired_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER
);
CREATE TABLE pairings (
    claim_digest TEXT PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    role TEXT NOT NULL,
    bundle TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE entries (
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    timestamp TEXT,
    signature TEXT,
    digest TEXT NOT NULL,
    PRIMARY KEY (shop_id, seq),
    UNIQUE (shop_id, digest)
) WITHOUT ROWID;
CREATE INDEX entries_received ON entries(shop_id, received_at);
CREATE TABLE forwards (
    shop_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    url TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    done_at INTEGER,
    last_error TEXT,
    PRIMARY KEY (shop_id, seq)
) WITHOUT ROWID;
CREATE INDEX forwards_due ON forwards(next_at) WHERE done_at IS NULL;
";
/// Each version's changes after the first, in order: `MIGRATIONS[n]` takes version `n + 1` to
/// `n + 2`. Append only.
const MIGRATIONS: &[&str] = &[
    // 2: the shop's merchant, whose notifications its doors take; a shop's pending forwards
    // counted from an index of their own.
    "ALTER TABLE shops ADD COLUMN appid TEXT; ALTER TABLE shops ADD COLUMN mch_id TEXT;
     CREATE INDEX forwards_pending ON forwards(shop_id) WHERE done_at IS NULL;",
];
const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;
const READERS: usize = 4;

type Answer = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Answer + Send>;

/// The relay's SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::UnboundedSender<Job>,
    readers: Arc<Vec<Mutex<Connection>>>,
    changes: watch::Receiver<u64>,
    /// Moved once an append is committed: the streams read on.
    bump: Arc<watch::Sender<u64>>,
    /// Pending forwards per shop, at most ([`super::MAX_PENDING_FORWARDS`]).
    forward_cap: i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn db(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

impl SqliteStore {
    /// Opens (creating) the database at `path`, readable by this user only.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let writer = Connection::open(path).map_err(db)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(db)?;
        migrate(&writer)?;
        private(path);
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(db)?;
                reader
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(db)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (jobs, queue) = mpsc::unbounded_channel();
        let (bump, changes) = watch::channel(0);
        let bump = Arc::new(bump);
        std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || write_loop(writer, queue))
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            jobs,
            readers: Arc::new(readers),
            changes,
            bump,
            forward_cap: super::MAX_PENDING_FORWARDS,
        })
    }

    /// The same store, passing on at most `cap` pending notifications per shop (tests).
    pub fn with_forward_cap(mut self, cap: i64) -> SqliteStore {
        self.forward_cap = cap;
        self
    }

    /// Runs `work` in the writer's next transaction; its result once that is committed.
    async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, work);
            Box::new(move |committed: &Result<(), StoreError>| {
                let _ = answer.send(committed.clone().and(result));
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Database("the write was not done".into()))?;
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Database("the write was not done".into())))
    }

    /// One append in the writer's next transaction.
    async fn append_entry(
        &self,
        shop_id: i64,
        entry: NewEntry,
        now: i64,
    ) -> Result<Appended, StoreError> {
        let digest = entry_digest(&entry);
        let forward_cap = self.forward_cap;
        self.write(move |conn| {
            let before: Option<i64> = conn
                .prepare_cached("SELECT seq FROM entries WHERE shop_id = ?1 AND digest = ?2")
                .map_err(db)?
                .query_row(params![shop_id, digest], |row| row.get(0))
                .optional()
                .map_err(db)?;
            if let Some(seq) = before {
                return Ok(Appended { seq, new: false });
            }
            let seq: i64 = conn
                .prepare_cached(
                    "UPDATE shops SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
                )
                .map_err(db)?
                .query_row([shop_id], |row| row.get(0))
                .map_err(db)?;
            conn.prepare_cached(
                "INSERT INTO entries (shop_id, seq, kind, received_at, body, timestamp, signature, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db)?
            .execute(params![
                shop_id,
                seq,
                entry.kind.as_str(),
                now,
                entry.body,
                entry.timestamp,
                entry.signature,
                digest
            ])
            .map_err(db)?;
            // A payment notification for a shop whose backend wants them too: passed on after
            // the commit, with retries, by the forwarder; at most MAX_PENDING_FORWARDS waiting
            // per shop, so a flood cannot queue the genuine ones behind a day of its own.
            if entry.kind == Kind::PaymentNotification {
                conn.prepare_cached(
                    "INSERT INTO forwards (shop_id, seq, url, next_at)
                     SELECT id, ?2, forward_url, ?3 FROM shops WHERE id = ?1 AND forward_url IS NOT NULL
                       AND (SELECT COUNT(*) FROM (SELECT 1 FROM forwards
                              WHERE shop_id = ?1 AND done_at IS NULL LIMIT ?4)) < ?4",
                )
                .map_err(db)?
                .execute(params![shop_id, seq, now, forward_cap])
                .map_err(db)?;
            }
            Ok(Appended { seq, new: true })
        })
        .await
    }

    async fn read<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            // The first free reader, else wait for one picked by the thread's turn.
            for reader in readers.iter() {
                if let Ok(conn) = reader.try_lock() {
                    return work(&conn);
                }
            }
            let turn = rand::rng().random_range(0..readers.len());
            let conn = readers[turn].lock().unwrap_or_else(|p| p.into_inner());
            work(&conn)
        })
        .await
        .unwrap_or_else(|_| Err(StoreError::Database("a read task failed".into())))
    }
}

/// The files (database, WAL, shared memory) readable by this user only.
fn private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(db)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unreadable(format!(
            "the relay's database is from a newer relay (schema {version}, this one reads {SCHEMA_VERSION}): run the newer relay"
        )));
    }
    // A new database gets the first schema, then every migration; an older one the ones after
    // its version.
    let mut batch = String::from("BEGIN;");
    if version == 0 {
        batch.push_str(SCHEMA);
    }
    for migration in &MIGRATIONS[usize::try_from(version.max(1) - 1).unwrap_or(0)..] {
        batch.push_str(migration);
    }
    batch.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"));
    conn.execute_batch(&batch).map_err(|error| {
        let _ = conn.execute_batch("ROLLBACK");
        db(error)
    })
}

fn in_savepoint<R>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    conn.execute_batch("SAVEPOINT job").map_err(db)?;
    let result = work(conn);
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end).map_err(db)?;
    result
}

/// At most this many jobs share a transaction.
const MAX_BATCH: usize = 256;

fn write_loop(conn: Connection, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(db);
        let answers: Vec<Answer> = match &begun {
            Ok(()) => jobs.into_iter().map(|job| job(&conn)).collect(),
            Err(_) => Vec::new(),
        };
        let committed = begun.and_then(|()| conn.execute_batch("COMMIT").map_err(db));
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for answer in answers {
            answer(&committed);
        }
    }
}

/// A row of `SELECT id, slug, name, forward_url, appid, mch_id FROM shops`.
fn shop_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Shop> {
    Ok(Shop {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        forward_url: row.get(3)?,
        merchant: ShopMerchant::from_columns(row.get(4)?, row.get(5)?),
    })
}

fn role(code: String) -> Result<Role, StoreError> {
    code.parse()
        .map_err(|e: relay_protocol::UnknownRole| StoreError::Unreadable(e.to_string()))
}

pub(super) fn new_slug() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(LETTERS[rng.random_range(0..LETTERS.len())]))
        .collect()
}

/// The same bytes through the same door are the same entry.
pub(super) fn entry_digest(entry: &NewEntry) -> String {
    let mut hash = Sha256::new();
    for part in [
        entry.kind.as_str(),
        &entry.body,
        entry.timestamp.as_deref().unwrap_or(""),
        entry.signature.as_deref().unwrap_or(""),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(hash.finalize())
}

impl Store for SqliteStore {
    async fn add_shop(&self, name: &str, now: i64) -> Result<Shop, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            let slug = new_slug();
            conn.execute(
                "INSERT INTO shops (slug, name, created_at) VALUES (?1, ?2, ?3)",
                params![slug, name, now],
            )
            .map_err(db)?;
            Ok(Shop {
                id: conn.last_insert_rowid(),
                slug,
                name,
                forward_url: None,
                merchant: None,
            })
        })
        .await
    }

    async fn shops(&self) -> Result<Vec<Shop>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, slug, name, forward_url, appid, mch_id FROM shops ORDER BY id",
                )
                .map_err(db)?;
            let rows = statement.query_map([], shop_of).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn shop(&self, slug: &str) -> Result<Option<Shop>, StoreError> {
        let slug = slug.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, slug, name, forward_url, appid, mch_id FROM shops WHERE slug = ?1",
            )
            .map_err(db)?
            .query_row([slug], shop_of)
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn append(
        &self,
        shop_id: i64,
        entry: NewEntry,
        now: i64,
    ) -> Result<Appended, StoreError> {
        let appended = self.append_entry(shop_id, entry, now).await?;
        if appended.new {
            self.bump.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(appended)
    }

    async fn entries_after(
        &self,
        shop_id: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT seq, kind, received_at, body, timestamp, signature FROM entries
                     WHERE shop_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(
                    params![shop_id, after, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, Option<String>>(5)?,
                        ))
                    },
                )
                .map_err(db)?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, kind, received_at, body, timestamp, signature) = row.map_err(db)?;
                let kind: Kind = kind.parse().map_err(|e: relay_protocol::UnknownKind| {
                    StoreError::Unreadable(e.to_string())
                })?;
                entries.push(Entry {
                    seq,
                    kind,
                    received_at,
                    body,
                    timestamp,
                    signature,
                });
            }
            Ok(entries)
        })
        .await
    }

    async fn bounds(&self, shop_id: i64) -> Result<Hello, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT (SELECT MIN(seq) FROM entries WHERE shop_id = ?1), last_seq FROM shops WHERE id = ?1",
            )
            .map_err(db)?
            .query_row([shop_id], |row| {
                let last_seq: i64 = row.get(1)?;
                Ok(Hello {
                    first_seq: row.get::<_, Option<i64>>(0)?.unwrap_or(last_seq + 1),
                    last_seq,
                })
            })
            .map_err(db)
        })
        .await
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
        let claim_digest = claim_digest.to_owned();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO pairings (claim_digest, shop_id, role, bundle, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    claim_digest,
                    shop_id,
                    role.as_str(),
                    bundle,
                    now,
                    expires_at
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn claim_pairing(
        &self,
        claim_digest: &str,
        name: &str,
        token_digest: &str,
        now: i64,
    ) -> Result<Option<Paired>, StoreError> {
        let (claim_digest, name, token_digest) = (
            claim_digest.to_owned(),
            name.to_owned(),
            token_digest.to_owned(),
        );
        self.write(move |conn| {
            let found = conn
                .prepare_cached(
                    "UPDATE pairings SET used_at = ?2
                     WHERE claim_digest = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING shop_id, role, bundle",
                )
                .map_err(db)?
                .query_row(params![claim_digest, now], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()
                .map_err(db)?;
            let Some((shop_id, role_code, bundle)) = found else {
                return Ok(None);
            };
            let role = role(role_code)?;
            conn.execute(
                "INSERT INTO desks (shop_id, name, role, token_digest, paired_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![shop_id, name, role.as_str(), token_digest, now],
            )
            .map_err(db)?;
            let desk = Desk {
                id: conn.last_insert_rowid(),
                shop_id,
                role,
                name,
            };
            // One owner's desk per shop: a new one replaces the one before.
            let replaced = match role {
                Role::Owner => conn
                    .prepare_cached(
                        "UPDATE desks SET revoked_at = ?3
                         WHERE shop_id = ?1 AND role = 'owner' AND id != ?2 AND revoked_at IS NULL
                         RETURNING id",
                    )
                    .map_err(db)?
                    .query_map(params![shop_id, desk.id, now], |row| row.get(0))
                    .map_err(db)?
                    .collect::<Result<Vec<i64>, _>>()
                    .map_err(db)?,
                Role::Staff => Vec::new(),
            };
            let shop = conn
                .query_row(
                    "SELECT id, slug, name, forward_url, appid, mch_id FROM shops WHERE id = ?1",
                    [shop_id],
                    shop_of,
                )
                .map_err(db)?;
            Ok(Some(Paired {
                desk,
                shop,
                bundle,
                replaced,
            }))
        })
        .await
    }

    async fn desk(&self, token_digest: &str) -> Result<Option<Desk>, StoreError> {
        let token_digest = token_digest.to_owned();
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT id, shop_id, role, name FROM desks WHERE token_digest = ?1 AND revoked_at IS NULL",
                )
                .map_err(db)?
                .query_row([token_digest], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?, row.get(3)?))
                })
                .optional()
                .map_err(db)?;
            row.map(|(id, shop_id, role_code, name)| {
                Ok(Desk {
                    id,
                    shop_id,
                    role: role(role_code)?,
                    name,
                })
            })
            .transpose()
        })
        .await
    }

    async fn seen(&self, desk_id: i64, through: Option<i64>, now: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE desks SET last_seen_at = ?2, acked_seq = MAX(acked_seq, COALESCE(?3, 0)) WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![desk_id, now, through])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn desks(&self, shop_id: i64) -> Result<Vec<DeskInfo>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, name, role, paired_at, last_seen_at, acked_seq, revoked_at IS NOT NULL
                     FROM desks WHERE shop_id = ?1 ORDER BY id",
                )
                .map_err(db)?;
            let rows = statement
                .query_map([shop_id], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, Option<i64>>(4)?,
                        row.get::<_, i64>(5)?,
                        row.get::<_, bool>(6)?,
                    ))
                })
                .map_err(db)?;
            let mut desks = Vec::new();
            for row in rows {
                let (id, name, role_code, paired_at, last_seen_at, acked_seq, revoked) =
                    row.map_err(db)?;
                desks.push(DeskInfo {
                    id,
                    name,
                    role: role(role_code)?,
                    paired_at,
                    last_seen_at,
                    acked_seq,
                    revoked,
                });
            }
            Ok(desks)
        })
        .await
    }

    async fn revoke(&self, shop_id: i64, desk_id: i64, now: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE desks SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND shop_id = ?2",
                    params![desk_id, shop_id, now],
                )
                .map_err(db)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn set_merchant(&self, shop_id: i64, merchant: ShopMerchant) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE shops SET appid = ?2, mch_id = ?3 WHERE id = ?1",
                params![shop_id, merchant.appid, merchant.mch_id],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn set_forward(&self, shop_id: i64, url: Option<String>) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE shops SET forward_url = ?2 WHERE id = ?1",
                params![shop_id, url],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn claim_forwards(
        &self,
        now: i64,
        lease: i64,
        limit: usize,
    ) -> Result<Vec<Forward>, StoreError> {
        // One writer: the claim and its lease are one statement.
        self.write(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "UPDATE forwards SET next_at = ?1 + ?2
                     WHERE (shop_id, seq) IN (
                         SELECT shop_id, seq FROM forwards
                         WHERE done_at IS NULL AND next_at <= ?1 ORDER BY next_at LIMIT ?3)
                     RETURNING shop_id, seq, url, attempts,
                         (SELECT body FROM entries e WHERE e.shop_id = forwards.shop_id AND e.seq = forwards.seq)",
                )
                .map_err(db)?;
            let rows = statement
                .query_map(
                    params![now, lease, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| {
                        Ok(Forward {
                            shop_id: row.get(0)?,
                            seq: row.get(1)?,
                            url: row.get(2)?,
                            attempts: row.get(3)?,
                            body: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        })
                    },
                )
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn forward_done(&self, shop_id: i64, seq: i64, now: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE forwards SET done_at = ?3, attempts = attempts + 1, last_error = NULL
                 WHERE shop_id = ?1 AND seq = ?2",
                params![shop_id, seq, now],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn forward_failed(
        &self,
        shop_id: i64,
        seq: i64,
        next_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_owned();
        self.write(move |conn| {
            conn.execute(
                "UPDATE forwards SET attempts = attempts + 1, next_at = ?3, last_error = ?4
                 WHERE shop_id = ?1 AND seq = ?2 AND done_at IS NULL",
                params![shop_id, seq, next_at, error],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn forward_backlog(&self, shop_id: i64) -> Result<ForwardBacklog, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT COUNT(*), MIN(e.received_at) FROM forwards f
                 JOIN entries e ON e.shop_id = f.shop_id AND e.seq = f.seq
                 WHERE f.shop_id = ?1 AND f.done_at IS NULL",
            )
            .map_err(db)?
            .query_row([shop_id], |row| {
                Ok(ForwardBacklog {
                    pending: row.get(0)?,
                    oldest: row.get(1)?,
                })
            })
            .map_err(db)
        })
        .await
    }

    async fn prune(&self, retention: Retention, now: i64) -> Result<u64, StoreError> {
        self.write(move |conn| {
            // Per shop: acknowledged by every desk not revoked (none paired: by nobody).
            let deleted = conn
                .execute(
                    "DELETE FROM entries WHERE received_at < ?2 OR (
                        received_at < ?1 AND seq <= COALESCE((
                            SELECT MIN(acked_seq) FROM desks
                            WHERE desks.shop_id = entries.shop_id AND revoked_at IS NULL), 0))",
                    params![now - retention.acknowledged, now - retention.at_most],
                )
                .map_err(db)?;
            conn.execute(
                "DELETE FROM pairings WHERE expires_at < ?1",
                [now - retention.acknowledged],
            )
            .map_err(db)?;
            // A forward whose entry is gone has nothing left to send.
            conn.execute(
                "DELETE FROM forwards WHERE NOT EXISTS (
                    SELECT 1 FROM entries e WHERE e.shop_id = forwards.shop_id AND e.seq = forwards.seq)",
                [],
            )
            .map_err(db)?;
            Ok(deleted as u64)
        })
        .await
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}
