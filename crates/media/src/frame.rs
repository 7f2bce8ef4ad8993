//! The unit that moves through Baton: one audio, video or script message, exactly as an RTMP
//! message body / FLV tag body carries it, with the few facts the data plane needs parsed once.

use baton_flv::{TagType, VideoPacket, parse_audio_tag_header, parse_video_tag_header};
use bytes::Bytes;

/// One media message on a track.
///
/// `payload` is the untouched FLV tag body (= RTMP message payload): remuxing never rewrites it,
/// so codecs Baton does not know (Enhanced RTMP FourCCs, multitrack) pass through. Cloning is
/// cheap: the payload is reference-counted and shared by every subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Audio, video or script data.
    pub kind: TagType,
    /// Decode timestamp in milliseconds, on whatever timeline the holder works in (a source's
    /// unwrapped timeline, or a relay's output timeline).
    pub dts: i64,
    /// A video key frame (FrameType 1 or 4). Always false for audio and script.
    pub keyframe: bool,
    /// Codec configuration ("sequence header": AVCDecoderConfigurationRecord, hvcC, AAC
    /// AudioSpecificConfig, Enhanced RTMP SequenceStart).
    pub config: bool,
    /// The FLV tag body / RTMP message payload, header included.
    pub payload: Bytes,
}

impl Frame {
    /// Builds a frame, classifying the payload. A payload whose header cannot be parsed is
    /// still carried (as a plain, non-key, non-config frame): relays pass through what they do
    /// not understand.
    pub fn new(kind: TagType, dts: i64, payload: Bytes) -> Frame {
        let (keyframe, config) = match kind {
            TagType::Video => match parse_video_tag_header(&payload) {
                Ok(h) => (
                    h.keyframe && h.packet == VideoPacket::Coded,
                    h.packet == VideoPacket::SequenceHeader,
                ),
                Err(_) => (false, false),
            },
            TagType::Audio => match parse_audio_tag_header(&payload) {
                Ok(h) => (false, h.sequence_header),
                Err(_) => (false, false),
            },
            TagType::Script => (false, false),
        };
        Frame {
            kind,
            dts,
            keyframe,
            config,
            payload,
        }
    }

    /// Composition time offset (PTS − DTS) in milliseconds; 0 for audio, script and formats
    /// without one.
    pub fn composition_time(&self) -> i32 {
        match self.kind {
            TagType::Video => parse_video_tag_header(&self.payload)
                .map(|h| h.composition_time)
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Presentation timestamp in milliseconds.
    pub fn pts(&self) -> i64 {
        self.dts + i64::from(self.composition_time())
    }

    /// A video frame (sequence headers included).
    pub fn is_video(&self) -> bool {
        self.kind == TagType::Video
    }

    /// An audio frame (sequence headers included).
    pub fn is_audio(&self) -> bool {
        self.kind == TagType::Audio
    }

    /// Script data whose first AMF0 value is the string "onMetaData" (after any
    /// `@setDataFrame` wrapper has been removed).
    pub fn is_metadata(&self) -> bool {
        // AMF0 string marker (0x02), u16 length 10, "onMetaData".
        self.kind == TagType::Script && self.payload.starts_with(b"\x02\x00\x0aonMetaData")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_avc_frames() {
        let seq = Frame::new(
            TagType::Video,
            0,
            Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
        );
        assert!(seq.config && !seq.keyframe);
        let key = Frame::new(
            TagType::Video,
            40,
            Bytes::from_static(&[0x17, 1, 0, 0, 80, 9]),
        );
        assert!(key.keyframe && !key.config);
        assert_eq!(key.pts(), 120);
        let inter = Frame::new(
            TagType::Video,
            80,
            Bytes::from_static(&[0x27, 1, 0, 0, 0, 9]),
        );
        assert!(!inter.keyframe);
    }

    #[test]
    fn classifies_aac_and_metadata() {
        let asc = Frame::new(
            TagType::Audio,
            0,
            Bytes::from_static(&[0xaf, 0, 0x12, 0x10]),
        );
        assert!(asc.config);
        let raw = Frame::new(TagType::Audio, 0, Bytes::from_static(&[0xaf, 1, 0x21]));
        assert!(!raw.config && !raw.keyframe);
        let meta = Frame::new(
            TagType::Script,
            0,
            Bytes::from_static(b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09"),
        );
        assert!(meta.is_metadata());
    }

    #[test]
    fn garbage_payload_is_carried_not_rejected() {
        let f = Frame::new(TagType::Video, 5, Bytes::new());
        assert!(!f.keyframe && !f.config);
        assert_eq!(f.composition_time(), 0);
    }
}
