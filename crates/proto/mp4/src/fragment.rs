//! Fragmented MP4 (ISO/IEC 14496-12 8.8, CMAF): an initialisation segment (`ftyp` + `moov`
//! with `mvex`) describes the tracks; each media segment (`styp`? `sidx`? then `moof` + `mdat`
//! pairs) carries samples. What HLS calls fMP4 segments (EXT-X-MAP, RFC 8216 §3.3).
//!
//! # Calling order
//!
//! 1. [`InitSegment::parse`] the initialisation segment (the EXT-X-MAP resource): the tracks
//!    used (the first H.264/HEVC video and the first AAC audio, as for [`crate::Movie`]), their
//!    timescales, decoder configurations, edit lists and `trex` defaults.
//! 2. Make a [`FragmentReader`] of it and give it each media segment, whole, in order
//!    ([`FragmentReader::parse`]): the samples of every `moof`, merged across tracks by DTS
//!    (video first at equal DTS), each with its byte range in the segment.
//!
//! # Samples
//!
//! Per `traf` (8.8.6–8.8.8, 8.8.12): the track (`tfhd` track_ID; tracks not used are
//! skipped), the base data offset (`tfhd` base-data-offset, else the `moof`'s first byte —
//! `default-base-is-moof`, and what 8.8.7.1 says for the first `traf` — else the end of the
//! previous `traf`'s data), the decode time of the first sample (`tfdt`; without one, where
//! the previous fragment of the track ended). Per `trun`: the data offset, and per sample the
//! duration, size, flags and composition offset — each from the `trun` when present, else
//! the `tfhd` default, else the `trex` default (8.8.3). A sample is a keyframe unless its
//! flags say `sample_is_non_sync_sample` (8.8.3.1). Composition offsets are signed in
//! `trun` version 1 (and read as signed in version 0 too, as ffmpeg does).
//!
//! # Timestamps
//!
//! As for a [`crate::Movie`]: each decode and presentation time is converted to milliseconds
//! on its own, through the track's edit list (leading empty edits delay the track, the first
//! media edit's `media_time` is its zero). With negative composition offsets, decode times
//! move earlier by the largest negative offset seen so far on the track (ffmpeg's
//! `dts_shift`), so that PTS ≥ DTS; a fragment's samples are all read before any is
//! converted, so the first fragment's offsets already count. Times are absolute (`tfdt`), so
//! consecutive segments continue one timeline.
//!
//! Bounded: at most [`MAX_FRAGMENT_SAMPLES`] samples a segment; every sample's range is
//! checked against the segment's bytes.

use std::ops::Range;

use crate::header::{BoxHeader, Children, Reader, find, require};
use crate::movie::{
    Codec, EditList, MoovBoxes, SkippedTrack, TrackKind, TrakMedia, parse_mvhd, parse_tkhd,
    parse_trak_media,
};
use crate::sample::{FlvPrefix, Timing};
use crate::{FourCc, MAX_MOOV_SIZE, Mp4Error};

/// The most samples one media segment may hold (all tracks): far above a 10 s segment of
/// 120 fps video with 48 kHz audio (about 1,700).
pub const MAX_FRAGMENT_SAMPLES: usize = 100_000;

/// `sample_is_non_sync_sample` in sample flags (14496-12 8.8.3.1).
const NON_SYNC: u32 = 0x0001_0000;

/// Per-sample defaults (`trex`, overridden per fragment by `tfhd`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// A track of an initialisation segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentedTrack {
    /// `tkhd` track_ID (what `tfhd` names).
    pub id: u32,
    pub kind: TrackKind,
    pub codec: Codec,
    /// The sample entry type: `avc1`, `avc3`, `hvc1`, `hev1` or `mp4a`.
    pub sample_entry: [u8; 4],
    /// `mdhd` timescale (units per second), never 0.
    pub timescale: u32,
    /// Video (0 for audio).
    pub width: u16,
    pub height: u16,
    /// Audio (0 for video), as [`crate::Track`] says.
    pub sample_rate: u32,
    pub channels: u16,
    /// The `avcC` / `hvcC` payload, or AAC's AudioSpecificConfig.
    pub config: Vec<u8>,
    pub edit_list: EditList,
    defaults: Defaults,
    timing: Timing,
}

impl FragmentedTrack {
    /// The FLV tag body carrying the decoder configuration (see
    /// [`crate::Track::flv_sequence_header`]).
    pub fn flv_sequence_header(&self) -> Vec<u8> {
        self.codec.flv_sequence_header(&self.config)
    }
}

/// A parsed initialisation segment: the tracks used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSegment {
    /// The first supported video track and the first supported audio track, in file order
    /// (at least one).
    pub tracks: Vec<FragmentedTrack>,
    skipped: Vec<SkippedTrack>,
}

impl InitSegment {
    /// Parses an initialisation segment: top-level boxes up to and including `moov` (at most
    /// [`MAX_MOOV_SIZE`] bytes are read).
    pub fn parse(data: &[u8]) -> Result<InitSegment, Mp4Error> {
        let data = &data[..data.len().min(MAX_MOOV_SIZE as usize)];
        let moov = find(data, "init segment", b"moov")?.ok_or(Mp4Error::Missing {
            kind: "moov",
            parent: "init segment",
        })?;
        let boxes = MoovBoxes::parse(moov)?;
        let movie_timescale = parse_mvhd(boxes.mvhd)?;
        let mvex = boxes.mvex.ok_or(Mp4Error::Missing {
            kind: "mvex",
            parent: "moov",
        })?;
        let traks = boxes.traks;
        let mut tracks: Vec<FragmentedTrack> = Vec::new();
        let mut skipped = Vec::new();
        for (i, trak) in traks.into_iter().enumerate() {
            let ordinal = i as u32 + 1;
            let id = require(trak, "trak", "tkhd")
                .and_then(parse_tkhd)
                .map_err(|e| e.in_track(ordinal))?;
            match parse_track(trak, id, movie_timescale, &tracks).map_err(|e| e.in_track(id))? {
                Ok(track) => tracks.push(track),
                Err(s) => skipped.push(s),
            }
        }
        for child in Children::new(mvex, "mvex") {
            let (kind, payload) = child?;
            if &kind == b"trex" {
                let (id, defaults) = parse_trex(payload)?;
                if let Some(track) = tracks.iter_mut().find(|t| t.id == id) {
                    track.defaults = defaults;
                }
            }
        }
        if tracks.is_empty() {
            let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            return Err(Mp4Error::NoSupportedTrack(if reasons.is_empty() {
                "no tracks".into()
            } else {
                reasons.join("; ")
            }));
        }
        Ok(InitSegment { tracks, skipped })
    }

    pub fn video(&self) -> Option<&FragmentedTrack> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Video)
    }

    pub fn audio(&self) -> Option<&FragmentedTrack> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Audio)
    }

    /// The tracks not used, with the reasons.
    pub fn skipped_tracks(&self) -> &[SkippedTrack] {
        &self.skipped
    }
}

/// One sample of a media segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentSample {
    pub kind: TrackKind,
    pub codec: Codec,
    /// Decode time, ms (see the module docs; may be negative).
    pub dts_ms: i64,
    /// PTS − DTS, ms.
    pub cts_ms: i32,
    pub keyframe: bool,
    /// Where the sample's bytes are in the segment given to [`FragmentReader::parse`].
    pub range: Range<usize>,
    pub duration_ms: u32,
}

impl FragmentSample {
    /// The FLV tag-body header to put before the sample's bytes (see
    /// [`crate::Sample::flv_prefix`]).
    pub fn flv_prefix(&self) -> FlvPrefix {
        self.codec.flv_prefix(self.keyframe, self.cts_ms)
    }
}

/// Reads the media segments of one initialisation segment, in order. See the module docs.
#[derive(Clone, Debug)]
pub struct FragmentReader {
    init: InitSegment,
    /// Per track (as `init.tracks`): where its last fragment ended (track units), and the
    /// DTS shift in force (the largest negative composition offset seen).
    state: Vec<TrackState>,
}

#[derive(Clone, Copy, Debug, Default)]
struct TrackState {
    next_dts: Option<u64>,
    shift: u32,
}

/// A sample before conversion to milliseconds.
struct RawSample {
    track: usize,
    dts: u64,
    offset: i64,
    duration: u32,
    keyframe: bool,
    range: Range<usize>,
}

impl FragmentReader {
    pub fn new(init: InitSegment) -> FragmentReader {
        let state = vec![TrackState::default(); init.tracks.len()];
        FragmentReader { init, state }
    }

    pub fn init(&self) -> &InitSegment {
        &self.init
    }

    /// The samples of a whole media segment, merged by DTS (video first at equal DTS).
    pub fn parse(&mut self, segment: &[u8]) -> Result<Vec<FragmentSample>, Mp4Error> {
        let mut raw = Vec::new();
        let mut pos = 0usize;
        while pos < segment.len() {
            let header =
                BoxHeader::parse(&segment[pos..])?.ok_or(Mp4Error::Truncated("media segment"))?;
            let available = (segment.len() - pos) as u64;
            let size = match header.size {
                Some(size) if size > available => {
                    if &header.kind == b"mdat" {
                        // Sample ranges are checked one by one.
                        available
                    } else {
                        return Err(Mp4Error::BoxOverrun {
                            kind: FourCc(header.kind),
                            parent: "media segment",
                            size,
                            available,
                        });
                    }
                }
                Some(size) => size,
                None => available,
            };
            // size <= available, a usize.
            let end = pos + size as usize;
            if &header.kind == b"moof" {
                let body = &segment[pos + usize::from(header.header_len)..end];
                self.moof(body, pos, segment.len(), &mut raw)?;
            }
            pos = end;
        }
        Ok(self.convert(raw))
    }

    /// The samples of one `moof` starting at `moof_start` in a segment of `len` bytes.
    fn moof(
        &mut self,
        body: &[u8],
        moof_start: usize,
        len: usize,
        out: &mut Vec<RawSample>,
    ) -> Result<(), Mp4Error> {
        // Without an explicit base, the first traf's data starts at the moof, a later one's
        // after the previous traf's data (8.8.7.1).
        let mut data_end = moof_start as u64;
        for child in Children::new(body, "moof") {
            let (kind, traf) = child?;
            if &kind != b"traf" {
                continue;
            }
            let tfhd = parse_tfhd(require(traf, "traf", "tfhd")?)?;
            let Some(index) = self.init.tracks.iter().position(|t| t.id == tfhd.track) else {
                continue;
            };
            let track = &self.init.tracks[index];
            let defaults = Defaults {
                duration: tfhd.duration.unwrap_or(track.defaults.duration),
                size: tfhd.size.unwrap_or(track.defaults.size),
                flags: tfhd.flags.unwrap_or(track.defaults.flags),
            };
            let base = match tfhd.base {
                Some(base) => base,
                None if tfhd.base_is_moof => moof_start as u64,
                None => data_end,
            };
            let mut dts = match find(traf, "traf", b"tfdt")? {
                Some(tfdt) => parse_tfdt(tfdt)?,
                None => self.state[index].next_dts.unwrap_or(0),
            };
            let mut cursor = base;
            for child in Children::new(traf, "traf") {
                let (kind, trun) = child?;
                if &kind != b"trun" {
                    continue;
                }
                let mut r = Reader::new(trun, "trun");
                let (_version, flags) = r.full_box()?;
                let count = r.u32()? as usize;
                if out.len().saturating_add(count) > MAX_FRAGMENT_SAMPLES {
                    return Err(Mp4Error::Limit {
                        what: "samples in a media segment",
                        value: (out.len() as u64).saturating_add(count as u64),
                        max: MAX_FRAGMENT_SAMPLES as u64,
                    });
                }
                if flags & 0x1 != 0 {
                    let offset = i64::from(r.i32()?);
                    cursor = base.checked_add_signed(offset).ok_or(Mp4Error::Invalid {
                        field: "trun data_offset",
                        value: i128::from(base) + i128::from(offset),
                    })?;
                }
                let first_flags = if flags & 0x4 != 0 {
                    Some(r.u32()?)
                } else {
                    None
                };
                for i in 0..count {
                    let duration = if flags & 0x100 != 0 {
                        r.u32()?
                    } else {
                        defaults.duration
                    };
                    let size = if flags & 0x200 != 0 {
                        r.u32()?
                    } else {
                        defaults.size
                    };
                    let mut sample_flags = if flags & 0x400 != 0 {
                        r.u32()?
                    } else {
                        defaults.flags
                    };
                    if i == 0
                        && let Some(f) = first_flags
                    {
                        sample_flags = f;
                    }
                    let offset = if flags & 0x800 != 0 {
                        i64::from(r.i32()?)
                    } else {
                        0
                    };
                    let start = cursor;
                    let end = start.saturating_add(u64::from(size));
                    if end > len as u64 {
                        return Err(Mp4Error::Invalid {
                            field: "sample end offset",
                            value: i128::from(end),
                        });
                    }
                    cursor = end;
                    out.push(RawSample {
                        track: index,
                        dts,
                        offset,
                        duration,
                        keyframe: sample_flags & NON_SYNC == 0,
                        // end <= len, a usize.
                        range: start as usize..end as usize,
                    });
                    dts = dts.saturating_add(u64::from(duration));
                }
            }
            data_end = cursor;
            self.state[index].next_dts = Some(dts);
        }
        Ok(())
    }

    /// Milliseconds, merged by DTS.
    fn convert(&mut self, raw: Vec<RawSample>) -> Vec<FragmentSample> {
        for s in &raw {
            if s.offset < 0 {
                let state = &mut self.state[s.track];
                state.shift = state
                    .shift
                    .max(u32::try_from(s.offset.unsigned_abs()).unwrap_or(u32::MAX));
            }
        }
        let mut out: Vec<FragmentSample> = raw
            .into_iter()
            .map(|s| {
                let track = &self.init.tracks[s.track];
                let timing = Timing {
                    dts_shift: self.state[s.track].shift,
                    ..track.timing
                };
                let times = timing.times(s.dts, s.offset, s.duration);
                FragmentSample {
                    kind: track.kind,
                    codec: track.codec,
                    dts_ms: times.dts_ms,
                    cts_ms: times.cts_ms,
                    keyframe: s.keyframe || track.kind == TrackKind::Audio,
                    range: s.range,
                    duration_ms: times.duration_ms,
                }
            })
            .collect();
        out.sort_by_key(|s| (s.dts_ms, s.kind != TrackKind::Video));
        out
    }
}

/// A track of the init segment, or why it is not used.
fn parse_track(
    trak: &[u8],
    id: u32,
    movie_timescale: u32,
    used: &[FragmentedTrack],
) -> Result<Result<FragmentedTrack, SkippedTrack>, Mp4Error> {
    let first_used = |kind| used.iter().find(|t| t.kind == kind).map(|t| t.id);
    let media = match parse_trak_media(trak, id, first_used)? {
        Ok(media) => media,
        Err(skipped) => return Ok(Err(skipped)),
    };
    let TrakMedia {
        kind,
        timescale,
        info,
        ..
    } = media;
    let edit_list = EditList::of_trak(trak)?;
    Ok(Ok(FragmentedTrack {
        id,
        kind,
        codec: info.codec,
        sample_entry: info.fourcc,
        timescale,
        width: info.width,
        height: info.height,
        sample_rate: info.sample_rate,
        channels: info.channels,
        config: info.config,
        edit_list,
        defaults: Defaults::default(),
        timing: Timing {
            timescale,
            movie_timescale,
            empty_duration: edit_list.empty_duration,
            media_time: edit_list.media_time,
            dts_shift: 0,
            origin_ms: 0,
        },
    }))
}

/// `trex` (8.8.3): track_ID and the sample defaults.
fn parse_trex(payload: &[u8]) -> Result<(u32, Defaults), Mp4Error> {
    let mut r = Reader::new(payload, "trex");
    r.full_box()?;
    let id = r.u32()?;
    r.u32()?; // default_sample_description_index
    Ok((
        id,
        Defaults {
            duration: r.u32()?,
            size: r.u32()?,
            flags: r.u32()?,
        },
    ))
}

/// What a `tfhd` (8.8.7) says.
struct Tfhd {
    track: u32,
    base: Option<u64>,
    base_is_moof: bool,
    duration: Option<u32>,
    size: Option<u32>,
    flags: Option<u32>,
}

fn parse_tfhd(payload: &[u8]) -> Result<Tfhd, Mp4Error> {
    let mut r = Reader::new(payload, "tfhd");
    let (_, flags) = r.full_box()?;
    let track = r.u32()?;
    let base = (flags & 0x1 != 0).then(|| r.u64()).transpose()?;
    if flags & 0x2 != 0 {
        r.u32()?; // sample_description_index
    }
    let duration = (flags & 0x8 != 0).then(|| r.u32()).transpose()?;
    let size = (flags & 0x10 != 0).then(|| r.u32()).transpose()?;
    let sample_flags = (flags & 0x20 != 0).then(|| r.u32()).transpose()?;
    Ok(Tfhd {
        track,
        base,
        base_is_moof: flags & 0x2_0000 != 0,
        duration,
        size,
        flags: sample_flags,
    })
}

/// `tfdt` (8.8.12) baseMediaDecodeTime.
fn parse_tfdt(payload: &[u8]) -> Result<u64, Mp4Error> {
    let mut r = Reader::new(payload, "tfdt");
    match r.full_box()? {
        (0, _) => Ok(u64::from(r.u32()?)),
        (1, _) => r.u64(),
        (version, _) => Err(Mp4Error::Version {
            kind: "tfdt",
            version,
        }),
    }
}
