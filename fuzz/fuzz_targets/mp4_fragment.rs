//! Fragmented MP4 (HLS fMP4/CMAF segments) of arbitrary bytes: the input parsed as an init
//! segment, and as media segments read with ffmpeg's init segment (the fixture), split where
//! the first byte says: never a panic; what parses yields samples merged by DTS, each range
//! inside the segment, each with a well-formed FLV prefix.
#![no_main]

use baton_mp4::{FragmentReader, InitSegment};
use libfuzzer_sys::fuzz_target;

const INIT: &[u8] =
    include_bytes!("../../crates/proto/mp4/tests/fixtures/fragmented/fmp4_init.mp4");

fn exercise(reader: &mut FragmentReader, segment: &[u8]) {
    let Ok(samples) = reader.parse(segment) else {
        return;
    };
    let mut last = i64::MIN;
    for s in &samples {
        assert!(s.dts_ms >= last, "DTS went back: {s:?} after {last}");
        last = s.dts_ms;
        assert!(s.range.start <= s.range.end && s.range.end <= segment.len());
        assert!(matches!(s.flv_prefix().len(), 2 | 5 | 8));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(init) = InitSegment::parse(data) {
        for track in &init.tracks {
            let _ = track.flv_sequence_header();
        }
        let mut reader = FragmentReader::new(init);
        exercise(&mut reader, data);
    }
    let init = InitSegment::parse(INIT).expect("the fixture parses");
    let mut reader = FragmentReader::new(init);
    let split = data.first().map_or(0, |b| usize::from(*b) * 16).min(data.len());
    let (a, b) = data.split_at(split);
    exercise(&mut reader, a);
    exercise(&mut reader, b);
});
