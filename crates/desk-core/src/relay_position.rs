//! How far the desk has read the shop's log on the relay, and the entries it put aside.
//!
//! Entries are taken in order and each is stored before the position moves past it; taking one
//! again stores nothing new, so at least once from the relay is exactly once here. The position
//! keeps the digest of the entry taken last: at the next connection the relay sends that entry
//! again, and a different one there (or none) means the log went back (a restored or failed-over
//! relay database reused numbers this desk passed), so the desk reads it again from its start.
//!
//! An entry waiting for an outside answer (WeChat unreachable, the desk's key in doubt) is put
//! aside in `relay_parked` in the same transaction that moves the position past it, and taken
//! again on a schedule of its own: no entry anyone can write holds up the ones after it.

use rusqlite::{OptionalExtension, params};

use crate::error::CoreError;
use crate::store::Store;

/// Where the desk stands in one relay's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayPosition {
    /// The last entry taken (0: none yet).
    pub seq: i64,
    /// Its digest (`relay_protocol::Entry::digest`), when known.
    pub digest: Option<String>,
}

/// An entry put aside, to be taken again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEntry {
    pub seq: i64,
    /// The entry as the relay sent it (JSON).
    pub entry: String,
    /// Times it was taken again since it was put aside.
    pub attempts: i64,
}

impl Store {
    /// Where the desk stands in `source`'s log.
    pub fn relay_position(&self, source: &str) -> Result<RelayPosition, CoreError> {
        self.read(|conn| {
            let found = conn
                .prepare_cached("SELECT seq, digest FROM relay_positions WHERE source = ?1")?
                .query_row([source], |row| {
                    Ok(RelayPosition {
                        seq: row.get(0)?,
                        digest: row.get(1)?,
                    })
                })
                .optional()?;
            Ok(found.unwrap_or_default())
        })
    }

    /// Every entry of `source`'s log through `seq` (whose digest is `digest`) was taken, or put
    /// aside (`parked`: each entry's number and JSON, first taken again at `retry_at`), in one
    /// transaction. Never moves back.
    pub fn advance_relay(
        &self,
        source: &str,
        seq: i64,
        digest: &str,
        parked: &[(i64, String)],
        retry_at: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        self.write(|tx| {
            for (parked_seq, entry) in parked {
                tx.prepare_cached(
                    "INSERT INTO relay_parked (source, seq, entry, parked_at, next_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (source, seq) DO NOTHING",
                )?
                .execute(params![source, parked_seq, entry, now, retry_at])?;
            }
            tx.prepare_cached(
                "INSERT INTO relay_positions (source, seq, digest, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source) DO UPDATE SET
                     digest = CASE WHEN excluded.seq >= seq THEN excluded.digest ELSE digest END,
                     seq = MAX(seq, excluded.seq),
                     updated_at = excluded.updated_at",
            )?
            .execute(params![source, seq, digest, now])?;
            Ok(())
        })
    }

    /// The log went back (or is another log under the same name): the desk reads it again
    /// after `seq`. What it took before is stored once whatever it reads again; entries it put
    /// aside stay aside (their numbers may be reused, so they are kept by what they hold).
    pub fn rewind_relay(&self, source: &str, seq: i64, now: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO relay_positions (source, seq, digest, updated_at) VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT (source) DO UPDATE SET seq = excluded.seq, digest = NULL,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![source, seq, now])?;
            // Numbers the log will reuse: a parked entry keeps its place under a negative one.
            tx.prepare_cached(
                "UPDATE relay_parked SET seq = -seq - (SELECT COALESCE(MAX(ABS(seq)), 0) FROM relay_parked WHERE source = ?1)
                 WHERE source = ?1 AND seq > ?2",
            )?
            .execute(params![source, seq])?;
            Ok(())
        })
    }

    /// Entries of `source` put aside whose time to be taken again has come, oldest first.
    pub fn parked_due(
        &self,
        source: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ParkedEntry>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, entry, attempts FROM relay_parked
                 WHERE source = ?1 AND next_at <= ?2 ORDER BY next_at, seq LIMIT ?3",
            )?;
            let rows = statement.query_map(
                params![source, now, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    Ok(ParkedEntry {
                        seq: row.get(0)?,
                        entry: row.get(1)?,
                        attempts: row.get(2)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// A parked entry was taken (or refused for good): it is done.
    pub fn unpark(&self, source: &str, seq: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM relay_parked WHERE source = ?1 AND seq = ?2")?
                .execute(params![source, seq])?;
            Ok(())
        })
    }

    /// A parked entry is still waiting: taken again at `next_at`.
    pub fn park_again(&self, source: &str, seq: i64, next_at: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE relay_parked SET attempts = attempts + 1, next_at = ?3
                 WHERE source = ?1 AND seq = ?2",
            )?
            .execute(params![source, seq, next_at])?;
            Ok(())
        })
    }

    /// How many entries of `source` are put aside, and since when the oldest.
    pub fn parked(&self, source: &str) -> Result<(i64, Option<i64>), CoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT COUNT(*), MIN(parked_at) FROM relay_parked WHERE source = ?1",
                )?
                .query_row([source], |row| Ok((row.get(0)?, row.get(1)?)))?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_position_starts_at_zero_never_moves_back_and_is_kept_per_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("desk.sqlite3")).unwrap();
        let a = "https://relay a";
        assert_eq!(store.relay_position(a).unwrap(), RelayPosition::default());
        store.advance_relay(a, 5, "d5", &[], 0, 1).unwrap();
        store.advance_relay(a, 3, "d3", &[], 0, 2).unwrap();
        assert_eq!(
            store.relay_position(a).unwrap(),
            RelayPosition {
                seq: 5,
                digest: Some("d5".into())
            }
        );
        assert_eq!(store.relay_position("https://relay b").unwrap().seq, 0);
        // Only a rewind moves it back.
        store.rewind_relay(a, 2, 3).unwrap();
        assert_eq!(
            store.relay_position(a).unwrap(),
            RelayPosition {
                seq: 2,
                digest: None
            }
        );
    }

    #[test]
    fn parked_entries_wait_their_turn_and_survive_a_rewind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("desk.sqlite3")).unwrap();
        let a = "https://relay a";
        store
            .advance_relay(
                a,
                4,
                "d4",
                &[(2, "two".into()), (3, "three".into())],
                100,
                1,
            )
            .unwrap();
        assert_eq!(store.relay_position(a).unwrap().seq, 4);
        assert!(store.parked_due(a, 99, 10).unwrap().is_empty());
        let due = store.parked_due(a, 100, 10).unwrap();
        assert_eq!(
            due.iter().map(|p| p.entry.as_str()).collect::<Vec<_>>(),
            ["two", "three"]
        );
        store.park_again(a, 2, 200).unwrap();
        store.unpark(a, 3).unwrap();
        assert_eq!(store.parked(a).unwrap(), (1, Some(1)));
        // The log goes back to 1: entry 2's number will be reused, its content stays aside.
        store.rewind_relay(a, 1, 5).unwrap();
        let kept = store.parked_due(a, 200, 10).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].entry.as_str(), kept[0].attempts), ("two", 1));
        assert!(kept[0].seq < 0, "out of the way of the reused numbers");
        store
            .advance_relay(a, 2, "new2", &[(2, "new two".into())], 200, 6)
            .unwrap();
        assert_eq!(store.parked(a).unwrap().0, 2, "both kept");
    }
}
