//! The simulator over real HTTPS with mutual TLS, with `wxpay-client` as the client: every rule,
//! every error code, the ledger after each, notifications, faults and the control API.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod support;

use std::time::Duration;

use support::*;
use wxpay::*;
use wxpay_sim::{
    Balances, Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, RefundRule,
    RefundStatus as SimStatus,
};

#[tokio::test]
async fn a_refund_is_accepted_processed_and_recorded_once() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let refund = sim.refund(&order, "R1", 300);
    let accepted = sim.client.execute(&refund).await.unwrap();
    assert_eq!(accepted.refund_fee, Fen::new(300));
    assert_eq!(accepted.out_refund_no.as_str(), "R1");

    let query = RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(OutRefundNo::new("R1").unwrap()),
        offset: None,
    };
    let first = sim.client.execute(&query).await.unwrap();
    assert_eq!(first.refunds[0].refund_status, RefundStatus::Processing);
    tokio::time::sleep(REFUND_DELAY * 2).await;
    let later = sim.client.execute(&query).await.unwrap();
    assert_eq!(later.refunds[0].refund_status, RefundStatus::Success);
    assert!(later.refunds[0].refund_success_time.is_some());

    let ledger = sim.handle.ledger();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(
        (ledger[0].kind, ledger[0].amount),
        (LedgerKind::Payment, 1000)
    );
    assert_eq!(
        (ledger[1].kind, ledger[1].amount),
        (LedgerKind::Refund, -300)
    );
    assert_eq!(ledger[1].out_refund_no.as_deref(), Some("R1"));
}

#[tokio::test]
async fn credentials_survive_a_restart_of_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let first = wxpay_sim::start(wxpay_sim::SimConfig::new(dir.path()))
        .await
        .unwrap();
    let (mch_id, key) = (first.info().mch_id.clone(), first.info().api_key.clone());
    let p12 = std::fs::read(&first.credentials().files.cert_p12).unwrap();
    first.shutdown();
    drop(first);
    let second = wxpay_sim::start(wxpay_sim::SimConfig::new(dir.path()))
        .await
        .unwrap();
    assert_eq!(second.info().mch_id, mch_id);
    assert_eq!(second.info().api_key, key);
    assert_eq!(
        std::fs::read(&second.credentials().files.cert_p12).unwrap(),
        p12
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sim.json")).unwrap()).unwrap();
    assert_eq!(written["base_url"], second.info().base_url.as_str());
    assert_eq!(written["mch_id"], mch_id.as_str());
    assert_eq!(key.len(), 32);
    assert!(
        mch_id.len() == 10 && mch_id.bytes().all(|b| b.is_ascii_digit()),
        "{mch_id}"
    );
}

#[tokio::test]
async fn a_kept_day_survives_a_restart_and_a_fresh_one_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = wxpay_sim::SimConfig::new(dir.path());
        config.persist = true;
        config.refund_delay = Duration::from_millis(50);
        config
    };
    // Paid, and its notification not acknowledged (nothing listens at its address).
    let unheard = format!("http://{}/wxpay/notify", closed_address());
    let first = wxpay_sim::start(config()).await.unwrap();
    let paid = first
        .create_order(NewOrder {
            total_fee: 2_500,
            notify_url: Some(unheard.clone()),
            ..Default::default()
        })
        .unwrap();
    first.pay(&paid.out_trade_no).unwrap();
    let unpaid = first
        .create_order(NewOrder {
            total_fee: 100,
            ..Default::default()
        })
        .unwrap();
    first.shutdown();
    drop(first);

    let second = wxpay_sim::start(config()).await.unwrap();
    let order = second
        .order(&paid.out_trade_no)
        .expect("the paid order is still there");
    assert_eq!(order.state, wxpay_sim::OrderState::Paid);
    assert!(order.transaction_id.is_some());
    assert!(second.order(&unpaid.out_trade_no).is_some());
    let ledger = second.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(
        (ledger[0].kind, ledger[0].amount),
        (LedgerKind::Payment, 2_500)
    );
    // The notification still due is sent again, as WeChat goes on retrying.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !second
            .deliveries()
            .iter()
            .any(|d| d.subject == paid.out_trade_no)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the due notification was sent again after the restart");
    // New numbers do not collide with the day's.
    let next = second
        .create_order(NewOrder {
            total_fee: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(next.out_trade_no != paid.out_trade_no && next.out_trade_no != unpaid.out_trade_no);
    let mch_id = second.info().mch_id.clone();
    second.shutdown();
    drop(second);

    wxpay_sim::forget_day(dir.path()).unwrap();
    let third = wxpay_sim::start(config()).await.unwrap();
    assert!(third.order(&paid.out_trade_no).is_none(), "a fresh day");
    assert!(third.ledger().is_empty());
    assert_eq!(third.info().mch_id, mch_id, "the same merchant");
}

/// A loopback address nothing listens on.
fn closed_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn refunds_need_this_merchants_certificate() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let refund = sim.refund(&order, "R1", 100);

    // Our client refuses to send a refund without a certificate...
    let no_cert = sim.client_for(sim.merchant.clone(), false);
    let err = no_cert.execute(&refund).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::ClientCertificateMissing),
        "{err}"
    );
    // ...and the simulator answers one that arrives without, as WeChat's nginx does.
    let raw = transport(&sim.handle, false);
    use wxpay_client::Transport;
    let body = sim
        .merchant
        .encode_request(&refund, &Nonce::new("abc").unwrap())
        .unwrap();
    let reply = raw.post("/secapi/pay/refund", body, false).await.unwrap();
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("No required SSL certificate was sent"));
    let err = wxpay_client::v2_body(reply).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::ClientCertificateRejected);

    assert!(
        sim.handle
            .ledger()
            .iter()
            .all(|e| e.kind == LedgerKind::Payment),
        "no refund moved money"
    );
    assert!(
        sim.client.execute(&refund).await.is_ok(),
        "with the certificate it works"
    );
}

#[tokio::test]
async fn another_merchants_certificate_does_not_match() {
    let sim = Sandbox::start().await;
    // A certificate from the simulator's own CA, for another merchant id.
    let ca_key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(sim.dir.path().join("ca_key.pem")).unwrap(),
    )
    .unwrap();
    let ca_pem = std::fs::read_to_string(sim.dir.path().join("ca.pem")).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "1900000109");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let identity = wxpay_client::ClientIdentity::from_pem(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let settings = wxpay_client::HttpsSettings {
        base_url: sim.handle.info().base_url.clone(),
        identity: Some(identity),
        ..Default::default()
    }
    .with_extra_root_ca_file(&sim.handle.credentials().files.ca_pem)
    .unwrap();
    let client = wxpay_client::WxPayClient::new(
        sim.merchant.clone(),
        wxpay_client::HttpsTransport::new(settings, std::time::SystemTime::now()).unwrap(),
    );
    let order = sim.paid_order(1000).await;
    let err = client
        .execute(&sim.refund(&order, "R1", 100))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { return_msg } if return_msg == "certificate not match"),
        "{err}"
    );
}

#[tokio::test]
async fn wechats_refund_rules_and_error_codes() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;

    let mut unknown = sim.refund(&order, "R0", 100);
    unknown.order = OrderRef::OutTradeNo(OutTradeNo::new("NO-SUCH-ORDER").unwrap());
    assert_eq!(code(sim.client.execute(&unknown).await), "ORDERNOTEXIST");

    let unpaid = sim
        .handle
        .create_order(NewOrder {
            total_fee: 500,
            ..Default::default()
        })
        .unwrap();
    let mut refund_unpaid = sim.refund(&unpaid.out_trade_no, "R0", 100);
    refund_unpaid.total_fee = Fen::new(500);
    assert_eq!(
        code(sim.client.execute(&refund_unpaid).await),
        "TRADE_STATE_ERROR"
    );

    let mut wrong_total = sim.refund(&order, "R0", 100);
    wrong_total.total_fee = Fen::new(999);
    assert_eq!(
        code(sim.client.execute(&wrong_total).await),
        "INVALID_REQUEST"
    );

    // Partial refunds up to the amount paid, never beyond.
    sim.refund_now(&order, "R1", 600).await.unwrap();
    let (code, description) = failure(sim.refund_now(&order, "R2", 401).await);
    assert_eq!(code, "ERROR");
    assert!(description.contains("超过"), "{description}");
    sim.refund_now(&order, "R2", 400).await.unwrap();
    assert_eq!(
        failure(sim.refund_now(&order, "R3", 1).await),
        ("ERROR".to_owned(), "订单已全额退款".to_owned())
    );

    // By transaction_id too (it wins when both are known).
    let other = sim.paid_order(300).await;
    let transaction_id = sim.handle.order(&other).unwrap().transaction_id.unwrap();
    let mut by_transaction = sim.refund(&other, "T1", 300);
    by_transaction.order = OrderRef::TransactionId(TransactionId::new(transaction_id).unwrap());
    sim.client.execute(&by_transaction).await.unwrap();

    let refunded: i64 = sim
        .handle
        .ledger()
        .iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .map(|e| -e.amount)
        .sum();
    assert_eq!(
        refunded, 1300,
        "600 + 400 + 300, nothing for the refused ones"
    );
}

#[tokio::test]
async fn the_same_refund_number_never_moves_money_twice() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let first = sim.refund_now(&order, "SAME", 250).await.unwrap();
    let again = sim.refund_now(&order, "SAME", 250).await.unwrap();
    assert_eq!(
        first.refund_id, again.refund_id,
        "a repeat returns the original refund"
    );

    let different = sim.refund(&order, "SAME", 300);
    let err = sim.client.execute(&different).await.unwrap_err();
    assert!(
        matches!(&err, Error::Business { code: ErrCode::InvalidRequest, description } if description.contains("不一致")),
        "{err}"
    );

    let other_order = sim.paid_order(1000).await;
    assert_eq!(
        code(sim.refund_now(&other_order, "SAME", 250).await),
        "INVALID_REQUEST"
    );

    let refunds: Vec<_> = sim
        .handle
        .ledger()
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
}

#[tokio::test]
async fn at_most_fifty_refunds_per_order() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(10_000).await;
    for n in 0..50 {
        sim.refund_now(&order, &format!("R{n}"), 1).await.unwrap();
    }
    let (code, description) = failure(sim.refund_now(&order, "R50", 1).await);
    assert_eq!(code, "ERROR");
    assert!(description.contains("50"), "{description}");
}

#[tokio::test]
async fn orders_older_than_a_year_cannot_be_refunded() {
    let sim = Sandbox::start().await;
    let old = sim.paid_order_with(NewOrder {
        total_fee: 1000,
        days_ago: 366,
        ..Default::default()
    });
    assert_eq!(code(sim.refund_now(&old, "R1", 100).await), "TRADE_OVERDUE");
    let recent = sim.paid_order_with(NewOrder {
        total_fee: 1000,
        days_ago: 364,
        ..Default::default()
    });
    assert!(sim.refund_now(&recent, "R2", 100).await.is_ok());
}

#[tokio::test]
async fn not_enough_unsettled_funds_but_recharge_funds_work() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    sim.handle.set_balances(Balances {
        unsettled: 50,
        recharge: 0,
    });
    let err = sim.refund_now(&order, "R1", 100).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Business {
            code: ErrCode::NotEnough,
            ..
        }
    ));

    let mut from_recharge = sim.refund(&order, "R1", 100);
    from_recharge.refund_account = Some(RefundAccount::RechargeFunds);
    assert_eq!(
        code(sim.client.execute(&from_recharge).await),
        "NOTENOUGH",
        "recharge balance is empty too"
    );
    sim.handle.set_balances(Balances {
        unsettled: 50,
        recharge: 500,
    });
    sim.client.execute(&from_recharge).await.unwrap();
    assert_eq!(
        sim.handle.balances(),
        Balances {
            unsettled: 50,
            recharge: 400
        }
    );
    let entry = sim
        .handle
        .ledger()
        .into_iter()
        .find(|e| e.kind == LedgerKind::Refund)
        .unwrap();
    assert_eq!(entry.funds, wxpay_sim::Funds::Recharge);
}

#[tokio::test]
async fn signature_and_identity_errors() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let query = OrderQueryRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new(order.as_str()).unwrap()),
    };

    let wrong_key = Merchant {
        api_key: ApiKey::new("0".repeat(32)).unwrap(),
        ..sim.merchant.clone()
    };
    let err = sim
        .client_for(wrong_key, true)
        .execute(&query)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { return_msg } if return_msg.starts_with("签名错误")),
        "{err}"
    );

    let other_mch = Merchant {
        mch_id: MchId::new("1234567890").unwrap(),
        ..sim.merchant.clone()
    };
    let err = sim
        .client_for(other_mch, true)
        .execute(&query)
        .await
        .unwrap_err();
    // The simulator answers for its own merchant; our client refuses an answer for another.
    assert!(
        matches!(
            err,
            Error::MerchantMismatch {
                field: "mch_id",
                ..
            }
        ),
        "{err}"
    );

    let other_app = Merchant {
        appid: AppId::new("wx0000000000000000").unwrap(),
        ..sim.merchant.clone()
    };
    let err = sim
        .client_for(other_app, true)
        .execute(&query)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::MerchantMismatch { field: "appid", .. }),
        "{err}"
    );

    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let client = sim.client_for(
            Merchant {
                sign_type,
                ..sim.merchant.clone()
            },
            true,
        );
        let answer = client.execute(&query).await.unwrap();
        assert_eq!(answer.trade_state, TradeState::Success, "{sign_type}");
    }
}

#[tokio::test]
async fn order_query_states() {
    let sim = Sandbox::start().await;
    let unpaid = sim
        .handle
        .create_order(NewOrder {
            total_fee: 500,
            ..Default::default()
        })
        .unwrap();
    let query = |no: &str| OrderQueryRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new(no).unwrap()),
    };
    let answer = sim
        .client
        .execute(&query(&unpaid.out_trade_no))
        .await
        .unwrap();
    assert_eq!(answer.trade_state, TradeState::NotPay);
    assert_eq!(answer.transaction_id, None);

    sim.handle.pay(&unpaid.out_trade_no).unwrap();
    let answer = sim
        .client
        .execute(&query(&unpaid.out_trade_no))
        .await
        .unwrap();
    assert_eq!(answer.trade_state, TradeState::Success);
    assert_eq!(answer.total_fee, Some(Fen::new(500)));

    sim.refund_now(&unpaid.out_trade_no, "R1", 100)
        .await
        .unwrap();
    let answer = sim
        .client
        .execute(&query(&unpaid.out_trade_no))
        .await
        .unwrap();
    assert_eq!(answer.trade_state, TradeState::Refund);

    assert_eq!(
        code(sim.client.execute(&query("MISSING")).await),
        "ORDERNOTEXIST"
    );
}

#[tokio::test]
async fn unified_order_creates_an_order_that_can_be_paid() {
    let sim = Sandbox::start().await;
    let request = UnifiedOrderRequest {
        body: "测试商品".into(),
        out_trade_no: OutTradeNo::new("UO-1").unwrap(),
        total_fee: Fen::new(888),
        spbill_create_ip: "127.0.0.1".into(),
        notify_url: "http://127.0.0.1:9/notify".into(),
        trade_type: TradeType::Jsapi,
        openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
        attach: None,
    };
    let answer = sim.client.execute(&request).await.unwrap();
    assert!(answer.prepay_id.starts_with("wx"));
    assert_eq!(sim.handle.order("UO-1").unwrap().total_fee, 888);
    assert_eq!(
        code(sim.client.execute(&request).await),
        "INVALID_REQUEST",
        "order numbers are unique"
    );
    sim.handle.pay("UO-1").unwrap();
    assert_eq!(
        sim.handle.order("UO-1").unwrap().state,
        wxpay_sim::OrderState::Paid
    );
}

#[tokio::test]
async fn refund_query_pages_ten_records_at_a_time() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(10_000).await;
    let by_order = |offset| RefundQueryRequest {
        key: RefundQueryKey::OutTradeNo(OutTradeNo::new(order.as_str()).unwrap()),
        offset,
    };
    assert_eq!(
        code(sim.client.execute(&by_order(None)).await),
        "REFUNDNOTEXIST"
    );
    for n in 0..13 {
        sim.refund_now(&order, &format!("P{n:02}"), 10)
            .await
            .unwrap();
    }
    let first = sim.client.execute(&by_order(None)).await.unwrap();
    assert_eq!(
        (first.refunds.len(), first.total_refund_count),
        (10, Some(13))
    );
    assert_eq!(first.refunds[0].out_refund_no.as_str(), "P00");
    let rest = sim.client.execute(&by_order(Some(10))).await.unwrap();
    assert_eq!(rest.refunds.len(), 3);
    assert_eq!(rest.refunds[2].out_refund_no.as_str(), "P12");
    assert_eq!(
        code(sim.client.execute(&by_order(Some(13))).await),
        "PARAM_ERROR"
    );
}

#[tokio::test]
async fn refunds_can_be_made_to_end_change_or_closed() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    sim.handle.add_refund_rule(RefundRule {
        out_refund_no: Some("CARD-VOID".into()),
        refund_fee: None,
        outcome: SimStatus::Change,
    });
    sim.handle.add_refund_rule(RefundRule {
        out_refund_no: None,
        refund_fee: Some(7),
        outcome: SimStatus::Refundclose,
    });
    sim.refund_now(&order, "CARD-VOID", 100).await.unwrap();
    sim.refund_now(&order, "CLOSED", 7).await.unwrap();
    tokio::time::sleep(REFUND_DELAY * 2).await;
    let query = |no: &str| RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(OutRefundNo::new(no).unwrap()),
        offset: None,
    };
    let change = sim.client.execute(&query("CARD-VOID")).await.unwrap();
    assert_eq!(change.refunds[0].refund_status, RefundStatus::Change);
    let closed = sim.client.execute(&query("CLOSED")).await.unwrap();
    assert_eq!(closed.refunds[0].refund_status, RefundStatus::RefundClose);

    let ledger = sim.handle.ledger();
    assert!(
        ledger
            .iter()
            .any(|e| e.kind == LedgerKind::RefundReturned && e.amount == 7),
        "a closed refund gives the money back"
    );
    // What a closed refund held is refundable again: 1000 - 100 (CHANGE keeps it) = 900.
    sim.refund_now(&order, "REST", 900).await.unwrap();
}

#[tokio::test]
async fn downloadbill_lists_the_days_payments_and_refunds() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(12_345).await;
    sim.refund_now(&order, "R1", 345).await.unwrap();
    let today = {
        let now =
            time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
        format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        )
    };
    let bill = |date: &str| {
        let fields = Fields::from_pairs([
            ("appid", sim.merchant.appid.to_string()),
            ("mch_id", sim.merchant.mch_id.to_string()),
            ("nonce_str", "n1".to_owned()),
            ("bill_date", date.to_owned()),
            ("bill_type", "ALL".to_owned()),
        ])
        .unwrap();
        wxpay::sign::sign_and_encode(fields, &sim.merchant.api_key, SignType::Md5).unwrap()
    };
    use wxpay_client::Transport;
    let raw = transport(&sim.handle, false);
    let reply = raw
        .post("/pay/downloadbill", bill(&today), false)
        .await
        .unwrap();
    let text = String::from_utf8(reply.body).unwrap();
    assert!(text.starts_with("交易时间,公众账号ID,商户号"), "{text}");
    assert!(text.contains(&format!("`{order}")), "{text}");
    assert!(text.contains("`123.45"), "amounts in yuan: {text}");
    assert!(text.contains("`R1,`3.45"), "{text}");
    assert!(text.contains("总交易单数"), "{text}");

    let reply = raw
        .post("/pay/downloadbill", bill("20000101"), false)
        .await
        .unwrap();
    let fields = wxpay::xml::decode(&reply.body).unwrap();
    assert_eq!(fields.get("return_msg"), Some("No Bill Exist"));
}

fn fault(endpoint: Endpoint, fault: Fault) -> FaultPlan {
    FaultPlan {
        endpoint,
        fault,
        count: 1,
    }
}

#[tokio::test]
async fn business_error_faults_refuse_without_recording() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let refund = sim.refund(&order, "R1", 100);
    for code in ["SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED"] {
        sim.handle.inject(fault(
            Endpoint::Refund,
            Fault::Error {
                err_code: code.into(),
                after_record: false,
            },
        ));
        let err = sim.client.execute(&refund).await.unwrap_err();
        assert!(
            matches!(&err, Error::Business { code: c, .. } if c.as_str() == code),
            "{err}"
        );
    }
    assert!(
        sim.handle
            .ledger()
            .iter()
            .all(|e| e.kind == LedgerKind::Payment),
        "nothing was refunded"
    );
    sim.client.execute(&refund).await.unwrap();
    assert_eq!(sim.handle.ledger().len(), 2);
}

#[tokio::test]
async fn a_dropped_answer_after_recording_is_the_double_refund_trap() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let refund = sim.refund(&order, "R1", 400);
    sim.handle
        .inject(fault(Endpoint::Refund, Fault::Drop { after_record: true }));
    let err = sim.client.execute(&refund).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::ConnectionLost && t.written == Written::Maybe),
        "the client cannot know: {err:?}"
    );
    assert_eq!(sim.handle.ledger().len(), 2, "but the refund was recorded");

    // The safe recovery: query by the same number, or resend the same request.
    let query = RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(OutRefundNo::new("R1").unwrap()),
        offset: None,
    };
    assert_eq!(
        sim.client.execute(&query).await.unwrap().refunds[0].refund_fee,
        Fen::new(400)
    );
    sim.client.execute(&refund).await.unwrap();
    let refunds = sim
        .handle
        .ledger()
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .count();
    assert_eq!(refunds, 1, "resending the same number did not refund twice");
}

#[tokio::test]
async fn transport_faults() {
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let query = OrderQueryRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new(order.as_str()).unwrap()),
    };

    sim.handle.inject(fault(
        Endpoint::OrderQuery,
        Fault::HttpStatus {
            status: 503,
            after_record: false,
        },
    ));
    let err = sim.client.execute(&query).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::HttpStatus(503)),
        "{err}"
    );

    sim.handle.inject(fault(
        Endpoint::OrderQuery,
        Fault::Garbage {
            after_record: false,
        },
    ));
    let err = sim.client.execute(&query).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::NotXml),
        "{err}"
    );

    sim.handle.inject(fault(
        Endpoint::OrderQuery,
        Fault::Drop {
            after_record: false,
        },
    ));
    let err = sim.client.execute(&query).await.unwrap_err();
    assert!(matches!(&err, Error::Transport(_)), "{err}");

    sim.handle
        .inject(fault(Endpoint::OrderQuery, Fault::Delay { ms: 300 }));
    let started = std::time::Instant::now();
    assert!(sim.client.execute(&query).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(300));

    sim.handle.inject(FaultPlan {
        endpoint: Endpoint::OrderQuery,
        fault: Fault::HttpStatus {
            status: 502,
            after_record: false,
        },
        count: 2,
    });
    assert!(sim.client.execute(&query).await.is_err());
    assert!(sim.client.execute(&query).await.is_err());
    assert!(
        sim.client.execute(&query).await.is_ok(),
        "the fault applied to exactly two calls"
    );
}

#[tokio::test]
async fn payment_notifications_are_retried_until_acknowledged() {
    let sim = Sandbox::start().await;
    let receiver = receiver(2).await;
    let order = sim.paid_order_with(NewOrder {
        total_fee: 1234,
        notify_url: Some(receiver.url.clone()),
        ..Default::default()
    });
    eventually("three deliveries", || {
        receiver.bodies.lock().unwrap().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3, "delivery stops at the first SUCCESS");

    let notification = PaymentNotification::parse(bodies[0].as_bytes(), &sim.merchant).unwrap();
    assert_eq!(notification.out_trade_no.as_str(), order);
    assert_eq!(notification.total_fee, Fen::new(1234));
    assert!(
        !bodies[0].contains("sign_type"),
        "WeChat leaves sign_type out of notifications"
    );

    let deliveries = sim.handle.deliveries();
    let attempts: Vec<(usize, bool)> = deliveries
        .iter()
        .map(|d| (d.attempt, d.acknowledged))
        .collect();
    assert_eq!(attempts, [(0, false), (1, false), (2, true)]);
}

#[tokio::test]
async fn refund_notifications_carry_the_outcome_encrypted() {
    let sim = Sandbox::start().await;
    let receiver = receiver(0).await;
    let order = sim.paid_order(1000).await;
    let mut refund = sim.refund(&order, "R1", 250);
    refund.notify_url = Some(receiver.url.clone());
    sim.client.execute(&refund).await.unwrap();
    eventually("the refund notification", || {
        !receiver.bodies.lock().unwrap().is_empty()
    })
    .await;
    let body = receiver.bodies.lock().unwrap()[0].clone();
    assert!(
        body.contains("<req_info>") && !body.contains("<refund_fee>"),
        "fields travel encrypted"
    );
    let notification = RefundNotification::parse(body.as_bytes(), &sim.merchant).unwrap();
    assert_eq!(notification.out_refund_no.as_str(), "R1");
    assert_eq!(notification.refund_fee, Fen::new(250));
    assert_eq!(notification.refund_status, RefundStatus::Success);
    assert!(notification.success_time.is_some());
}

#[tokio::test]
async fn an_unreachable_receiver_gets_the_whole_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = wxpay_sim::SimConfig::new(dir.path());
    config.notifier.time_scale = 0.0001; // a day of retries in about nine seconds
    config.notifier.duplicate_probability = 0.0;
    let sim = wxpay_sim::start(config).await.unwrap();
    let order = sim
        .create_order(NewOrder {
            total_fee: 1,
            notify_url: Some("http://127.0.0.1:9/closed".into()),
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    for _ in 0..600 {
        if sim.deliveries().len() >= 16 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 16, "the first send and fifteen retries");
    assert!(deliveries.iter().all(|d| !d.acknowledged));
}

#[tokio::test]
async fn duplicates_are_sent_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = wxpay_sim::SimConfig::new(dir.path());
    config.notifier.time_scale = 0.001;
    config.notifier.duplicate_probability = 1.0;
    let sim = wxpay_sim::start(config).await.unwrap();
    let receiver = receiver(0).await;
    let order = sim
        .create_order(NewOrder {
            total_fee: 1,
            notify_url: Some(receiver.url.clone()),
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();
    eventually("two copies", || receiver.bodies.lock().unwrap().len() >= 2).await;
    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(bodies[0], bodies[1], "the duplicate is the same message");
}

#[tokio::test]
async fn the_control_api_over_http() {
    let sim = Sandbox::start().await;
    let control = &sim.handle.info().control_url;
    let http = reqwest::Client::new();
    let order: serde_json::Value = http
        .post(format!("{control}/v1/orders"))
        .json(&serde_json::json!({ "total_fee": 2500, "out_trade_no": "CTRL-1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["state"], "NOT_PAY");
    let paid: serde_json::Value = http
        .post(format!("{control}/v1/orders/CTRL-1/pay"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["state"], "PAID");
    let again = http
        .post(format!("{control}/v1/orders/CTRL-1/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "an order is paid once");
    let missing = http
        .post(format!("{control}/v1/orders/NOPE/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let fault = http
        .post(format!("{control}/v1/faults"))
        .json(&serde_json::json!({ "endpoint": "refund", "fault": { "kind": "error", "err_code": "SYSTEMERROR" } }))
        .send().await.unwrap();
    assert!(fault.status().is_success());
    assert_eq!(
        code(sim.refund_now("CTRL-1", "R1", 100).await),
        "SYSTEMERROR"
    );

    let put = http
        .put(format!("{control}/v1/balances"))
        .json(&serde_json::json!({ "unsettled": 0, "recharge": 0 }))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    assert_eq!(code(sim.refund_now("CTRL-1", "R1", 100).await), "NOTENOUGH");

    let ledger: Vec<serde_json::Value> = http
        .get(format!("{control}/v1/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["kind"], "payment");
    assert_eq!(ledger[0]["amount"], 2500);
    let merchant: serde_json::Value = http
        .get(format!("{control}/v1/merchant"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(merchant["mch_id"], sim.merchant.mch_id.as_str());
}

#[tokio::test]
async fn demo_traffic_pays_orders_and_posts_signed_refund_requests() {
    use axum::http::HeaderMap;
    let notifications = receiver(0).await;
    let requests: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let seen = requests.clone();
    let intake = axum::Router::new().route(
        "/api/v1/refund-requests",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let timestamp: i64 = headers[wxpay_sim::TIMESTAMP_HEADER]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let signature = headers[wxpay_sim::SIGNATURE_HEADER].to_str().unwrap();
                assert_eq!(
                    signature,
                    backend_api::sign("s3cret", timestamp, body.as_bytes())
                );
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let intake_url = format!(
        "http://{}/api/v1/refund-requests",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, intake).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut config = wxpay_sim::SimConfig::new(dir.path());
    config.notifier.duplicate_probability = 0.0;
    config.demo = Some(wxpay_sim::DemoTraffic {
        order_every: Duration::from_millis(40),
        notify_url: Some(notifications.url.clone()),
        refund_requests: Some(wxpay_sim::IntakeTarget {
            url: intake_url,
            secret: "s3cret".into(),
        }),
        refund_request_probability: 1.0,
    });
    let sim = wxpay_sim::start(config).await.unwrap();
    eventually("three refund requests", || {
        requests.lock().unwrap().len() >= 3
    })
    .await;
    let merchant = Merchant {
        appid: sim.credentials().appid.clone(),
        mch_id: sim.credentials().mch_id.clone(),
        api_key: sim.credentials().api_key.clone(),
        sign_type: SignType::Md5,
    };
    for body in notifications.bodies.lock().unwrap().iter() {
        PaymentNotification::parse(body.as_bytes(), &merchant).unwrap();
    }
    for request in requests.lock().unwrap().iter() {
        let order = sim
            .order(request["out_trade_no"].as_str().unwrap())
            .unwrap();
        let fee = request["refund_fee"].as_i64().unwrap();
        assert!(fee > 0 && fee <= order.total_fee, "{request}");
        assert!(!request["reason"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn malformed_requests_get_wechats_answers() {
    use wxpay_client::Transport;
    let sim = Sandbox::start().await;
    let order = sim.paid_order(1000).await;
    let raw = transport(&sim.handle, true);
    let signed = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("appid", sim.merchant.appid.to_string()),
            ("mch_id", sim.merchant.mch_id.to_string()),
            ("nonce_str", "n1".to_owned()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        wxpay::sign::sign_and_encode(
            Fields::from_pairs(pairs).unwrap(),
            &sim.merchant.api_key,
            SignType::Md5,
        )
        .unwrap()
    };
    let answer = |body: Vec<u8>| wxpay::xml::decode(&body).unwrap().into_owned();

    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("out_trade_no", &order),
                ("total_fee", "1000"),
                ("refund_fee", "100"),
            ],
            "PARAM_ERROR",
        ),
        (
            &[
                ("out_trade_no", &order),
                ("out_refund_no", "R1"),
                ("total_fee", "1000"),
                ("refund_fee", "1.5"),
            ],
            "PARAM_ERROR",
        ),
        (
            &[
                ("out_trade_no", &order),
                ("out_refund_no", "R1"),
                ("total_fee", "1000"),
                ("refund_fee", "-5"),
            ],
            "PARAM_ERROR",
        ),
        (
            &[
                ("out_refund_no", "R1"),
                ("total_fee", "1000"),
                ("refund_fee", "5"),
            ],
            "PARAM_ERROR",
        ),
    ];
    for (fields, code) in cases {
        let reply = raw
            .post("/secapi/pay/refund", signed(fields), true)
            .await
            .unwrap();
        let fields_back = answer(reply.body);
        assert_eq!(fields_back.get("result_code"), Some("FAIL"), "{fields:?}");
        assert_eq!(fields_back.get("err_code"), Some(code), "{fields:?}");
        assert!(
            verify_signed(&fields_back, &sim.merchant.api_key),
            "business failures are signed"
        );
    }

    for body in [
        "not xml at all",
        "<xml><appid>x</appid>",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml>&e;</xml>",
    ] {
        let reply = raw
            .post("/pay/orderquery", body.to_owned(), false)
            .await
            .unwrap();
        let fields_back = answer(reply.body);
        assert_eq!(fields_back.get("return_code"), Some("FAIL"));
        assert_eq!(fields_back.get("return_msg"), Some("XML格式错误"), "{body}");
        assert_eq!(
            fields_back.get("sign"),
            None,
            "return_code=FAIL answers are unsigned"
        );
    }

    let unsigned = "<xml><appid>a</appid><mch_id>m</mch_id><nonce_str>n</nonce_str></xml>";
    let reply = raw
        .post("/pay/orderquery", unsigned.to_owned(), false)
        .await
        .unwrap();
    assert_eq!(answer(reply.body).get("return_msg"), Some("缺少参数sign"));
    assert!(
        sim.handle
            .ledger()
            .iter()
            .all(|e| e.kind == LedgerKind::Payment),
        "nothing was refunded"
    );
}

fn verify_signed(fields: &Fields<'_>, key: &ApiKey) -> bool {
    wxpay::sign::verify(fields, key, wxpay::sign::Expect::Detect).is_ok()
}
