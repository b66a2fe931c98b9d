//! The two questions to WeChat Pay that prove a setup without moving money.
//!
//! 1. A signed refund query for a refund number that cannot exist (`/pay/refundquery`, no
//!    certificate): an answer proves the appid, the mch_id and the API key.
//! 2. A refund of one fen of an order number that cannot exist (`/secapi/pay/refund`, the
//!    client certificate): WeChat's nginx refuses an unknown certificate with an HTTP 400 page
//!    before the request is read, so ORDERNOTEXIST proves the certificate and the key are
//!    accepted where refunds go. There is no order, so nothing can be refunded: the numbers are
//!    fresh random ones that no shop's order can carry.
//!
//! The query alone does not look at a certificate: a certificate WeChat never issued passes
//! it, and the first real refund would fail. One refund probe per doctor run; WeChat counts
//! runs of invalid requests (INVALID_REQ_TOO_MUCH), so nothing here loops.

use desk_core::outcome::{problem_of, wechat_words};
use desk_core::probe_number;
use wxpay::{ErrCode, Fen, OrderRef, OutRefundNo, OutTradeNo, RefundRequest};

use super::finding::Finding;
use super::{Check, CheckName};
use crate::merchant::Client;

/// The signed query: ids and key.
pub async fn signature_probe(client: &Client) -> Check {
    let finding = match desk_core::ask_key(client).await {
        Ok(()) => Finding::SignatureAccepted,
        Err(error) => refused(&error),
    };
    Check::new(CheckName::WechatSignature, finding)
}

/// The refund of an order that does not exist: the certificate where refunds go.
pub async fn refund_probe(client: &Client) -> Check {
    let out_trade_no = OutTradeNo::new(probe_number())
        .unwrap_or_else(|_| unreachable!("letters and digits, 31 characters"));
    let out_refund_no = OutRefundNo::new(probe_number())
        .unwrap_or_else(|_| unreachable!("letters and digits, 31 characters"));
    let request = RefundRequest {
        order: OrderRef::OutTradeNo(out_trade_no.clone()),
        out_refund_no: out_refund_no.clone(),
        total_fee: Fen::new(1),
        refund_fee: Fen::new(1),
        refund_fee_type: None,
        refund_desc: None,
        refund_account: None,
        notify_url: None,
    };
    let finding = match client.execute(&request).await {
        Err(wxpay::Error::Business {
            code: ErrCode::OrderNotExist,
            ..
        }) => Finding::RefundPathAccepted,
        Err(error @ wxpay::Error::Business { .. })
            if !desk_core::outcome::is_setup_problem(&error) =>
        {
            Finding::RefundPathAnswered {
                wechat: wechat_words(&error),
            }
        }
        Err(error) => refused(&error),
        Ok(_) => Finding::ProbeRefundAccepted {
            out_trade_no: out_trade_no.to_string(),
            out_refund_no: out_refund_no.to_string(),
        },
    };
    Check::new(CheckName::WechatRefund, finding)
}

fn refused(error: &wxpay::Error) -> Finding {
    let problem = match error {
        // An answer about another appid or mch_id: WeChat does not know the ones typed (a
        // refund would instead treat it as unreadable and ask again).
        wxpay::Error::MerchantMismatch { .. } => desk_core::Problem::MerchantWrong,
        other => problem_of(other),
    };
    Finding::WechatRefused {
        problem,
        wechat: wechat_words(error),
    }
}
