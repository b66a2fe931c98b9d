//! WeChat Pay's frequency limit, kept by the client every call goes through (refunds, queries,
//! the intake's order checks, the doctor's questions) rather than by one caller.

use std::time::Duration;

/// WeChat Pay's documented frequency limit for a merchant's refund calls, per second: the
/// default for every call, the conservative reading where other APIs' limits are higher.
pub const WECHAT_REQUESTS_PER_SECOND: u32 = 150;

/// Spaces requests evenly at a rate: each waits for the slot after the previous one's. A slot
/// not used is not saved up, so a quiet client does not burst past the rate later.
#[derive(Debug)]
pub struct Pace {
    every: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pace {
    pub fn per_second(rate: u32) -> Pace {
        Pace {
            every: Duration::from_secs(1) / rate.max(1),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for this request's slot.
    pub async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_and_unused_slots_are_not_saved() {
        let pace = Pace::per_second(10);
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            pace.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        // A quiet second does not buy a burst.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let quiet = tokio::time::Instant::now();
        for _ in 0..3 {
            pace.wait().await;
        }
        assert_eq!(quiet.elapsed(), Duration::from_millis(200));
    }
}
