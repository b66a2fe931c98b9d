//! Parse + verify of payment notifications side by side with wechatpy, in one run on the same
//! bodies: the desk's `PaymentNotification::parse` timed here, wechatpy's by
//! `scripts/bench/wechatpy_notify.py` in the virtualenv `scripts/bench.sh` makes.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use wxpay::{ApiKey, AppId, Fields, MchId, Merchant, PaymentNotification, SignType};

use crate::error::BenchError;

const APPID: &str = "wx2421b1c4370ec43b";
const MCH_ID: &str = "1900000109";
const KEY: &str = "8934e7d15453e97507ef794cf7b0519d";

/// Microseconds per notification, each the best of five rounds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub md5: f64,
    pub hmac_sha256: f64,
}

fn invalid(e: impl std::fmt::Display) -> BenchError {
    BenchError::Other(e.to_string())
}

/// A mini-program payment notification as WeChat sends it: 16 fields, every value in CDATA,
/// about 800 bytes.
pub fn notification(sign_type: SignType) -> Result<String, BenchError> {
    let pairs = [
        ("appid", APPID),
        ("bank_type", "CMB_CREDIT"),
        ("cash_fee", "12800"),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", MCH_ID),
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
    let key = ApiKey::new(KEY).map_err(invalid)?;
    let signed =
        wxpay::sign::sign_and_encode(Fields::from_pairs(pairs).map_err(invalid)?, &key, sign_type)
            .map_err(invalid)?;
    let fields = wxpay::xml::decode(signed.as_bytes()).map_err(invalid)?;
    let mut body = String::from("<xml>");
    for (name, value) in fields.iter() {
        body.push_str(&format!("<{name}><![CDATA[{value}]]></{name}>"));
    }
    body.push_str("</xml>");
    Ok(body)
}

fn merchant() -> Result<Merchant, BenchError> {
    Ok(Merchant {
        appid: AppId::new(APPID).map_err(invalid)?,
        mch_id: MchId::new(MCH_ID).map_err(invalid)?,
        api_key: ApiKey::new(KEY).map_err(invalid)?,
        sign_type: SignType::Md5,
    })
}

fn best_micros(body: &str, merchant: &Merchant) -> Result<f64, BenchError> {
    PaymentNotification::parse(body.as_bytes(), merchant).map_err(invalid)?;
    let per_round = 200_000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..per_round {
            std::hint::black_box(PaymentNotification::parse(
                std::hint::black_box(body.as_bytes()),
                merchant,
            ))
            .map_err(invalid)?;
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
    }
    Ok(best)
}

/// Times the desk, then wechatpy with `python`, on the same two bodies written to `dir`.
pub fn run(dir: &Path, python: &Path) -> Result<(Timing, Timing, String, [usize; 2]), BenchError> {
    let md5 = notification(SignType::Md5)?;
    let hmac = notification(SignType::HmacSha256)?;
    let (md5_path, hmac_path) = (dir.join("md5.xml"), dir.join("hmac.xml"));
    std::fs::write(&md5_path, &md5)?;
    std::fs::write(&hmac_path, &hmac)?;
    let merchant = merchant()?;
    let desk = Timing {
        md5: best_micros(&md5, &merchant)?,
        hmac_sha256: best_micros(&hmac, &merchant)?,
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/wechatpy_notify.py");
    let output = Command::new(python)
        .arg(script)
        .args([APPID, MCH_ID, KEY])
        .arg(&md5_path)
        .arg(&hmac_path)
        .output()?;
    if !output.status.success() {
        return Err(BenchError::Other(format!(
            "wechatpy's run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(invalid)?;
    let number = |key: &str| {
        answer[key]
            .as_f64()
            .ok_or_else(|| BenchError::Other(format!("wechatpy's run gave no {key}")))
    };
    let wechatpy = Timing {
        md5: number("md5")?,
        hmac_sha256: number("hmac_sha256")?,
    };
    let version = answer["python"].as_str().unwrap_or("?").to_owned();
    Ok((desk, wechatpy, version, [md5.len(), hmac.len()]))
}
