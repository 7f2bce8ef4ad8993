//! MP4 `moov` parsing of arbitrary bytes, as given and wrapped in a `moov` header (so that
//! mutations reach the boxes inside): never a panic; what parses yields samples in
//! non-decreasing DTS order from any start, each with a well-formed FLV prefix.
#![no_main]

use baton_mp4::{BoxHeader, Movie};
use libfuzzer_sys::fuzz_target;

fn exercise(movie: &Movie, start_ms: u64) {
    let _ = movie.video_sequence_header();
    let _ = movie.audio_sequence_header();
    let mut last = i64::MIN;
    for sample in movie.samples_from(start_ms).take(10_000) {
        assert!(
            sample.dts_ms >= last,
            "DTS went back: {sample:?} after {last}"
        );
        last = sample.dts_ms;
        let prefix = sample.flv_prefix();
        assert!(matches!(prefix.len(), 2 | 5 | 8));
    }
    for track in &movie.tracks {
        for (i, sample) in track.samples().take(10_000).enumerate() {
            assert_eq!(sample.index as usize, i);
            assert_eq!(sample.kind, track.kind);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = BoxHeader::parse(data);
    let start_ms = data.first().map_or(0, |b| u64::from(*b) * 20);
    if let Ok(movie) = Movie::parse(data) {
        exercise(&movie, start_ms);
    }
    let mut wrapped = Vec::with_capacity(data.len() + 8);
    wrapped.extend_from_slice(&((data.len() + 8) as u32).to_be_bytes());
    wrapped.extend_from_slice(b"moov");
    wrapped.extend_from_slice(data);
    if let Ok(movie) = Movie::parse(&wrapped) {
        exercise(&movie, start_ms);
    }
});
