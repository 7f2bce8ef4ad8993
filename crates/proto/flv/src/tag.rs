//! FLV tag bodies: the first bytes of an audio or video tag (which are also the first bytes of an
//! RTMP audio/video message) say which codec the payload is, whether it is a key frame and
//! whether it carries codec configuration (a "sequence header").
//!
//! Covers the legacy headers (FLV spec v10.1 E.4.2, E.4.3) and Enhanced RTMP's ex-headers
//! (veovera enhanced-rtmp v2: `IsExHeader` flag, `VideoPacketType`/`AudioPacketType`, FourCC).
//! Parsing reads only the header; the payload is never touched, so unknown codecs pass through.

use crate::FlvError;

/// FLV tag types (FLV spec E.4.1). The same numbers are RTMP message type ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagType {
    Audio,
    Video,
    Script,
}

impl TagType {
    /// The FLV `TagType` byte / RTMP message type id.
    pub fn id(self) -> u8 {
        match self {
            TagType::Audio => 8,
            TagType::Video => 9,
            TagType::Script => 18,
        }
    }

    /// The tag type for a TagType byte / message type id, `None` for any other value.
    pub fn from_id(id: u8) -> Option<TagType> {
        match id {
            8 => Some(TagType::Audio),
            9 => Some(TagType::Video),
            18 => Some(TagType::Script),
            _ => None,
        }
    }
}

/// A video codec as named by the legacy CodecID or by an Enhanced RTMP FourCC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 (legacy CodecID 7, FourCC `avc1`).
    Avc,
    /// H.265 (legacy CodecID 12 as used by Chinese CDNs, FourCC `hvc1`).
    Hevc,
    /// AV1 (FourCC `av01`).
    Av1,
    /// VP9 (FourCC `vp09`).
    Vp9,
    /// VP8 (FourCC `vp08`).
    Vp8,
    /// Any other legacy CodecID (Sorenson H.263, screen video, VP6...).
    Legacy(u8),
    /// Any other FourCC.
    FourCc([u8; 4]),
}

/// An audio codec as named by the legacy SoundFormat or by an Enhanced RTMP FourCC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// AAC (SoundFormat 10, FourCC `mp4a`).
    Aac,
    /// MP3 (SoundFormat 2, FourCC `.mp3`).
    Mp3,
    /// Opus (FourCC `Opus`).
    Opus,
    /// Any other legacy SoundFormat.
    Legacy(u8),
    /// Any other FourCC.
    FourCc([u8; 4]),
}

/// What a video tag carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoPacket {
    /// Decoder configuration (AVCDecoderConfigurationRecord, HEVCDecoderConfigurationRecord...).
    SequenceHeader,
    /// Coded frames.
    Coded,
    /// End of sequence.
    EndOfSequence,
    /// Enhanced RTMP metadata (e.g. HDR colour info) or a command frame.
    Metadata,
    /// Anything else (multitrack, ModEx, unknown packet types): passed through.
    Other,
}

/// The parsed header of a video tag body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoTagHeader {
    pub codec: VideoCodec,
    /// FrameType 1 (key frame) or 4 (generated key frame).
    pub keyframe: bool,
    pub packet: VideoPacket,
    /// Composition time offset in milliseconds (PTS − DTS); 0 where the format has none.
    pub composition_time: i32,
    /// Enhanced RTMP ex-header.
    pub enhanced: bool,
    /// Offset of the codec payload inside the tag body.
    pub payload_offset: usize,
}

/// The parsed header of an audio tag body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioTagHeader {
    pub codec: AudioCodec,
    /// AAC AudioSpecificConfig, or an Enhanced RTMP SequenceStart.
    pub sequence_header: bool,
    /// Enhanced RTMP ex-header.
    pub enhanced: bool,
    /// Offset of the codec payload inside the tag body.
    pub payload_offset: usize,
}

const LEGACY_AVC: u8 = 7;
const LEGACY_HEVC: u8 = 12;
const SOUND_FORMAT_MP3: u8 = 2;
const SOUND_FORMAT_EX_HEADER: u8 = 9;
const SOUND_FORMAT_AAC: u8 = 10;

/// Parses the header of a video tag body (FLV spec E.4.3.1; enhanced-rtmp v2 "ExVideoTagHeader").
pub fn parse_video_tag_header(body: &[u8]) -> Result<VideoTagHeader, FlvError> {
    let first = *body
        .first()
        .ok_or(FlvError::Truncated("video tag header"))?;
    let frame_type = (first >> 4) & 0x07;
    let keyframe = frame_type == 1 || frame_type == 4;
    if first & 0x80 != 0 {
        // ExVideoTagHeader: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:4]...
        let packet_type = first & 0x0f;
        let fourcc: [u8; 4] = body
            .get(1..5)
            .and_then(|s| s.try_into().ok())
            .ok_or(FlvError::Truncated("enhanced video FourCC"))?;
        let codec = match &fourcc {
            b"avc1" => VideoCodec::Avc,
            b"hvc1" => VideoCodec::Hevc,
            b"av01" => VideoCodec::Av1,
            b"vp09" => VideoCodec::Vp9,
            b"vp08" => VideoCodec::Vp8,
            _ => VideoCodec::FourCc(fourcc),
        };
        // A command frame (FrameType 5) carries no media whatever the packet type says.
        let (packet, has_cts) = match packet_type {
            _ if frame_type == 5 => (VideoPacket::Metadata, false),
            0 => (VideoPacket::SequenceHeader, false),
            1 => (
                VideoPacket::Coded,
                matches!(codec, VideoCodec::Avc | VideoCodec::Hevc),
            ),
            2 => (VideoPacket::EndOfSequence, false),
            3 => (VideoPacket::Coded, false), // CodedFramesX: composition time implicitly 0
            4 => (VideoPacket::Metadata, false),
            5 => (VideoPacket::SequenceHeader, false), // MPEG2TSSequenceStart
            _ => (VideoPacket::Other, false),
        };
        let (composition_time, payload_offset) = if has_cts {
            (read_si24(body, 5)?, 8)
        } else {
            (0, 5)
        };
        return Ok(VideoTagHeader {
            codec,
            keyframe,
            packet,
            composition_time,
            enhanced: true,
            payload_offset,
        });
    }
    let codec_id = first & 0x0f;
    let codec = match codec_id {
        LEGACY_AVC => VideoCodec::Avc,
        LEGACY_HEVC => VideoCodec::Hevc,
        other => VideoCodec::Legacy(other),
    };
    if frame_type == 5 {
        return Ok(VideoTagHeader {
            codec,
            keyframe: false,
            packet: VideoPacket::Metadata,
            composition_time: 0,
            enhanced: false,
            payload_offset: 1,
        });
    }
    match codec {
        VideoCodec::Avc | VideoCodec::Hevc => {
            let packet_type = *body.get(1).ok_or(FlvError::Truncated("AVCPacketType"))?;
            let packet = match packet_type {
                0 => VideoPacket::SequenceHeader,
                1 => VideoPacket::Coded,
                2 => VideoPacket::EndOfSequence,
                _ => VideoPacket::Other,
            };
            Ok(VideoTagHeader {
                codec,
                keyframe,
                packet,
                composition_time: read_si24(body, 2)?,
                enhanced: false,
                payload_offset: 5,
            })
        }
        _ => Ok(VideoTagHeader {
            codec,
            keyframe,
            packet: VideoPacket::Coded,
            composition_time: 0,
            enhanced: false,
            payload_offset: 1,
        }),
    }
}

/// Parses the header of an audio tag body (FLV spec E.4.2.1; enhanced-rtmp v2 "ExAudioTagHeader").
pub fn parse_audio_tag_header(body: &[u8]) -> Result<AudioTagHeader, FlvError> {
    let first = *body
        .first()
        .ok_or(FlvError::Truncated("audio tag header"))?;
    let sound_format = first >> 4;
    match sound_format {
        SOUND_FORMAT_EX_HEADER => {
            // [SoundFormat=9:4][AudioPacketType:4][FourCC:4]...
            let packet_type = first & 0x0f;
            let fourcc: [u8; 4] = body
                .get(1..5)
                .and_then(|s| s.try_into().ok())
                .ok_or(FlvError::Truncated("enhanced audio FourCC"))?;
            let codec = match &fourcc {
                b"mp4a" => AudioCodec::Aac,
                b".mp3" => AudioCodec::Mp3,
                b"Opus" => AudioCodec::Opus,
                _ => AudioCodec::FourCc(fourcc),
            };
            Ok(AudioTagHeader {
                codec,
                sequence_header: packet_type == 0,
                enhanced: true,
                payload_offset: 5,
            })
        }
        SOUND_FORMAT_AAC => {
            let packet_type = *body.get(1).ok_or(FlvError::Truncated("AACPacketType"))?;
            Ok(AudioTagHeader {
                codec: AudioCodec::Aac,
                sequence_header: packet_type == 0,
                enhanced: false,
                payload_offset: 2,
            })
        }
        other => Ok(AudioTagHeader {
            codec: if other == SOUND_FORMAT_MP3 {
                AudioCodec::Mp3
            } else {
                AudioCodec::Legacy(other)
            },
            sequence_header: false,
            enhanced: false,
            payload_offset: 1,
        }),
    }
}

/// Reads a big-endian signed 24-bit integer at `at`.
fn read_si24(body: &[u8], at: usize) -> Result<i32, FlvError> {
    let b = body
        .get(at..at + 3)
        .ok_or(FlvError::Truncated("composition time"))?;
    let unsigned = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    // Sign-extend from 24 bits.
    Ok(((unsigned << 8) as i32) >> 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_avc_keyframe_with_negative_cts() {
        let body = [0x17, 0x01, 0xff, 0xff, 0xfe, 0, 0, 0, 1];
        let h = parse_video_tag_header(&body).unwrap();
        assert_eq!(h.codec, VideoCodec::Avc);
        assert!(h.keyframe);
        assert_eq!(h.packet, VideoPacket::Coded);
        assert_eq!(h.composition_time, -2);
        assert_eq!(h.payload_offset, 5);
        assert!(!h.enhanced);
    }

    #[test]
    fn legacy_avc_sequence_header() {
        let h = parse_video_tag_header(&[0x17, 0x00, 0, 0, 0, 1, 0x64]).unwrap();
        assert_eq!(h.packet, VideoPacket::SequenceHeader);
    }

    #[test]
    fn legacy_hevc_codec_id_12() {
        let h = parse_video_tag_header(&[0x2c, 0x01, 0, 0, 40]).unwrap();
        assert_eq!(h.codec, VideoCodec::Hevc);
        assert!(!h.keyframe);
        assert_eq!(h.composition_time, 40);
    }

    #[test]
    fn enhanced_hevc_coded_frames_and_x() {
        let mut body = vec![0x80 | 0x10 | 1];
        body.extend_from_slice(b"hvc1");
        body.extend_from_slice(&[0, 0, 80, 0xaa]);
        let h = parse_video_tag_header(&body).unwrap();
        assert_eq!(h.codec, VideoCodec::Hevc);
        assert!(h.keyframe && h.enhanced);
        assert_eq!(h.composition_time, 80);
        assert_eq!(h.payload_offset, 8);

        body[0] = 0x80 | 0x20 | 3; // inter frame, CodedFramesX
        let h = parse_video_tag_header(&body).unwrap();
        assert!(!h.keyframe);
        assert_eq!(h.composition_time, 0);
        assert_eq!(h.payload_offset, 5);
    }

    #[test]
    fn enhanced_av1_sequence_start() {
        let mut body = vec![0x80 | 0x10];
        body.extend_from_slice(b"av01");
        let h = parse_video_tag_header(&body).unwrap();
        assert_eq!(h.codec, VideoCodec::Av1);
        assert_eq!(h.packet, VideoPacket::SequenceHeader);
    }

    #[test]
    fn aac_and_enhanced_opus() {
        let h = parse_audio_tag_header(&[0xaf, 0x00, 0x12, 0x10]).unwrap();
        assert_eq!(h.codec, AudioCodec::Aac);
        assert!(h.sequence_header);
        let h = parse_audio_tag_header(&[0xaf, 0x01, 0x21]).unwrap();
        assert!(!h.sequence_header);
        let mut body = vec![0x90];
        body.extend_from_slice(b"Opus");
        let h = parse_audio_tag_header(&body).unwrap();
        assert_eq!(h.codec, AudioCodec::Opus);
        assert!(h.sequence_header && h.enhanced);
    }

    #[test]
    fn truncated_headers_are_errors_not_panics() {
        for len in 0..8 {
            let body = [0x80 | 0x10 | 1, b'h', b'v', b'c', b'1', 0, 0, 0];
            let _ = parse_video_tag_header(&body[..len]);
            let _ = parse_audio_tag_header(&[0x9f, b'O', b'p', b'u', b's'][..len.min(5)]);
        }
        assert!(parse_video_tag_header(&[]).is_err());
        assert!(parse_video_tag_header(&[0x17, 0x01]).is_err());
        assert!(parse_audio_tag_header(&[0xaf]).is_err());
    }
}
