//! How many event streams each desk holds open at once: at most [`PER_DESK`]. A new stream ends
//! the desk's oldest, so a desk that reconnects is never locked out by its own half-dead
//! connections, and a token (a revoked desk's before it is revoked, a stolen one) holds two
//! of the relay's connection places, never all of them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Streams one desk may hold open at once.
pub const PER_DESK: usize = 2;

/// Tells a stream to end.
#[derive(Debug, Default)]
pub struct Ending {
    ended: AtomicBool,
    wake: Notify,
}

impl Ending {
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Returns once the stream was told to end.
    pub async fn wait(&self) {
        while !self.is_ended() {
            self.wake.notified().await;
        }
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.wake.notify_waiters();
        self.wake.notify_one();
    }
}

#[derive(Debug, Default)]
pub struct Seats {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    by_desk: HashMap<i64, VecDeque<(u64, Arc<Ending>)>>,
}

impl Seats {
    /// A seat for a new stream of `desk`: its number and how it is told to end. The desk's
    /// oldest streams beyond [`PER_DESK`] are told to end now.
    pub fn take(&self, desk: i64) -> (u64, Arc<Ending>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.next += 1;
        let id = inner.next;
        let ending = Arc::new(Ending::default());
        let seats = inner.by_desk.entry(desk).or_default();
        seats.push_back((id, ending.clone()));
        while seats.len() > PER_DESK {
            if let Some((_, oldest)) = seats.pop_front() {
                oldest.end();
            }
        }
        (id, ending)
    }

    /// The stream `id` of `desk` ended.
    pub fn leave(&self, desk: i64, id: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seats) = inner.by_desk.get_mut(&desk) {
            seats.retain(|(seat, _)| *seat != id);
            if seats.is_empty() {
                inner.by_desk.remove(&desk);
            }
        }
    }

    /// Streams open now, in all.
    pub fn open(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.by_desk.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_stream_ends_the_desks_oldest_and_other_desks_keep_theirs() {
        let seats = Seats::default();
        let (first, first_ending) = seats.take(1);
        let (_, second_ending) = seats.take(1);
        let (_, other_desk) = seats.take(2);
        assert!(!first_ending.is_ended() && !second_ending.is_ended());
        let (_, third_ending) = seats.take(1);
        assert!(first_ending.is_ended(), "the oldest gives its place");
        assert!(!second_ending.is_ended() && !third_ending.is_ended());
        assert!(!other_desk.is_ended());
        seats.leave(1, first);
        assert_eq!(seats.open(), 3);
    }
}
