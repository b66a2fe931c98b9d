//! Faults injected into the next calls of an endpoint, from the control API.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// A v2 endpoint of the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    UnifiedOrder,
    OrderQuery,
    Refund,
    RefundQuery,
    DownloadBill,
}

impl Endpoint {
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match path {
            "/pay/unifiedorder" => Some(Endpoint::UnifiedOrder),
            "/pay/orderquery" => Some(Endpoint::OrderQuery),
            "/secapi/pay/refund" => Some(Endpoint::Refund),
            "/pay/refundquery" => Some(Endpoint::RefundQuery),
            "/pay/downloadbill" => Some(Endpoint::DownloadBill),
            _ => None,
        }
    }
}

/// What goes wrong. `after_record` faults let the request take effect first (a refund is
/// recorded, money moves) and then spoil the answer: the client cannot know what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// `result_code=FAIL` with this `err_code` (SYSTEMERROR, BIZERR_NEED_RETRY, FREQUENCY_LIMITED…).
    Error {
        err_code: String,
        #[serde(default)]
        after_record: bool,
    },
    /// Answer normally, this many milliseconds late.
    Delay { ms: u64 },
    /// An HTTP error status with an HTML page.
    HttpStatus {
        status: u16,
        #[serde(default)]
        after_record: bool,
    },
    /// Close the connection without answering.
    Drop {
        #[serde(default)]
        after_record: bool,
    },
    /// HTTP 200 with bytes that are not a v2 message.
    Garbage {
        #[serde(default)]
        after_record: bool,
    },
}

impl Fault {
    pub fn after_record(&self) -> bool {
        match self {
            Fault::Error { after_record, .. }
            | Fault::HttpStatus { after_record, .. }
            | Fault::Drop { after_record }
            | Fault::Garbage { after_record } => *after_record,
            Fault::Delay { .. } => true,
        }
    }
}

/// Inject `fault` into the next `count` calls of `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    pub endpoint: Endpoint,
    pub fault: Fault,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    queued: HashMap<Endpoint, VecDeque<(Fault, u32)>>,
}

impl Faults {
    pub fn add(&mut self, plan: FaultPlan) {
        if plan.count > 0 {
            self.queued
                .entry(plan.endpoint)
                .or_default()
                .push_back((plan.fault, plan.count));
        }
    }

    pub fn clear(&mut self) {
        self.queued.clear();
    }

    /// The fault for this call, if one is queued.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let queue = self.queued.get_mut(&endpoint)?;
        let (fault, remaining) = queue.front_mut()?;
        let fault = fault.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_to_the_next_calls_in_order() {
        let mut faults = Faults::default();
        let delay = Fault::Delay { ms: 5 };
        let drop = Fault::Drop { after_record: true };
        faults.add(FaultPlan {
            endpoint: Endpoint::Refund,
            fault: delay.clone(),
            count: 2,
        });
        faults.add(FaultPlan {
            endpoint: Endpoint::Refund,
            fault: drop.clone(),
            count: 1,
        });
        assert_eq!(faults.take(Endpoint::RefundQuery), None);
        assert_eq!(faults.take(Endpoint::Refund), Some(delay.clone()));
        assert_eq!(faults.take(Endpoint::Refund), Some(delay));
        assert_eq!(faults.take(Endpoint::Refund), Some(drop));
        assert_eq!(faults.take(Endpoint::Refund), None);
    }

    #[test]
    fn plans_read_from_json() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"endpoint":"refund","fault":{"kind":"error","err_code":"SYSTEMERROR"},"count":3}"#,
        )
        .unwrap();
        assert_eq!(plan.count, 3);
        assert_eq!(
            plan.fault,
            Fault::Error {
                err_code: "SYSTEMERROR".into(),
                after_record: false
            }
        );
    }
}
