//! How far the desk has read the shop's log on the relay. Entries are taken in order and each is
//! stored before the position moves past it; taking one again stores nothing new, so at least
//! once from the relay is exactly once here.

use rusqlite::{OptionalExtension, params};

use crate::error::CoreError;
use crate::store::Store;

impl Store {
    /// The last entry of `source`'s log that was taken (0: none yet).
    pub fn relay_position(&self, source: &str) -> Result<i64, CoreError> {
        self.read(|conn| {
            let seq = conn
                .prepare_cached("SELECT seq FROM relay_positions WHERE source = ?1")?
                .query_row([source], |row| row.get(0))
                .optional()?;
            Ok(seq.unwrap_or(0))
        })
    }

    /// Every entry of `source`'s log through `seq` was taken. Never moves back.
    pub fn set_relay_position(&self, source: &str, seq: i64, now: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO relay_positions (source, seq, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source) DO UPDATE SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at",
            )?
            .execute(params![source, seq, now])?;
            Ok(())
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
        assert_eq!(store.relay_position("https://relay a").unwrap(), 0);
        store.set_relay_position("https://relay a", 5, 1).unwrap();
        store.set_relay_position("https://relay a", 3, 2).unwrap();
        assert_eq!(store.relay_position("https://relay a").unwrap(), 5);
        assert_eq!(store.relay_position("https://relay b").unwrap(), 0);
    }
}
