//! The muxer: FLV-bodied frames (what the relay carries) in, 188-byte TS packets out — the
//! inverse of the demuxer plus `baton_net::ts::TsFrames`.
//!
//! One program (number 1) with at most one video and one audio stream:
//!
//! ```text
//! PID 0x0000  PAT ─▶ PID 0x1000 PMT ─┬─ PID 0x0100  H.264 (0x1B) / H.265 (0x24), stream_id 0xE0
//!                                    └─ PID 0x0101  AAC ADTS (0x0F) / MP3 (0x03, 0x04), 0xC0
//! ```
//!
//! * **Video.** AVCC (or hvcC-framed) NAL units become Annex B (ITU-T H.264 / H.265 Annex B,
//!   which 13818-1 2.14 / 2.17 require in TS) with an access unit delimiter first (H.264
//!   7.4.1.2.3: required in TS by 2.14.1; H.265 likewise by 2.17) and the record's parameter
//!   sets (VPS, SPS, PPS) before every keyframe, so a receiver can join at any keyframe.
//! * **Audio.** Raw AAC gets a 7-byte ADTS header (13818-7 6.2) built from the
//!   AudioSpecificConfig; MP3 frames pass through. One PES per frame.
//! * **PES** (2.4.3.6). PTS (and a DTS when it differs) = (ms + [`MuxerConfig::delay_ms`]) × 90,
//!   written modulo 2^33 (2.4.3.7: the field wraps). `PES_packet_length` is set when it fits,
//!   0 (unbounded, allowed for video only) for larger video PES.
//! * **PSI** (2.4.4). PAT and PMT at the first PES, before every video keyframe, at least
//!   every [`PSI_INTERVAL_MS`] of stream time, and at once when the PMT changes (a stream is
//!   added, a codec changes, the PCR moves): `version_number` then counts up.
//! * **PCR** (2.4.3.5) on the video PID, or the audio PID while there is no video: on every
//!   video PES's first packet, and in adaptation-field-only packets so that consecutive PCR
//!   values are never more than [`PCR_INTERVAL_MS`] apart (2.7.2 asks ≤ 100 ms; DVB, TR 101
//!   290 1.3a, ≤ 40 ms). The PCR is the stream time (the DTS in ms × 90 without the delay,
//!   never decreasing), so each access unit arrives `delay_ms` ahead of its decoding time in
//!   the T-STD's reckoning (2.4.2). A jump of the timeline by more than [`MAX_JUMP_MS`]
//!   either way is signalled with `discontinuity_indicator` on the PCR PID (2.4.3.5).
//! * **Packets** (2.4.3.2). Continuity counters per PID (2.4.3.3: payload packets count,
//!   adaptation-field-only packets repeat the last value), adaptation-field stuffing to fill
//!   the last packet of a PES (2.4.3.5), `random_access_indicator` on a keyframe's first
//!   packet.
//!
//! Codecs TS cannot carry here (AV1, VP8/9, Opus, Speex, PCM, …) are refused by name with
//! [`MuxError::Unsupported`]; frames before their sequence header with
//! [`MuxError::NoConfig`]. Script data (onMetaData) has no place in TS and is ignored.

use baton_codec::CodecError;
use baton_codec::aac::{AudioSpecificConfig, write_adts};
use baton_codec::avc::{self, AvcDecoderConfig};
use baton_codec::hevc::{self, HevcDecoderConfig};
use baton_codec::nal::avcc_nals;
use baton_flv::{
    AudioCodec, TagType, VideoCodec, VideoPacket, parse_audio_tag_header, parse_video_tag_header,
};
use bytes::{Bytes, BytesMut};

use crate::pes::encode_timestamp;
use crate::psi::{TABLE_PAT, TABLE_PMT, crc32_mpeg2};
use crate::{Codec, PACKET_LEN, SYNC_BYTE, TIMESCALE, Track};

/// The PID of the program map table (the value FFmpeg uses too).
pub const PID_PMT: u16 = 0x1000;
/// The video stream's PID.
pub const PID_VIDEO: u16 = 0x0100;
/// The audio stream's PID.
pub const PID_AUDIO: u16 = 0x0101;
/// TS packets in one chunk: 7 × 188 = 1316 bytes, the largest whole number of packets in an
/// SRT live-mode payload (libsrt's default `SRTO_PAYLOADSIZE`).
pub const CHUNK_PACKETS: usize = 7;
/// Bytes in a full chunk.
pub const CHUNK_LEN: usize = CHUNK_PACKETS * PACKET_LEN;
/// PAT/PMT are repeated at least this often, in stream time.
pub const PSI_INTERVAL_MS: i64 = 100;
/// Consecutive PCR values are at most this far apart.
pub const PCR_INTERVAL_MS: i64 = 40;
/// A DTS this far before or after the stream time is a new time base, not a gap to fill.
pub const MAX_JUMP_MS: i64 = 1000;

const PROGRAM_NUMBER: u16 = 1;
const TRANSPORT_STREAM_ID: u16 = 1;
const PID_PAT: u16 = 0x0000;
const STREAM_ID_VIDEO: u8 = 0xe0;
const STREAM_ID_AUDIO: u8 = 0xc0;
const TICKS_PER_MS: i64 = TIMESCALE / 1000;
const WRAP: i64 = 1 << 33;
/// TS packet payload after the 4-byte header.
const BODY_LEN: usize = PACKET_LEN - 4;
/// H.264 access unit delimiter (7.3.2.4): primary_pic_type 7 (any slice type), stop bit.
const AVC_AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xf0];
/// H.265 access unit delimiter (7.3.2.5): type 35, layer 0, TemporalId 0; pic_type 2 (I, P,
/// B), stop bit.
const HEVC_AUD: [u8; 7] = [0, 0, 0, 1, 0x46, 0x01, 0x50];
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Muxer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MuxerConfig {
    /// How far PTS/DTS run ahead of the PCR, in ms (default 500): the time a receiver's
    /// buffer has to take in an access unit before it decodes it (2.4.2, the T-STD). Also
    /// keeps the first timestamps clear of 0 (and of the 2^33 wrap).
    pub delay_ms: u32,
}

impl Default for MuxerConfig {
    fn default() -> Self {
        MuxerConfig { delay_ms: 500 }
    }
}

/// Why a frame was not muxed. Nothing is written for a refused frame; the muxer stays usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    /// The frame's codec cannot be carried in MPEG-TS by Baton (named, e.g. "AV1", "Opus").
    #[error("{track} codec {name} cannot be carried in MPEG-TS")]
    Unsupported {
        /// Audio or video.
        track: Track,
        /// The codec's name.
        name: String,
    },
    /// A coded frame came before the sequence header it needs (or after one of another codec).
    #[error("{track} frame before its sequence header")]
    NoConfig {
        /// Audio or video.
        track: Track,
    },
    /// A sequence header that does not parse; the previous one stays in force.
    #[error("bad {track} sequence header: {reason}")]
    BadConfig {
        /// Audio or video.
        track: Track,
        /// What is wrong with it.
        reason: String,
    },
    /// A frame that does not parse (a truncated tag header, NAL unit lengths running past the
    /// end, a frame too large for ADTS).
    #[error("bad {track} frame: {reason}")]
    BadFrame {
        /// Audio or video.
        track: Track,
        /// What is wrong with it.
        reason: String,
    },
}

/// Counters over the muxer's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MuxStats {
    /// Frames written as PES packets.
    pub frames: u64,
    /// TS packets written (all PIDs).
    pub packets: u64,
    /// Times PAT and PMT were written.
    pub psi: u64,
    /// PMT versions after the first (streams added or changed).
    pub pmt_changes: u64,
    /// Adaptation-field-only packets written to keep the PCR interval.
    pub pcr_only_packets: u64,
    /// Time base discontinuities signalled.
    pub discontinuities: u64,
}

/// The video stream's configuration.
#[derive(Debug)]
struct Video {
    codec: Codec,
    nal_length_size: u8,
    /// VPS, SPS, PPS of the record in Annex B, inserted before every keyframe.
    parameter_sets: Vec<u8>,
}

/// The audio stream's configuration.
#[derive(Debug)]
enum Audio {
    Aac(AudioSpecificConfig),
    /// MP3 with its stream_type: 0x03 for MPEG-1, 0x04 for MPEG-2 / 2.5 (Table 2-34).
    Mp3(u8),
}

/// What the PMT says: the PCR PID and (stream_type, PID) of each stream.
type PmtContent = (u16, Vec<(u8, u16)>);

/// A sans-IO MPEG-TS muxer.
///
/// Calling order: [`push`](Self::push) each frame in DTS order (the relay's output order;
/// audio and video interleaved), then take the packets with [`poll_chunk`](Self::poll_chunk)
/// (whole 1316-byte chunks; [`flush`](Self::flush) first to let a short last chunk out too)
/// or [`poll_bytes`](Self::poll_bytes) (everything queued, as one byte stream). Output stays
/// queued until taken: drain after every push. No input makes it panic.
///
/// Sequence headers go in as they come: a video or AAC sequence header must precede the
/// frames that use it (as the relay's GOP cache guarantees), and a new one replaces it
/// (another codec changes the PMT). The PAT/PMT first go out with the first PES, so the
/// streams whose sequence headers came before it are in the first PMT; a stream that starts
/// later adds a PMT version.
#[derive(Debug)]
pub struct TsMuxer {
    config: MuxerConfig,
    video: Option<Video>,
    audio: Option<Audio>,
    /// The PMT last written and its version.
    pmt: Option<(PmtContent, u8)>,
    /// The stream time (ms × 90 of the DTS, never decreasing within a time base) of the last
    /// PSI and of the last PCR.
    last_psi: Option<i64>,
    last_pcr: Option<i64>,
    clock: Option<i64>,
    /// The next continuity_counter per PID: PAT, PMT, video, audio.
    cc: [u8; 4],
    out: BytesMut,
    /// Bytes of `out` that may leave in a short chunk (set by `flush`).
    released: usize,
    stats: MuxStats,
}

impl Default for TsMuxer {
    fn default() -> Self {
        TsMuxer::new(MuxerConfig::default())
    }
}

impl TsMuxer {
    /// A muxer with `config`.
    pub fn new(config: MuxerConfig) -> Self {
        TsMuxer {
            config,
            video: None,
            audio: None,
            pmt: None,
            last_psi: None,
            last_pcr: None,
            clock: None,
            cc: [0; 4],
            out: BytesMut::new(),
            released: 0,
            stats: MuxStats::default(),
        }
    }

    /// Muxes one frame: `kind` and `body` as an FLV tag / RTMP message carries them (a
    /// `baton_media::Frame`'s `kind` and `payload`), `dts_ms` its decoding time in
    /// milliseconds (the composition time is read from the body). Sequence headers only
    /// update the muxer's state; coded frames become PES packets. Script data and video
    /// end-of-sequence / metadata packets carry nothing TS needs and are ignored (`Ok`).
    pub fn push(&mut self, kind: TagType, dts_ms: i64, body: &[u8]) -> Result<(), MuxError> {
        match kind {
            TagType::Video => self.push_video(dts_ms, body),
            TagType::Audio => self.push_audio(dts_ms, body),
            TagType::Script => Ok(()),
        }
    }

    /// The next whole chunk of [`CHUNK_PACKETS`] packets (1316 bytes); after
    /// [`flush`](Self::flush), the packets queued before it also in a shorter last chunk.
    pub fn poll_chunk(&mut self) -> Option<Bytes> {
        let take = if self.out.len() >= CHUNK_LEN {
            CHUNK_LEN
        } else {
            self.released.min(self.out.len())
        };
        if take == 0 {
            return None;
        }
        self.released = self.released.saturating_sub(take);
        Some(self.out.split_to(take).freeze())
    }

    /// Lets the packets queued so far leave through [`poll_chunk`](Self::poll_chunk) even
    /// when they do not fill a chunk (call after each frame for the least latency, or at the
    /// end of the stream).
    pub fn flush(&mut self) {
        self.released = self.out.len();
    }

    /// Every queued packet, as one byte stream (a `.ts` file, a pipe); `None` when empty.
    pub fn poll_bytes(&mut self) -> Option<Bytes> {
        self.released = 0;
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Bytes queued (always whole packets).
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Counters so far.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    fn push_video(&mut self, dts_ms: i64, body: &[u8]) -> Result<(), MuxError> {
        let track = Track::Video;
        let header = parse_video_tag_header(body).map_err(|e| MuxError::BadFrame {
            track,
            reason: e.to_string(),
        })?;
        let codec = match header.codec {
            VideoCodec::Avc => Codec::H264,
            VideoCodec::Hevc => Codec::H265,
            other => {
                return Err(MuxError::Unsupported {
                    track,
                    name: video_codec_name(other),
                });
            }
        };
        let payload = body.get(header.payload_offset..).unwrap_or(&[]);
        match header.packet {
            VideoPacket::SequenceHeader => {
                self.video =
                    Some(
                        video_config(codec, payload).map_err(|e| MuxError::BadConfig {
                            track,
                            reason: e.to_string(),
                        })?,
                    );
                Ok(())
            }
            VideoPacket::Coded => {
                let pts_ms = dts_ms.saturating_add(i64::from(header.composition_time));
                self.video_frame(codec, header.keyframe, dts_ms, pts_ms, payload)
            }
            VideoPacket::EndOfSequence | VideoPacket::Metadata => Ok(()),
            VideoPacket::Other => Err(MuxError::Unsupported {
                track,
                name: "Enhanced RTMP multitrack or unknown video packet type".into(),
            }),
        }
    }

    fn video_frame(
        &mut self,
        codec: Codec,
        flagged_key: bool,
        dts_ms: i64,
        pts_ms: i64,
        payload: &[u8],
    ) -> Result<(), MuxError> {
        let track = Track::Video;
        let Some(video) = self.video.as_ref().filter(|v| v.codec == codec) else {
            return Err(MuxError::NoConfig { track });
        };
        let hevc = codec == Codec::H265;
        let mut nals = Vec::new();
        let mut keyframe = flagged_key;
        for nal in avcc_nals(payload, video.nal_length_size) {
            let nal = nal.map_err(|e| MuxError::BadFrame {
                track,
                reason: e.to_string(),
            })?;
            let kind = if hevc {
                hevc::nal_type(nal)
            } else {
                avc::nal_type(nal)
            };
            match kind {
                None => continue,
                Some(avc::NAL_AUD) if !hevc => continue,
                Some(hevc::NAL_AUD) if hevc => continue,
                Some(avc::NAL_IDR) if !hevc => keyframe = true,
                Some(k) if hevc && hevc::is_irap(k) => keyframe = true,
                Some(_) => {}
            }
            nals.push(nal);
        }
        if nals.is_empty() {
            // Nothing to decode (some encoders send empty frames); an AUD alone would be a
            // picture without slices.
            return Ok(());
        }
        let mut es = Vec::with_capacity(payload.len() + video.parameter_sets.len() + 64);
        es.extend_from_slice(if hevc { &HEVC_AUD[..] } else { &AVC_AUD[..] });
        if keyframe {
            es.extend_from_slice(&video.parameter_sets);
        }
        for nal in nals {
            es.extend_from_slice(&START_CODE);
            es.extend_from_slice(nal);
        }
        self.write_frame(Track::Video, dts_ms, pts_ms, keyframe, &es)
    }

    fn push_audio(&mut self, dts_ms: i64, body: &[u8]) -> Result<(), MuxError> {
        let track = Track::Audio;
        let header = parse_audio_tag_header(body).map_err(|e| MuxError::BadFrame {
            track,
            reason: e.to_string(),
        })?;
        let payload = body.get(header.payload_offset..).unwrap_or(&[]);
        // Enhanced RTMP AudioPacketType (enhanced-rtmp v2): 0 SequenceStart, 1 CodedFrames,
        // 2 SequenceEnd, 4 MultichannelConfig, 5 Multitrack.
        let enhanced_type = header
            .enhanced
            .then(|| body.first().map_or(0, |b| b & 0x0f));
        match enhanced_type {
            Some(2 | 4) => return Ok(()),
            Some(0 | 1) | None => {}
            Some(_) => {
                return Err(MuxError::Unsupported {
                    track,
                    name: "Enhanced RTMP multitrack or unknown audio packet type".into(),
                });
            }
        }
        match header.codec {
            AudioCodec::Aac if header.sequence_header => {
                let asc = AudioSpecificConfig::parse(payload).map_err(|e| MuxError::BadConfig {
                    track,
                    reason: e.to_string(),
                })?;
                // ADTS carries object types 1–4, table sample rates and channel
                // configurations up to 7 (13818-7 6.2.1): anything else has no ADTS form.
                if let Err(e) = write_adts(&asc, 0, &mut Vec::new()) {
                    return Err(MuxError::Unsupported {
                        track,
                        name: format!("AAC {} ({e})", asc.profile_name()),
                    });
                }
                self.audio = Some(Audio::Aac(asc));
                Ok(())
            }
            AudioCodec::Aac => {
                let Some(Audio::Aac(asc)) = &self.audio else {
                    return Err(MuxError::NoConfig { track });
                };
                if payload.is_empty() {
                    return Ok(());
                }
                let mut es = Vec::with_capacity(payload.len() + 7);
                write_adts(asc, payload.len(), &mut es).map_err(|e| MuxError::BadFrame {
                    track,
                    reason: e.to_string(),
                })?;
                es.extend_from_slice(payload);
                self.write_frame(track, dts_ms, dts_ms, false, &es)
            }
            AudioCodec::Mp3 | AudioCodec::Legacy(14) => {
                if header.sequence_header {
                    return Ok(());
                }
                if payload.is_empty() {
                    return Ok(());
                }
                // The frame header's sync word and version (11172-3 2.4.2.3; 13818-3).
                let stream_type = match payload {
                    [0xff, b1, ..] if b1 & 0xe0 == 0xe0 && (b1 >> 3) & 0x03 != 1 => {
                        if (b1 >> 3) & 0x03 == 3 { 0x03 } else { 0x04 }
                    }
                    _ => {
                        return Err(MuxError::BadFrame {
                            track,
                            reason: "MP3 frame without an MPEG audio frame header".into(),
                        });
                    }
                };
                self.audio = Some(Audio::Mp3(stream_type));
                self.write_frame(track, dts_ms, dts_ms, false, payload)
            }
            other => Err(MuxError::Unsupported {
                track,
                name: audio_codec_name(other),
            }),
        }
    }

    /// The PMT as it stands: PCR on the video PID when there is video.
    fn pmt_content(&self) -> PmtContent {
        let mut streams = Vec::with_capacity(2);
        if let Some(v) = &self.video {
            streams.push((if v.codec == Codec::H265 { 0x24 } else { 0x1b }, PID_VIDEO));
        }
        match &self.audio {
            Some(Audio::Aac(_)) => streams.push((0x0f, PID_AUDIO)),
            Some(Audio::Mp3(stream_type)) => streams.push((*stream_type, PID_AUDIO)),
            None => {}
        }
        let pcr_pid = if self.video.is_some() {
            PID_VIDEO
        } else {
            PID_AUDIO
        };
        (pcr_pid, streams)
    }

    /// Writes one access unit: PSI and PCR when due, then its PES.
    fn write_frame(
        &mut self,
        track: Track,
        dts_ms: i64,
        pts_ms: i64,
        keyframe: bool,
        es: &[u8],
    ) -> Result<(), MuxError> {
        let (stream_id, pid) = match track {
            Track::Video => (STREAM_ID_VIDEO, PID_VIDEO),
            Track::Audio => (STREAM_ID_AUDIO, PID_AUDIO),
        };
        let delay = i64::from(self.config.delay_ms) * TICKS_PER_MS;
        let dts = dts_ms.saturating_mul(TICKS_PER_MS);
        let pts = pts_ms.saturating_mul(TICKS_PER_MS);
        let header = pes_header(
            stream_id,
            pts.saturating_add(delay),
            (pts != dts).then(|| dts.saturating_add(delay)),
            es.len(),
            track == Track::Video,
        )
        .ok_or_else(|| MuxError::BadFrame {
            track,
            reason: format!("{} bytes do not fit one PES packet", es.len()),
        })?;

        // The stream time: the DTS, never decreasing, unless it jumps (a new time base).
        let discontinuity = match self.clock {
            Some(clock) if (dts - clock).abs() > MAX_JUMP_MS * TICKS_PER_MS => {
                self.stats.discontinuities += 1;
                self.last_pcr = None;
                self.last_psi = None;
                self.clock = Some(dts);
                true
            }
            Some(clock) => {
                self.clock = Some(clock.max(dts));
                false
            }
            None => {
                self.clock = Some(dts);
                false
            }
        };
        let now = self.clock.unwrap_or(dts);

        let content = self.pmt_content();
        let pmt_changed = self.pmt.as_ref().is_none_or(|(c, _)| *c != content);
        let psi_due = pmt_changed
            || keyframe
            || self
                .last_psi
                .is_none_or(|t| now < t || now - t >= PSI_INTERVAL_MS * TICKS_PER_MS);
        if psi_due {
            self.write_psi(content);
            self.last_psi = Some(now);
        }

        let pcr_pid = self.pmt_content().0;
        let mut disc_pending = discontinuity;
        // Fill a gap in the PCR with adaptation-field-only packets (bounded by MAX_JUMP_MS).
        if let Some(mut last) = self.last_pcr {
            let step = PCR_INTERVAL_MS * TICKS_PER_MS;
            while last + step < now {
                last += step;
                self.write_pcr_only(pcr_pid, last, false);
            }
            self.last_pcr = Some(last);
        }
        let pcr = if pid == pcr_pid {
            Some(now)
        } else {
            if self.last_pcr.is_none() {
                // The PCR PID's stream has no PES yet (audio before the first video frame).
                self.write_pcr_only(pcr_pid, now, disc_pending);
                disc_pending = false;
            }
            None
        };
        if let Some(pcr) = pcr {
            self.last_pcr = Some(pcr);
        }
        let flags = AfFlags {
            pcr,
            random_access: keyframe,
            discontinuity: disc_pending && pcr.is_some(),
        };
        let mut pes = header;
        pes.extend_from_slice(es);
        self.write_payload(pid, flags, &pes);
        self.stats.frames += 1;
        Ok(())
    }

    fn write_psi(&mut self, content: PmtContent) {
        let version = match &self.pmt {
            None => 0,
            Some((old, v)) if *old == content => *v,
            Some((_, v)) => {
                self.stats.pmt_changes += 1;
                (v + 1) & 0x1f
            }
        };
        let pat = section(
            TABLE_PAT,
            TRANSPORT_STREAM_ID,
            0,
            &[
                (PROGRAM_NUMBER >> 8) as u8,
                PROGRAM_NUMBER as u8,
                0xe0 | (PID_PMT >> 8) as u8,
                PID_PMT as u8,
            ],
        );
        let (pcr_pid, streams) = &content;
        // PCR_PID, program_info_length 0, then the ES loop without descriptors (2.4.4.9).
        let mut body = vec![0xe0 | (pcr_pid >> 8) as u8, *pcr_pid as u8, 0xf0, 0x00];
        for (stream_type, pid) in streams {
            body.extend_from_slice(&[*stream_type, 0xe0 | (pid >> 8) as u8, *pid as u8, 0xf0, 0]);
        }
        let pmt = section(TABLE_PMT, PROGRAM_NUMBER, version, &body);
        self.write_section(PID_PAT, &pat);
        self.write_section(PID_PMT, &pmt);
        self.pmt = Some((content, version));
        self.stats.psi += 1;
    }

    /// One PSI section in one packet: pointer_field 0, the section, 0xFF stuffing (2.4.4.1).
    fn write_section(&mut self, pid: u16, section: &[u8]) {
        let mut packet = [0xffu8; PACKET_LEN];
        let cc = self.next_cc(pid);
        packet[..4].copy_from_slice(&packet_header(pid, true, 0b01, cc));
        packet[4] = 0;
        // Sections here are under 40 bytes.
        let end = (5 + section.len()).min(PACKET_LEN);
        packet[5..end].copy_from_slice(&section[..end - 5]);
        self.emit(&packet);
    }

    /// An adaptation-field-only packet carrying a PCR; its continuity_counter repeats the
    /// last one (2.4.3.3).
    fn write_pcr_only(&mut self, pid: u16, pcr: i64, discontinuity: bool) {
        let mut packet = [0xffu8; PACKET_LEN];
        let cc = self.cc[cc_slot(pid)].wrapping_sub(1) & 0x0f;
        packet[..4].copy_from_slice(&packet_header(pid, false, 0b10, cc));
        packet[4] = (BODY_LEN - 1) as u8;
        packet[5] = 0x10 | if discontinuity { 0x80 } else { 0 };
        packet[6..12].copy_from_slice(&encode_pcr(pcr));
        self.emit(&packet);
        self.last_pcr = Some(pcr);
        self.stats.pcr_only_packets += 1;
    }

    /// Cuts a PES into packets: `flags` go into the first packet's adaptation field, the last
    /// packet is filled with adaptation-field stuffing.
    fn write_payload(&mut self, pid: u16, flags: AfFlags, mut data: &[u8]) {
        let mut first = true;
        while first || !data.is_empty() {
            let mut packet = [0xffu8; PACKET_LEN];
            let wanted = if first { flags.len() } else { 0 };
            let af_len = wanted.max(BODY_LEN.saturating_sub(data.len()));
            let take = (BODY_LEN - af_len).min(data.len());
            let cc = self.next_cc(pid);
            let control = if af_len > 0 { 0b11 } else { 0b01 };
            packet[..4].copy_from_slice(&packet_header(pid, first, control, cc));
            if af_len > 0 {
                // adaptation_field_length counts the bytes after itself.
                packet[4] = (af_len - 1) as u8;
                if af_len > 1 {
                    let f = if first { flags } else { AfFlags::default() };
                    packet[5] = f.flags_byte();
                    if let Some(pcr) = f.pcr {
                        packet[6..12].copy_from_slice(&encode_pcr(pcr));
                    }
                }
            }
            let start = 4 + af_len;
            packet[start..start + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            self.emit(&packet);
            first = false;
        }
    }

    fn next_cc(&mut self, pid: u16) -> u8 {
        let slot = &mut self.cc[cc_slot(pid)];
        let cc = *slot;
        *slot = (cc + 1) & 0x0f;
        cc
    }

    fn emit(&mut self, packet: &[u8; PACKET_LEN]) {
        self.out.extend_from_slice(packet);
        self.stats.packets += 1;
    }
}

/// The adaptation field of a PES's first packet.
#[derive(Clone, Copy, Debug, Default)]
struct AfFlags {
    pcr: Option<i64>,
    random_access: bool,
    discontinuity: bool,
}

impl AfFlags {
    /// The adaptation field's length with its length byte; 0 when none is needed.
    fn len(&self) -> usize {
        if self.pcr.is_none() && !self.random_access && !self.discontinuity {
            0
        } else {
            2 + if self.pcr.is_some() { 6 } else { 0 }
        }
    }

    fn flags_byte(&self) -> u8 {
        u8::from(self.discontinuity) << 7
            | u8::from(self.random_access) << 6
            | u8::from(self.pcr.is_some()) << 4
    }
}

fn cc_slot(pid: u16) -> usize {
    match pid {
        PID_PAT => 0,
        PID_PMT => 1,
        PID_VIDEO => 2,
        _ => 3,
    }
}

/// The 4-byte packet header (2.4.3.2): no error, no priority, not scrambled.
fn packet_header(pid: u16, pusi: bool, control: u8, cc: u8) -> [u8; 4] {
    [
        SYNC_BYTE,
        u8::from(pusi) << 6 | ((pid >> 8) as u8 & 0x1f),
        pid as u8,
        control << 4 | (cc & 0x0f),
    ]
}

/// program_clock_reference (2.4.3.5): 33-bit base in 90 kHz, 6 reserved bits, 9-bit
/// extension (0: the PCR is a whole number of 90 kHz ticks).
fn encode_pcr(ticks: i64) -> [u8; 6] {
    let base = ticks.rem_euclid(WRAP) as u64;
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        ((base & 1) as u8) << 7 | 0x7e,
        0x00,
    ]
}

/// A long-form PSI section (2.4.4.4) with one section, current, and its CRC_32.
fn section(table_id: u8, id: u16, version: u8, body: &[u8]) -> Vec<u8> {
    // id (2), version (1), section_number, last_section_number, body, CRC_32 (4).
    let length = 5 + body.len() + 4;
    let mut s = Vec::with_capacity(3 + length);
    s.push(table_id);
    // section_syntax_indicator 1, '0', reserved '11', 12-bit section_length.
    s.push(0xb0 | ((length >> 8) as u8 & 0x0f));
    s.push(length as u8);
    s.extend_from_slice(&id.to_be_bytes());
    s.push(0xc0 | (version & 0x1f) << 1 | 1);
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// A PES header (2.4.3.6) with data_alignment_indicator set, the PTS and a DTS when given
/// (ticks, written modulo 2^33). `PES_packet_length` is the real length, or 0 for a video PES
/// longer than the 16-bit field; `None` for an audio PES that long.
fn pes_header(
    stream_id: u8,
    pts: i64,
    dts: Option<i64>,
    es_len: usize,
    video: bool,
) -> Option<Vec<u8>> {
    let fields = if dts.is_some() { 10 } else { 5 };
    let length = 3 + fields + es_len;
    let length = match u16::try_from(length) {
        Ok(l) => l,
        Err(_) if video => 0,
        Err(_) => return None,
    };
    let mut h = Vec::with_capacity(9 + fields);
    h.extend_from_slice(&[0, 0, 1, stream_id]);
    h.extend_from_slice(&length.to_be_bytes());
    // '10', not scrambled, no priority, data_alignment_indicator 1, no copyright, copy.
    h.push(0x84);
    h.push(if dts.is_some() { 0xc0 } else { 0x80 });
    h.push(fields as u8);
    let raw = |t: i64| t.rem_euclid(WRAP) as u64;
    match dts {
        Some(dts) => {
            h.extend_from_slice(&encode_timestamp(0b0011, raw(pts)));
            h.extend_from_slice(&encode_timestamp(0b0001, raw(dts)));
        }
        None => h.extend_from_slice(&encode_timestamp(0b0010, raw(pts))),
    }
    Some(h)
}

/// The video configuration of a sequence header: the record parsed, its parameter sets in
/// Annex B.
fn video_config(codec: Codec, record: &[u8]) -> Result<Video, CodecError> {
    let mut parameter_sets = Vec::new();
    let mut push = |nals: &mut dyn Iterator<Item = &Bytes>| {
        let mut any = false;
        for nal in nals.filter(|n| !n.is_empty()) {
            parameter_sets.extend_from_slice(&START_CODE);
            parameter_sets.extend_from_slice(nal);
            any = true;
        }
        any
    };
    let (nal_length_size, complete) = if codec == Codec::H265 {
        let r = HevcDecoderConfig::parse(record)?;
        let vps = push(&mut r.nals_of_type(hevc::NAL_VPS));
        let sps = push(&mut r.nals_of_type(hevc::NAL_SPS));
        let pps = push(&mut r.nals_of_type(hevc::NAL_PPS));
        (r.nal_length_size, vps && sps && pps)
    } else {
        let r = AvcDecoderConfig::parse(record)?;
        let sps = push(&mut r.sps.iter());
        let pps = push(&mut r.pps.iter());
        if let Some(ext) = &r.high_profile {
            push(&mut ext.sps_ext.iter());
        }
        (r.nal_length_size, sps && pps)
    };
    if !complete {
        return Err(CodecError::Truncated(
            "parameter sets (the record lacks one)",
        ));
    }
    Ok(Video {
        codec,
        nal_length_size,
        parameter_sets,
    })
}

fn video_codec_name(codec: VideoCodec) -> String {
    match codec {
        VideoCodec::Avc => "H.264".into(),
        VideoCodec::Hevc => "H.265".into(),
        VideoCodec::Av1 => "AV1".into(),
        VideoCodec::Vp9 => "VP9".into(),
        VideoCodec::Vp8 => "VP8".into(),
        // FLV spec E.4.3.1 CodecID.
        VideoCodec::Legacy(2) => "Sorenson H.263".into(),
        VideoCodec::Legacy(3) => "Screen video".into(),
        VideoCodec::Legacy(4) => "On2 VP6".into(),
        VideoCodec::Legacy(5) => "On2 VP6 with alpha".into(),
        VideoCodec::Legacy(6) => "Screen video version 2".into(),
        VideoCodec::Legacy(id) => format!("FLV video CodecID {id}"),
        VideoCodec::FourCc(cc) => format!("FourCC {}", String::from_utf8_lossy(&cc)),
    }
}

fn audio_codec_name(codec: AudioCodec) -> String {
    match codec {
        AudioCodec::Aac => "AAC".into(),
        AudioCodec::Mp3 => "MP3".into(),
        AudioCodec::Opus => "Opus".into(),
        // FLV spec E.4.2.1 SoundFormat.
        AudioCodec::Legacy(0) => "linear PCM".into(),
        AudioCodec::Legacy(1) => "ADPCM".into(),
        AudioCodec::Legacy(3) => "linear PCM, little endian".into(),
        AudioCodec::Legacy(4..=6) => "Nellymoser".into(),
        AudioCodec::Legacy(7) => "G.711 A-law".into(),
        AudioCodec::Legacy(8) => "G.711 mu-law".into(),
        AudioCodec::Legacy(11) => "Speex".into(),
        AudioCodec::Legacy(15) => "device-specific sound".into(),
        AudioCodec::Legacy(id) => format!("FLV SoundFormat {id}"),
        AudioCodec::FourCc(cc) => format!("FourCC {}", String::from_utf8_lossy(&cc)),
    }
}

#[cfg(test)]
mod tests;
