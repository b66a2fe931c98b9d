//! The audit log (who decided what, when) and the exchange log (every call to WeChat, redacted)
//! as the owner reads them.

use rusqlite::params;
use serde::Serialize;
use wxpay::Fen;

use crate::error::CoreError;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    /// `approve`, `reject`, `withdraw`, ...
    pub action: String,
    pub out_trade_no: Option<String>,
    pub request: Option<i64>,
    pub amount: Option<Fen>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExchangeEntry {
    pub id: i64,
    pub at: i64,
    pub endpoint: String,
    pub refund: Option<i64>,
    /// The XML sent, with the sign and secrets already removed.
    pub request: String,
    pub response: Option<String>,
    pub outcome: String,
}

impl Store {
    /// Newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, at, actor, action, out_trade_no, request, amount, detail
                 FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map(params![limit as i64], |row| {
                Ok(AuditEntry {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    out_trade_no: row.get(4)?,
                    request: row.get(5)?,
                    amount: row.get::<_, Option<i64>>(6)?.map(Fen::new),
                    detail: row.get(7)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(CoreError::from)
        })
    }

    /// Newest first.
    pub fn exchanges(&self, limit: usize) -> Result<Vec<ExchangeEntry>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, at, endpoint, refund, request, response, outcome
                 FROM exchanges ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map(params![limit as i64], |row| {
                Ok(ExchangeEntry {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    endpoint: row.get(2)?,
                    refund: row.get(3)?,
                    request: row.get(4)?,
                    response: row.get(5)?,
                    outcome: row.get(6)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(CoreError::from)
        })
    }
}
