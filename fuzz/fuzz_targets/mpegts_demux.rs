//! MPEG-TS demuxing of arbitrary bytes: never a panic, and the same events whether the input
//! arrives whole or in pieces of a size the input chooses. An odd first byte puts a real
//! PAT and PMT (H.264 on PID 256, AAC on 257, from the ffmpeg fixture) in front, so the
//! fuzzer reaches PES reassembly and the codecs instead of stopping at section CRCs.
#![no_main]

use baton_mpegts::{Demuxer, Event, PACKET_LEN};
use libfuzzer_sys::fuzz_target;

/// SDT, PAT and PMT: the first three packets of the fixture.
const FIXTURE: &[u8] = include_bytes!("../../crates/proto/mpegts/tests/fixtures/h264_aac.ts");

fn demux<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut demuxer = Demuxer::default();
    let mut events = Vec::new();
    for piece in pieces {
        demuxer.push(piece);
        events.extend(demuxer.events());
    }
    demuxer.finish();
    events.extend(demuxer.events());
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut input = Vec::with_capacity(3 * PACKET_LEN + rest.len());
    if selector & 1 == 1 {
        input.extend_from_slice(&FIXTURE[..3 * PACKET_LEN]);
    }
    input.extend_from_slice(rest);
    let step = usize::from(selector >> 1).max(1);
    let whole = demux(std::iter::once(&input[..]));
    let split = demux(input.chunks(step));
    assert_eq!(whole, split);
    // Nothing comes out of thin air: the samples hold at most the input plus a length prefix
    // per NAL unit (one per 3-byte start code at most).
    let out: usize = whole
        .iter()
        .map(|e| match e {
            Event::Unit(unit) => unit.data.len(),
            _ => 0,
        })
        .sum();
    assert!(out <= input.len() * 2);
});
