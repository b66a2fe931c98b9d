//! Delivery from the outbox, at least once: on start, everything not shown yet (what came while
//! the desk was closed) becomes one summary; then new rows are planned, handed to the sink and
//! marked shown (at once when the desk is quiet, every tenth of a second in a rush, and before it
//! stops). A crash in between shows those rows again at the next start: a repeat of the last
//! moment's alerts, never a loss. The in-memory events only wake the loop early; it also looks every
//! second, so an event lost behind a slow receiver delays nothing for long.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desk_core::{CoreError, EventReceiver, Store, StoredAlert, unix_now};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;

use super::{Alert, Alerter, REMIND_EVERY_SECS};

/// Where alerts are shown: the desktop (shell) or the terminal (`serve`).
pub trait AlertSink: Send + 'static {
    /// Shows `alert`, which covers the outbox rows `facts` (none for a reminder or the voice
    /// catching up).
    fn deliver(&mut self, alert: &Alert, facts: &[StoredAlert]);
    /// The outbox could not be read or marked (said once per streak of failures); the loop
    /// tries again.
    fn trouble(&mut self, error: &CoreError);
}

/// Rows read at a time: a flash sale's burst is a few hundred.
const BATCH: usize = 500;
const LOOK_EVERY: Duration = Duration::from_secs(1);
const MARK_EVERY: Duration = Duration::from_millis(100);

/// What one look at the outbox found.
struct Look {
    deliveries: Vec<(Alert, Vec<StoredAlert>)>,
    /// The newest row read (to mark shown once delivered), if any.
    through: Option<i64>,
    /// A full batch: look again at once.
    full: bool,
}

/// Delivers the outbox of `store` until `stop` turns true, then delivers what is left once.
/// What happened before `opened_at` (Unix seconds: when the desk started) and was never shown
/// is the while-closed summary; what happened since is alerted as it comes.
pub async fn deliver_alerts(
    opened_at: i64,
    store: Arc<Store>,
    alerter: Arc<Mutex<Alerter>>,
    mut wake: EventReceiver,
    mut sink: impl AlertSink,
    mut stop: watch::Receiver<bool>,
) {
    let mut cursor: Option<i64> = None;
    let mut failing = false;
    let mut reminded_at = unix_now();
    // Delivered, not yet marked shown: marked at most every MARK_EVERY while busy (each mark is
    // a sync to disk, which the intake's commits need), at once when idle or stopping.
    let mut unmarked: Option<i64> = None;
    let mut marking: Option<(i64, tokio::task::JoinHandle<Result<(), CoreError>>)> = None;
    // The start's summary is marked at once.
    let mut marked_at = Instant::now()
        .checked_sub(MARK_EVERY)
        .unwrap_or_else(Instant::now);
    loop {
        let stopping = *stop.borrow();
        // The look below reads everything committed so far: wake-ups until now are spent, and
        // one that comes during the look wakes the next.
        while let Ok(_) | Err(TryRecvError::Lagged(_)) = wake.try_recv() {}
        let look = {
            let (store, alerter) = (store.clone(), alerter.clone());
            tokio::task::spawn_blocking(move || look(&store, &alerter, cursor, opened_at)).await
        };
        let look = match look {
            Ok(Ok(look)) => look,
            Ok(Err(error)) => {
                if !std::mem::replace(&mut failing, true) {
                    sink.trouble(&error);
                }
                if stopping {
                    return;
                }
                tokio::time::sleep(LOOK_EVERY).await;
                continue;
            }
            // The blocking pool is shutting down with the runtime.
            Err(_) => return,
        };
        for (alert, facts) in &look.deliveries {
            sink.deliver(alert, facts);
        }
        cursor = Some(look.through.or(cursor).unwrap_or(0));
        unmarked = look.through.or(unmarked);
        let idle = look.through.is_none();
        // Marks run beside the looks: a mark waits for the writer's lock, which a rush of
        // payments holds most of the time, and the next alerts must not wait with it.
        if marking.as_ref().is_some_and(|(_, task)| task.is_finished())
            && let Some((through, task)) = marking.take()
        {
            match task.await {
                Ok(Ok(())) => {
                    failing = false;
                    marked_at = Instant::now();
                    if unmarked.is_some_and(|newest| newest <= through) {
                        unmarked = None;
                    }
                }
                // Tried again with the next mark; meanwhile they stay unshown on disk (shown
                // again at the next start if the desk stops first).
                Ok(Err(error)) => {
                    if !std::mem::replace(&mut failing, true) {
                        sink.trouble(&error);
                    }
                }
                Err(_) => return,
            }
        }
        if marking.is_none()
            && !stopping
            && let Some(through) = unmarked
            && (idle || marked_at.elapsed() >= MARK_EVERY)
        {
            marking = Some((through, mark(&store, through)));
        }
        if look.full {
            continue;
        }
        if stopping {
            // The last mark, after the one under way, covers everything delivered (marking is
            // up to an id: what that one marked is marked again at no cost). What it could not
            // mark is shown again at the next start.
            if let Some((_, task)) = marking.take() {
                let _ = task.await;
            }
            if let Some(through) = unmarked
                && let Ok(Err(error)) = mark(&store, through).await
            {
                sink.trouble(&error);
            }
            return;
        }
        if idle {
            // Nothing more for now: an alarm may be new, a burst's voice may catch up, a
            // reminder may be due.
            let now = unix_now();
            deliver_alarms(&store, &alerter, &mut sink, now).await;
            let caught_up = alerter.lock().unwrap_or_else(|p| p.into_inner()).tick(now);
            if let Some(alert) = caught_up {
                sink.deliver(&alert, &[]);
            }
            if now - reminded_at >= REMIND_EVERY_SECS {
                reminded_at = now;
                let store = store.clone();
                if let Ok(Ok(unseen)) =
                    tokio::task::spawn_blocking(move || store.unseen_orders()).await
                {
                    let reminder = alerter
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .reminder(unseen, now);
                    if let Some(alert) = reminder {
                        sink.deliver(&alert, &[]);
                    }
                }
            }
        }
        let wait = if unmarked.is_some() || marking.is_some() {
            MARK_EVERY
        } else {
            LOOK_EVERY
        };
        tokio::select! {
            woken = wake.recv() => if let Err(RecvError::Closed) = woken {
                tokio::time::sleep(wait).await;
            },
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Alerts each alarm once (`desk_core::watch`); it stays in the window until resolved.
async fn deliver_alarms(
    store: &Arc<Store>,
    alerter: &Mutex<Alerter>,
    sink: &mut impl AlertSink,
    now: i64,
) {
    let reader = store.clone();
    let Ok(Ok(alarms)) = tokio::task::spawn_blocking(move || reader.active_alarms()).await else {
        return;
    };
    for alarm in alarms.iter().filter(|alarm| !alarm.notified) {
        let alert = alerter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .alarm(alarm, now);
        sink.deliver(&alert, &[]);
        let (store, id) = (store.clone(), alarm.id);
        let _ =
            tokio::task::spawn_blocking(move || store.mark_alarm_notified(id, unix_now())).await;
    }
}

/// Marks every row up to `through` shown, off the async workers.
fn mark(store: &Arc<Store>, through: i64) -> tokio::task::JoinHandle<Result<(), CoreError>> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.mark_alerts_shown(through, unix_now()))
}

/// One look at the outbox. The first (no cursor yet) gathers everything unshown from before
/// `opened_at` into the while-closed summary; later ones plan up to [`BATCH`] new rows.
fn look(
    store: &Store,
    alerter: &Mutex<Alerter>,
    cursor: Option<i64>,
    opened_at: i64,
) -> Result<Look, CoreError> {
    let now = unix_now();
    let Some(cursor) = cursor else {
        let mut waiting = Vec::new();
        loop {
            let page =
                store.unshown_alerts(waiting.last().map_or(0, |f: &StoredAlert| f.id), 5_000)?;
            if page.is_empty() {
                break;
            }
            waiting.extend(page);
        }
        let through = waiting.last().map(|f| f.id);
        let (closed, since): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|f| f.at < opened_at);
        let mut alerter = alerter.lock().unwrap_or_else(|p| p.into_inner());
        let summary = alerter.while_closed(&closed, opened_at);
        let mut deliveries: Vec<_> = summary.map(|s| (s, closed)).into_iter().collect();
        deliveries.extend(alerter.plan(&since, now));
        return Ok(Look {
            through,
            deliveries,
            full: false,
        });
    };
    let facts = store.unshown_alerts(cursor, BATCH)?;
    let deliveries = alerter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .plan(&facts, now);
    Ok(Look {
        through: facts.last().map(|f| f.id),
        full: facts.len() == BATCH,
        deliveries,
    })
}
