//! Frame builders shared by the unit tests.

use bytes::Bytes;

use crate::{Frame, TagType};

/// An AVC coded frame with composition time `cts` and a payload of `size` bytes in total.
pub fn video_sized(dts: i64, key: bool, cts: i32, size: usize) -> Frame {
    let c = cts.to_be_bytes();
    let first = if key { 0x17 } else { 0x27 };
    let mut body = vec![first, 1, c[1], c[2], c[3]];
    body.resize(size.max(6), 0xaa);
    Frame::new(TagType::Video, dts, Bytes::from(body))
}

/// An AVC coded frame (6 bytes).
pub fn video(dts: i64, key: bool, cts: i32) -> Frame {
    video_sized(dts, key, cts, 6)
}

/// An AVC sequence header; `sps` varies its content.
pub fn video_config(dts: i64, sps: u8) -> Frame {
    Frame::new(
        TagType::Video,
        dts,
        Bytes::copy_from_slice(&[0x17, 0, 0, 0, 0, 1, sps]),
    )
}

/// An AAC raw frame of `size` bytes in total.
pub fn audio_sized(dts: i64, size: usize) -> Frame {
    let mut body = vec![0xaf, 1];
    body.resize(size.max(3), 0x21);
    Frame::new(TagType::Audio, dts, Bytes::from(body))
}

/// An AAC raw frame (3 bytes).
pub fn audio(dts: i64) -> Frame {
    audio_sized(dts, 3)
}

/// An AAC AudioSpecificConfig; `asc` varies its content.
pub fn audio_config(dts: i64, asc: u8) -> Frame {
    Frame::new(
        TagType::Audio,
        dts,
        Bytes::copy_from_slice(&[0xaf, 0, 0x12, asc]),
    )
}

/// An `onMetaData` script tag; `tag` varies its content.
pub fn metadata(dts: i64, tag: u8) -> Frame {
    let mut body = b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00".to_vec();
    body.push(tag);
    Frame::new(TagType::Script, dts, Bytes::from(body))
}

/// A script tag that is not metadata.
pub fn cue_point(dts: i64) -> Frame {
    Frame::new(
        TagType::Script,
        dts,
        Bytes::from_static(b"\x02\x00\x0aonCuePoint"),
    )
}
