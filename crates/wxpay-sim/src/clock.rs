//! Time as WeChat writes it: China Standard Time (UTC+8), `wxpay::china_time`.

pub use wxpay::china_time::{bill_date, compact, readable};
