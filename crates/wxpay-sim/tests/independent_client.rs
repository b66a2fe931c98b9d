//! The simulator against a client that shares none of our code: plain reqwest with the PEM files,
//! XML written by hand and the MD5 sign computed from the documented string.

#![allow(clippy::unwrap_used)]

use md5::{Digest, Md5};
use wxpay_sim::{NewOrder, SimConfig};

fn md5_sign(params: &[(&str, &str)], key: &str) -> String {
    let mut sorted: Vec<_> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort();
    let string: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let string = format!("{}&key={key}", string.join("&"));
    Md5::digest(string.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn xml(params: &[(&str, &str)], sign: &str) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in params {
        out.push_str(&format!("<{k}>{v}</{k}>"));
    }
    out.push_str(&format!("<sign>{sign}</sign></xml>"));
    out
}

/// The text of `<name>` in a flat document, found the naive way.
fn field(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + body[start..].find(&format!("</{name}>"))?;
    Some(
        body[start..end]
            .trim_start_matches("<![CDATA[")
            .trim_end_matches("]]>")
            .to_owned(),
    )
}

#[tokio::test]
async fn a_hand_written_refund_with_the_pem_files() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let sim = wxpay_sim::start(SimConfig::new(dir.path())).await.unwrap();
    let info = sim.info().clone();
    let order = sim
        .create_order(NewOrder {
            total_fee: 800,
            ..Default::default()
        })
        .unwrap();
    sim.pay(&order.out_trade_no).unwrap();

    let ca = std::fs::read(&info.files.ca_pem).unwrap();
    let mut identity = std::fs::read(&info.files.cert_pem).unwrap();
    identity.extend(std::fs::read(&info.files.key_pem).unwrap());
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();

    let params = [
        ("appid", info.appid.as_str()),
        ("mch_id", info.mch_id.as_str()),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("out_trade_no", order.out_trade_no.as_str()),
        ("out_refund_no", "HAND-1"),
        ("total_fee", "800"),
        ("refund_fee", "200"),
        ("op_user_id", info.mch_id.as_str()),
    ];
    let body = xml(&params, &md5_sign(&params, &info.api_key));
    let answer = client
        .post(format!("{}/secapi/pay/refund", info.base_url))
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "return_code").as_deref(),
        Some("SUCCESS"),
        "{answer}"
    );
    assert_eq!(
        field(&answer, "result_code").as_deref(),
        Some("SUCCESS"),
        "{answer}"
    );
    assert_eq!(field(&answer, "refund_fee").as_deref(), Some("200"));

    // The answer's sign checks out with the same hand-written algorithm.
    let fields = wxpay::xml::decode(answer.as_bytes()).unwrap();
    let received: Vec<(&str, &str)> = fields.iter().filter(|(k, _)| *k != "sign").collect();
    assert_eq!(
        fields.get("sign").unwrap(),
        md5_sign(&received, &info.api_key)
    );

    // Tampering is refused.
    let tampered = xml(&params, &"0".repeat(32));
    let answer = client
        .post(format!("{}/secapi/pay/refund", info.base_url))
        .body(tampered)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(field(&answer, "return_code").as_deref(), Some("FAIL"));
    assert!(field(&answer, "return_msg").unwrap().contains("签名错误"));

    // A GET is refused like WeChat refuses it.
    let answer = client
        .get(format!("{}/pay/orderquery", info.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        field(&answer, "return_msg").as_deref(),
        Some("请使用post方法")
    );
}
