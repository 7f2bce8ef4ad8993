//! AMF0 decoding of arbitrary bytes; whatever decodes re-encodes to bytes that decode and
//! encode to the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = baton_amf::decode_all(data) {
        let once = baton_amf::encode_all(&values);
        let again = baton_amf::decode_all(&once).expect("our own encoding decodes");
        assert_eq!(baton_amf::encode_all(&again), once);
    }
});
