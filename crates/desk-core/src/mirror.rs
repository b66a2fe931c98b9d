//! The owner's queue on the staff desks. The owner's desk sends, through the relay, its record
//! of each refund request that changed (the order, the request, its refund: rows as they are in
//! its database); a staff desk stores them as they are, under the owner's numbers, so "request
//! 12" is the same request on every desk and the queue, tabs and alerts work unchanged.
//!
//! Only a staff desk mirrors, and a staff desk never approves or sends a refund (it has no
//! certificate and runs no refund engine): the money rules stay on the owner's desk.

use std::collections::BTreeMap;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::store::Store;

/// A database row by column name.
pub type Row = BTreeMap<String, serde_json::Value>;

/// The owner's desk's record of one refund request as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub order: Row,
    pub request: Row,
    pub refund: Option<Row>,
}

/// Kept by the desk's own triggers, never copied.
const DERIVED: &[&str] = &["queue_state"];

fn read_row(
    conn: &Connection,
    table: &str,
    key: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<Row>, CoreError> {
    let mut statement = conn.prepare_cached(&format!("SELECT * FROM {table} WHERE {key} = ?1"))?;
    let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let mut rows = statement.query([value])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut out = Row::new();
    for (i, name) in names.iter().enumerate() {
        if DERIVED.contains(&name.as_str()) {
            continue;
        }
        let value = match row.get_ref(i)? {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(n) => n.into(),
            ValueRef::Real(x) => x.into(),
            ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned().into(),
            ValueRef::Blob(_) => {
                return Err(CoreError::MirrorFromNewerDesk(format!("{table}.{name}")));
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(Some(out))
}

fn sql_value(value: &serde_json::Value, column: &str) -> Result<Value, CoreError> {
    Ok(match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(x)) => Value::Real(x),
            (None, None) => return Err(CoreError::MirrorFromNewerDesk(column.to_owned())),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Bool(_) | serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(CoreError::MirrorFromNewerDesk(column.to_owned()));
        }
    })
}

/// Inserts `row` into `table`, or (with `update`) replaces the stored row's columns.
fn upsert(
    conn: &Connection,
    table: &str,
    key: &str,
    row: &Row,
    update: bool,
) -> Result<(), CoreError> {
    let known: Vec<String> = conn
        .prepare_cached(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for (column, value) in row {
        if DERIVED.contains(&column.as_str()) {
            continue;
        }
        if !known.contains(column) {
            return Err(CoreError::MirrorFromNewerDesk(format!("{table}.{column}")));
        }
        columns.push(column.as_str());
        values.push(sql_value(value, column)?);
    }
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let action = if update {
        let sets: Vec<String> = columns
            .iter()
            .filter(|c| **c != key)
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!("DO UPDATE SET {}", sets.join(", "))
    } else {
        "DO NOTHING".to_owned()
    };
    conn.execute(
        &format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) {action}",
            columns.join(", "),
            placeholders.join(", ")
        ),
        params_from_iter(values),
    )?;
    Ok(())
}

impl Store {
    /// The desk's record of refund request `request`, for the other desks.
    pub fn queue_snapshot(&self, request: i64) -> Result<Option<QueueSnapshot>, CoreError> {
        self.read(|conn| {
            let Some(request_row) = read_row(conn, "refund_requests", "id", &request)? else {
                return Ok(None);
            };
            let Some(order_no) = request_row.get("out_trade_no").and_then(|v| v.as_str()) else {
                return Ok(None);
            };
            let Some(order) = read_row(conn, "orders", "out_trade_no", &order_no)? else {
                return Ok(None);
            };
            let refund = read_row(conn, "refunds", "request", &request)?;
            Ok(Some(QueueSnapshot {
                order,
                request: request_row,
                refund,
            }))
        })
    }

    /// On a staff desk: stores the owner's record as it is (the order once, the request and
    /// its refund replaced), in one transaction, unless a later record of the same request was
    /// stored already (the relay repeated or reordered them: the owner's `revision` says which
    /// is later). The books are marked as a mirror for good: no refund engine runs on them
    /// ([`Store::is_mirror`]).
    pub fn mirror(&self, snapshot: &QueueSnapshot) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR IGNORE INTO mirror_of (id, since) VALUES (1, ?1)")?
                .execute([crate::remote::unix_now()])?;
            let request = snapshot
                .request
                .get("id")
                .and_then(serde_json::Value::as_i64);
            let revision = snapshot
                .request
                .get("revision")
                .and_then(serde_json::Value::as_i64);
            if let (Some(request), Some(revision)) = (request, revision) {
                let stored: Option<i64> = tx
                    .prepare_cached("SELECT revision FROM mirrored WHERE request = ?1")?
                    .query_row([request], |row| row.get(0))
                    .optional()?;
                if stored.is_some_and(|stored| stored >= revision) {
                    return Ok(());
                }
                tx.prepare_cached(
                    "INSERT INTO mirrored (request, revision) VALUES (?1, ?2)
                     ON CONFLICT (request) DO UPDATE SET revision = excluded.revision",
                )?
                .execute([request, revision])?;
            }
            upsert(tx, "orders", "out_trade_no", &snapshot.order, false)?;
            upsert(tx, "refund_requests", "id", &snapshot.request, true)?;
            if let Some(refund) = &snapshot.refund {
                upsert(tx, "refunds", "id", refund, true)?;
            }
            Ok(())
        })
    }

    /// Whether these books ever held a staff desk's copy of the owner's queue: refunds in them
    /// are the owner's desk's (or the relay's word), never this desk's to send.
    pub fn is_mirror(&self) -> Result<bool, CoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM mirror_of)")?
                .query_row([], |row| row.get(0))?)
        })
    }

    /// Requests whose record changed since it was last sent: `(request, version)`, oldest first.
    pub fn relay_outbox(&self, limit: usize) -> Result<Vec<(i64, i64)>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT request, version FROM relay_outbox ORDER BY rowid LIMIT ?1",
            )?;
            let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The record of `request` at `version` reached the relay; a change since keeps it due.
    pub fn relay_sent(&self, request: i64, version: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM relay_outbox WHERE request = ?1 AND version = ?2")?
                .execute([request, version])?;
            Ok(())
        })
    }
}
