//! Parse + verify of a realistic payment notification, and signing a refund request.
//! Run: `cargo bench -p wxpay --bench protocol`. Numbers go in BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wxpay::sign::sign_and_encode;
use wxpay::*;

const KEY: &str = "8934e7d15453e97507ef794cf7b0519d";

fn merchant() -> Merchant {
    Merchant {
        appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
        mch_id: MchId::new("1900000109").unwrap(),
        api_key: ApiKey::new(KEY).unwrap(),
        sign_type: SignType::Md5,
    }
}

/// A notification as WeChat sends it for a mini-program order: every value in CDATA, about
/// 750 bytes (MD5) to 790 bytes (HMAC-SHA256's longer sign).
pub fn notification(sign_type: SignType) -> String {
    let pairs = [
        ("appid", "wx2421b1c4370ec43b"),
        ("bank_type", "CMB_CREDIT"),
        ("cash_fee", "12800"),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", "1900000109"),
        ("nonce_str", "5d2b6c2a8db53831f7eda20af46e531c"),
        ("openid", "oUpF8uMEb4qRXf22hE3X68TekukE"),
        ("out_trade_no", "MD2026112316253300012345"),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", "20261123162533"),
        ("total_fee", "12800"),
        ("trade_type", "JSAPI"),
        ("transaction_id", "4200002345202611231234567890"),
    ];
    let fields = Fields::from_pairs(pairs).unwrap();
    let body = sign_and_encode(fields, &ApiKey::new(KEY).unwrap(), sign_type).unwrap();
    // WeChat writes every value in CDATA, numbers included.
    let body = all_cdata(&body);
    assert!(
        (700..=850).contains(&body.len()),
        "realistic size: {} bytes",
        body.len()
    );
    body
}

fn all_cdata(body: &str) -> String {
    let fields = wxpay::xml::decode(body.as_bytes()).unwrap();
    let mut out = String::from("<xml>");
    for (k, v) in fields.iter() {
        out.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
    }
    out.push_str("</xml>");
    out
}

fn bench(c: &mut Criterion) {
    let m = merchant();
    let mut group = c.benchmark_group("payment_notification");
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let body = notification(sign_type);
        group.throughput(Throughput::Elements(1));
        group.bench_function(
            format!("parse_verify_decode/{sign_type} ({} B)", body.len()),
            |b| b.iter(|| PaymentNotification::parse(black_box(body.as_bytes()), &m).unwrap()),
        );
    }
    let body = notification(SignType::Md5);
    group.bench_function("parts/xml_decode", |b| {
        b.iter(|| wxpay::xml::decode(black_box(body.as_bytes())).unwrap())
    });
    let fields = wxpay::xml::decode(body.as_bytes()).unwrap();
    let key = ApiKey::new(KEY).unwrap();
    group.bench_function("parts/verify_md5", |b| {
        b.iter(|| {
            wxpay::sign::verify(black_box(&fields), &key, wxpay::sign::Expect::Detect).unwrap()
        })
    });
    group.bench_function("parts/typed_from_verified_fields", |b| {
        b.iter(|| PaymentNotification::from_fields(black_box(&fields), &m).unwrap())
    });
    group.finish();

    let refund = RefundRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new("MD2026112316253300012345").unwrap()),
        out_refund_no: OutRefundNo::new("MD2026112316253300012345-R1").unwrap(),
        total_fee: Fen::new(12800),
        refund_fee: Fen::new(3200),
        refund_fee_type: None,
        refund_desc: Some("顾客申请退款：尺码不合适".into()),
        refund_account: None,
        notify_url: Some("https://shop.example/wxpay/refund-notify".into()),
    };
    let nonce = Nonce::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").unwrap();
    let mut group = c.benchmark_group("refund_request");
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let m = Merchant {
            sign_type,
            ..merchant()
        };
        group.bench_function(format!("sign_encode/{sign_type}"), |b| {
            b.iter(|| m.encode_request(black_box(&refund), &nonce).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
