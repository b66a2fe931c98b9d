//! The open connections: who they are from, whether each is stalled or being answered, and
//! which one goes when room is needed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::Limits;

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Its request is not yet fully received, or it waits for the next one: may be evicted.
    Stalled,
    /// A request arrived whole and is being answered: kept.
    Answering,
}

/// One connection's phase and since when it is stalled, shared with its service.
#[derive(Debug)]
pub(crate) struct ConnState {
    phase: AtomicU8,
    /// It has been answered at least once: a keep-alive connection of a client that sends
    /// whole requests (WeChat's notifier reuses them), evicted only after those that never
    /// finished a request.
    answered: AtomicBool,
    /// The server has read all its peer sent and waits for more. Until then it may be a
    /// genuine request the server has not got to yet (a busy machine, a burst of strangers'
    /// connections): such a connection is evicted only when no waiting one is left.
    waiting: AtomicBool,
    /// Milliseconds after `base` at which it last became stalled.
    stalled_at: AtomicU64,
    /// One more than the milliseconds after `base` since which writing its answer waits for the
    /// peer to read (0: not waiting). A peer that stops reading a long answer (an event stream)
    /// stalls the connection as surely as one that stops sending.
    write_blocked_at: AtomicU64,
    base: Instant,
    /// The registry's signal that a connection may have become evictable.
    room: Arc<Notify>,
}

impl ConnState {
    fn new(base: Instant, room: Arc<Notify>) -> ConnState {
        let state = ConnState {
            phase: AtomicU8::new(0),
            answered: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            stalled_at: AtomicU64::new(0),
            write_blocked_at: AtomicU64::new(0),
            base,
            room,
        };
        state.set(Phase::Stalled);
        state
    }

    pub(crate) fn set(&self, phase: Phase) {
        if phase == Phase::Stalled {
            self.stalled_at.store(self.now(), Ordering::Relaxed);
        }
        if phase == Phase::Answering {
            self.answered.store(true, Ordering::Relaxed);
        }
        let code = match phase {
            Phase::Stalled => 0,
            Phase::Answering => 1,
        };
        self.phase.store(code, Ordering::Release);
    }

    /// A read found nothing more from the peer (`true`), or brought something (`false`).
    pub(crate) fn set_waiting(&self, waiting: bool) {
        let was = self.waiting.swap(waiting, Ordering::Relaxed);
        if waiting && !was {
            self.room.notify_one();
        }
    }

    /// A write found the peer's window full (`true`), or went through (`false`).
    pub(crate) fn set_write_blocked(&self, blocked: bool) {
        if blocked {
            let now = self.now().saturating_add(1);
            let _ = self.write_blocked_at.compare_exchange(
                0,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        } else {
            self.write_blocked_at.store(0, Ordering::Relaxed);
        }
    }

    /// Since when it is stalled by its peer for the reaper: waiting for the rest of a request
    /// or the next one, or for the peer to read the answer being written.
    fn late_since(&self) -> Option<u64> {
        let blocked = self.write_blocked_at.load(Ordering::Relaxed);
        let writing = (blocked > 0).then(|| blocked - 1);
        match (self.stalled_since(), writing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn stalled_since(&self) -> Option<u64> {
        (self.phase.load(Ordering::Acquire) == 0).then(|| self.stalled_at.load(Ordering::Relaxed))
    }

    /// Where it stands in the line for eviction (first goes first), if `tier` lets it go at all:
    /// only stalled connections the server has read dry, those that never finished a request
    /// before idle keep-alive ones, then the oldest.
    fn eviction_order(&self, tier: Tier) -> Option<(bool, u64)> {
        if !self.waiting.load(Ordering::Relaxed) {
            return None;
        }
        let since = self.stalled_since()?;
        let answered = self.answered.load(Ordering::Relaxed);
        (tier == Tier::AnyStalled || !answered).then_some((answered, since))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Which stalled connections may go to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Only those that never finished a request: a stranger's, or a client's first request
    /// still arriving.
    NeverAnswered,
    /// Idle keep-alive connections too: closing one races a client about to reuse it (its
    /// request would fail), so this comes only after waiting for a never-answered one.
    AnyStalled,
}

/// What a connection task holds: its number, its state and the signal that closes it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: u64,
    pub state: Arc<ConnState>,
    pub close: Arc<Notify>,
}

#[derive(Debug)]
struct Slot {
    peer: IpAddr,
    state: Arc<ConnState>,
    close: Arc<Notify>,
}

/// What the server had to do so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections open now.
    pub open: usize,
    /// The most open at once.
    pub peak: usize,
    pub accepted: u64,
    /// Stalled connections closed to make room for a new one.
    pub evicted: u64,
    /// Stalled connections closed for taking too long.
    pub timed_out: u64,
    /// New connections closed at once: the caps were full of connections being answered.
    pub refused: u64,
}

#[derive(Debug)]
pub(crate) struct Registry {
    base: Instant,
    inner: Mutex<Inner>,
    /// Fired when a connection is read dry or ends: there may be room for a newcomer now.
    room: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    slots: HashMap<u64, Slot>,
    per_peer: HashMap<IpAddr, usize>,
    stats: Stats,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            base: Instant::now(),
            inner: Mutex::default(),
            room: Arc::new(Notify::new()),
        }
    }
}

impl Registry {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection from `peer`, made if the caps are full by evicting a stalled
    /// one `tier` lets go; `None` when there is none (every connection in the way is being
    /// answered, not yet read, or kept by `tier`).
    pub(crate) fn admit(&self, peer: IpAddr, limits: &Limits, tier: Tier) -> Option<Entry> {
        let mut inner = self.inner();
        if inner.per_peer.get(&peer).copied().unwrap_or(0) >= limits.max_per_peer
            && !inner.evict_first(tier, |slot| slot.peer == peer)
        {
            return None;
        }
        if inner.slots.len() >= limits.max_connections && !inner.evict_first(tier, |_| true) {
            return None;
        }
        let id = inner.next;
        inner.next += 1;
        let state = Arc::new(ConnState::new(self.base, self.room.clone()));
        let close = Arc::new(Notify::new());
        inner.slots.insert(
            id,
            Slot {
                peer,
                state: state.clone(),
                close: close.clone(),
            },
        );
        *inner.per_peer.entry(peer).or_default() += 1;
        inner.stats.accepted += 1;
        inner.stats.open = inner.slots.len();
        inner.stats.peak = inner.stats.peak.max(inner.slots.len());
        Some(Entry { id, state, close })
    }

    /// Until a connection may have become evictable (one read dry or ended).
    pub(crate) async fn room(&self) {
        self.room.notified().await;
    }

    /// A newcomer was turned away.
    pub(crate) fn refused(&self) {
        self.inner().stats.refused += 1;
    }

    /// Out of open files: the first stalled connection goes.
    pub(crate) fn evict_for_files(&self) {
        self.inner().evict_first(Tier::AnyStalled, |_| true);
    }

    /// The connection ended.
    pub(crate) fn remove(&self, id: u64) {
        let mut inner = self.inner();
        inner.take(id);
        self.room.notify_one();
    }

    /// Closes the connections stalled past their time.
    pub(crate) fn reap(&self, limits: &Limits) {
        let mut inner = self.inner();
        let timeout = if limits.under_pressure(inner.slots.len()) {
            limits.stall_timeout_under_pressure
        } else {
            limits.stall_timeout
        };
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        let limit = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let late: Vec<u64> = inner
            .slots
            .iter()
            .filter(|(_, slot)| {
                slot.state
                    .late_since()
                    .is_some_and(|since| now.saturating_sub(since) >= limit)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(slot) = inner.take(id) {
                slot.close.notify_one();
                inner.stats.timed_out += 1;
            }
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.inner().stats
    }
}

impl Inner {
    /// Evicts the first stalled connection `tier` lets go among those `which` picks; false when
    /// there is none.
    fn evict_first(&mut self, tier: Tier, which: impl Fn(&Slot) -> bool) -> bool {
        let first = self
            .slots
            .iter()
            .filter(|(_, slot)| which(slot))
            .filter_map(|(id, slot)| slot.state.eviction_order(tier).map(|order| (order, *id)))
            .min();
        let Some((_, id)) = first else {
            return false;
        };
        if let Some(slot) = self.take(id) {
            slot.close.notify_one();
            self.stats.evicted += 1;
        }
        true
    }

    fn take(&mut self, id: u64) -> Option<Slot> {
        let slot = self.slots.remove(&id)?;
        if let Some(count) = self.per_peer.get_mut(&slot.peer) {
            *count -= 1;
            if *count == 0 {
                self.per_peer.remove(&slot.peer);
            }
        }
        self.stats.open = self.slots.len();
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn limits(max: usize) -> Limits {
        Limits {
            max_connections: max,
            max_per_peer: max,
            ..Limits::for_open_files(Some(1_024))
        }
    }

    /// Whether the registry still holds `entry`.
    fn kept(registry: &Registry, entry: &Entry) -> bool {
        registry.inner().slots.contains_key(&entry.id)
    }

    /// A connection whose peer sent part of a request, all read by the server.
    fn half_request(registry: &Registry, limits: &Limits) -> Entry {
        let entry = registry.admit(PEER, limits, Tier::NeverAnswered).unwrap();
        entry.state.set_waiting(true);
        entry
    }

    #[test]
    fn a_connection_not_yet_read_is_never_evicted() {
        let registry = Registry::default();
        let limits = limits(3);
        // The oldest: a genuine request the server has not got to yet.
        let unread = registry.admit(PEER, &limits, Tier::AnyStalled).unwrap();
        let stalled = [
            half_request(&registry, &limits),
            half_request(&registry, &limits),
        ];
        // Newcomers take the read-dry ones' places, not the unread one's ...
        let first = registry.admit(PEER, &limits, Tier::NeverAnswered).unwrap();
        let second = registry.admit(PEER, &limits, Tier::NeverAnswered).unwrap();
        assert!(stalled.iter().all(|entry| !kept(&registry, entry)));
        // ... and with none read dry left, there is no place at any tier.
        assert!(registry.admit(PEER, &limits, Tier::AnyStalled).is_none());
        assert!(kept(&registry, &unread) && kept(&registry, &first) && kept(&registry, &second));
        assert_eq!(registry.stats().evicted, 2);
    }

    #[test]
    fn an_idle_keep_alive_connection_goes_only_when_the_tier_lets_it() {
        let registry = Registry::default();
        let limits = limits(2);
        let keep_alive = registry.admit(PEER, &limits, Tier::NeverAnswered).unwrap();
        keep_alive.state.set(Phase::Answering);
        keep_alive.state.set(Phase::Stalled);
        keep_alive.state.set_waiting(true);
        let half = half_request(&registry, &limits);
        let _newcomer = registry.admit(PEER, &limits, Tier::NeverAnswered).unwrap();
        assert!(kept(&registry, &keep_alive) && !kept(&registry, &half));
        assert!(registry.admit(PEER, &limits, Tier::NeverAnswered).is_none());
        assert!(registry.admit(PEER, &limits, Tier::AnyStalled).is_some());
        assert!(!kept(&registry, &keep_alive));
    }

    #[test]
    fn a_request_being_answered_is_never_evicted() {
        let registry = Registry::default();
        let limits = limits(1);
        let answering = registry.admit(PEER, &limits, Tier::NeverAnswered).unwrap();
        answering.state.set_waiting(true);
        answering.state.set(Phase::Answering);
        assert!(registry.admit(PEER, &limits, Tier::AnyStalled).is_none());
        assert!(kept(&registry, &answering));
    }
}
