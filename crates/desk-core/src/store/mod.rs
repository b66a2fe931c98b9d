//! The desk's SQLite file: opened with the PRAGMAs every connection needs, migrated forward (with
//! a snapshot first), and refused when a newer app has written it.

mod migrations;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::events::{DeskEvent, EventReceiver, EventSender};

pub use migrations::MIGRATIONS;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer Merchant Desk (schema {found}; this version knows {known}): install the newer version"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("could not save a copy of the database before upgrading it (to {path}): {source}")]
    Snapshot {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("upgrading the database to schema {version} failed: {source}")]
    Migration {
        version: usize,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The open database. One connection behind a lock: the desk's writes are small and serial,
/// and WAL keeps readers of other processes (a CLI `list`) out of their way.
pub struct Store {
    conn: Mutex<Connection>,
    /// A second, read-only connection for the alert deliverer, which reads while the intake
    /// commits a rush of payments: under WAL it reads the last commit without waiting for the
    /// writer's lock (behind which it starved, adding 100 ms to some alerts). Opened on first use.
    outbox_reader: Mutex<Option<Connection>>,
    path: PathBuf,
    events: EventSender,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        create_private(path).map_err(|source| StoreError::Create {
            path: path.to_owned(),
            source,
        })?;
        let mut conn = Connection::open(path).map_err(open_error)?;
        configure(&conn).map_err(open_error)?;
        migrate(&mut conn, path, MIGRATIONS)?;
        Ok(Store {
            conn: Mutex::new(conn),
            outbox_reader: Mutex::new(None),
            path: path.to_owned(),
            events: crate::events::sender(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events of this store's committed changes, from now on.
    pub fn subscribe(&self) -> EventReceiver {
        self.events.subscribe()
    }

    /// Announces a committed change. Nobody listening is fine.
    pub(crate) fn publish(&self, event: DeskEvent) {
        let _ = self.events.send(event);
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken at once, so two writers
    /// never deadlock upgrading a read lock) and commits when it returns `Ok`.
    pub(crate) fn write<T, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    pub(crate) fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        f(&self.lock())
    }

    /// Reads on the outbox's own read-only connection (see `outbox_reader`).
    pub(crate) fn read_outbox<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut reader = self
            .outbox_reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if reader.is_none() {
            let conn = Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            *reader = Some(conn);
        }
        match reader.as_ref() {
            Some(conn) => f(conn),
            None => unreachable!("opened above"),
        }
    }

    /// Runs `f` and returns, with its result, what each SQL statement it ran cost SQLite: the
    /// measure behind the growth test and benchmark (a query that reads the whole table costs
    /// steps in proportion to it).
    #[cfg(feature = "profile")]
    pub fn profile<T>(&self, f: impl FnOnce(&Store) -> T) -> (T, Vec<StatementCost>) {
        use rusqlite::StatementStatus;
        use rusqlite::trace::{TraceEvent, TraceEventCodes};
        let costs = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = costs.clone();
        // A statement's counters add up over its life, and cached statements live long: each
        // run's cost is the difference from the statement's previous run.
        let mut seen: std::collections::HashMap<String, [i32; 3]> = Default::default();
        let record = move |event: TraceEvent<'_>| {
            if let TraceEvent::Profile(statement, took) = event {
                let sql = statement.sql().into_owned();
                let now = [
                    statement.get_status(StatementStatus::VmStep),
                    statement.get_status(StatementStatus::FullscanStep),
                    statement.get_status(StatementStatus::Sort),
                ];
                let before = seen.insert(sql.clone(), now).unwrap_or_default();
                let delta = |i: usize| {
                    if now[i] >= before[i] {
                        now[i] - before[i]
                    } else {
                        now[i]
                    }
                };
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(StatementCost {
                        sql,
                        expanded: statement.expanded_sql(),
                        vm_steps: delta(0),
                        fullscan_steps: delta(1),
                        sorts: delta(2),
                        took,
                    });
            }
        };
        self.lock().flush_prepared_statement_cache();
        let _ = self
            .lock()
            .trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(record));
        let value = f(self);
        let _ = self.lock().trace_v2(
            TraceEventCodes::SQLITE_TRACE_PROFILE,
            None::<fn(TraceEvent<'_>)>,
        );
        let costs = std::mem::take(&mut *costs.lock().unwrap_or_else(|p| p.into_inner()));
        (value, costs)
    }

    /// SQLite's plan for `sql` (`EXPLAIN QUERY PLAN`), one line per step.
    #[cfg(feature = "profile")]
    pub fn query_plan(&self, sql: &str) -> rusqlite::Result<Vec<String>> {
        let conn = self.lock();
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = statement.query_map([], |row| row.get::<_, String>(3))?;
        rows.collect()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock left no open transaction behind (it rolled back on
        // drop), so the connection is still sound.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one statement cost SQLite (see [`Store::profile`]).
#[cfg(feature = "profile")]
#[derive(Debug, Clone)]
pub struct StatementCost {
    /// The statement as written, with its parameters as `?1`...
    pub sql: String,
    /// ...and with the values it ran with.
    pub expanded: Option<String>,
    /// Virtual-machine steps: grows with the rows the statement touched.
    pub vm_steps: i32,
    /// Steps of full table scans.
    pub fullscan_steps: i32,
    /// Sorts that could not use an index.
    pub sorts: i32,
    pub took: std::time::Duration,
}

/// Per-connection settings: WAL, enforced foreign keys, a busy timeout, and full sync so a
/// committed payment or approval survives a power cut.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Applies the migrations `conn` has not seen, each in its own transaction with its
/// `user_version` bump. An existing database is copied aside first.
/// Creates an empty database file readable only by its user, when there is none: SQLite gives
/// the WAL and shared-memory files the database's own mode, so they are private too, whatever
/// the umask.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = migrations.len();
    if found > known as i64 || found < 0 {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }
    let found = found as usize;
    if found == known {
        return Ok(());
    }
    if found > 0 {
        let snapshot = snapshot_path(path, found);
        create_private(&snapshot).map_err(|source| StoreError::Create {
            path: snapshot.clone(),
            source,
        })?;
        conn.execute("VACUUM INTO ?1", [snapshot.to_string_lossy()])
            .map_err(|source| StoreError::Snapshot {
                path: snapshot,
                source,
            })?;
    }
    // A migration may rebuild a table others refer to (SQLite cannot change a CHECK in place):
    // foreign keys are off while it runs (the pragma is ignored inside a transaction), and
    // checked before its commit instead.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let applied = (found..known).try_for_each(|index| {
        let version = index + 1;
        let failed = |source| StoreError::Migration { version, source };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(migrations[index]).map_err(failed)?;
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()
            .map_err(failed)?;
        if let Some(table) = broken {
            return Err(failed(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("a row of {table} refers to a missing row")),
            )));
        }
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(failed)?;
        tx.commit().map_err(failed)
    });
    conn.pragma_update(None, "foreign_keys", "ON")?;
    applied
}

/// `desk.sqlite3` at schema 3 is saved as `desk.sqlite3.schema-3.bak` (not overwritten).
fn snapshot_path(path: &Path, version: usize) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".schema-{version}.bak"));
    let candidate = path.with_file_name(&name);
    if !candidate.exists() {
        return candidate;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    name.push(format!(".{stamp}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_copies_the_old_database_aside_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.sqlite3");
        let v1: &[&str] = &["CREATE TABLE t (x INTEGER) STRICT; INSERT INTO t VALUES (7);"];
        let v2: &[&str] = &[v1[0], "ALTER TABLE t ADD COLUMN y TEXT;"];
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path, v1).unwrap();
        migrate(&mut conn, &path, v2).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);

        let snapshot = dir.path().join("desk.sqlite3.schema-1.bak");
        let old = Connection::open(&snapshot).unwrap();
        let old_version: i64 = old
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(
            old_version, 1,
            "the snapshot is the database as it was before the upgrade"
        );
        let x: i64 = old.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    #[test]
    fn a_failed_migration_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.sqlite3");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path, &["CREATE TABLE t (x INTEGER);"]).unwrap();
        let broken: &[&str] = &[
            "CREATE TABLE t (x INTEGER);",
            "CREATE TABLE u (y); THIS IS NOT SQL;",
        ];
        let err = migrate(&mut conn, &path, broken).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
        let u: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(u, 0, "the half-applied migration rolled back");
    }
}
