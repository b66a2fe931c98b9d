//! A payment notification as the intake receives it: XML decoding, signature verification over
//! every field (MD5 or HMAC-SHA256, by `sign_type` or the sign's length), the merchant check and
//! the typed decode. Any bytes: an error or a notification, never a panic; a notification only
//! when its signature verifies. The fields are also signed with the merchant's key and parsed
//! again, so the typed decode sees what only WeChat could send.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use wxpay::sign::{Expect, sign_and_encode, verify};
use wxpay::{Fields, PaymentNotification, SignType};

fuzz_target!(|data: &[u8]| {
    let merchant = common::merchant();
    let as_sent = PaymentNotification::parse(data, &merchant);
    let Ok(fields) = wxpay::xml::decode(data) else {
        assert!(as_sent.is_err(), "undecodable XML was accepted");
        return;
    };
    if as_sent.is_ok() {
        assert!(
            verify(&fields, &merchant.api_key, Expect::Detect).is_ok(),
            "a notification was accepted without a valid signature"
        );
    }
    let unsigned: Vec<(String, String)> = fields
        .iter()
        .filter(|(name, _)| *name != "sign")
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let Ok(unsigned) = Fields::from_pairs(unsigned) else {
        return;
    };
    let sign_type = if data.len().is_multiple_of(2) {
        SignType::Md5
    } else {
        SignType::HmacSha256
    };
    if let Ok(signed) = sign_and_encode(unsigned, &merchant.api_key, sign_type) {
        let _ = PaymentNotification::parse(signed.as_bytes(), &merchant);
    }
});
