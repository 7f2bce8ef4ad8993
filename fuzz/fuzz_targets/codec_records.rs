//! Codec configuration records and stream descriptions from arbitrary bytes: never a panic,
//! and what parses re-encodes to something that parses to the same record.
#![no_main]

use baton_codec::{aac, avc, describe, hevc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = avc::AvcDecoderConfig::parse(data) {
        let again =
            avc::AvcDecoderConfig::parse(&record.encode()).expect("re-encoded AVC record parses");
        assert_eq!(again, record);
        if let Some(Ok(sps)) = record.first_sps() {
            assert!(sps.width > 0 && sps.height > 0);
        }
    }
    if let Ok(record) = hevc::HevcDecoderConfig::parse(data) {
        let again =
            hevc::HevcDecoderConfig::parse(&record.encode()).expect("re-encoded hvcC parses");
        assert_eq!(again, record);
        let _ = record.first_sps();
    }
    let _ = aac::AudioSpecificConfig::parse(data);
    let _ = aac::AdtsHeader::parse(data);
    let _ = avc::Sps::parse(data);
    let _ = hevc::HevcSps::parse(data);
    let _ = describe::video_params(data);
    let _ = describe::audio_params(data);
});
