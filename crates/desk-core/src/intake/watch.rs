//! The intake's watch over what it refuses (see `crate::watch` for what is counted and when an
//! alarm is raised): counts kept in memory and added to the store every few seconds, the check
//! that asks WeChat whether it still accepts the desk's key, and the alarms' comings and goings.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use wxpay_client::{Transport, WxPayClient};

use crate::remote::blocking;
use crate::store::Store;
use crate::watch::{AlarmCause, Door, Refusal, RefusalCount};

/// Counts reach the store at most this often (the last seconds before a stop may be missing:
/// they are diagnostics, not money).
const FLUSH_EVERY_SECS: i64 = 5;
/// WeChat is asked about the key at most this often, however many forgeries arrive.
const KEY_CHECK_EVERY_SECS: i64 = 60;

/// What WeChat last said about the desk's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyVerdict {
    Accepted,
    Rejected,
}

#[derive(Debug, Default)]
struct Counts {
    pending: BTreeMap<(Door, Refusal), i64>,
    flushed_at: i64,
}

#[derive(Debug, Default)]
struct KeyCheck {
    running: bool,
    checked_at: i64,
    verdict: Option<KeyVerdict>,
}

/// Part of the intake's state.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    counts: Mutex<Counts>,
    key: Mutex<KeyCheck>,
    /// Mirrors of the store's alarms, so verified traffic costs no read.
    key_alarm_up: AtomicBool,
    backend_alarm_up: AtomicBool,
    conflict_alarm_up: AtomicBool,
}

impl Watch {
    pub(crate) fn new(store: &Store) -> Watch {
        let watch = Watch::default();
        watch.key_alarm_up.store(
            store.alarm_up(AlarmCause::ApiKeyMismatch).unwrap_or(false),
            Ordering::Relaxed,
        );
        watch.backend_alarm_up.store(
            store
                .alarm_up(AlarmCause::BackendOldSecret)
                .unwrap_or(false),
            Ordering::Relaxed,
        );
        watch.conflict_alarm_up.store(
            store.alarm_up(AlarmCause::SignedConflict).unwrap_or(false),
            Ordering::Relaxed,
        );
        watch
    }

    pub(crate) fn key_alarm_up(&self) -> bool {
        self.key_alarm_up.load(Ordering::Relaxed)
    }

    /// Counts one refusal; the counts go to the store when they are due.
    pub(crate) async fn count(&self, store: &std::sync::Arc<Store>, door: Door, cause: Refusal) {
        let now = crate::remote::unix_now();
        let due = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            *counts.pending.entry((door, cause)).or_default() += 1;
            now - counts.flushed_at >= FLUSH_EVERY_SECS
        };
        if due {
            self.flush(store).await;
        }
    }

    /// Adds the counts kept so far to the store.
    pub(crate) async fn flush(&self, store: &std::sync::Arc<Store>) {
        let now = crate::remote::unix_now();
        let counts: Vec<RefusalCount> = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.flushed_at = now;
            std::mem::take(&mut counts.pending)
                .into_iter()
                .map(|((door, cause), count)| RefusalCount { door, cause, count })
                .collect()
        };
        if counts.is_empty() {
            return;
        }
        let store = store.clone();
        // Counts that cannot be written are dropped: the next ones still are.
        let _ = blocking(move || store.count_refusals(now, &counts)).await;
    }

    /// WeChat's recent word on the key, if it was asked lately.
    pub(crate) fn recent_verdict(&self, now: i64) -> Option<KeyVerdict> {
        let key = self.key.lock().unwrap_or_else(|p| p.into_inner());
        key.verdict
            .filter(|_| now - key.checked_at < KEY_CHECK_EVERY_SECS)
    }

    /// Claims the next key check: false when one runs or ran lately.
    pub(crate) fn claim_key_check(&self, now: i64) -> bool {
        let mut key = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if key.running || (key.verdict.is_some() && now - key.checked_at < KEY_CHECK_EVERY_SECS) {
            return false;
        }
        key.running = true;
        true
    }

    /// Asks WeChat whether it accepts the desk's key (a signed refund query for a number that
    /// cannot exist: nothing changes) and raises or resolves the alarm by its answer. An answer
    /// that says nothing about the key (WeChat unreachable) leaves everything as it was.
    pub(crate) async fn check_key<T: Transport>(
        &self,
        store: &std::sync::Arc<Store>,
        client: &WxPayClient<T>,
    ) {
        let verdict = match crate::remote::ask_key(client).await {
            Ok(()) => Some(KeyVerdict::Accepted),
            Err(error)
                if crate::outcome::problem_of(&error) == crate::lifecycle::Problem::ApiKeyWrong =>
            {
                Some(KeyVerdict::Rejected)
            }
            // An answer that says nothing about the key (WeChat unreachable, say).
            Err(_) => None,
        };
        let now = crate::remote::unix_now();
        {
            let mut key = self.key.lock().unwrap_or_else(|p| p.into_inner());
            key.running = false;
            if verdict.is_some() {
                key.checked_at = now;
                key.verdict = verdict;
            }
        }
        match verdict {
            Some(KeyVerdict::Rejected) => self.raise(store, AlarmCause::ApiKeyMismatch).await,
            Some(KeyVerdict::Accepted) => self.resolve(store, AlarmCause::ApiKeyMismatch).await,
            None => {}
        }
    }

    /// Raises `cause`, or counts one more refusal under it.
    pub(crate) async fn raise(&self, store: &std::sync::Arc<Store>, cause: AlarmCause) {
        self.flag(cause).store(true, Ordering::Relaxed);
        let store = store.clone();
        let _ = blocking(move || store.raise_alarm(cause, crate::remote::unix_now())).await;
    }

    /// Resolves `cause` when it is up (verified traffic, or WeChat accepting the key again).
    pub(crate) async fn resolve(&self, store: &std::sync::Arc<Store>, cause: AlarmCause) {
        if !self.flag(cause).swap(false, Ordering::Relaxed) {
            return;
        }
        let store = store.clone();
        let _ = blocking(move || store.resolve_alarm(cause, crate::remote::unix_now())).await;
    }

    pub(crate) fn backend_alarm_up(&self) -> bool {
        self.backend_alarm_up.load(Ordering::Relaxed)
    }

    fn flag(&self, cause: AlarmCause) -> &AtomicBool {
        match cause {
            AlarmCause::ApiKeyMismatch => &self.key_alarm_up,
            AlarmCause::BackendOldSecret => &self.backend_alarm_up,
            AlarmCause::SignedConflict => &self.conflict_alarm_up,
        }
    }
}
