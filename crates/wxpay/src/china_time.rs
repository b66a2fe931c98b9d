//! Time as WeChat writes it and as the shop reads it: China Standard Time (UTC+8), never
//! daylight saving. The one place that knows the offset.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// UTC+8.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// Unix seconds as China time (times out of range read as the epoch).
pub fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST)
}

/// The Unix time of the midnight (China time) that began the day of `unix`.
pub fn day_start(unix: i64) -> i64 {
    const OFFSET: i64 = 8 * 3600;
    unix - (unix + OFFSET).rem_euclid(24 * 3600)
}

/// `yyyyMMddHHmmss` (as in `time_end`) as Unix seconds; `None` when it is not one.
pub fn from_compact(text: &str) -> Option<i64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u8>().ok();
    let year: i32 = text[..4].parse().ok()?;
    let date = time::Date::from_calendar_date(
        year,
        time::Month::try_from(number(4..6)?).ok()?,
        number(6..8)?,
    )
    .ok()?;
    let clock = time::Time::from_hms(number(8..10)?, number(10..12)?, number(12..14)?).ok()?;
    Some(
        PrimitiveDateTime::new(date, clock)
            .assume_offset(CST)
            .unix_timestamp(),
    )
}

/// `yyyyMMddHHmmss`, as in `time_end`.
pub fn compact(at: OffsetDateTime) -> String {
    layout(at, "", "", "")
}

/// `yyyy-MM-dd HH:mm:ss`, as in `success_time` and bills.
pub fn readable(at: OffsetDateTime) -> String {
    layout(at, "-", " ", ":")
}

/// `yyyy-MM-dd HH:mm` of Unix seconds: how the shop reads a time in a list.
pub fn to_minute(unix: i64) -> String {
    let readable =
        readable(OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH));
    readable[..16].to_owned()
}

/// `yyyyMMdd` of the day `at` falls on in China, as in `bill_date`.
pub fn bill_date(at: OffsetDateTime) -> String {
    compact(at)[..8].to_owned()
}

fn layout(at: OffsetDateTime, date_sep: &str, middle: &str, time_sep: &str) -> String {
    let t = at.to_offset(CST);
    format!(
        "{:04}{date_sep}{:02}{date_sep}{:02}{middle}{:02}{time_sep}{:02}{time_sep}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // 2026-11-23 16:25:33 UTC is 2026-11-24 00:25:33 in Beijing.
    const UNIX: i64 = 1_795_451_133;

    #[test]
    fn formats_in_china_time() {
        let at = OffsetDateTime::from_unix_timestamp(UNIX).unwrap();
        assert_eq!(compact(at), "20261124002533");
        assert_eq!(readable(at), "2026-11-24 00:25:33");
        assert_eq!(bill_date(at), "20261124");
        assert_eq!(to_minute(UNIX), "2026-11-24 00:25");
        assert_eq!(super::at(UNIX).hour(), 0);
    }

    #[test]
    fn reads_wechats_compact_time() {
        assert_eq!(from_compact("20261124002533"), Some(UNIX));
        assert_eq!(from_compact("20261324002533"), None);
        assert_eq!(from_compact("2026112400253"), None);
        assert_eq!(from_compact("2026112400253x"), None);
    }

    #[test]
    fn a_day_starts_at_midnight_china_time() {
        let start = day_start(UNIX);
        assert_eq!(super::at(start).hour(), 0);
        assert_eq!(super::at(start).minute(), 0);
        assert!(UNIX - start < 24 * 3600 && start <= UNIX);
        assert_eq!(day_start(start), start);
    }
}
