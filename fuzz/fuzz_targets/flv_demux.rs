//! FLV demuxing of arbitrary bytes in random pieces: never a panic, never more tag data out
//! than bytes in.
#![no_main]

use baton_flv::FlvDemuxer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut demuxer = FlvDemuxer::new(Default::default());
    let step = data.first().map_or(1, |b| usize::from(*b).max(1));
    let mut out = 0usize;
    for piece in data.chunks(step) {
        demuxer.push(piece);
        while let Ok(Some(tag)) = demuxer.poll_tag() {
            out += tag.data.len();
        }
    }
    assert!(out <= data.len());
});
