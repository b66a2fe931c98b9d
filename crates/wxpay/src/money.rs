//! Money as integer fen (1 yuan = 100 fen). Floating point never touches an amount.

use std::fmt;

/// An amount in fen, the unit of every WeChat Pay v2 amount field.
///
/// Arithmetic is checked: an overflow is a `None`, never a wrapped number.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Fen(i64);

/// Why a wire amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FenError {
    #[error("amount is empty")]
    Empty,
    #[error("amount must be a whole number of fen written with digits only")]
    NotDigits,
    #[error("amount is too large")]
    Overflow,
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Parses an amount as WeChat writes it: unsigned decimal digits, no sign, no point.
    pub fn parse_wire(text: &str) -> Result<Fen, FenError> {
        if text.is_empty() {
            return Err(FenError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FenError::NotDigits);
        }
        text.parse::<i64>().map(Fen).map_err(|_| FenError::Overflow)
    }

    /// The amount in yuan with two decimals ("12.30"), for display only.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// The amount as people read it, in every text the desk writes (the CLI, desktop alerts):
    /// `¥1,234.50`, `-¥1.50`. The window formats its own, the same way.
    pub fn to_yuan_display(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        format!("{sign}¥{grouped}.{:02}", abs % 100)
    }
}

/// Writes the wire form: the integer number of fen.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_amounts_are_plain_digits() {
        assert_eq!(Fen::parse_wire("0"), Ok(Fen(0)));
        assert_eq!(Fen::parse_wire("12345"), Ok(Fen(12345)));
        assert_eq!(Fen::parse_wire(""), Err(FenError::Empty));
        for bad in ["-1", "+1", "1.00", " 1", "1e3", "１"] {
            assert_eq!(Fen::parse_wire(bad), Err(FenError::NotDigits), "{bad:?}");
        }
        assert_eq!(
            Fen::parse_wire("99999999999999999999"),
            Err(FenError::Overflow)
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), None);
        assert_eq!(Fen(5).checked_sub(Fen(7)), Some(Fen(-2)));
    }

    #[test]
    fn amounts_for_people() {
        assert_eq!(Fen(123_450).to_yuan_display(), "¥1,234.50");
        assert_eq!(Fen(5).to_yuan_display(), "¥0.05");
        assert_eq!(Fen(100_000_000).to_yuan_display(), "¥1,000,000.00");
        assert_eq!(Fen(-150).to_yuan_display(), "-¥1.50");
        assert_eq!(Fen(-123_450).to_yuan_display(), "-¥1,234.50");
    }

    #[test]
    fn yuan_display() {
        assert_eq!(Fen(0).to_yuan_string(), "0.00");
        assert_eq!(Fen(5).to_yuan_string(), "0.05");
        assert_eq!(Fen(12030).to_yuan_string(), "120.30");
        assert_eq!(Fen(-150).to_yuan_string(), "-1.50");
        assert_eq!(Fen(i64::MIN).to_yuan_string(), "-92233720368547758.08");
    }
}
