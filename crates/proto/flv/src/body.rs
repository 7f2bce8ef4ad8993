//! Building audio/video tag bodies: the header bytes that go before a codec payload when a
//! sample from another container (MP4, MPEG-TS) is carried as an FLV tag or RTMP message.
//! The inverse of [`crate::tag`]'s parsers; one copy for every container that converts.
//!
//! H.264 and AAC use the legacy headers (FLV spec v10.1 E.4.2.1, E.4.3.1); H.265 has no legacy
//! CodecID everyone agrees on and uses Enhanced RTMP's ex-header with FourCC `hvc1`
//! (veovera enhanced-rtmp v2, `ExVideoTagHeader`).

use std::ops::Deref;

/// A video codec a tag body can be built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyVideoCodec {
    /// H.264: legacy CodecID 7.
    Avc,
    /// H.265: Enhanced RTMP, FourCC `hvc1`.
    Hevc,
}

/// The tag-body header of one coded frame (at most 8 bytes, no allocation); derefs to the
/// bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagPrefix {
    bytes: [u8; 8],
    len: u8,
}

impl Deref for TagPrefix {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for TagPrefix {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// The video tag body of a sequence header: AVC `[0x17, 0x00, 0, 0, 0] + avcC`; HEVC
/// `[0x90, 'hvc1'] + hvcC` (ex-header: key frame, PacketType SequenceStart).
pub fn video_sequence_header(codec: BodyVideoCodec, record: &[u8]) -> Vec<u8> {
    let header: &[u8] = match codec {
        BodyVideoCodec::Avc => &[0x17, 0x00, 0, 0, 0],
        BodyVideoCodec::Hevc => &[0x90, b'h', b'v', b'c', b'1'],
    };
    let mut out = Vec::with_capacity(header.len() + record.len());
    out.extend_from_slice(header);
    out.extend_from_slice(record);
    out
}

/// The header of a coded video frame with composition time `cts_ms` (PTS − DTS): AVC
/// `[0x17|0x27, 0x01, cts(SI24)]`; HEVC `CodedFrames` with FourCC `hvc1` and the cts, or
/// `CodedFramesX` (no cts field) when it is 0. A cts beyond the SI24 range is clamped.
pub fn video_frame_prefix(codec: BodyVideoCodec, keyframe: bool, cts_ms: i32) -> TagPrefix {
    let frame_type: u8 = if keyframe { 1 } else { 2 };
    let cts = cts_ms.clamp(-(1 << 23), (1 << 23) - 1).to_be_bytes();
    let mut bytes = [0u8; 8];
    let len = match codec {
        BodyVideoCodec::Avc => {
            bytes[..5].copy_from_slice(&[frame_type << 4 | 7, 0x01, cts[1], cts[2], cts[3]]);
            5
        }
        BodyVideoCodec::Hevc if cts_ms == 0 => {
            // [IsExHeader:1][FrameType:3][PacketType=3 CodedFramesX:4][FourCC]
            bytes[..5].copy_from_slice(&[0x80 | frame_type << 4 | 3, b'h', b'v', b'c', b'1']);
            5
        }
        BodyVideoCodec::Hevc => {
            bytes.copy_from_slice(&[
                0x80 | frame_type << 4 | 1,
                b'h',
                b'v',
                b'c',
                b'1',
                cts[1],
                cts[2],
                cts[3],
            ]);
            8
        }
    };
    TagPrefix { bytes, len }
}

/// The header of a raw AAC frame: SoundFormat 10, 44 kHz, 16-bit, stereo (the fields FLV
/// requires for AAC, E.4.2.1), AACPacketType 1.
pub const AAC_RAW_PREFIX: TagPrefix = TagPrefix {
    bytes: [0xaf, 0x01, 0, 0, 0, 0, 0, 0],
    len: 2,
};

/// The audio tag body of an AAC sequence header: `[0xAF, 0x00] + AudioSpecificConfig`.
pub fn aac_sequence_header(asc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + asc.len());
    out.extend_from_slice(&[0xaf, 0x00]);
    out.extend_from_slice(asc);
    out
}

/// The one-byte header of an MP3 tag (SoundFormat 2, 16-bit) for a stream at `sample_rate`
/// Hz with `channels`: SoundRate is the nearest of FLV's 5.5/11/22/44 kHz not above the rate
/// (48 kHz and 32 kHz MP3 have no code; players read the rate from the MP3 frame header,
/// and 44 kHz is what FFmpeg writes for them too), SoundType mono for one channel.
pub fn mp3_header(sample_rate: u32, channels: u8) -> u8 {
    let rate: u8 = match sample_rate {
        44_100.. => 3,
        22_050.. => 2,
        11_025.. => 1,
        _ => 0,
    };
    let stereo = u8::from(channels != 1);
    2 << 4 | rate << 2 | 1 << 1 | stereo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::{AudioCodec, VideoCodec, VideoPacket};
    use crate::{parse_audio_tag_header, parse_video_tag_header};

    #[test]
    fn video_prefixes() {
        assert_eq!(
            &*video_frame_prefix(BodyVideoCodec::Avc, true, 80),
            &[0x17, 1, 0, 0, 80]
        );
        assert_eq!(
            &*video_frame_prefix(BodyVideoCodec::Avc, false, -2),
            &[0x27, 1, 0xff, 0xff, 0xfe]
        );
        assert_eq!(
            &*video_frame_prefix(BodyVideoCodec::Avc, false, i32::MAX),
            &[0x27, 1, 0x7f, 0xff, 0xff]
        );
        assert_eq!(
            &*video_frame_prefix(BodyVideoCodec::Hevc, true, 0),
            &[0x93, b'h', b'v', b'c', b'1']
        );
        assert_eq!(
            &*video_frame_prefix(BodyVideoCodec::Hevc, false, 40),
            &[0xa1, b'h', b'v', b'c', b'1', 0, 0, 40]
        );
    }

    #[test]
    fn built_headers_parse_back() {
        for codec in [BodyVideoCodec::Avc, BodyVideoCodec::Hevc] {
            let want = match codec {
                BodyVideoCodec::Avc => VideoCodec::Avc,
                BodyVideoCodec::Hevc => VideoCodec::Hevc,
            };
            let sh = parse_video_tag_header(&video_sequence_header(codec, &[1, 2, 3])).unwrap();
            assert_eq!(
                (sh.codec, sh.packet, sh.keyframe),
                (want, VideoPacket::SequenceHeader, true)
            );
            let mut body = video_frame_prefix(codec, false, 120).to_vec();
            body.push(0);
            let h = parse_video_tag_header(&body).unwrap();
            assert_eq!(
                (h.codec, h.packet, h.keyframe),
                (want, VideoPacket::Coded, false)
            );
            assert_eq!(h.composition_time, 120);
        }
        let asc = parse_audio_tag_header(&aac_sequence_header(&[0x12, 0x10])).unwrap();
        assert_eq!((asc.codec, asc.sequence_header), (AudioCodec::Aac, true));
        let raw = parse_audio_tag_header(&AAC_RAW_PREFIX).unwrap();
        assert_eq!((raw.codec, raw.sequence_header), (AudioCodec::Aac, false));
        let mp3 = parse_audio_tag_header(&[mp3_header(44_100, 2), 0xff]).unwrap();
        assert_eq!(mp3.codec, AudioCodec::Mp3);
    }

    #[test]
    fn mp3_rates_and_channels() {
        assert_eq!(mp3_header(44_100, 2), 0x2f);
        assert_eq!(mp3_header(48_000, 1), 0x2e);
        assert_eq!(mp3_header(22_050, 2), 0x2b);
        assert_eq!(mp3_header(8_000, 1), 0x22);
    }
}
