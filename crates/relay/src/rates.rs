//! How fast one source address, and one shop's door, may add to the relay's log: token buckets,
//! so a flash sale's burst passes whole while a stranger posting without end is held to a
//! trickle. A message over its rate is answered as when the relay cannot store it (WeChat's
//! FAIL, a 429 to the backend): its sender tries again later, and nothing it sent is half-stored.
//!
//! The source's bucket is taken first, by every message; the shop's only by a message that
//! passed the door's own checks (a notification naming the shop's merchant), and each door has
//! its own: strangers' garbage, or a flood of refund requests, never spends what WeChat's
//! notifications need.
//!
//! Sources are told apart by their address. Behind the shop's reverse proxy every message comes
//! from the proxy (loopback), so loopback is not limited per source: set the proxy's own limit
//! (nginx `limit_req`) there. The per-shop limit holds either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use relay_protocol::Kind;

/// A rate and the burst above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Every message one door of one shop takes.
    pub shop: Rate,
    /// Every message from one address (but loopback).
    pub source: Rate,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates {
            // A 5,000-order flash sale in one go, then 200 a second.
            shop: Rate {
                per_second: 200.0,
                burst: 5_000.0,
            },
            // WeChat sends from many addresses; one address sending more is not WeChat.
            source: Rate {
                per_second: 50.0,
                burst: 1_000.0,
            },
        }
    }
}

impl Rates {
    /// No limit: the benchmarks' and most tests' relay.
    pub fn unlimited() -> Rates {
        let none = Rate {
            per_second: f64::INFINITY,
            burst: f64::INFINITY,
        };
        Rates {
            shop: none,
            source: none,
        }
    }
}

/// Which limit a message met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Shop,
    Source,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Buckets kept for sources at most; full ones go first when there are more.
const MAX_SOURCES: usize = 100_000;

#[derive(Debug)]
pub struct Buckets {
    rates: Rates,
    shops: Mutex<HashMap<(i64, Kind), Bucket>>,
    sources: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Buckets {
    pub fn new(rates: Rates) -> Buckets {
        Buckets {
            rates,
            shops: Mutex::default(),
            sources: Mutex::default(),
        }
    }

    /// One message from `source` at `now`: within its rate or not (loopback always is).
    pub fn admit_source(&self, source: Option<IpAddr>, now: Instant) -> Result<(), Over> {
        let Some(source) = source.filter(|ip| !ip.is_loopback()) else {
            return Ok(());
        };
        let rate = self.rates.source;
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if sources.len() >= MAX_SOURCES {
            // Full buckets (quiet sources) go first: they would start full again anyway.
            sources.retain(|_, bucket| {
                let mut probe = *bucket;
                probe.take(rate, now) && probe.tokens + 1.0 < rate.burst
            });
        }
        let bucket = sources.entry(source).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        if bucket.take(rate, now) {
            Ok(())
        } else {
            Err(Over::Source)
        }
    }

    /// One message taken by `shop`'s door for `kind` at `now`: within its rate or not.
    pub fn admit_shop(&self, shop: i64, kind: Kind, now: Instant) -> Result<(), Over> {
        let rate = self.rates.shop;
        let mut shops = self.shops.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = shops.entry((shop, kind)).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        if bucket.take(rate, now) {
            Ok(())
        } else {
            Err(Over::Shop)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rates() -> Rates {
        Rates {
            shop: Rate {
                per_second: 10.0,
                burst: 100.0,
            },
            source: Rate {
                per_second: 2.0,
                burst: 20.0,
            },
        }
    }

    const PAY: Kind = Kind::PaymentNotification;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn a_burst_passes_whole_and_then_the_rate_holds() {
        let buckets = Buckets::new(rates());
        let t0 = Instant::now();
        let stranger = ip("203.0.113.9");
        let passed = (0..30)
            .filter(|_| buckets.admit_source(Some(stranger), t0).is_ok())
            .count();
        assert_eq!(passed, 20, "the source's burst");
        assert_eq!(buckets.admit_source(Some(stranger), t0), Err(Over::Source));
        assert_eq!(buckets.admit_source(Some(ip("198.51.100.1")), t0), Ok(()));
        // A second later the stranger has two more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(buckets.admit_source(Some(stranger), t1), Ok(()));
        assert_eq!(buckets.admit_source(Some(stranger), t1), Ok(()));
        assert_eq!(buckets.admit_source(Some(stranger), t1), Err(Over::Source));
    }

    #[test]
    fn each_door_of_each_shop_has_its_own_rate_and_loopback_is_not_limited_per_source() {
        let buckets = Buckets::new(rates());
        let t0 = Instant::now();
        assert!(
            (0..500).all(|_| buckets.admit_source(Some(ip("127.0.0.1")), t0).is_ok()),
            "the reverse proxy"
        );
        let passed = (0..150)
            .filter(|_| buckets.admit_shop(7, Kind::RefundRequest, t0).is_ok())
            .count();
        assert_eq!(passed, 100, "the door's burst");
        assert_eq!(
            buckets.admit_shop(7, Kind::RefundRequest, t0),
            Err(Over::Shop)
        );
        assert_eq!(
            buckets.admit_shop(7, PAY, t0),
            Ok(()),
            "a flood of refund requests leaves WeChat's notifications their own"
        );
        assert_eq!(
            buckets.admit_shop(8, Kind::RefundRequest, t0),
            Ok(()),
            "another shop"
        );
    }
}
