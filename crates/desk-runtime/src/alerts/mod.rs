//! Alerts the way a shop's payment speaker works: every fact staff must hear of is a row in the
//! store's outbox (desk-core `alerts.rs`); this module decides what each becomes (a desktop
//! notification, a sound, a spoken amount, a running summary in a flash sale, one summary of
//! what came while the desk was closed, a reminder until someone acknowledges) and delivers it
//! from the outbox at least once. The shell and `serve` only show what it hands them.
//!
//! - `plan.rs`: the pure decisions ([`Alerter`]), table-tested with the clock passed in.
//! - `outbox.rs`: the loop that reads the outbox, delivers and marks shown ([`deliver_alerts`]).
//! - `text.rs`: a refund problem in words.

mod outbox;
mod plan;
mod text;

use serde::{Deserialize, Serialize};

pub use outbox::{AlertSink, deliver_alerts};
pub use plan::{Alerter, FLASH_ORDERS, FLASH_WINDOW_SECS, REMIND_EVERY_SECS};
pub use text::problem_text;

use crate::speech::Phrase;

/// The UI's language, also used for desktop notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertSettings {
    #[serde(default = "yes")]
    pub sound: bool,
    /// Say each paid order's amount aloud. On for new desks; a desk configured before the voice
    /// existed keeps quiet until the owner turns it on.
    #[serde(default)]
    pub voice: bool,
    /// The voice's volume, 0 to 100.
    #[serde(default = "default_volume")]
    pub volume: u8,
    /// Remind of new orders until someone acknowledges them (across restarts).
    #[serde(default)]
    pub repeat_until_ack: bool,
    /// No sound, voice or reminders in this window, China time ("22:00" to "08:00" spans
    /// midnight). Notifications still show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

fn yes() -> bool {
    true
}

fn default_volume() -> u8 {
    80
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            sound: true,
            voice: true,
            volume: default_volume(),
            repeat_until_ack: false,
            quiet_hours: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuietHours {
    /// "HH:MM"
    pub from: String,
    pub to: String,
}

impl QuietHours {
    /// Minutes after midnight of each end, or `None` when either is not "HH:MM".
    pub fn minutes(&self) -> Option<(u32, u32)> {
        Some((parse_hhmm(&self.from)?, parse_hhmm(&self.to)?))
    }

    fn contains(&self, minute: u32) -> bool {
        match self.minutes() {
            Some((from, to)) if from <= to => (from..to).contains(&minute),
            Some((from, to)) => minute >= from || minute < to,
            None => false,
        }
    }
}

fn parse_hhmm(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Shops are in China: times are shown and quiet hours judged in China Standard Time.
pub(crate) use wxpay::china_time::at as china_time;
pub use wxpay::china_time::day_start as china_day_start;

/// "14:05:09", China time.
pub(crate) fn clock(unix: i64) -> String {
    let time = china_time(unix);
    format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// What a delivered alert is, for its look and sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AlertKind {
    NewOrder,
    /// A flash sale's running summary, updated in place.
    OrderBurst,
    /// What came in while the desk was closed, raised once at start.
    WhileClosed,
    /// New orders nobody acknowledged yet.
    Reminder,
    RefundRequest,
    RefundSucceeded,
    RefundFailed,
    RefundNeedsManual,
    /// Held until the owner fixes the setup.
    RefundHeld,
    /// WeChat paid a refund the desk held as failed.
    RefundContradicted,
    /// Genuine traffic keeps failing verification for a reason of the desk's own (the API key,
    /// the backend's shared secret): what to fix.
    SetupAlarm,
    Test,
}

impl AlertKind {
    /// A running summary: delivered again with the same key to update it in place. Every other
    /// alert's key is its own.
    pub fn updated_in_place(self) -> bool {
        match self {
            AlertKind::OrderBurst | AlertKind::WhileClosed | AlertKind::Reminder => true,
            AlertKind::NewOrder
            | AlertKind::RefundRequest
            | AlertKind::RefundSucceeded
            | AlertKind::RefundFailed
            | AlertKind::RefundNeedsManual
            | AlertKind::RefundHeld
            | AlertKind::RefundContradicted
            | AlertKind::SetupAlarm
            | AlertKind::Test => false,
        }
    }
}

/// Where clicking the alert takes the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AlertTarget {
    /// The refund queue's pending tab.
    Queue,
    /// The paid orders, newest first.
    Orders,
    Order {
        out_trade_no: String,
    },
    Request {
        request: i64,
    },
    Settings,
}

/// One desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    /// The notification it is: an alert with the key of one already shown replaces it in place
    /// (a flash sale's running summary). "order:…", "flash:…", "closed:…", "refund:…".
    pub key: String,
    pub kind: AlertKind,
    pub title: String,
    pub body: String,
    /// Play the new-order sound.
    pub sound: bool,
    /// What to say aloud, if anything.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub speech: Option<Phrase>,
    /// The newest outbox row it covers: acknowledging it acknowledges everything up to here.
    pub up_to: i64,
    pub target: AlertTarget,
}

#[cfg(test)]
mod tests {
    // Amounts are written as yuan_fen (123_50 is ¥123.50).
    #![allow(clippy::inconsistent_digit_grouping)]
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_china_time() {
        // 2026-11-23 14:05:09 China time; that day began 2026-11-22 16:00:00 UTC.
        let afternoon = 1_795_413_909;
        let start = china_day_start(afternoon);
        assert_eq!(start, 1_795_363_200);
        assert_eq!(china_time(start).hour(), 0);
        assert_eq!(china_day_start(start), start);
        assert_eq!(china_day_start(start - 1), start - 24 * 3600);
    }

    #[test]
    fn quiet_hours_need_hh_mm() {
        let quiet = |from: &str, to: &str| QuietHours {
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(quiet("22:00", "08:00").minutes(), Some((1320, 480)));
        assert_eq!(quiet("24:00", "08:00").minutes(), None);
        assert_eq!(quiet("8:00", "09:00").minutes(), None);
        assert_eq!(quiet("08:60", "09:00").minutes(), None);
    }
}
