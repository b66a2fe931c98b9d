//! How fast one shop, and one source address, may add to the relay's log: token buckets, so a
//! flash sale's burst passes whole while a stranger posting without end is held to a trickle.
//! A message over its rate is answered as when the relay cannot store it (WeChat's FAIL, a 503
//! to the backend): its sender tries again later, and nothing it sent is half-stored.
//!
//! Sources are told apart by their address. Behind the shop's reverse proxy every message comes
//! from the proxy (loopback), so loopback is not limited per source: set the proxy's own limit
//! (nginx `limit_req`) there. The per-shop limit holds either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A rate and the burst above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Every message to one shop's doors.
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
    shops: Mutex<HashMap<i64, Bucket>>,
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

    /// One message from `source` to `shop` at `now`: within both rates, or which it is over.
    /// A message over the source's rate takes nothing from the shop's.
    pub fn admit(&self, shop: i64, source: Option<IpAddr>, now: Instant) -> Result<(), Over> {
        if let Some(source) = source.filter(|ip| !ip.is_loopback()) {
            let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            if sources.len() >= MAX_SOURCES {
                let rate = self.rates.source;
                sources.retain(|_, bucket| {
                    let mut probe = *bucket;
                    probe.take(rate, now) && probe.tokens + 1.0 < rate.burst
                });
            }
            let bucket = sources.entry(source).or_insert(Bucket {
                tokens: self.rates.source.burst,
                at: now,
            });
            if !bucket.take(self.rates.source, now) {
                return Err(Over::Source);
            }
        }
        let mut shops = self.shops.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = shops.entry(shop).or_insert(Bucket {
            tokens: self.rates.shop.burst,
            at: now,
        });
        if bucket.take(self.rates.shop, now) {
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

    #[test]
    fn a_burst_passes_whole_and_then_the_rate_holds() {
        let buckets = Buckets::new(rates());
        let t0 = Instant::now();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let passed = (0..30)
            .filter(|_| buckets.admit(1, Some(stranger), t0).is_ok())
            .count();
        assert_eq!(passed, 20, "the source's burst");
        assert_eq!(buckets.admit(1, Some(stranger), t0), Err(Over::Source));
        // Others still reach the shop: its own burst is mostly left.
        let wechat: IpAddr = "198.51.100.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(buckets.admit(1, Some(wechat), t0), Ok(()));
        // A second later the stranger has two more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(buckets.admit(1, Some(stranger), t1), Ok(()));
        assert_eq!(buckets.admit(1, Some(stranger), t1), Ok(()));
        assert_eq!(buckets.admit(1, Some(stranger), t1), Err(Over::Source));
    }

    #[test]
    fn the_shop_is_limited_whatever_the_source_and_loopback_only_per_shop() {
        let buckets = Buckets::new(rates());
        let t0 = Instant::now();
        let proxy: IpAddr = "127.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let passed = (0..150)
            .filter(|_| buckets.admit(7, Some(proxy), t0).is_ok())
            .count();
        assert_eq!(
            passed, 100,
            "the shop's burst, loopback not limited per source"
        );
        assert_eq!(buckets.admit(7, Some(proxy), t0), Err(Over::Shop));
        assert_eq!(buckets.admit(8, Some(proxy), t0), Ok(()), "another shop");
    }
}
