//! MP4 (ISO/IEC 14496-12 ISO BMFF, non-fragmented) demuxing for playing files as a live
//! RTMP/FLV stream without transcoding: H.264 (`avc1`/`avc3` + `avcC`), HEVC (`hvc1`/`hev1` +
//! `hvcC`) and AAC (`mp4a` + `esds`). Sans-IO: the caller reads bytes (from disk or with HTTP
//! range requests); this crate says which bytes to read and what they are.
//!
//! # Calling order
//!
//! 1. Find `moov`: read 16 bytes at offset 0, [`BoxHeader::parse`] them; if the box is not
//!    `moov`, skip `size` bytes to the next top-level box and repeat (`moov` may come before or
//!    after `mdat`). A box with `size: None` extends to the end of the file.
//! 2. Check the `moov` size against [`MAX_MOOV_SIZE`], read the whole box (header included) and
//!    [`Movie::parse`] it. Unsupported tracks are skipped with a reason
//!    ([`Movie::skipped_tracks`]); a movie without a supported audio or video track is an error.
//! 3. Send [`Movie::video_sequence_header`] / [`Movie::audio_sequence_header`] as the first
//!    video/audio messages, then for every [`Sample`] of [`Movie::samples_from`]: read `size`
//!    bytes at `offset` and send [`Sample::flv_prefix`] followed by those bytes, timestamped
//!    `dts_ms`. MP4 sample bytes (length-prefixed NAL units, raw AAC frames) are what FLV
//!    carries. Samples of one chunk are contiguous in the file, so consecutive samples often
//!    make one range request. FLV cannot carry a tag body over 16 MiB − 1 bytes: a larger
//!    sample is the caller's to refuse.
//!
//! The cursor merges the tracks by DTS, video first at equal DTS (a GOP starts with its key
//! frame). It starts at the video key frame presented at or before the requested time, with
//! the audio from that key frame's DTS; without video, at the audio frame presented at or
//! before it.
//!
//! # Timestamps
//!
//! Per track, decode times are the exact cumulative `stts` sums in the track's timescale;
//! each is converted to milliseconds on its own (`units × 1000 / timescale`, rounded to the
//! nearest), so no rounding error accumulates. Composition offsets come from `ctts` (version 0
//! and 1 both read as signed, as ffmpeg does). The edit list is applied as players do in the
//! common cases (see [`EditList`]): leading empty edits delay the track, the first media
//! edit's `media_time` is the track's zero. This is ffprobe's timeline (`pts_time`/`dts_time`).
//! When some `ctts` offsets are negative, decode times are moved earlier by the largest negative
//! offset so that PTS ≥ DTS (ffmpeg's `dts_shift`, the ISO `cslg` compositionToDTSShift).
//!
//! Finally the whole movie (the tracks in use) is shifted so that the earliest *presented*
//! sample starts at 0 ms, where a sample is presented unless it ends before its track's edit
//! starts (ffprobe's `D`iscard flag: e.g. AAC encoder priming). Usually some track is
//! presented from the edit list's 0 (ffmpeg's files, unless every stream starts late): then
//! the shift is 0 and the timestamps equal ffprobe's. Samples before the start keep negative
//! timestamps (the decode lead of B-frames, AAC priming), which the caller's timeline rebases
//! like any other input. Relative A/V alignment is always ffprobe's.
//!
//! Not handled: more than one media segment in an edit list, edit durations that trim the end,
//! rates other than 1 (see [`EditList`]); sample descriptions that change mid-track (the track
//! is skipped); compressed `cmov`. Fragmented MP4 (`moof`, HLS fMP4/CMAF segments) is read
//! segment by segment by [`fragment`] instead.

mod entry;
pub mod fragment;
mod header;
mod movie;
mod sample;
mod table;

use std::fmt;

pub use fragment::{FragmentReader, FragmentSample, FragmentedTrack, InitSegment};
pub use header::BoxHeader;
pub use movie::{Codec, EditList, Movie, SkipReason, SkippedTrack, Track, TrackKind};
pub use sample::{FlvPrefix, OwnedSampleCursor, Sample, SampleCursor, TrackSamples};

/// Largest `moov` box [`Movie::parse`] accepts (64 MiB). Callers check the size from the box
/// header against it before reading the box.
pub const MAX_MOOV_SIZE: u64 = 64 << 20;

/// Most samples one track may have (10 million: over 46 hours of 60 fps video).
pub const MAX_SAMPLES_PER_TRACK: u32 = 10_000_000;

/// Most `trak` boxes in one movie.
pub const MAX_TRACKS: usize = 256;

/// A four-character code (box type, sample entry type, handler type), shown as text with
/// non-printable bytes escaped.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc(\"{self}\")")
    }
}

/// Errors from parsing MP4 data. Each names the box (and field) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Error {
    /// The input ended inside the named box or structure.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A box's size field is smaller than its own header.
    #[error("box '{kind}' declares {size} bytes, less than its {header_len}-byte header")]
    BoxTooSmall {
        kind: FourCc,
        size: u64,
        header_len: u8,
    },
    /// A child box's size field runs past the end of its parent.
    #[error("box '{kind}' of {size} bytes overruns its parent '{parent}' ({available} bytes left)")]
    BoxOverrun {
        kind: FourCc,
        parent: &'static str,
        size: u64,
        available: u64,
    },
    /// [`Movie::parse`] was given some other box.
    #[error("expected a 'moov' box, found '{0}'")]
    NotMoov(FourCc),
    /// A required box is absent.
    #[error("no '{kind}' box in '{parent}'")]
    Missing {
        kind: &'static str,
        parent: &'static str,
    },
    /// A box version this parser does not know.
    #[error("'{kind}' version {version} is not supported")]
    Version { kind: &'static str, version: u8 },
    /// A field holds a value that makes the file unusable (a zero timescale, a sample number
    /// out of range...).
    #[error("{field} has the invalid value {value}")]
    Invalid { field: &'static str, value: i128 },
    /// A count or size over one of this crate's limits (checked before allocating).
    #[error("{what} of {value} exceeds the limit of {max}")]
    Limit {
        what: &'static str,
        value: u64,
        max: u64,
    },
    /// A sample table describes fewer samples than `stsz`/`stz2` counts.
    #[error("'{table}' describes {described} samples, but the track has {samples}")]
    TableMismatch {
        table: &'static str,
        described: u64,
        samples: u32,
    },
    /// A sample whose end offset (its chunk's offset plus the sizes before it and its own)
    /// does not fit in 64 bits. `sample` is 1-based.
    #[error("sample {sample} ends beyond 2^64 bytes (chunk offset + sample sizes)")]
    OffsetOverflow { sample: u32 },
    /// A compressed movie header (QuickTime `cmov`).
    #[error("compressed movie header ('cmov') is not supported")]
    Compressed,
    /// A fragmented file (`mvex`): samples live in `moof` boxes, which are not read.
    #[error("fragmented MP4 ('mvex' in 'moov') is not supported")]
    Fragmented,
    /// No track is H.264/HEVC video or AAC audio; the reasons each track was skipped.
    #[error("no supported audio or video track ({0})")]
    NoSupportedTrack(String),
    /// An error inside one track.
    #[error("track {track}: {error}")]
    Track { track: u32, error: Box<Mp4Error> },
}

impl Mp4Error {
    pub(crate) fn in_track(self, track: u32) -> Mp4Error {
        Mp4Error::Track {
            track,
            error: Box::new(self),
        }
    }
}
