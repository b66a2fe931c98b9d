//! A refund notification: the outer XML, then `req_info` (base64 of AES-256-ECB under the md5 of
//! the API key), then the inner XML. Any bytes as the whole body, and any bytes as the plaintext
//! encrypted the way WeChat does: an error or a notification, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use wxpay::refund_notify::{RefundNotification, decrypt_req_info, encrypt_req_info};

fuzz_target!(|data: &[u8]| {
    let merchant = common::merchant();
    let _ = RefundNotification::parse(data, &merchant);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decrypt_req_info(text, &merchant.api_key);
    }
    let req_info = encrypt_req_info(data, &merchant.api_key);
    let plain =
        decrypt_req_info(&req_info, &merchant.api_key).expect("our own ciphertext decrypts");
    assert_eq!(plain, data);
    let body = format!(
        "<xml><return_code>SUCCESS</return_code><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><nonce_str>x</nonce_str><req_info>{req_info}</req_info></xml>"
    );
    let _ = RefundNotification::parse(body.as_bytes(), &merchant);
});
