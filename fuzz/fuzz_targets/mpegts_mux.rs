//! MPEG-TS muxing of arbitrary frames (the tag bodies an RTMP publisher sends reach the muxer
//! through the relay): never a panic; the output is whole 188-byte packets with sync bytes and
//! counters that Baton's demuxer reads without a sync loss, a continuity error or a bad
//! section. An odd first byte puts real H.264 and AAC sequence headers first so the fuzzer
//! reaches the coded-frame paths.
//!
//! Input after the first byte: frames of `[kind, dts step, length, body…]` (kind bit 0: video
//! or audio; the length byte scaled by 8).
#![no_main]

use baton_flv::TagType;
use baton_mpegts::{
    CHUNK_LEN, Demuxer, Discontinuity, DropReason, Event, PACKET_LEN, SYNC_BYTE, TsMuxer,
};
use libfuzzer_sys::fuzz_target;

/// An AVCDecoderConfigurationRecord (baton-codec's 720p test record).
const AVCC: &[u8] = include_bytes!("../../crates/proto/codec/testdata/h264_720p.avcc");

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let mut muxer = TsMuxer::default();
    let mut ts = Vec::new();
    if selector & 1 == 1 {
        let mut video = vec![0x17, 0, 0, 0, 0];
        video.extend_from_slice(AVCC);
        let _ = muxer.push(TagType::Video, 0, &video);
        let _ = muxer.push(TagType::Audio, 0, &[0xaf, 0x00, 0x11, 0x90]);
    }
    let mut dts: i64 = 0;
    while let [kind, step, len, tail @ ..] = rest {
        let len = (usize::from(*len) * 8).min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        dts += i64::from(*step as i8) * 8;
        let kind = if kind & 1 == 0 {
            TagType::Video
        } else {
            TagType::Audio
        };
        let _ = muxer.push(kind, dts, body);
        while let Some(chunk) = muxer.poll_chunk() {
            assert_eq!(chunk.len(), CHUNK_LEN);
            ts.extend_from_slice(&chunk);
        }
    }
    muxer.flush();
    while let Some(chunk) = muxer.poll_chunk() {
        ts.extend_from_slice(&chunk);
    }
    assert_eq!(ts.len() % PACKET_LEN, 0);
    assert!(ts.chunks(PACKET_LEN).all(|p| p[0] == SYNC_BYTE));
    let mut demuxer = Demuxer::default();
    demuxer.push(&ts);
    demuxer.finish();
    for event in demuxer.events() {
        assert!(
            !matches!(
                event,
                Event::SyncLost { .. }
                    | Event::Discontinuity {
                        cause: Discontinuity::ContinuityError { .. },
                        ..
                    }
                    | Event::Dropped {
                        reason: DropReason::BadSection(_)
                            | DropReason::BadPesHeader
                            | DropReason::PesTruncated,
                        ..
                    }
            ),
            "{event:?}"
        );
    }
});
