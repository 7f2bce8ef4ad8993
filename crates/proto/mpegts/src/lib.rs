//! MPEG-TS (ISO/IEC 13818-1, "H.222.0") both ways, sans-IO.
//!
//! **Demuxing** ([`Demuxer`]): transport stream bytes in, in any pieces; access units, decoder
//! configuration records and notes about what was skipped or lost out.
//!
//! ```text
//! bytes ─▶ sync (0x47 every 188 bytes) ─▶ PID ─┬─ 0x0000 PAT ─▶ PMT PID of the first program
//!                                              ├─ PMT ─▶ elementary streams (carried or skipped)
//!                                              └─ ES ─▶ PES ─▶ H.264/H.265 → AVCC + record
//!                                                            AAC ADTS → raw AAC + ASC
//!                                                            MP3 → MP3 frames
//! ```
//!
//! Video samples come out in the form FLV, RTMP and MP4 carry (4-byte NAL unit lengths, the
//! parameter sets in a [`Config`] record; [`AccessUnit::data`] says which NAL units stay);
//! timestamps are unwrapped from 33 bits onto one i64 90 kHz timeline per program.
//!
//! Only the first program of the PAT is demuxed. Memory is bounded: at most
//! [`MAX_STREAMS`] carried streams, each with one PES of at most
//! [`DemuxerConfig::max_pes_bytes`] in reassembly, under three packets of input kept between
//! calls, and the events of one [`Demuxer::push`] queued until polled.
//!
//! **Muxing** ([`TsMuxer`]): the inverse, for SRT (and any TS) destinations. Frames as the
//! relay carries them (FLV tag bodies: H.264/H.265 with their records, AAC with its
//! AudioSpecificConfig, MP3; millisecond DTS, composition time in the body) in; whole
//! 188-byte packets out, in 1316-byte chunks ([`TsMuxer::poll_chunk`], one SRT payload each)
//! or as a byte stream ([`TsMuxer::poll_bytes`]). One program: PAT/PMT every
//! [`PSI_INTERVAL_MS`] and before keyframes, the PCR at most [`PCR_INTERVAL_MS`] apart,
//! Annex B access units with an AUD and the parameter sets before keyframes, ADTS, MP3 as
//! is. What TS cannot carry is refused by name ([`MuxError::Unsupported`]). The muxer's
//! output demuxes back to the same frames (tested through `baton_net::ts::TsFrames`) and is
//! checked with ffprobe and ffmpeg (`tests/ffprobe.rs`, run by `interop/run`).

mod audio;
mod demux;
mod mux;
mod packet;
mod pes;
mod psi;
mod stream;
mod timestamp;
mod video;

pub use demux::{DemuxStats, Demuxer, DemuxerConfig};
pub use mux::{
    CHUNK_LEN, CHUNK_PACKETS, MAX_JUMP_MS, MuxError, MuxStats, MuxerConfig, PCR_INTERVAL_MS,
    PID_AUDIO, PID_PMT, PID_VIDEO, PSI_INTERVAL_MS, TsMuxer,
};

use bytes::Bytes;

/// The TS packet length (13818-1 2.4.3.2).
pub const PACKET_LEN: usize = 188;
/// The sync_byte every packet starts with.
pub const SYNC_BYTE: u8 = 0x47;
/// The most elementary streams carried at once; further ones are skipped (and named).
pub const MAX_STREAMS: usize = 8;
/// Ticks per second of PTS, DTS and every timestamp here.
pub const TIMESCALE: i64 = 90_000;

/// What an elementary stream is to a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    /// Video: H.264 or H.265.
    Video,
    /// Audio: AAC or MP3.
    Audio,
}

impl std::fmt::Display for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Track::Video => "video",
            Track::Audio => "audio",
        })
    }
}

/// The codecs Baton carries out of MPEG-TS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC (stream_type 0x1B).
    H264,
    /// H.265 / HEVC (stream_type 0x24).
    H265,
    /// AAC in ADTS (stream_type 0x0F).
    Aac,
    /// MPEG-1/2 audio layer III (stream_type 0x03 / 0x04).
    Mp3,
}

impl Codec {
    /// The track this codec belongs to.
    pub fn track(self) -> Track {
        match self {
            Codec::H264 | Codec::H265 => Track::Video,
            Codec::Aac | Codec::Mp3 => Track::Audio,
        }
    }

    /// The codec of a PMT stream_type (13818-1 Table 2-34), when Baton carries it.
    pub fn from_stream_type(stream_type: u8) -> Option<Codec> {
        match stream_type {
            0x1b => Some(Codec::H264),
            0x24 => Some(Codec::H265),
            0x0f => Some(Codec::Aac),
            0x03 | 0x04 => Some(Codec::Mp3),
            _ => None,
        }
    }
}

/// One access unit: a video picture or one audio frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    /// The elementary stream's PID.
    pub pid: u16,
    /// Video or audio.
    pub track: Track,
    /// The codec of `data`.
    pub codec: Codec,
    /// Presentation time, 90 kHz ticks on the unwrapped timeline (may be negative only if the
    /// stream steps back across the 2^33 wrap point from its first timestamp).
    pub pts: i64,
    /// Decoding time, 90 kHz ticks; the PTS when the PES carried no DTS. Audio: equal to `pts`.
    pub dts: i64,
    /// Video: decoding can start here — the picture is IDR (H.264) or IRAP (H.265), or the
    /// source set random_access_indicator on a PES that carries an SPS (an open-GOP I
    /// picture). Audio: always true.
    pub keyframe: bool,
    /// The adaptation field's random_access_indicator was set on the PES's first packet.
    pub random_access: bool,
    /// H.264/H.265: NAL units each behind a 4-byte big-endian length, without access unit
    /// delimiters, filler data or the parameter sets announced by [`Event::Config`]. AAC: one
    /// raw frame, ADTS header removed. MP3: one frame, header included.
    pub data: Bytes,
}

/// A decoder configuration, announced before the first access unit that needs it and again
/// whenever it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The elementary stream's PID.
    pub pid: u16,
    /// Video or audio.
    pub track: Track,
    /// H.264: AVCDecoderConfigurationRecord; H.265: HEVCDecoderConfigurationRecord
    /// (ISO/IEC 14496-15, 4-byte NAL lengths); AAC: AudioSpecificConfig (ISO/IEC 14496-3
    /// 1.6.2.1). MP3 needs none.
    pub codec: Codec,
    /// The record's bytes.
    pub record: Bytes,
}

/// What the demuxer found, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A PMT listed a stream Baton carries (again, if a new PMT version changed its type).
    StreamAdded {
        /// Its PID.
        pid: u16,
        /// Its codec.
        codec: Codec,
    },
    /// A stream Baton cannot carry is ignored; reported once per PID and stream type.
    StreamSkipped {
        /// Its PID.
        pid: u16,
        /// Its stream_type in the PMT.
        stream_type: u8,
        /// What it is, e.g. "SCTE-35", "teletext", "MPEG audio layer II".
        name: &'static str,
    },
    /// A decoder configuration record for the stream's following access units.
    Config(Config),
    /// An access unit.
    Unit(AccessUnit),
    /// The stream on `pid` is not continuous here.
    Discontinuity {
        /// The PID.
        pid: u16,
        /// Why.
        cause: Discontinuity,
    },
    /// Something was read and thrown away.
    Dropped {
        /// The PID it came on.
        pid: u16,
        /// What and why.
        reason: DropReason,
    },
    /// The input lost packet alignment; `skipped` bytes were thrown away before the next
    /// position where sync bytes repeat every 188 bytes.
    SyncLost {
        /// Bytes skipped.
        skipped: u64,
    },
}

/// Why a stream is not continuous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discontinuity {
    /// The continuity_counter skipped (2.4.3.3): packets were lost. The PES in progress on the
    /// PID is dropped and demuxing resumes at the next payload_unit_start_indicator.
    ContinuityError {
        /// The counter expected.
        expected: u8,
        /// The counter found.
        found: u8,
    },
    /// The adaptation field's discontinuity_indicator (2.4.3.5): the source says its counter
    /// or time base restarts here. Timestamps may jump.
    Signalled,
}

/// Why data was thrown away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A PAT or PMT section failed its CRC_32 or was malformed.
    BadSection(&'static str),
    /// A PES header was malformed.
    BadPesHeader,
    /// A PES grew past the limit before it ended; the rest up to the next PES start is
    /// skipped.
    PesTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A PES with a declared length ended (a new one started) before that length arrived.
    PesTruncated,
    /// A PES with no PTS to place its access unit (or audio frames with no earlier PTS).
    NoTimestamp,
    /// The access unit's parameter sets do not make a configuration record; the previous
    /// record stays in force.
    BadParameterSets(String),
    /// A video access unit came before any configuration record; no decoder could use it.
    BeforeConfig,
    /// Bytes in an audio PES that were not ADTS or MPEG audio frames were skipped.
    BadAudioFrames,
    /// The packet's payload is scrambled (transport_scrambling_control ≠ 0); reported once
    /// per PID.
    Scrambled,
}

#[cfg(test)]
mod tests;
