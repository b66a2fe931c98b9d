//! The refund queue as people read it: one row per request, with its refund once approved.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use wxpay::Fen;

use crate::error::CoreError;
use crate::lifecycle::{Problem, RefundState, RequestState};
use crate::orders::prefix_end;
use crate::store::Store;

/// Where a request stands: its own state until approved, then its refund's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum QueueState {
    Pending,
    Rejected,
    Withdrawn,
    Approved,
    Submitting,
    Held,
    Processing,
    Succeeded,
    Closed,
    NeedsManual,
    Failed,
}

impl QueueState {
    pub const ALL: [QueueState; 11] = [
        QueueState::Pending,
        QueueState::Rejected,
        QueueState::Withdrawn,
        QueueState::Approved,
        QueueState::Submitting,
        QueueState::Held,
        QueueState::Processing,
        QueueState::Succeeded,
        QueueState::Closed,
        QueueState::NeedsManual,
        QueueState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Pending => RequestState::Pending.as_str(),
            QueueState::Rejected => RequestState::Rejected.as_str(),
            QueueState::Withdrawn => RequestState::Withdrawn.as_str(),
            QueueState::Approved => RefundState::Approved.as_str(),
            QueueState::Submitting => RefundState::Submitting.as_str(),
            QueueState::Held => RefundState::Held.as_str(),
            QueueState::Processing => RefundState::Processing.as_str(),
            QueueState::Succeeded => RefundState::Succeeded.as_str(),
            QueueState::Closed => RefundState::Closed.as_str(),
            QueueState::NeedsManual => RefundState::NeedsManual.as_str(),
            QueueState::Failed => RefundState::Failed.as_str(),
        }
    }

    pub fn parse(text: &str) -> Option<QueueState> {
        QueueState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A state name the queue does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown state {0:?}; use one of pending, rejected, withdrawn, approved, submitting, held, processing, succeeded, closed, needs_manual, failed"
)]
pub struct UnknownQueueState(pub String);

impl std::str::FromStr for QueueState {
    type Err = UnknownQueueState;
    fn from_str(text: &str) -> Result<Self, UnknownQueueState> {
        QueueState::parse(text).ok_or_else(|| UnknownQueueState(text.to_owned()))
    }
}

/// How many requests are in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueueCount {
    pub state: QueueState,
    pub count: i64,
}

/// A request and, once approved, its refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueueItem {
    pub request: i64,
    pub request_id: Option<String>,
    pub out_trade_no: String,
    pub requested_fee: Fen,
    pub reason: String,
    pub customer: Option<String>,
    pub created_at: i64,
    pub state: QueueState,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub reject_reason: Option<String>,
    pub refund: Option<RefundView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RefundView {
    pub id: i64,
    pub out_refund_no: String,
    pub refund_fee: Fen,
    pub refund_id: Option<String>,
    pub attempts: i64,
    /// Why it waits, is held or failed (the window translates the code).
    pub problem: Option<Problem>,
    /// WeChat's own words about the problem.
    pub wechat_detail: Option<String>,
    /// WeChat's evidence overrode the desk's record (a refund held as failed was paid).
    pub contradicted: bool,
    pub updated_at: i64,
}

const QUEUE_SELECT: &str =
    "SELECT q.id, q.request_id, q.out_trade_no, q.requested_fee, q.reason, q.customer,
        q.created_at, q.queue_state, q.decided_by, q.decided_at, q.reject_reason,
        r.id, r.out_refund_no, r.refund_fee, r.refund_id, r.attempts, r.problem,
        r.wechat_detail, r.contradicted, r.updated_at
 FROM refund_requests q LEFT JOIN refunds r ON r.request = q.id";

/// Which part of the queue to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueQuery {
    /// Only requests in these states; empty: every state.
    pub states: Vec<QueueState>,
    /// Only requests whose order number starts with this.
    pub search: Option<String>,
    /// The page after a request: only those older (a smaller id) than this one.
    pub before: Option<i64>,
    pub limit: usize,
}

impl Store {
    /// Newest first; only those in `state` when given.
    pub fn queue(
        &self,
        state: Option<QueueState>,
        limit: usize,
    ) -> Result<Vec<QueueItem>, CoreError> {
        self.queue_page(&QueueQuery {
            states: state.into_iter().collect(),
            limit,
            ..QueueQuery::default()
        })
    }

    /// One page of the queue, newest first; with a search, the first `limit` matches in
    /// order-number order (`before` does not apply: a search is narrow). Every page reads only
    /// its own rows from an index, however long the queue is: a tab of several states merges
    /// one keyset read per state.
    pub fn queue_page(&self, query: &QueueQuery) -> Result<Vec<QueueItem>, CoreError> {
        let before = query.before.unwrap_or(i64::MAX);
        let limit = query.limit as i64;
        self.read(|conn| {
            if let Some(prefix) = query.search.as_deref().filter(|p| !p.is_empty()) {
                // The order-number index, in its order: never all of a tab's rows, sorted.
                let select = QUEUE_SELECT.replace(
                    "refund_requests q",
                    "refund_requests q INDEXED BY refund_requests_by_order",
                );
                let mut statement = conn.prepare_cached(&format!(
                    "{select} WHERE q.out_trade_no >= ?1 AND q.out_trade_no < ?2
                       AND (?3 IS NULL OR q.queue_state IN (SELECT value FROM json_each(?3)))
                     ORDER BY q.out_trade_no, q.id LIMIT ?4"
                ))?;
                let states = (!query.states.is_empty()).then(|| {
                    serde_json::to_string(
                        &query.states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    )
                    .unwrap_or_default()
                });
                let rows = statement.query_map(
                    params![prefix, prefix_end(prefix), states, limit],
                    queue_row,
                )?;
                return rows.map(|row| row?).collect();
            }
            if query.states.is_empty() {
                let mut statement = conn.prepare_cached(&format!(
                    "{QUEUE_SELECT} WHERE q.id < ?1 ORDER BY q.id DESC LIMIT ?2"
                ))?;
                let rows = statement.query_map(params![before, limit], queue_row)?;
                return rows.map(|row| row?).collect();
            }
            let mut statement = conn.prepare_cached(&format!(
                "{QUEUE_SELECT} WHERE q.queue_state = ?1 AND q.id < ?2 ORDER BY q.id DESC LIMIT ?3"
            ))?;
            let mut items = Vec::new();
            for state in &query.states {
                let rows =
                    statement.query_map(params![state.as_str(), before, limit], queue_row)?;
                for row in rows {
                    items.push(row??);
                }
            }
            items.sort_unstable_by_key(|item| std::cmp::Reverse(item.request));
            items.truncate(query.limit);
            Ok(items)
        })
    }

    /// Every request of one order, oldest first (the order's detail).
    pub fn order_requests(&self, out_trade_no: &str) -> Result<Vec<QueueItem>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(&format!(
                "{QUEUE_SELECT} WHERE q.out_trade_no = ?1 ORDER BY q.id"
            ))?;
            let rows = statement.query_map([out_trade_no], queue_row)?;
            rows.map(|row| row?).collect()
        })
    }

    /// How many requests are in each state (the queue's tabs); states with none are left out.
    /// Read from the counts the triggers keep, not counted.
    pub fn queue_counts(&self) -> Result<Vec<QueueCount>, CoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT state, count FROM queue_counts WHERE count > 0")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut counts = Vec::new();
            for row in rows {
                let (state, count) = row?;
                let state = QueueState::parse(&state).ok_or(CoreError::UnknownState(state))?;
                counts.push(QueueCount { state, count });
            }
            counts.sort_by_key(|c| QueueState::ALL.iter().position(|s| *s == c.state));
            Ok(counts)
        })
    }

    /// Refunds on their way: approved, being sent, held or being followed with WeChat.
    pub fn refunds_in_flight(&self) -> Result<i64, CoreError> {
        Ok(self
            .queue_counts()?
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    QueueState::Approved
                        | QueueState::Submitting
                        | QueueState::Held
                        | QueueState::Processing
                )
            })
            .map(|c| c.count)
            .sum())
    }

    /// One request with its refund.
    pub fn queue_item(&self, request: i64) -> Result<QueueItem, CoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("{QUEUE_SELECT} WHERE q.id = ?1"),
                [request],
                queue_row,
            )
            .optional()?
            .ok_or(CoreError::RequestNotFound(request))?
        })
    }
}

fn queue_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<QueueItem, CoreError>> {
    let state: String = row.get(7)?;
    let Some(state) = QueueState::parse(&state) else {
        return Ok(Err(CoreError::UnknownState(state)));
    };
    let refund = match row.get::<_, Option<i64>>(11)? {
        Some(id) => {
            let problem = match row.get::<_, Option<String>>(16)? {
                Some(code) => match Problem::parse(&code) {
                    Some(problem) => Some(problem),
                    None => return Ok(Err(CoreError::UnknownState(code))),
                },
                None => None,
            };
            Some(RefundView {
                id,
                out_refund_no: row.get(12)?,
                refund_fee: Fen::new(row.get(13)?),
                refund_id: row.get(14)?,
                attempts: row.get(15)?,
                problem,
                wechat_detail: row.get(17)?,
                contradicted: row.get(18)?,
                updated_at: row.get(19)?,
            })
        }
        None => None,
    };
    Ok(Ok(QueueItem {
        request: row.get(0)?,
        request_id: row.get(1)?,
        out_trade_no: row.get(2)?,
        requested_fee: Fen::new(row.get(3)?),
        reason: row.get(4)?,
        customer: row.get(5)?,
        created_at: row.get(6)?,
        state,
        decided_by: row.get(8)?,
        decided_at: row.get(9)?,
        reject_reason: row.get(10)?,
        refund,
    }))
}
