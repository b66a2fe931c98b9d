//! The doctor's look at what the intake refused (`desk_core::watch`): an alarm up is a failed
//! check naming its fix; otherwise the day's refusals, by door and cause, for the record.

use desk_core::{AlarmCause, Store};

use super::finding::Finding;
use super::{Check, CheckName};
use crate::books::Books;
use crate::config::Config;
use crate::files::DataDir;

const DAY_SECS: i64 = 24 * 3600;

/// None when the configured mode's desk never ran (no database yet). `key_accepted`: WeChat
/// just accepted the desk's key, so an alarm saying it does not is over (resolved here).
pub fn watch_check(dir: &DataDir, config: &Config, key_accepted: bool, now: i64) -> Option<Check> {
    let database = Books::of(config, config.mode, dir).ok()?.database(dir);
    if !database.exists() {
        return None;
    }
    let finding = match Store::open(&database) {
        Ok(store)
            if key_accepted
                && store
                    .resolve_alarm(AlarmCause::ApiKeyMismatch, now)
                    .is_err() =>
        {
            Finding::ConfigUnreadable {
                detail: format!("{} could not be written", database.display()),
            }
        }
        Ok(store) => match (store.active_alarms(), store.refusals_since(now - DAY_SECS)) {
            (Ok(alarms), Ok(refused)) => match alarms.into_iter().next() {
                Some(alarm) => Finding::AlarmUp {
                    cause: alarm.cause,
                    raised_at: alarm.raised_at,
                    count: alarm.count,
                },
                None => Finding::RefusedLastDay { refused },
            },
            (Err(error), _) | (_, Err(error)) => Finding::ConfigUnreadable {
                detail: error.to_string(),
            },
        },
        Err(error) => Finding::ConfigUnreadable {
            detail: error.to_string(),
        },
    };
    Some(Check::new(CheckName::Notifications, finding))
}
