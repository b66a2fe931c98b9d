//! The strict XML decoder on any bytes: an answer or an error, never a panic, and what it
//! decodes encodes back to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = wxpay::xml::decode(data) {
        let again = wxpay::xml::encode(&fields).expect("decoded fields encode");
        let round = wxpay::xml::decode(again.as_bytes()).expect("encoded fields decode");
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            round.iter().collect::<Vec<_>>()
        );
    }
});
