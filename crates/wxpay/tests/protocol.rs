//! The protocol crate against WeChat's documented vectors, genuinely signed fixtures of every
//! message type, and hostile input.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::collections::BTreeMap;

use aes::cipher::{BlockModeEncrypt, KeyInit, block_padding::Pkcs7};
use base64::Engine;
use md5::{Digest, Md5};
use proptest::prelude::*;
use serde_json::Value;
use wxpay::sign::{Expect, sign, sign_and_encode, string_to_sign, verify};
use wxpay::xml::{decode, encode};
use wxpay::*;

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const APPID: &str = "wxd930ea5d5a258f4f";
const MCH_ID: &str = "10000100";

fn key() -> ApiKey {
    ApiKey::new(KEY).unwrap()
}

fn merchant(sign_type: SignType) -> Merchant {
    Merchant {
        appid: AppId::new(APPID).unwrap(),
        mch_id: MchId::new(MCH_ID).unwrap(),
        api_key: key(),
        sign_type,
    }
}

/// A body signed with the merchant's key, as WeChat would send it.
fn signed(pairs: &[(&str, &str)], sign_type: SignType) -> String {
    sign_and_encode(
        Fields::from_pairs(pairs.iter().copied()).unwrap(),
        &key(),
        sign_type,
    )
    .unwrap()
}

/// The fields every successful answer carries.
fn answer(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut pairs = vec![
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("result_code", "SUCCESS"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "TeqClE3i0mvn3DrK"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

// ---------------------------------------------------------------- signature vectors

#[test]
fn signature_vectors_from_wechat_documentation_and_seed_article() {
    let vectors: Value = serde_json::from_str(include_str!("data/wxpay-v2-vectors.json")).unwrap();
    let cases = vectors["sign"].as_array().unwrap();
    assert_eq!(cases.len(), 3, "every vector in the fixture is exercised");
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let key = ApiKey::new(case["key"].as_str().unwrap()).unwrap();
        let sign_type: SignType = case["sign_type"].as_str().unwrap().parse().unwrap();
        let params: BTreeMap<String, String> = case["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let mut fields = Fields::from_pairs(params.clone()).unwrap();
        let expected = case["sign"].as_str().unwrap();
        assert_eq!(sign(&fields, &key, sign_type), expected, "vector {id}");
        if let Some(full) = case["string_to_sign"].as_str() {
            assert_eq!(
                format!("{}&key={}", string_to_sign(&fields), key.expose()),
                full,
                "vector {id}"
            );
        }
        fields.insert("sign", expected.to_owned()).unwrap();
        assert_eq!(
            verify(&fields, &key, Expect::Exactly(sign_type)),
            Ok(sign_type),
            "vector {id}"
        );
        assert_eq!(
            verify(&fields, &key, Expect::Detect),
            Ok(sign_type),
            "vector {id}"
        );
        let other_key = ApiKey::new("00000000000000000000000000000000").unwrap();
        assert_eq!(
            verify(&fields, &other_key, Expect::Detect),
            Err(SignatureError::Mismatch),
            "vector {id}"
        );
    }
}

// ---------------------------------------------------------------- refund

fn refund_request() -> RefundRequest {
    RefundRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new("1415757673").unwrap()),
        out_refund_no: OutRefundNo::new("1415701182").unwrap(),
        total_fee: Fen::new(1000),
        refund_fee: Fen::new(300),
        refund_fee_type: None,
        refund_desc: Some("商品<已退回> & 已验收]]>".into()),
        refund_account: Some(RefundAccount::RechargeFunds),
        notify_url: Some("https://shop.example/wxpay/refund-notify".into()),
    }
}

#[test]
fn refund_request_is_signed_and_escaped() {
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let nonce = Nonce::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").unwrap();
        let body = merchant(sign_type)
            .encode_request(&refund_request(), &nonce)
            .unwrap();
        let fields = decode(body.as_bytes()).unwrap();
        assert_eq!(
            verify(&fields, &key(), Expect::Exactly(sign_type)),
            Ok(sign_type)
        );
        assert_eq!(
            fields.get("refund_desc"),
            Some("商品<已退回> & 已验收]]>"),
            "text survives CDATA"
        );
        assert_eq!(fields.get("out_trade_no"), Some("1415757673"));
        assert_eq!(
            fields.get("transaction_id"),
            None,
            "exactly one order reference"
        );
        assert_eq!(fields.get("total_fee"), Some("1000"));
        assert_eq!(fields.get("refund_fee"), Some("300"));
        assert_eq!(
            fields.get("refund_account"),
            Some("REFUND_SOURCE_RECHARGE_FUNDS")
        );
        assert_eq!(fields.get("nonce_str"), Some(nonce.as_str()));
        let expected_sign_type = (sign_type == SignType::HmacSha256).then_some("HMAC-SHA256");
        assert_eq!(fields.get("sign_type"), expected_sign_type);
        assert!(
            body.contains("<total_fee>1000</total_fee>"),
            "numbers are written bare: {body}"
        );
    }
}

#[test]
fn invalid_refunds_are_refused_before_sending() {
    let nonce = Nonce::new("abc").unwrap();
    let cases: Vec<(RefundRequest, &str)> = vec![
        (
            RefundRequest {
                refund_fee: Fen::new(1001),
                ..refund_request()
            },
            "refund_fee (1001 fen) is more than total_fee (1000 fen)",
        ),
        (
            RefundRequest {
                refund_fee: Fen::ZERO,
                ..refund_request()
            },
            "refund_fee must be greater than zero",
        ),
        (
            RefundRequest {
                refund_fee: Fen::new(-5),
                ..refund_request()
            },
            "refund_fee must be greater than zero",
        ),
        (
            RefundRequest {
                total_fee: Fen::ZERO,
                ..refund_request()
            },
            "total_fee must be greater than zero",
        ),
        (
            RefundRequest {
                refund_desc: Some("退".repeat(81)),
                ..refund_request()
            },
            "refund_desc is longer than 80 characters",
        ),
        (
            RefundRequest {
                refund_desc: Some("a\u{0}b".into()),
                ..refund_request()
            },
            "refund_desc is invalid: control characters are not allowed",
        ),
        (
            RefundRequest {
                notify_url: Some("https://x.example/n?a=1".into()),
                ..refund_request()
            },
            "notify_url is invalid: must have no query string or spaces",
        ),
        (
            RefundRequest {
                notify_url: Some("ftp://x.example/n".into()),
                ..refund_request()
            },
            "notify_url is invalid: must be an https:// address",
        ),
        (
            RefundRequest {
                refund_fee_type: Some("rmb".into()),
                ..refund_request()
            },
            "refund_fee_type is invalid: must be a three-letter ISO 4217 code such as CNY",
        ),
        (
            RefundRequest {
                refund_account: Some(RefundAccount::from_wire("BOTH")),
                ..refund_request()
            },
            "refund_account is invalid: must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS",
        ),
    ];
    for (request, message) in cases {
        let err = merchant(SignType::Md5)
            .encode_request(&request, &nonce)
            .unwrap_err();
        assert_eq!(err.to_string(), format!("invalid request: {message}"));
    }
    assert!(
        RefundRequest {
            refund_desc: Some("退".repeat(80)),
            ..refund_request()
        }
        .fields()
        .is_ok(),
        "80 characters fit"
    );
}

fn refund_answer(
    out_refund_no: &'static str,
    refund_fee: &'static str,
) -> Vec<(&'static str, &'static str)> {
    answer(&[
        ("transaction_id", "1008450740201411110005820873"),
        ("out_trade_no", "1415757673"),
        ("out_refund_no", out_refund_no),
        ("refund_id", "2008450740201411110000174436"),
        ("refund_fee", refund_fee),
        ("total_fee", "1000"),
        ("cash_fee", "1000"),
        ("refund_channel", ""),
        ("coupon_refund_fee_0", "0"),
    ])
}

#[test]
fn refund_acceptance_is_decoded_and_must_echo_the_request() {
    let m = merchant(SignType::HmacSha256);
    let body = signed(&refund_answer("1415701182", "300"), SignType::HmacSha256);
    let response = m
        .decode_response(&refund_request(), body.as_bytes())
        .unwrap();
    assert_eq!(response.refund_id.as_str(), "2008450740201411110000174436");
    assert_eq!(response.refund_fee, Fen::new(300));
    assert_eq!(response.cash_fee, Some(Fen::new(1000)));

    let other = signed(&refund_answer("OTHER-REFUND", "300"), SignType::HmacSha256);
    let err = m
        .decode_response(&refund_request(), other.as_bytes())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Field(FieldError::Mismatch { field, .. }) if field == "out_refund_no"),
        "{err}"
    );

    let other_amount = signed(&refund_answer("1415701182", "301"), SignType::HmacSha256);
    let err = m
        .decode_response(&refund_request(), other_amount.as_bytes())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Field(FieldError::Mismatch { field, .. }) if field == "refund_fee"),
        "{err}"
    );
}

#[test]
fn business_and_protocol_failures_are_told_apart() {
    let m = merchant(SignType::Md5);
    let not_enough = signed(
        &[
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "NOTENOUGH"),
            ("err_code_des", "基本账户余额不足，请充值后重新发起"),
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "x"),
        ],
        SignType::Md5,
    );
    let err = m
        .decode_response(&refund_request(), not_enough.as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Business {
                code: ErrCode::NotEnough,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.user_message(Lang::ZhCn).contains("基本账户余额不足"));

    // return_code=FAIL answers are not signed.
    let fail = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>";
    let err = m
        .decode_response(&refund_request(), fail.as_bytes())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { return_msg } if return_msg == "签名错误"),
        "{err}"
    );
}

#[test]
fn an_answer_that_does_not_verify_is_never_data() {
    let m = merchant(SignType::Md5);
    let genuine = signed(&refund_answer("1415701182", "300"), SignType::Md5);

    let tampered = genuine.replace(
        "<refund_fee>300</refund_fee>",
        "<refund_fee>30</refund_fee>",
    );
    let err = m
        .decode_response(&refund_request(), tampered.as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, Error::Signature(SignatureError::Mismatch)),
        "{err}"
    );

    let unsigned =
        encode(&Fields::from_pairs(refund_answer("1415701182", "300")).unwrap()).unwrap();
    let err = m
        .decode_response(&refund_request(), unsigned.as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, Error::Signature(SignatureError::Missing)),
        "{err}"
    );

    let hmac = signed(&refund_answer("1415701182", "300"), SignType::HmacSha256);
    let err = m
        .decode_response(&refund_request(), hmac.as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Signature(SignatureError::WrongLength { len: 64 })
        ),
        "{err}"
    );

    let mut foreign = refund_answer("1415701182", "300");
    foreign[3] = ("appid", "wx0000000000000000");
    let err = m
        .decode_response(
            &refund_request(),
            signed(&foreign, SignType::Md5).as_bytes(),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::MerchantMismatch { field: "appid", .. }),
        "{err}"
    );

    let err = m
        .decode_response(
            &refund_request(),
            b"<html><body>502 Bad Gateway</body></html>",
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Field(FieldError::Missing(ref f)) if f == "return_code"),
        "{err}"
    );
}

// ---------------------------------------------------------------- refund query

#[test]
fn refund_query_decodes_indexed_records() {
    let m = merchant(SignType::Md5);
    let request = RefundQueryRequest {
        key: RefundQueryKey::OutTradeNo(OutTradeNo::new("1415757673").unwrap()),
        offset: Some(10),
    };
    let fields = request.fields().unwrap();
    assert_eq!(
        fields,
        vec![
            ("out_trade_no", "1415757673".to_owned()),
            ("offset", "10".to_owned())
        ]
    );

    let body = signed(
        &answer(&[
            ("transaction_id", "1008450740201411110005820873"),
            ("out_trade_no", "1415757673"),
            ("total_fee", "1000"),
            ("cash_fee", "1000"),
            ("total_refund_count", "13"),
            ("refund_count", "3"),
            ("out_refund_no_0", "R-1"),
            ("refund_id_0", "50000000001"),
            ("refund_fee_0", "100"),
            ("refund_status_0", "SUCCESS"),
            ("refund_success_time_0", "2016-07-25 15:26:26"),
            ("refund_recv_accout_0", "支付用户的零钱"),
            ("refund_channel_0", "ORIGINAL"),
            ("out_refund_no_1", "R-2"),
            ("refund_id_1", "50000000002"),
            ("refund_fee_1", "200"),
            ("refund_status_1", "PROCESSING"),
            ("out_refund_no_2", "R-3"),
            ("refund_id_2", "50000000003"),
            ("refund_fee_2", "300"),
            ("refund_status_2", "NEW_STATUS"),
        ]),
        SignType::Md5,
    );
    let response = m.decode_response(&request, body.as_bytes()).unwrap();
    assert_eq!(response.total_refund_count, Some(13));
    assert_eq!(response.refunds.len(), 3);
    let first = &response.refunds[0];
    assert_eq!(first.refund_status, RefundStatus::Success);
    assert!(first.refund_status.is_final());
    assert_eq!(first.refund_recv_account.as_deref(), Some("支付用户的零钱"));
    assert_eq!(
        first.refund_success_time.as_deref(),
        Some("2016-07-25 15:26:26")
    );
    assert_eq!(response.refunds[1].refund_status, RefundStatus::Processing);
    assert!(!response.refunds[1].refund_status.is_final());
    assert_eq!(
        response.refunds[2].refund_status,
        RefundStatus::Other("NEW_STATUS".into())
    );
    assert!(
        !response.refunds[2].refund_status.is_final(),
        "an unknown status is followed, not trusted"
    );
    assert_eq!(
        response
            .find(&OutRefundNo::new("R-2").unwrap())
            .map(|r| r.refund_fee),
        Some(Fen::new(200))
    );
}

#[test]
fn refund_query_official_sample_fields() {
    // WeChat's documented sample answer, re-signed with the test key (its own sign is unverifiable).
    let body = signed(
        &[
            ("appid", "wx2421b1c4370ec43b"),
            ("mch_id", "10000100"),
            ("nonce_str", "TeqClE3i0mvn3DrK"),
            ("out_refund_no_0", "1415701182"),
            ("out_trade_no", "1415757673"),
            ("refund_count", "1"),
            ("refund_fee_0", "1"),
            ("refund_id_0", "2008450740201411110000174436"),
            ("refund_status_0", "PROCESSING"),
            ("result_code", "SUCCESS"),
            ("return_code", "SUCCESS"),
            ("return_msg", "OK"),
            ("transaction_id", "1008450740201411110005820873"),
            ("total_fee", "1"),
        ],
        SignType::Md5,
    );
    let m = Merchant {
        appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
        ..merchant(SignType::Md5)
    };
    let request = RefundQueryRequest {
        key: RefundQueryKey::OutRefundNo(OutRefundNo::new("1415701182").unwrap()),
        offset: None,
    };
    let response = m.decode_response(&request, body.as_bytes()).unwrap();
    assert_eq!(response.refunds[0].refund_status, RefundStatus::Processing);
    assert_eq!(response.refunds[0].refund_fee, Fen::new(1));
}

#[test]
fn refund_query_refuses_impossible_counts_and_gaps() {
    let m = merchant(SignType::Md5);
    let request = RefundQueryRequest {
        key: RefundQueryKey::RefundId(RefundId::new("2008450740201411110000174436").unwrap()),
        offset: None,
    };
    let base = [
        ("transaction_id", "1008450740201411110005820873"),
        ("out_trade_no", "1415757673"),
        ("total_fee", "1000"),
    ];
    let mut too_many = answer(&base);
    too_many.push(("refund_count", "4294967295"));
    let err = m
        .decode_response(&request, signed(&too_many, SignType::Md5).as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("refund_count"), "{err}");

    let mut gap = answer(&base);
    gap.extend([
        ("refund_count", "1"),
        ("out_refund_no_0", "R-1"),
        ("refund_id_0", "1"),
        ("refund_status_0", "SUCCESS"),
    ]);
    let err = m
        .decode_response(&request, signed(&gap, SignType::Md5).as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected message content: field `refund_fee_0` is missing"
    );

    let mut no_refund = answer(&[]);
    no_refund[2] = ("result_code", "FAIL");
    no_refund.extend([
        ("err_code", "REFUNDNOTEXIST"),
        ("err_code_des", "not exist"),
    ]);
    let err = m
        .decode_response(&request, signed(&no_refund, SignType::Md5).as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Business {
                code: ErrCode::RefundNotExist,
                ..
            }
        ),
        "{err}"
    );
}

// ---------------------------------------------------------------- order query

#[test]
fn order_query_states() {
    let m = merchant(SignType::HmacSha256);
    let request = OrderQueryRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new("1415757673").unwrap()),
    };
    let unpaid = signed(
        &answer(&[
            ("out_trade_no", "1415757673"),
            ("trade_state", "NOTPAY"),
            ("trade_state_desc", "订单未支付"),
        ]),
        SignType::HmacSha256,
    );
    let response = m.decode_response(&request, unpaid.as_bytes()).unwrap();
    assert_eq!(response.trade_state, TradeState::NotPay);
    assert!(!response.trade_state.is_paid());
    assert_eq!(response.transaction_id, None);

    let refunded = signed(
        &answer(&[
            ("out_trade_no", "1415757673"),
            ("trade_state", "REFUND"),
            ("transaction_id", "1008450740201411110005820873"),
            ("total_fee", "1000"),
            ("time_end", "20141030133525"),
            ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ]),
        SignType::HmacSha256,
    );
    let response = m.decode_response(&request, refunded.as_bytes()).unwrap();
    assert!(
        response.trade_state.is_paid(),
        "REFUND means paid, then (partly) refunded"
    );
    assert_eq!(response.total_fee, Some(Fen::new(1000)));

    let paid_without_amount = signed(
        &answer(&[("out_trade_no", "1415757673"), ("trade_state", "SUCCESS")]),
        SignType::HmacSha256,
    );
    assert!(
        m.decode_response(&request, paid_without_amount.as_bytes())
            .is_err()
    );
}

// ---------------------------------------------------------------- unified order and paySign

#[test]
fn unified_order_and_jsapi_pay_sign() {
    let m = merchant(SignType::Md5);
    let mut request = UnifiedOrderRequest {
        body: "腾讯充值中心-QQ会员充值".into(),
        out_trade_no: OutTradeNo::new("20150806125346").unwrap(),
        total_fee: Fen::new(88),
        spbill_create_ip: "123.12.12.123".into(),
        notify_url: "https://shop.example/wxpay/notify".into(),
        trade_type: TradeType::Jsapi,
        openid: None,
        attach: Some("深圳分店".into()),
    };
    let err = request.fields().unwrap_err();
    assert_eq!(
        err.to_string(),
        "openid is invalid: is required for JSAPI payments"
    );
    request.openid = Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into());
    let body = m
        .encode_request(
            &request,
            &Nonce::new("1add1a30ac87aa2db72f57a2375d8fec").unwrap(),
        )
        .unwrap();
    let fields = decode(body.as_bytes()).unwrap();
    assert_eq!(fields.get("trade_type"), Some("JSAPI"));
    assert_eq!(fields.get("body"), Some("腾讯充值中心-QQ会员充值"));

    let answer = signed(
        &answer(&[
            ("trade_type", "JSAPI"),
            ("prepay_id", "wx201410272009395522657a690389285100"),
        ]),
        SignType::Md5,
    );
    let response = m.decode_response(&request, answer.as_bytes()).unwrap();
    assert_eq!(response.prepay_id, "wx201410272009395522657a690389285100");

    let nonce = Nonce::new("e61463f8efa94090b1f366cccfbbb444").unwrap();
    let params = JsapiPayParams::new(&m, &response.prepay_id, 1414561699, &nonce);
    // The documented string, hashed independently of the crate's signer.
    let string = format!(
        "appId={APPID}&nonceStr=e61463f8efa94090b1f366cccfbbb444&package=prepay_id=wx201410272009395522657a690389285100&signType=MD5&timeStamp=1414561699&key={KEY}"
    );
    let expected: String = Md5::digest(string.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(params.pay_sign, expected);
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(json["appId"], APPID);
    assert_eq!(json["timeStamp"], "1414561699");
    assert_eq!(json["signType"], "MD5");
    assert_eq!(
        json["package"],
        "prepay_id=wx201410272009395522657a690389285100"
    );
}

// ---------------------------------------------------------------- payment notification

/// WeChat's documented sample notification (with two coupons), minus its unverifiable sign.
fn payment_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("appid", APPID),
        ("attach", "支付测试"),
        ("bank_type", "CFT"),
        ("fee_type", "CNY"),
        ("is_subscribe", "Y"),
        ("mch_id", MCH_ID),
        ("nonce_str", "5d2b6c2a8db53831f7eda20af46e531c"),
        ("openid", "oUpF8uMEb4qRXf22hE3X68TekukE"),
        ("out_trade_no", "1409811653"),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", "20140903131540"),
        ("total_fee", "1"),
        ("coupon_fee", "10"),
        ("coupon_count", "2"),
        ("coupon_type_0", "CASH"),
        ("coupon_id_0", "10000"),
        ("coupon_fee_0", "100"),
        ("coupon_type_1", "NO_CASH"),
        ("coupon_id_1", "10001"),
        ("coupon_fee_1", "200"),
        ("trade_type", "JSAPI"),
        ("transaction_id", "1004400740201409030005092168"),
    ]
}

#[test]
fn payment_notification_with_either_algorithm_and_no_sign_type() {
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let body = signed(&payment_fields(), sign_type);
        assert!(!body.contains("sign_type"), "WeChat often omits sign_type");
        // The desk's own requests use MD5; notifications are accepted either way.
        let notification =
            PaymentNotification::parse(body.as_bytes(), &merchant(SignType::Md5)).unwrap();
        assert_eq!(notification.sign_type, sign_type);
        assert_eq!(notification.result, PaymentResult::Success);
        assert_eq!(notification.total_fee, Fen::new(1));
        assert_eq!(notification.coupon_fee, Some(Fen::new(10)));
        assert_eq!(notification.out_trade_no.as_str(), "1409811653");
        assert_eq!(notification.attach.as_deref(), Some("支付测试"));
        assert_eq!(notification.time_end, "20140903131540");
    }
}

#[test]
fn unknown_fields_are_covered_by_the_signature() {
    let mut pairs = payment_fields();
    pairs.push(("promotion_detail_2027", "new"));
    let body = signed(&pairs, SignType::HmacSha256);
    assert!(PaymentNotification::parse(body.as_bytes(), &merchant(SignType::Md5)).is_ok());
    // Dropping the unknown field (as a typed-struct verifier would) breaks the signature.
    let dropped = body.replace(
        "<promotion_detail_2027><![CDATA[new]]></promotion_detail_2027>",
        "",
    );
    assert_ne!(dropped, body);
    let err = PaymentNotification::parse(dropped.as_bytes(), &merchant(SignType::Md5)).unwrap_err();
    assert!(
        matches!(err, Error::Signature(SignatureError::Mismatch)),
        "{err}"
    );
}

#[test]
fn forged_payment_notifications_are_refused() {
    let m = merchant(SignType::Md5);
    let genuine = signed(&payment_fields(), SignType::Md5);

    let raised = genuine.replace("<total_fee>1</total_fee>", "<total_fee>100000</total_fee>");
    assert!(matches!(
        PaymentNotification::parse(raised.as_bytes(), &m),
        Err(Error::Signature(SignatureError::Mismatch))
    ));

    let unsigned = encode(&Fields::from_pairs(payment_fields()).unwrap()).unwrap();
    assert!(matches!(
        PaymentNotification::parse(unsigned.as_bytes(), &m),
        Err(Error::Signature(SignatureError::Missing))
    ));

    let mut other_merchant = payment_fields();
    other_merchant[5] = ("mch_id", "1900000109");
    let body = signed(&other_merchant, SignType::Md5);
    assert!(matches!(
        PaymentNotification::parse(body.as_bytes(), &m),
        Err(Error::MerchantMismatch {
            field: "mch_id",
            ..
        })
    ));

    let mut declared = payment_fields();
    declared.push(("sign_type", "HMAC-SHA256"));
    let md5_signed_but_claims_hmac = signed(&declared, SignType::Md5);
    assert!(matches!(
        PaymentNotification::parse(md5_signed_but_claims_hmac.as_bytes(), &m),
        Err(Error::Signature(SignatureError::WrongLength { len: 32 }))
    ));

    let mut odd = payment_fields();
    odd.push(("sign_type", "SHA1"));
    let body = signed(&odd, SignType::Md5);
    assert!(matches!(
        PaymentNotification::parse(body.as_bytes(), &m),
        Err(Error::Signature(SignatureError::UnknownSignType(_)))
    ));

    let short_sign = genuine.replace("</sign>", "").replace("<sign>", "<x>");
    assert!(PaymentNotification::parse(short_sign.as_bytes(), &m).is_err());
}

#[test]
fn failed_payment_notification_is_still_a_verified_message() {
    let mut pairs = payment_fields();
    pairs[9] = ("result_code", "FAIL");
    pairs.extend([("err_code", "PAYERROR"), ("err_code_des", "支付失败")]);
    let body = signed(&pairs, SignType::Md5);
    let notification =
        PaymentNotification::parse(body.as_bytes(), &merchant(SignType::Md5)).unwrap();
    assert_eq!(
        notification.result,
        PaymentResult::Fail {
            err_code: ErrCode::Other("PAYERROR".into()),
            err_code_des: "支付失败".into()
        }
    );
}

// ---------------------------------------------------------------- refund notification

const REFUND_INNER: &str = "<root>\n<out_refund_no><![CDATA[131811191610442717309]]></out_refund_no>\n<out_trade_no><![CDATA[71106718111915575302817]]></out_trade_no>\n<refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account>\n<refund_fee><![CDATA[3960]]></refund_fee>\n<refund_id><![CDATA[50000408942018111907145868882]]></refund_id>\n<refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout>\n<refund_request_source><![CDATA[API]]></refund_request_source>\n<refund_status><![CDATA[SUCCESS]]></refund_status>\n<settlement_refund_fee><![CDATA[3960]]></settlement_refund_fee>\n<settlement_total_fee><![CDATA[3960]]></settlement_total_fee>\n<success_time><![CDATA[2018-11-19 16:24:13]]></success_time>\n<total_fee><![CDATA[3960]]></total_fee>\n<transaction_id><![CDATA[4200000215201811190261405420]]></transaction_id>\n</root>";

/// Encrypts as WeChat documents it, with the AES key derived here independently of the crate.
fn wechat_encrypt(plain: &[u8], api_key: &str, uppercase_key: bool) -> String {
    let mut hex: String = Md5::digest(api_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if uppercase_key {
        hex = hex.to_uppercase();
    }
    let cipher = ecb::Encryptor::<aes::Aes256>::new_from_slice(hex.as_bytes())
        .expect("md5 in hex is 32 bytes, an AES-256 key")
        .encrypt_padded_vec::<Pkcs7>(plain);
    base64::engine::general_purpose::STANDARD.encode(cipher)
}

fn refund_notify_body(req_info: &str, mch_id: &str) -> String {
    encode(
        &Fields::from_pairs([
            ("return_code", "SUCCESS"),
            ("appid", APPID),
            ("mch_id", mch_id),
            ("nonce_str", "a1b2c3"),
            ("req_info", req_info),
        ])
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn refund_notification_decrypts_with_md5_of_the_key() {
    let body = refund_notify_body(&wechat_encrypt(REFUND_INNER.as_bytes(), KEY, false), MCH_ID);
    let n = RefundNotification::parse(body.as_bytes(), &merchant(SignType::Md5)).unwrap();
    assert_eq!(n.refund_status, RefundStatus::Success);
    assert_eq!(n.refund_fee, Fen::new(3960));
    assert_eq!(n.out_refund_no.as_str(), "131811191610442717309");
    assert_eq!(n.success_time.as_deref(), Some("2018-11-19 16:24:13"));
    assert_eq!(n.refund_recv_account.as_deref(), Some("支付用户零钱"));
    assert_eq!(n.refund_request_source.as_deref(), Some("API"));

    // The crate's own encryptor (used by the simulator) is the same transformation.
    let ours = refund_notify::encrypt_req_info(REFUND_INNER.as_bytes(), &key());
    assert_eq!(ours, wechat_encrypt(REFUND_INNER.as_bytes(), KEY, false));
}

#[test]
fn refund_notification_failures_are_named() {
    let m = merchant(SignType::Md5);
    let upper = refund_notify_body(&wechat_encrypt(REFUND_INNER.as_bytes(), KEY, true), MCH_ID);
    let err = RefundNotification::parse(upper.as_bytes(), &m).unwrap_err();
    assert!(
        matches!(err, Error::Decrypt(DecryptError::WrongKeyOrCorrupt)),
        "uppercase hex key is wrong: {err}"
    );

    let other_key = refund_notify_body(
        &wechat_encrypt(REFUND_INNER.as_bytes(), "another-key", false),
        MCH_ID,
    );
    let err = RefundNotification::parse(other_key.as_bytes(), &m).unwrap_err();
    assert!(
        matches!(err, Error::Decrypt(DecryptError::WrongKeyOrCorrupt)),
        "{err}"
    );

    let foreign = refund_notify_body(
        &wechat_encrypt(REFUND_INNER.as_bytes(), KEY, false),
        "1900000109",
    );
    assert!(matches!(
        RefundNotification::parse(foreign.as_bytes(), &m),
        Err(Error::MerchantMismatch {
            field: "mch_id",
            ..
        })
    ));

    for (req_info, expected) in [
        ("not base64!", DecryptError::Base64),
        ("AAAA", DecryptError::BlockLength { len: 3 }),
    ] {
        assert_eq!(
            refund_notify::decrypt_req_info(req_info, &key()),
            Err(expected)
        );
    }
    let no_req_info = refund_notify_body("", MCH_ID);
    assert!(matches!(
        RefundNotification::parse(no_req_info.as_bytes(), &m),
        Err(Error::Decrypt(DecryptError::Missing))
    ));

    let hostile_inner = "<!DOCTYPE root [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><root><refund_id>&x;</refund_id></root>";
    let body = refund_notify_body(
        &wechat_encrypt(hostile_inner.as_bytes(), KEY, false),
        MCH_ID,
    );
    assert!(matches!(
        RefundNotification::parse(body.as_bytes(), &m),
        Err(Error::Xml(XmlError::Declaration { .. }))
    ));
}

// ---------------------------------------------------------------- XML

#[test]
fn xml_accepts_what_wechat_sends() {
    let body = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<xml>\n  <a><![CDATA[x<y&z]]></a>\n  <b>1 &lt; 2 &amp;&#x4E2D;&#25991;</b>\n  <c/>\n  <d></d>\n  <e>pre<![CDATA[ mid ]]>post</e>\n  <f><!-- note -->v</f>\n</xml>\n";
    let fields = decode(body.as_bytes()).unwrap();
    assert_eq!(fields.get("a"), Some("x<y&z"), "CDATA is literal");
    assert_eq!(fields.get("b"), Some("1 < 2 &中文"));
    assert_eq!(fields.raw("c"), Some(""));
    assert_eq!(fields.raw("d"), Some(""));
    assert_eq!(fields.get("e"), Some("pre mid post"));
    assert_eq!(fields.get("f"), Some("v"));
    assert_eq!(fields.len(), 6);
}

/// What the differential fuzzing against roxmltree found the decoder took and XML does not: a
/// declaration that is not one (anywhere but the start, twice, with a bad version, encoding or
/// standalone, unquoted, misordered), `--` inside a comment, `]]>` in text, and a carriage
/// return in a value (XML makes it a line feed; refused rather than changed).
#[test]
fn only_well_formed_declarations_and_comments_are_skipped() {
    for good in [
        "<?xml version=\"1.0\"?><xml><a>1</a></xml>",
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?><xml><a>1</a></xml>",
        "<?xml version = \"1.1\"  encoding=\"gb2312\" ?>\n<xml><a>1</a></xml>",
        "<!-- a - b --><xml><a>1</a></xml>",
        "<xml>\r\n<a>1</a>\r\n</xml>\r\n",
    ] {
        assert_eq!(
            wxpay::xml::decode(good.as_bytes()).map(|f| f.get("a").map(str::to_owned)),
            Ok(Some("1".to_owned())),
            "{good}"
        );
    }
    for bad in [
        " <?xml version=\"1.0\"?><xml/>",
        "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><xml/>",
        "<!-- c --><?xml version=\"1.0\"?><xml/>",
        "<?xml?><xml/>",
        "<?xml encoding=\"UTF-8\"?><xml/>",
        "<?xml version=\"2.0\"?><xml/>",
        "<?xml version=\"1.\"?><xml/>",
        "<?xml version=1.0?><xml/>",
        "<?xml version=\"1.0\" encoding=\u{7a9}TF-8\"?><xml/>",
        "<?xml version=\"1.0\" encoding=\"8BIT\"?><xml/>",
        "<?xml version=\"1.0\" standalone=\"maybe\"?><xml/>",
        "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><xml/>",
        "<?xml version=\"1.0\"encoding=\"UTF-8\"?><xml/>",
        "<?xml version=\"1.0\" version=\"1.0\"?><xml/>",
        "<?xml-stylesheet href=\"a\"?><xml/>",
        "<!-- a -- b --><xml/>",
        "<!--><xml/>",
        "<!----->\n<xml/>",
        "<xml><a>1<!-- x -- y -->2</a></xml>",
        "<xml><a>>![CDATA[CNY]]></a></xml>",
        "<xml><a>x]]>y</a><b>1</b></xml>",
        "<xml><a>x\ry</a></xml>",
        "<xml><a><![CDATA[x\r\ny]]></a></xml>",
    ] {
        assert!(wxpay::xml::decode(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn hostile_xml_is_refused_with_a_named_error() {
    let billion_laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><xml><a>&lol2;</a></xml>";
    let xxe = "<!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><a>&xxe;</a></xml>";
    let big = format!("<xml><a>{}</a></xml>", "x".repeat(10 * 1024 * 1024));
    let cases: Vec<(Vec<u8>, XmlError)> = vec![
        (xxe.into(), XmlError::Declaration { offset: 0 }),
        (billion_laughs.into(), XmlError::Declaration { offset: 21 }),
        (
            b"<xml><!ENTITY x \"y\"></xml>".to_vec(),
            XmlError::Declaration { offset: 5 },
        ),
        (
            b"<xml><a>&xxe;</a></xml>".to_vec(),
            XmlError::UnknownEntity {
                name: "xxe".into(),
                offset: 8,
            },
        ),
        (
            big.clone().into_bytes(),
            XmlError::TooLarge {
                size: big.len(),
                limit: MAX_BODY_BYTES,
            },
        ),
        (
            b"<xml><a><b>1</b></a></xml>".to_vec(),
            XmlError::Nested {
                parent: "a".into(),
                name: "b".into(),
                offset: 8,
            },
        ),
        (
            b"<xml><a>1</a><a>2</a></xml>".to_vec(),
            XmlError::DuplicateField { name: "a".into() },
        ),
        (
            b"<xml><a>\xff\xfe</a></xml>".to_vec(),
            XmlError::InvalidUtf8 { offset: 8 },
        ),
        (
            b"<xml><a>1</a>".to_vec(),
            XmlError::Truncated { offset: 13 },
        ),
        (
            b"<xml><a>1</b></xml>".to_vec(),
            XmlError::MismatchedTag {
                expected: "a".into(),
                found: "b".into(),
                offset: 9,
            },
        ),
        (
            b"<xml><a x=\"1\">1</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 8,
                reason: "attributes are not allowed",
            },
        ),
        (
            b"<xml>text<a>1</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 5,
                reason: "text directly inside the root element",
            },
        ),
        (
            b"<xml><a>1</a></xml><xml/>".to_vec(),
            XmlError::Malformed {
                offset: 19,
                reason: "content after the root element",
            },
        ),
        (
            b"<xml><?php ?></xml>".to_vec(),
            XmlError::Malformed {
                offset: 5,
                reason: "processing instructions are not allowed",
            },
        ),
        (
            b"<xml><a>&#0;</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 8,
                reason: "invalid character reference",
            },
        ),
        (
            b"<xml><a>&#xD800;</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 8,
                reason: "invalid character reference",
            },
        ),
        (
            b"<xml><a>\x01</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 8,
                reason: "control character XML does not allow",
            },
        ),
        (
            b"<xml><a>a & b</a></xml>".to_vec(),
            XmlError::Malformed {
                offset: 10,
                reason: "`&` must start an entity reference (write &amp;)",
            },
        ),
        (b"".to_vec(), XmlError::Empty),
        (b"  \n ".to_vec(), XmlError::Empty),
        (
            b"{\"json\": true}".to_vec(),
            XmlError::Malformed {
                offset: 0,
                reason: "expected an element",
            },
        ),
    ];
    for (input, expected) in cases {
        let shown = String::from_utf8_lossy(&input[..input.len().min(60)]).into_owned();
        assert_eq!(
            decode(&input).map(|f| f.len()),
            Err(expected),
            "input {shown:?}"
        );
    }
}

#[test]
fn every_truncation_of_a_valid_body_is_an_error() {
    let body = signed(&payment_fields(), SignType::Md5);
    for end in 0..body.len() {
        if !body.is_char_boundary(end) {
            continue;
        }
        assert!(
            decode(&body.as_bytes()[..end]).is_err(),
            "prefix of {end} bytes was accepted"
        );
    }
    assert!(decode(body.as_bytes()).is_ok());
}

#[test]
fn encoding_refuses_what_xml_cannot_carry() {
    let fields = Fields::from_pairs([("refund_desc", "a\u{1}b")]).unwrap();
    assert_eq!(
        encode(&fields),
        Err(XmlError::Unencodable {
            name: "refund_desc".into(),
            reason: "it contains a control character XML cannot carry"
        })
    );
    let fields = Fields::from_pairs([("bad name", "x")]).unwrap();
    assert!(matches!(encode(&fields), Err(XmlError::Unencodable { .. })));
}

fn field_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,20}"
}

fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            any::<char>().prop_filter("XML character", |c| {
                matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
            }),
            Just(']'),
            Just('>'),
            Just('<'),
            Just('&'),
        ],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(map in proptest::collection::btree_map(field_name(), xml_text(), 0..12)) {
        let fields = Fields::from_pairs(map.clone()).unwrap();
        let body = encode(&fields).unwrap();
        let decoded = decode(body.as_bytes()).unwrap();
        let back: BTreeMap<String, String> = decoded.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(back, map);
    }

    #[test]
    fn signing_survives_the_round_trip(map in proptest::collection::btree_map(field_name(), xml_text(), 1..12), hmac in any::<bool>()) {
        let sign_type = if hmac { SignType::HmacSha256 } else { SignType::Md5 };
        let mut map = map;
        map.remove("sign");
        map.remove("sign_type");
        let body = sign_and_encode(Fields::from_pairs(map).unwrap(), &key(), sign_type).unwrap();
        let decoded = decode(body.as_bytes()).unwrap();
        prop_assert_eq!(verify(&decoded, &key(), Expect::Detect), Ok(sign_type));
    }

    #[test]
    fn canonical_bare_and_pretty_forms_decode_alike(map in proptest::collection::btree_map(field_name(), xml_text(), 0..12)) {
        // CDATA (canonical) and bare text without entities take the decoder's fast path; bare text
        // with entities, and the pretty form (whitespace, comments, empty elements), take the
        // general path. All must read the same fields.
        let canonical = encode(&Fields::from_pairs(map.clone()).unwrap()).unwrap();
        let escape = |v: &str| {
            v.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('\r', "&#13;")
        };
        let mut bare = String::from("<xml>");
        let mut pretty = String::from("<?xml version=\"1.0\"?>\n<xml>\n");
        for (name, value) in &map {
            bare.push_str(&format!("<{name}>{}</{name}>", escape(value)));
            if value.is_empty() {
                pretty.push_str(&format!("  <{name}/>\n"));
            } else {
                pretty.push_str(&format!("  <{name}><!-- v -->{}</{name} >\n", escape(value)));
            }
        }
        bare.push_str("</xml>");
        pretty.push_str("</xml>\n");
        let read = |body: &str| -> Vec<(String, String)> {
            decode(body.as_bytes()).unwrap().iter().map(|(k, v)| (k.into(), v.into())).collect()
        };
        let expected: Vec<(String, String)> = map.into_iter().collect();
        prop_assert_eq!(read(&canonical), expected.clone());
        prop_assert_eq!(read(&bare), expected.clone());
        prop_assert_eq!(read(&pretty), expected);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_bodies_never_panic(position in 0usize..600, byte in any::<u8>()) {
        let mut body = signed(&payment_fields(), SignType::Md5).into_bytes();
        let at = position % body.len();
        body[at] = byte;
        if let Ok(fields) = decode(&body) {
            let _ = verify(&fields, &key(), Expect::Detect);
            let _ = PaymentNotification::from_fields(&fields, &merchant(SignType::Md5));
        }
    }
}
