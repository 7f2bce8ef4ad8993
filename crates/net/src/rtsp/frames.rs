//! Depacketized RTP frames → FLV-bodied [`Frame`]s on one millisecond timeline. No I/O, no
//! clock: retina's frames are taken apart by the caller ([`super::RtspConnection`]) and their
//! parts come in here, so the conversion is tested without a camera.
//!
//! * **Bodies.** The same builders as MPEG-TS ([`crate::ts::record_body`],
//!   [`crate::ts::unit_body`]): H.264 as AVCDecoderConfigurationRecord + AVCC NAL units, H.265
//!   as Enhanced RTMP `hvc1`, AAC as AudioSpecificConfig + raw frames. retina is asked for
//!   exactly those forms (`FrameFormat::MP4`: 4-byte NAL lengths, parameter sets out of band,
//!   raw AAC). A record goes out before the first frame and again whenever retina reports new
//!   parameters (a camera that changes resolution).
//! * **Time.** RTP timestamps (RFC 3550 §5.1) count at the stream's clock rate (90 kHz video,
//!   the sample rate for AAC) and wrap at 2³²; retina widens them to i64 and gives them
//!   relative to the `rtptime` the camera's PLAY response named for each stream (RFC 2326
//!   §12.33) — which is what keeps audio and video in sync across their different clocks.
//!   Each is converted to milliseconds on its own (floor: nothing accumulates), and the first
//!   frame of the connection is 0 ms. RTP carries presentation times only: the DTS is the
//!   PTS (composition time 0). IP cameras do not send B-frames; a stream that does gets its
//!   decode times straightened by the relay's timeline (strictly increasing DTS per track).
//! * **Keyframes.** Video before the connection's first keyframe cannot be decoded and is
//!   dropped; so is video after a lost RTP packet (retina reports the loss on the next
//!   frame) until the next keyframe: a picture built on a missing reference is garbage until
//!   then. Audio is not held back.

use baton_media::{Frame, TagType};
use baton_mpegts::Codec;
use bytes::Bytes;

use crate::ts::{record_body, unit_body};

/// A stream timestamp: retina's widened RTP time relative to the stream's start, and the
/// stream's clock rate (never 0: retina checks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpTime {
    pub elapsed: i64,
    pub clock_rate: u32,
}

impl RtpTime {
    /// Milliseconds, rounded down (also below zero).
    pub fn ms(self) -> i64 {
        let ms = i128::from(self.elapsed) * 1000 / i128::from(self.clock_rate.max(1));
        // Floor for negative values too; |elapsed| < 2⁶³, so ms fits an i64.
        let floor = if i128::from(self.elapsed) * 1000 % i128::from(self.clock_rate.max(1)) < 0 {
            ms - 1
        } else {
            ms
        };
        i64::try_from(floor).unwrap_or(i64::MAX)
    }
}

/// One video frame's parts.
#[derive(Debug)]
pub struct VideoUnit<'a> {
    pub time: RtpTime,
    /// An IDR / random access point.
    pub keyframe: bool,
    /// RTP packets lost before this frame.
    pub loss: u16,
    /// The stream's decoder configuration record now (AVCDecoderConfigurationRecord or
    /// HEVCDecoderConfigurationRecord).
    pub record: &'a [u8],
    /// AVCC / HVCC: 4-byte lengths and NAL units.
    pub data: &'a [u8],
}

/// The converter. See the module docs.
#[derive(Debug)]
pub struct RtpFrames {
    video: Codec,
    /// The ms value that is 0: the first frame's.
    origin: Option<i64>,
    /// The video record last sent.
    video_record: Option<Bytes>,
    audio_record_sent: bool,
    /// Dropping video until a keyframe (start, or after a loss).
    awaiting_keyframe: bool,
    /// Video frames dropped so far (before a keyframe).
    dropped: u64,
}

impl RtpFrames {
    /// A converter for a connection whose video is `video` (H.264 or H.265).
    pub fn new(video: Codec) -> RtpFrames {
        RtpFrames {
            video,
            origin: None,
            video_record: None,
            audio_record_sent: false,
            awaiting_keyframe: true,
            dropped: 0,
        }
    }

    /// The frames of one video unit (none while waiting for a keyframe; the record first
    /// when it is new).
    pub fn video(&mut self, unit: &VideoUnit<'_>, out: &mut impl Extend<Frame>) {
        if unit.loss > 0 {
            self.awaiting_keyframe = true;
        }
        if !unit.keyframe && self.awaiting_keyframe {
            self.dropped += 1;
            return;
        }
        self.awaiting_keyframe = false;
        let dts = self.dts(unit.time);
        if self.video_record.as_deref() != Some(unit.record)
            && let Some(body) = record_body(self.video, unit.record)
        {
            self.video_record = Some(Bytes::copy_from_slice(unit.record));
            out.extend([Frame::new(TagType::Video, dts, body)]);
        }
        out.extend([Frame::new(
            TagType::Video,
            dts,
            unit_body(self.video, unit.keyframe, 0, unit.data),
        )]);
    }

    /// The frames of one raw AAC frame (the AudioSpecificConfig `config` first, once).
    pub fn audio(
        &mut self,
        time: RtpTime,
        config: &[u8],
        data: &[u8],
        out: &mut impl Extend<Frame>,
    ) {
        let dts = self.dts(time);
        if !self.audio_record_sent
            && let Some(body) = record_body(Codec::Aac, config)
        {
            self.audio_record_sent = true;
            out.extend([Frame::new(TagType::Audio, dts, body)]);
        }
        out.extend([Frame::new(
            TagType::Audio,
            dts,
            unit_body(Codec::Aac, false, 0, data),
        )]);
    }

    /// Video frames dropped while waiting for a keyframe.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether video is being held back until a keyframe.
    pub fn awaiting_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    fn dts(&mut self, time: RtpTime) -> i64 {
        let ms = time.ms();
        ms - *self.origin.get_or_insert(ms)
    }
}

#[cfg(test)]
mod tests {
    use baton_flv::{VideoCodec, VideoPacket, parse_audio_tag_header, parse_video_tag_header};

    use super::*;

    const AVCC: &[u8] = &[
        1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee,
    ];

    fn video(elapsed: i64, keyframe: bool, loss: u16, record: &[u8]) -> VideoUnit<'_> {
        VideoUnit {
            time: RtpTime {
                elapsed,
                clock_rate: 90_000,
            },
            keyframe,
            loss,
            record,
            data: &[0, 0, 0, 2, 0x65, 0x88],
        }
    }

    #[test]
    fn h264_starts_at_a_keyframe_with_its_record_on_a_0_ms_timeline() {
        let mut f = RtpFrames::new(Codec::H264);
        let mut out = Vec::new();
        f.video(&video(1_000, false, 0, AVCC), &mut out);
        assert!(
            out.is_empty(),
            "a frame before the first keyframe is dropped"
        );
        f.video(&video(4_000, true, 0, AVCC), &mut out);
        f.video(&video(7_000, false, 0, AVCC), &mut out);
        let dts: Vec<i64> = out.iter().map(|f| f.dts).collect();
        // 4000 ticks is the origin; 3000 ticks later is 33.3 ms → 33.
        assert_eq!(dts, [0, 0, 33]);
        assert!(out[0].config && !out[0].keyframe);
        assert_eq!(&out[0].payload[..5], &[0x17, 0, 0, 0, 0]);
        assert_eq!(&out[0].payload[5..], AVCC);
        let header = parse_video_tag_header(&out[1].payload).unwrap();
        assert_eq!(header.codec, VideoCodec::Avc);
        assert_eq!(
            (header.packet, header.composition_time),
            (VideoPacket::Coded, 0)
        );
        assert!(out[1].keyframe && !out[2].keyframe);
        assert_eq!(&out[1].payload[5..], &[0, 0, 0, 2, 0x65, 0x88]);
        assert_eq!(f.dropped(), 1);
    }

    #[test]
    fn a_loss_holds_video_until_the_next_keyframe_and_new_parameters_are_resent() {
        let mut f = RtpFrames::new(Codec::H265);
        let mut out = Vec::new();
        f.video(&video(0, true, 0, b"hvcC-1"), &mut out);
        f.video(&video(3_000, false, 2, b"hvcC-1"), &mut out);
        f.video(&video(6_000, false, 0, b"hvcC-1"), &mut out);
        assert!(f.awaiting_keyframe());
        f.video(&video(9_000, true, 0, b"hvcC-2"), &mut out);
        let summary: Vec<(i64, bool)> = out.iter().map(|f| (f.dts, f.config)).collect();
        assert_eq!(summary, [(0, true), (0, false), (100, true), (100, false)]);
        // Enhanced RTMP: [IsExHeader|key|SequenceStart] 'hvc1' + record.
        assert_eq!(&out[2].payload[..], b"\x90hvc1hvcC-2");
        assert_eq!(&out[3].payload[..5], b"\x93hvc1");
    }

    #[test]
    fn aac_gets_its_config_once_and_shares_the_timeline_with_video() {
        let mut f = RtpFrames::new(Codec::H264);
        let mut out = Vec::new();
        let at = |elapsed| RtpTime {
            elapsed,
            clock_rate: 48_000,
        };
        f.audio(at(960), &[0x11, 0x90], &[0x21, 0x10], &mut out);
        f.audio(at(1_984), &[0x11, 0x90], &[0x21, 0x11], &mut out);
        f.video(&video(90 * 50, true, 0, AVCC), &mut out);
        let kinds: Vec<(TagType, i64, bool)> =
            out.iter().map(|f| (f.kind, f.dts, f.config)).collect();
        assert_eq!(
            kinds,
            [
                (TagType::Audio, 0, true),
                (TagType::Audio, 0, false),
                // 1984 − 960 = 1024 samples at 48 kHz: 21.3 ms.
                (TagType::Audio, 21, false),
                // 50 ms of video clock − the 20 ms audio origin.
                (TagType::Video, 30, true),
                (TagType::Video, 30, false),
            ]
        );
        assert!(
            parse_audio_tag_header(&out[0].payload)
                .unwrap()
                .sequence_header
        );
        assert_eq!(&out[1].payload[..], &[0xaf, 0x01, 0x21, 0x10]);
    }

    #[test]
    fn rtp_times_beyond_the_32_bit_wrap_and_below_zero_convert_without_loss() {
        let t = |elapsed| {
            RtpTime {
                elapsed,
                clock_rate: 90_000,
            }
            .ms()
        };
        // retina's extended timestamps keep counting past 2³² ticks (13.25 h at 90 kHz).
        assert_eq!(t((1 << 32) + 90), (1i64 << 32) / 90 + 1);
        assert_eq!(t(-1), -1);
        assert_eq!(t(-90), -1);
        assert_eq!(t(-91), -2);
        assert_eq!(
            t(i64::MAX),
            i64::MAX / 90_000 * 1000 + (i64::MAX % 90_000) * 1000 / 90_000
        );
    }
}
