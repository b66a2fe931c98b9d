//! What the intake refused, and the alarms that say why genuine traffic stopped verifying.
//!
//! Every refusal is counted by door and cause (`refusals`, an hour at a time; the doctor shows
//! the last day). Counting never raises an alarm: anyone who can reach the intake can send
//! refusals. An alarm needs proof that the traffic was genuine:
//!
//! - **`api_key_mismatch`**: a payment notification that names this merchant fails its
//!   signature, or a refund notification for it does not decrypt. Strangers can send those too,
//!   so the intake asks WeChat itself (a signed refund query with the desk's key, at most once a
//!   minute, see `intake.rs`): only when WeChat refuses the desk's key is the alarm raised. While
//!   WeChat accepts the key, a notification that fails is a forgery, counted as one.
//! - **`backend_old_secret`**: a backend refund request fails the shared secret but verifies
//!   with one the owner replaced. Only the backend (or whoever holds that old secret) can sign
//!   so; a stranger's garbage matches no secret and is only counted.
//!
//! - **`signed_conflict`**: a message that verifies with the merchant's API key (a payment
//!   notification, a refund notification) contradicts what WeChat told the desk: another total
//!   or transaction for a paid order, a refund WeChat has no record of. WeChat does not
//!   contradict itself, so someone else holds the key (a staff desk's PC, a former employee),
//!   and only a key holder can raise it. Mended when the API key is replaced (setup).
//!
//! An alarm lasts until what it says is mended: a notification verifies (or WeChat accepts the
//! key again), or the backend signs with the current secret.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::CoreError;
use crate::store::Store;

/// Where a refused request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Door {
    PaymentNotify,
    RefundNotify,
    Backend,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Refusal {
    /// Not a message of its kind (not XML, fields missing, not JSON).
    Malformed,
    /// Names another appid or mch_id.
    OtherMerchant,
    /// Names this merchant but fails its signature (or does not decrypt): a wrong key on one
    /// side, or a forgery. The key check tells which.
    Unverified,
    /// Unverified while WeChat accepted the desk's key: a forgery.
    Forged,
    /// Backend: no signature or timestamp.
    Unsigned,
    /// Backend: the timestamp is more than five minutes off.
    Stale,
    /// Backend: signed with a secret the owner replaced.
    OldSecret,
    /// Backend: signed, but not a valid refund request. Refund notification: decrypted, but
    /// its facts disagree with the desk's record of that refund.
    Invalid,
}

/// What an alarm says is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AlarmCause {
    /// WeChat refuses the desk's API key: its notifications cannot be verified.
    ApiKeyMismatch,
    /// The shop's backend signs refund requests with a replaced shared secret.
    BackendOldSecret,
    /// A message signed with the merchant's API key contradicts WeChat: someone else holds
    /// the key. Reset it in 商户平台 and set it up again.
    SignedConflict,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::PaymentNotify => "payment_notify",
            Door::RefundNotify => "refund_notify",
            Door::Backend => "backend",
        }
    }

    fn parse(text: &str) -> Option<Door> {
        [Door::PaymentNotify, Door::RefundNotify, Door::Backend]
            .into_iter()
            .find(|door| door.as_str() == text)
    }
}

impl Refusal {
    pub const ALL: [Refusal; 8] = [
        Refusal::Malformed,
        Refusal::OtherMerchant,
        Refusal::Unverified,
        Refusal::Forged,
        Refusal::Unsigned,
        Refusal::Stale,
        Refusal::OldSecret,
        Refusal::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::OtherMerchant => "other_merchant",
            Refusal::Unverified => "unverified",
            Refusal::Forged => "forged",
            Refusal::Unsigned => "unsigned",
            Refusal::Stale => "stale",
            Refusal::OldSecret => "old_secret",
            Refusal::Invalid => "invalid",
        }
    }

    fn parse(text: &str) -> Option<Refusal> {
        Refusal::ALL
            .into_iter()
            .find(|cause| cause.as_str() == text)
    }
}

impl AlarmCause {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmCause::ApiKeyMismatch => "api_key_mismatch",
            AlarmCause::BackendOldSecret => "backend_old_secret",
            AlarmCause::SignedConflict => "signed_conflict",
        }
    }

    fn parse(text: &str) -> Option<AlarmCause> {
        [
            AlarmCause::ApiKeyMismatch,
            AlarmCause::BackendOldSecret,
            AlarmCause::SignedConflict,
        ]
        .into_iter()
        .find(|cause| cause.as_str() == text)
    }
}

/// Refusals of one door and cause over a span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RefusalCount {
    pub door: Door,
    pub cause: Refusal,
    pub count: i64,
}

/// An alarm not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alarm {
    pub id: i64,
    pub cause: AlarmCause,
    pub raised_at: i64,
    pub last_at: i64,
    /// The refusals it explains.
    pub count: i64,
    /// Whether staff were alerted (the alert loop delivers each alarm once).
    pub notified: bool,
}

/// The hour a Unix time falls in (its first second).
pub fn hour_of(at: i64) -> i64 {
    at - at.rem_euclid(3600)
}

impl Store {
    /// Adds refusal counts to the hour of `at`.
    pub fn count_refusals(&self, at: i64, counts: &[RefusalCount]) -> Result<(), CoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut add = tx.prepare_cached(
                "INSERT INTO refusals (hour, door, cause, count) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hour, door, cause) DO UPDATE SET count = count + excluded.count",
            )?;
            for c in counts.iter().filter(|c| c.count > 0) {
                add.execute(params![
                    hour_of(at),
                    c.door.as_str(),
                    c.cause.as_str(),
                    c.count
                ])?;
            }
            Ok(())
        })
    }

    /// Refusals counted in the hours from `since` on, by door and cause.
    pub fn refusals_since(&self, since: i64) -> Result<Vec<RefusalCount>, CoreError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT door, cause, SUM(count) FROM refusals WHERE hour >= ?1
                 GROUP BY door, cause ORDER BY door, cause",
            )?;
            let rows = query.query_map(params![hour_of(since)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get(2)?,
                ))
            })?;
            let mut counts = Vec::new();
            for row in rows {
                let (door, cause, count) = row?;
                if let (Some(door), Some(cause)) = (Door::parse(&door), Refusal::parse(&cause)) {
                    counts.push(RefusalCount { door, cause, count });
                }
            }
            Ok(counts)
        })
    }

    /// Raises the alarm, or counts one more refusal under it when it is up. True when it was
    /// raised now (staff are alerted once per alarm).
    pub fn raise_alarm(&self, cause: AlarmCause, now: i64) -> Result<bool, CoreError> {
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE alarms SET last_at = ?2, count = count + 1
                 WHERE cause = ?1 AND resolved_at IS NULL",
                params![cause.as_str(), now],
            )?;
            if updated > 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO alarms (cause, raised_at, last_at, count) VALUES (?1, ?2, ?2, 1)",
                params![cause.as_str(), now],
            )?;
            Ok(true)
        })
    }

    /// Resolves the alarm when it is up; true when one was.
    pub fn resolve_alarm(&self, cause: AlarmCause, now: i64) -> Result<bool, CoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE alarms SET resolved_at = ?2 WHERE cause = ?1 AND resolved_at IS NULL",
                params![cause.as_str(), now],
            )? > 0)
        })
    }

    /// The alarms up now, oldest first.
    pub fn active_alarms(&self) -> Result<Vec<Alarm>, CoreError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT id, cause, raised_at, last_at, count, notified_at IS NOT NULL
                 FROM alarms WHERE resolved_at IS NULL ORDER BY id",
            )?;
            let rows = query.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?;
            let mut alarms = Vec::new();
            for row in rows {
                let (id, cause, raised_at, last_at, count, notified) = row?;
                let cause = AlarmCause::parse(&cause).ok_or(CoreError::UnknownState(cause))?;
                alarms.push(Alarm {
                    id,
                    cause,
                    raised_at,
                    last_at,
                    count,
                    notified,
                });
            }
            Ok(alarms)
        })
    }

    /// Marks the alarm's alert delivered.
    pub fn mark_alarm_notified(&self, id: i64, now: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE alarms SET notified_at = ?2 WHERE id = ?1 AND notified_at IS NULL",
                params![id, now],
            )?;
            Ok(())
        })
    }

    /// Whether the alarm is up.
    pub fn alarm_up(&self, cause: AlarmCause) -> Result<bool, CoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM alarms WHERE cause = ?1 AND resolved_at IS NULL",
                    params![cause.as_str()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }
}
