//! The today board: a day's takings at a glance (orders, refunds, the average order, takings by
//! hour against the day before, the latest orders). Read from the paid-time index; the caller
//! says where the day starts (shops count days in China time).

use rusqlite::params;
use serde::Serialize;
use wxpay::Fen;

use crate::error::CoreError;
use crate::orders::Order;
use crate::store::Store;

const DAY: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayBoard {
    /// Unix seconds of the day's midnight.
    pub day_start: i64,
    /// What customers paid this day.
    pub takings: Fen,
    pub orders: i64,
    /// Takings over orders, rounded to the nearest fen (0 without orders).
    pub average: Fen,
    /// Refunds that succeeded this day, and what they gave back.
    pub refunds: i64,
    pub refunded: Fen,
    /// Takings by hour of the day, 24 entries: this day and the day before.
    pub hours: Vec<Fen>,
    pub hours_before: Vec<Fen>,
    /// The newest paid orders, newest first.
    pub latest: Vec<Order>,
}

impl Store {
    /// The board of the day starting at `day_start`, with the `latest` newest orders.
    pub fn day_board(&self, day_start: i64, latest: usize) -> Result<DayBoard, CoreError> {
        let by_hour = |from: i64| -> Result<Vec<(i64, i64, i64)>, CoreError> {
            self.read(|conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT (paid_at - ?1) / 3600, COUNT(*), SUM(total_fee) FROM orders
                     WHERE paid_at >= ?1 AND paid_at < ?2 GROUP BY 1",
                )?;
                let rows = statement.query_map(params![from, from + DAY], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
        };
        let hours_of = |rows: &[(i64, i64, i64)]| {
            let mut hours = vec![Fen::ZERO; 24];
            for &(hour, _, fen) in rows {
                if let Some(slot) = usize::try_from(hour).ok().and_then(|h| hours.get_mut(h)) {
                    *slot = Fen::new(fen);
                }
            }
            hours
        };
        let today = by_hour(day_start)?;
        let before = by_hour(day_start - DAY)?;
        let orders: i64 = today.iter().map(|r| r.1).sum();
        let takings: i64 = today.iter().map(|r| r.2).sum();
        let (refunds, refunded): (i64, i64) = self.read(|conn| {
            conn.prepare_cached(
                // SQLite would pick the state index and read every succeeded refund ever.
                "SELECT COUNT(*), COALESCE(SUM(refund_fee), 0)
                 FROM refunds INDEXED BY refunds_succeeded_at
                 WHERE state = 'succeeded' AND updated_at >= ?1 AND updated_at < ?2",
            )?
            .query_row(params![day_start, day_start + DAY], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(CoreError::from)
        })?;
        Ok(DayBoard {
            day_start,
            takings: Fen::new(takings),
            orders,
            average: Fen::new(if orders > 0 {
                (takings + orders / 2) / orders
            } else {
                0
            }),
            refunds,
            refunded: Fen::new(refunded),
            hours: hours_of(&today),
            hours_before: hours_of(&before),
            latest: self.orders(None, latest)?,
        })
    }
}
