//! Time as WeChat writes it: China Standard Time (UTC+8), never daylight saving.

use time::{OffsetDateTime, UtcOffset};

const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

fn cst(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(CST)
}

/// `yyyyMMddHHmmss`, as in `time_end`.
pub fn compact(at: OffsetDateTime) -> String {
    layout(at, "", "", "")
}

/// `yyyy-MM-dd HH:mm:ss`, as in `refund_success_time` and bills.
pub fn readable(at: OffsetDateTime) -> String {
    layout(at, "-", " ", ":")
}

fn layout(at: OffsetDateTime, date_sep: &str, middle: &str, time_sep: &str) -> String {
    let t = cst(at);
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

/// `yyyyMMdd` of the day `at` falls on in China, as in `bill_date`.
pub fn bill_date(at: OffsetDateTime) -> String {
    compact(at)[..8].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_china_time() {
        // 2026-11-23 16:25:33 UTC is 2026-11-24 00:25:33 in Beijing.
        let at = OffsetDateTime::from_unix_timestamp(1_795_451_133).unwrap();
        assert_eq!(compact(at), "20261124002533");
        assert_eq!(readable(at), "2026-11-24 00:25:33");
        assert_eq!(bill_date(at), "20261124");
    }
}
