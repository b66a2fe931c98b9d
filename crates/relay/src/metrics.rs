//! Counters for `/metrics` (Prometheus text format), kept in memory: a restart starts them over,
//! as Prometheus counters expect.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use relay_protocol::Kind;

/// Why a door refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    UnknownShop,
    /// Not UTF-8, not XML, not a JSON object.
    Malformed,
    /// A refund request without its headers or outside the clock window.
    Unsigned,
    Stale,
    /// The database failed: the sender retries.
    Storage,
    /// A notification naming another merchant than the shop's.
    OtherMerchant,
    /// Over the shop's or the source's rate: the sender retries later.
    TooFast,
}

impl Refused {
    const ALL: [Refused; 7] = [
        Refused::UnknownShop,
        Refused::Malformed,
        Refused::Unsigned,
        Refused::Stale,
        Refused::Storage,
        Refused::OtherMerchant,
        Refused::TooFast,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Refused::UnknownShop => "unknown_shop",
            Refused::Malformed => "malformed",
            Refused::Unsigned => "unsigned",
            Refused::Stale => "stale",
            Refused::Storage => "storage",
            Refused::OtherMerchant => "other_merchant",
            Refused::TooFast => "too_fast",
        }
    }

    fn index(self) -> usize {
        Refused::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

const KINDS: usize = Kind::ALL.len();

fn kind_index(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

#[derive(Debug, Default)]
pub struct Metrics {
    appended: [AtomicU64; KINDS],
    duplicates: [AtomicU64; KINDS],
    refused: [[AtomicU64; Refused::ALL.len()]; KINDS],
    delivered: AtomicU64,
    streams_open: AtomicI64,
    pairings_refused: AtomicU64,
    forwarded: AtomicU64,
    forward_failures: AtomicU64,
    unauthorized: AtomicU64,
}

impl Metrics {
    pub fn appended(&self, kind: Kind, new: bool) {
        let counter = if new {
            &self.appended
        } else {
            &self.duplicates
        };
        counter[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, kind: Kind, why: Refused) {
        self.refused[kind_index(kind)][why.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn delivered(&self, count: u64) {
        self.delivered.fetch_add(count, Ordering::Relaxed);
    }

    pub fn stream_opened(&self) {
        self.streams_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stream_closed(&self) {
        self.streams_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn streams_open(&self) -> i64 {
        self.streams_open.load(Ordering::Relaxed)
    }

    /// A try to pass a notification on to a backend: taken, or not (tried again later).
    pub fn forwarded(&self, taken: bool) {
        let counter = if taken {
            &self.forwarded
        } else {
            &self.forward_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pairing_refused(&self) {
        self.pairings_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, doors: guarded_server::Stats) -> String {
        let mut out = String::new();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE relay_entries_appended_total counter");
        for kind in Kind::ALL {
            let i = kind_index(kind);
            let _ = writeln!(
                out,
                "relay_entries_appended_total{{kind=\"{}\"}} {}",
                kind.as_str(),
                load(&self.appended[i])
            );
        }
        let _ = writeln!(out, "# TYPE relay_entries_duplicate_total counter");
        for kind in Kind::ALL {
            let _ = writeln!(
                out,
                "relay_entries_duplicate_total{{kind=\"{}\"}} {}",
                kind.as_str(),
                load(&self.duplicates[kind_index(kind)])
            );
        }
        let _ = writeln!(out, "# TYPE relay_refused_total counter");
        for kind in Kind::ALL {
            for why in Refused::ALL {
                let _ = writeln!(
                    out,
                    "relay_refused_total{{kind=\"{}\",cause=\"{}\"}} {}",
                    kind.as_str(),
                    why.as_str(),
                    load(&self.refused[kind_index(kind)][why.index()])
                );
            }
        }
        let _ = writeln!(out, "# TYPE relay_entries_delivered_total counter");
        let _ = writeln!(
            out,
            "relay_entries_delivered_total {}",
            load(&self.delivered)
        );
        let _ = writeln!(out, "# TYPE relay_streams_open gauge");
        let _ = writeln!(out, "relay_streams_open {}", self.streams_open());
        let _ = writeln!(out, "# TYPE relay_pairings_refused_total counter");
        let _ = writeln!(
            out,
            "relay_pairings_refused_total {}",
            load(&self.pairings_refused)
        );
        let _ = writeln!(out, "# TYPE relay_forwarded_total counter");
        let _ = writeln!(out, "relay_forwarded_total {}", load(&self.forwarded));
        let _ = writeln!(out, "# TYPE relay_forward_failures_total counter");
        let _ = writeln!(
            out,
            "relay_forward_failures_total {}",
            load(&self.forward_failures)
        );
        let _ = writeln!(out, "# TYPE relay_unauthorized_total counter");
        let _ = writeln!(out, "relay_unauthorized_total {}", load(&self.unauthorized));
        let _ = writeln!(out, "# TYPE relay_connections_open gauge");
        let _ = writeln!(out, "relay_connections_open {}", doors.open);
        for (name, value) in [
            ("evicted", doors.evicted),
            ("timed_out", doors.timed_out),
            ("refused", doors.refused),
        ] {
            let _ = writeln!(out, "# TYPE relay_connections_{name}_total counter");
            let _ = writeln!(out, "relay_connections_{name}_total {value}");
        }
        out
    }
}
