//! Wrong PINs, counted on disk: every door (the window, each CLI process) reads and writes the
//! same record under a file lock, so a guessing loop cannot start over by starting a new
//! process, and a restart forgets nothing.
//!
//! After [`FREE_ATTEMPTS`] wrong PINs in a row, each further guess waits: 30 s, then twice as
//! long after every wrong one, up to [`MAX_WAIT_SECS`]. While a wait runs no PIN is checked,
//! the right one included. Trying half of the 1,000,000 six-digit PINs so takes about 14 years
//! ([`time_to_try`]); the owner who mistypes five times waits 30 s.

use std::fs::OpenOptions;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::AccessError;
use crate::files::write_private;

/// Wrong PINs in a row before guesses have to wait.
pub const FREE_ATTEMPTS: u32 = 5;
const FIRST_WAIT_SECS: i64 = 30;
/// The longest wait between guesses: long enough to make guessing hopeless, short enough that
/// an owner locked out by someone else's guesses gets in within a quarter of an hour.
pub const MAX_WAIT_SECS: i64 = 15 * 60;

/// What the record holds (`pin-attempts.json` in the data directory).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub wrong_in_a_row: u32,
    /// Unix seconds before which no PIN is checked.
    pub wait_until: i64,
    /// The PIN that last opened the desk is shorter than new PINs must be.
    #[serde(default)]
    pub short_pin: bool,
}

/// The wait after `wrong` wrong PINs in a row.
pub fn wait_after(wrong: u32) -> i64 {
    match wrong.checked_sub(FREE_ATTEMPTS) {
        None => 0,
        Some(extra) => FIRST_WAIT_SECS
            .checked_shl(extra)
            .filter(|wait| *wait > 0)
            .map_or(MAX_WAIT_SECS, |wait| wait.min(MAX_WAIT_SECS)),
    }
}

/// The least time a guesser needs for `guesses` wrong PINs in a row, in seconds.
pub fn time_to_try(guesses: u64) -> i64 {
    (1..guesses).fold(0i64, |total, done| {
        let wrong = u32::try_from(done).unwrap_or(u32::MAX);
        total.saturating_add(wait_after(wrong))
    })
}

/// The record's two files: the record and the lock that serialises its readers and writers.
#[derive(Debug, Clone)]
pub struct Attempts {
    record: PathBuf,
    lock: PathBuf,
}

impl Attempts {
    pub fn new(record: PathBuf, lock: PathBuf) -> Attempts {
        Attempts { record, lock }
    }

    /// The record as it stands (for the window's status); a record that cannot be read counts
    /// as the free attempts used up.
    pub fn read(&self) -> Record {
        match std::fs::read(&self.record) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Record {
                wrong_in_a_row: FREE_ATTEMPTS,
                ..Record::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(_) => Record {
                wrong_in_a_row: FREE_ATTEMPTS,
                ..Record::default()
            },
        }
    }

    /// One guess: refused unchecked while a wait runs; otherwise `check` decides, and the
    /// outcome is written before it is answered. `short` says whether the guessed PIN is
    /// shorter than new PINs must be.
    pub fn guess(
        &self,
        now: i64,
        short: bool,
        check: impl FnOnce() -> bool,
    ) -> Result<(), AccessError> {
        let _held = self.hold()?;
        let mut record = self.read();
        if record.wait_until > now {
            return Err(AccessError::TooManyAttempts {
                wait_secs: record.wait_until - now,
            });
        }
        let right = check();
        if right {
            record = Record {
                wrong_in_a_row: 0,
                wait_until: 0,
                short_pin: short,
            };
        } else {
            record.wrong_in_a_row = record.wrong_in_a_row.saturating_add(1);
            record.wait_until = now + wait_after(record.wrong_in_a_row);
        }
        self.write(&record)?;
        if right {
            Ok(())
        } else {
            Err(AccessError::WrongPin)
        }
    }

    /// A new PIN was saved: whatever was learned about the old one is forgotten.
    pub fn forget_pin(&self) -> Result<(), AccessError> {
        let _held = self.hold()?;
        let record = Record {
            short_pin: false,
            ..self.read()
        };
        self.write(&record)
    }

    fn write(&self, record: &Record) -> Result<(), AccessError> {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        write_private(&self.record, &bytes).map_err(|error| AccessError::Record(error.to_string()))
    }

    fn hold(&self) -> Result<std::fs::File, AccessError> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&self.lock)
            .map_err(|error| AccessError::Record(format!("{}: {error}", self.lock.display())))?;
        file.lock()
            .map_err(|error| AccessError::Record(format!("{}: {error}", self.lock.display())))?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn attempts(dir: &tempfile::TempDir) -> Attempts {
        Attempts::new(
            dir.path().join("record.json"),
            dir.path().join("record.lock"),
        )
    }

    #[test]
    fn waits_grow_after_five_wrong_pins_up_to_a_quarter_hour() {
        let waits: Vec<i64> = (0..14).map(wait_after).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900, 900]
        );
        assert_eq!(wait_after(u32::MAX), MAX_WAIT_SECS);
    }

    #[test]
    fn guessing_six_digits_takes_years_and_four_digits_takes_weeks() {
        let hour = 3600;
        // Half the space, on average.
        let six = time_to_try(500_000);
        let four = time_to_try(5_000);
        assert!(six > 10 * 365 * 24 * hour, "{six} s");
        assert!(four > 50 * 24 * hour, "{four} s");
        // And a few dozen guesses already take hours.
        assert!(time_to_try(30) > 4 * hour);
    }

    #[test]
    fn the_count_is_kept_on_disk_and_a_wait_refuses_even_the_right_pin() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..FREE_ATTEMPTS {
            assert_eq!(
                attempts(&dir).guess(100, false, || false),
                Err(AccessError::WrongPin)
            );
        }
        // Another door (a new value, as another process has) sees the same record.
        let other = attempts(&dir);
        assert_eq!(
            other.guess(101, false, || true),
            Err(AccessError::TooManyAttempts { wait_secs: 29 })
        );
        other.guess(130, false, || true).unwrap();
        assert_eq!(other.read(), Record::default());
    }

    #[test]
    fn a_damaged_record_leaves_no_free_guesses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("record.json"), b"{not json").unwrap();
        assert_eq!(
            attempts(&dir).guess(0, false, || false),
            Err(AccessError::WrongPin)
        );
        assert_eq!(attempts(&dir).read().wait_until, 60);
    }
}
