//! A refund request from the shop's backend: headers and body checked before anything is stored.
//! The first byte picks how it is signed (not at all, wrongly, or with the shared secret, so the
//! JSON checks are reached); the rest is the body. Never a panic, and nothing unsigned gets past
//! the signature.
#![no_main]

use backend_api::{Refusal, check, sign};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015";
const NOW: i64 = 1_795_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&how, body)) = data.split_first() else {
        return;
    };
    let timestamp = NOW - i64::from(how % 8) * 60;
    let signature = match how % 3 {
        0 => sign(SECRET, timestamp, body),
        1 => sign("another secret", timestamp, body),
        _ => String::from_utf8_lossy(body).chars().take(64).collect(),
    };
    let result = check(
        SECRET,
        Some(&timestamp.to_string()),
        Some(&signature),
        body,
        NOW,
    );
    if how % 3 != 0 {
        assert!(
            matches!(result, Err(Refusal::Unauthenticated { .. })),
            "a request without the shared secret's signature got through: {result:?}"
        );
    }
    if let Ok(request) = result {
        assert!(request.refund_fee.get() > 0);
        assert!(!request.request_id.is_empty());
    }
});
