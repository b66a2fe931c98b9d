//! Merchant Desk's benchmarks (`desk-bench`, run by `scripts/bench.sh`): the intake under load,
//! refund throughput against the simulator and the database's growth. The library holds what the
//! benchmarks and their tests share.

#![forbid(unsafe_code)]

pub mod error;
pub mod growth;
pub mod intake;
pub mod load;
pub mod protocol;
pub mod refunds;
pub mod relayed;
pub mod seed;
pub mod stats;
