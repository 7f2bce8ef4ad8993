//! The movie box (`moov`, ISO/IEC 14496-12 8.2): `mvhd`, and per `trak` the header, edit list,
//! media header, handler, sample description and sample tables.

use std::fmt;

use baton_flv::body::{
    AAC_RAW_PREFIX, BodyVideoCodec, aac_sequence_header, video_frame_prefix, video_sequence_header,
};

use crate::entry::{Entry, EntryInfo, parse_stsd};
use crate::header::{BoxHeader, Children, Reader, find, require};
use crate::sample::{FlvPrefix, Timing};
use crate::table::{SampleTable, Walker};
use crate::{FourCc, MAX_MOOV_SIZE, MAX_TRACKS, Mp4Error};

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Video,
    Audio,
}

/// The codecs this crate remuxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 (`avc1`, `avc3`).
    Avc,
    /// H.265 (`hvc1`, `hev1`).
    Hevc,
    /// AAC (`mp4a` with an MPEG-4 or MPEG-2 AAC objectTypeIndication).
    Aac,
}

impl TrackKind {
    /// `video` or `audio`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        }
    }
}

impl Codec {
    pub fn kind(self) -> TrackKind {
        match self {
            Codec::Avc | Codec::Hevc => TrackKind::Video,
            Codec::Aac => TrackKind::Audio,
        }
    }

    /// The FLV tag body carrying the decoder configuration `config` (what
    /// [`Track::flv_sequence_header`] and [`crate::FragmentedTrack::flv_sequence_header`]
    /// send).
    pub(crate) fn flv_sequence_header(self, config: &[u8]) -> Vec<u8> {
        match self {
            Codec::Avc => video_sequence_header(BodyVideoCodec::Avc, config),
            Codec::Hevc => video_sequence_header(BodyVideoCodec::Hevc, config),
            Codec::Aac => aac_sequence_header(config),
        }
    }

    /// The FLV tag-body header before a sample's bytes (see [`crate::Sample::flv_prefix`]).
    pub(crate) fn flv_prefix(self, keyframe: bool, cts_ms: i32) -> FlvPrefix {
        match self {
            Codec::Avc => video_frame_prefix(BodyVideoCodec::Avc, keyframe, cts_ms),
            Codec::Hevc => video_frame_prefix(BodyVideoCodec::Hevc, keyframe, cts_ms),
            Codec::Aac => AAC_RAW_PREFIX,
        }
    }
}

/// What was taken from a track's edit list (`edts`/`elst`, 14496-12 8.6.6).
///
/// Applied, as players do for the common cases: the leading empty edits (`media_time` −1)
/// delay the track by `empty_duration`; the first media edit's `media_time` is the media time
/// presented at that point (ffmpeg writes the B-frame composition delay or the AAC priming
/// there). Not applied, and counted in `ignored_entries`: any entry after the first media edit
/// (a second segment, a trailing empty edit) and entries with a media_time below −1. The first
/// media edit's duration (which may trim the end) and rate are not applied either: the media
/// plays from `media_time` to its end at normal speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EditList {
    /// Sum of the leading empty edits, in the movie timescale (`mvhd`).
    pub empty_duration: u64,
    /// The first media edit's `media_time`, in the track's timescale; 0 without an edit list.
    pub media_time: i64,
    /// Entries not applied.
    pub ignored_entries: u32,
}

impl EditList {
    /// The edit list of a `trak` (`edts`/`elst`), the default (no edits) without one.
    pub(crate) fn of_trak(trak: &[u8]) -> Result<EditList, Mp4Error> {
        match find(trak, "trak", b"edts")? {
            Some(edts) => match find(edts, "edts", b"elst")? {
                Some(elst) => EditList::parse(elst),
                None => Ok(EditList::default()),
            },
            None => Ok(EditList::default()),
        }
    }

    pub(crate) fn parse(elst: &[u8]) -> Result<EditList, Mp4Error> {
        let mut r = Reader::new(elst, "elst");
        let (version, _) = r.full_box()?;
        let entry_len = match version {
            0 => 12,
            1 => 20,
            _ => {
                return Err(Mp4Error::Version {
                    kind: "elst",
                    version,
                });
            }
        };
        let entries = r.entry_count(entry_len)?;
        let mut edit = EditList::default();
        let mut media_seen = false;
        for _ in 0..entries {
            let (duration, media_time) = if version == 1 {
                (r.u64()?, r.i64()?)
            } else {
                (u64::from(r.u32()?), i64::from(r.i32()?))
            };
            r.skip(4)?; // media_rate_integer, media_rate_fraction
            if media_seen || media_time < -1 {
                edit.ignored_entries += 1;
            } else if media_time == -1 {
                edit.empty_duration = edit.empty_duration.saturating_add(duration);
            } else {
                edit.media_time = media_time;
                media_seen = true;
            }
        }
        Ok(edit)
    }
}

/// Why a track is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The handler is not `vide` or `soun` (subtitles, timecode, hints, metadata...).
    Handler(FourCc),
    /// A sample entry this crate does not remux (`mp4v`, `ac-3`, `Opus`, `av01`...).
    Codec(FourCc),
    /// `mp4a` carrying something other than AAC (its esds objectTypeIndication; 0x6b is MP3).
    AudioObjectType(u8),
    /// Encrypted samples (`encv`, `enca`).
    Encrypted(FourCc),
    /// The sample entry lacks the named decoder configuration.
    MissingConfig(&'static str),
    /// The handler and the sample entry disagree (a `soun` track with `avc1` samples).
    HandlerMismatch { handler: FourCc, entry: FourCc },
    /// Samples refer to more than one sample description (the parameters change mid-track).
    MultipleSampleDescriptions(u32),
    /// The track has no samples.
    NoSamples,
    /// An earlier supported track of the same kind is the one used.
    NotFirst { used: u32 },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Handler(h) => write!(f, "handler '{h}' is not audio or video"),
            SkipReason::Codec(c) => write!(f, "codec '{c}' is not supported"),
            SkipReason::AudioObjectType(t) => {
                write!(f, "'mp4a' with objectTypeIndication 0x{t:02x} is not AAC")
            }
            SkipReason::Encrypted(c) => write!(f, "encrypted ('{c}')"),
            SkipReason::MissingConfig(c) => write!(f, "no '{c}' in the sample entry"),
            SkipReason::HandlerMismatch { handler, entry } => {
                write!(f, "handler '{handler}' with sample entry '{entry}'")
            }
            SkipReason::MultipleSampleDescriptions(n) => {
                write!(f, "{n} sample descriptions in use")
            }
            SkipReason::NoSamples => write!(f, "no samples"),
            SkipReason::NotFirst { used } => write!(f, "track {used} of the same kind is used"),
        }
    }
}

/// A track that is not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedTrack {
    /// `tkhd` track_ID.
    pub id: u32,
    /// What its handler says it is (`vide`, `soun`); `None` for other handlers.
    pub kind: Option<TrackKind>,
    /// Its first sample entry's type (the codec: `Opus`, `av01`, `mp4a`...), when the track
    /// got that far.
    pub entry: Option<FourCc>,
    pub reason: SkipReason,
}

impl SkippedTrack {
    /// Whether skipping it loses audio or video a player would have presented: an audio or
    /// video track with samples (not subtitles, timecode, hints, nor an empty track).
    pub fn drops_media(&self) -> bool {
        self.kind.is_some() && self.reason != SkipReason::NoSamples
    }
}

/// `track 2 (audio 'Opus'): codec 'Opus' is not supported`.
impl fmt::Display for SkippedTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "track {}", self.id)?;
        match (self.kind, self.entry) {
            (Some(kind), Some(entry)) => write!(f, " ({} '{entry}')", kind.as_str())?,
            (Some(kind), None) => write!(f, " ({})", kind.as_str())?,
            (None, Some(entry)) => write!(f, " ('{entry}')")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.reason)
    }
}

/// A used track: its codec, decoder configuration and sample tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// `tkhd` track_ID.
    pub id: u32,
    pub kind: TrackKind,
    pub codec: Codec,
    /// The sample entry type: `avc1`, `avc3`, `hvc1`, `hev1` or `mp4a`.
    pub sample_entry: [u8; 4],
    /// `mdhd` timescale (units per second).
    pub timescale: u32,
    /// `mdhd` duration, in `timescale` units.
    pub media_duration: u64,
    pub sample_count: u32,
    /// Video: from the sample entry (0 for audio).
    pub width: u16,
    pub height: u16,
    /// Audio (0 for video): from the AudioSpecificConfig (the SBR rate with explicit SBR
    /// signalling), the sample entry's values where it says nothing (in MP4 those are
    /// template values: 2 channels, the container rate).
    pub sample_rate: u32,
    pub channels: u16,
    /// The decoder configuration: the `avcC` / `hvcC` payload, or AAC's AudioSpecificConfig
    /// (the esds DecoderSpecificInfo).
    pub config: Vec<u8>,
    pub edit_list: EditList,
    pub(crate) table: SampleTable,
    pub(crate) timing: Timing,
}

/// A parsed `moov`: the tracks used and their sample tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movie {
    /// `mvhd` timescale.
    pub timescale: u32,
    /// The tracks used, in file order: the first supported video track and the first
    /// supported audio track (at least one of them).
    pub tracks: Vec<Track>,
    /// From 0 to the end of the last sample of the used tracks, in ms.
    pub duration_ms: u64,
    skipped: Vec<SkippedTrack>,
}

enum TrakOutcome {
    Used(Box<Track>),
    Skipped(SkippedTrack),
}

impl Movie {
    /// Parses a complete `moov` box, header included (at most [`MAX_MOOV_SIZE`] bytes; bytes
    /// after the box's declared size are ignored).
    pub fn parse(moov: &[u8]) -> Result<Movie, Mp4Error> {
        if moov.len() as u64 > MAX_MOOV_SIZE {
            return Err(Mp4Error::Limit {
                what: "moov size",
                value: moov.len() as u64,
                max: MAX_MOOV_SIZE,
            });
        }
        let header = BoxHeader::parse(moov)?.ok_or(Mp4Error::Truncated("moov header"))?;
        if header.kind != *b"moov" {
            return Err(Mp4Error::NotMoov(FourCc(header.kind)));
        }
        let end = match header.size {
            None => moov.len(),
            Some(size) if size > moov.len() as u64 => return Err(Mp4Error::Truncated("moov")),
            // size <= moov.len(), a usize.
            Some(size) => size as usize,
        };
        let body = &moov[usize::from(header.header_len)..end];

        let boxes = MoovBoxes::parse(body)?;
        if boxes.mvex.is_some() {
            return Err(Mp4Error::Fragmented);
        }
        let timescale = parse_mvhd(boxes.mvhd)?;
        let traks = boxes.traks;

        let mut tracks: Vec<Track> = Vec::new();
        let mut skipped = Vec::new();
        for (i, trak) in traks.into_iter().enumerate() {
            match parse_trak(trak, i as u32 + 1, timescale, &tracks)? {
                TrakOutcome::Used(track) => tracks.push(*track),
                TrakOutcome::Skipped(s) => skipped.push(s),
            }
        }
        if tracks.is_empty() {
            let reasons: Vec<String> = skipped
                .iter()
                .map(|s| format!("track {}: {}", s.id, s.reason))
                .collect();
            let reasons = if reasons.is_empty() {
                "no tracks".to_string()
            } else {
                reasons.join("; ")
            };
            return Err(Mp4Error::NoSupportedTrack(reasons));
        }

        // One walk over each used track: checks every sample's end offset, and finds the
        // earliest presented time (the movie's 0) and the end.
        let mut origin: Option<i64> = None;
        let mut earliest_any = i64::MAX;
        let mut end = i64::MIN;
        for track in &tracks {
            let timing = &track.timing;
            let media_time = i128::from(track.edit_list.media_time);
            let mut first_presented: Option<i128> = None;
            let mut first_any = i128::MAX;
            let mut last_end = i128::MIN;
            let mut walked = 0u32;
            for s in Walker::new(&track.table) {
                walked += 1;
                let pts = i128::from(s.dts) + i128::from(s.composition_offset);
                let pts_end = pts + i128::from(s.delta);
                let presented = pts_end > media_time || (s.delta == 0 && pts >= media_time);
                if presented {
                    first_presented = Some(first_presented.map_or(pts, |p| p.min(pts)));
                }
                first_any = first_any.min(pts);
                last_end = last_end.max(pts_end);
            }
            if walked < track.sample_count {
                return Err(Mp4Error::OffsetOverflow { sample: walked + 1 }.in_track(track.id));
            }
            if let Some(p) = first_presented {
                let p = timing.ms(p);
                origin = Some(origin.map_or(p, |o| o.min(p)));
            }
            earliest_any = earliest_any.min(timing.ms(first_any));
            end = end.max(timing.ms(last_end));
        }
        let origin = origin.unwrap_or(earliest_any);
        for track in &mut tracks {
            track.timing.origin_ms = origin;
        }
        let duration_ms = u64::try_from(end.saturating_sub(origin)).unwrap_or(0);
        Ok(Movie {
            timescale,
            tracks,
            duration_ms,
            skipped,
        })
    }

    /// The video track used, if any.
    pub fn video(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Video)
    }

    /// The audio track used, if any.
    pub fn audio(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind == TrackKind::Audio)
    }

    /// The tracks not used, with the reasons.
    pub fn skipped_tracks(&self) -> &[SkippedTrack] {
        &self.skipped
    }

    /// The FLV video tag body of the sequence header (see [`Track::flv_sequence_header`]).
    pub fn video_sequence_header(&self) -> Option<Vec<u8>> {
        self.video().map(Track::flv_sequence_header)
    }

    /// The FLV audio tag body of the sequence header (see [`Track::flv_sequence_header`]).
    pub fn audio_sequence_header(&self) -> Option<Vec<u8>> {
        self.audio().map(Track::flv_sequence_header)
    }
}

impl Track {
    /// The FLV tag body carrying this track's decoder configuration: AVC
    /// `[0x17, 0x00, 0, 0, 0] + avcC`; HEVC as an Enhanced RTMP ex-header (key frame,
    /// PacketType SequenceStart, FourCC `hvc1`) `+ hvcC`; AAC `[0xAF, 0x00] +
    /// AudioSpecificConfig`.
    pub fn flv_sequence_header(&self) -> Vec<u8> {
        self.codec.flv_sequence_header(&self.config)
    }
}

/// The boxes of a `moov` body that both the progressive ([`Movie`]) and the fragmented
/// (`fragment::InitSegment`) parses read: the first `mvhd` (required), the first `mvex` (each
/// caller decides what one means) and every `trak`, at most [`MAX_TRACKS`] of them (more is a
/// `Limit` error, never a silent cut). A compressed `cmov` is refused.
pub(crate) struct MoovBoxes<'a> {
    pub(crate) mvhd: &'a [u8],
    pub(crate) mvex: Option<&'a [u8]>,
    pub(crate) traks: Vec<&'a [u8]>,
}

impl<'a> MoovBoxes<'a> {
    pub(crate) fn parse(body: &'a [u8]) -> Result<MoovBoxes<'a>, Mp4Error> {
        let mut mvhd = None;
        let mut mvex = None;
        let mut traks = Vec::new();
        for child in Children::new(body, "moov") {
            let (kind, payload) = child?;
            match &kind {
                b"mvhd" => {
                    mvhd.get_or_insert(payload);
                }
                b"mvex" => {
                    mvex.get_or_insert(payload);
                }
                b"trak" => {
                    if traks.len() == MAX_TRACKS {
                        return Err(Mp4Error::Limit {
                            what: "trak count",
                            value: MAX_TRACKS as u64 + 1,
                            max: MAX_TRACKS as u64,
                        });
                    }
                    traks.push(payload);
                }
                b"cmov" => return Err(Mp4Error::Compressed),
                _ => {}
            }
        }
        let mvhd = mvhd.ok_or(Mp4Error::Missing {
            kind: "mvhd",
            parent: "moov",
        })?;
        Ok(MoovBoxes { mvhd, mvex, traks })
    }
}

pub(crate) fn parse_mvhd(mvhd: &[u8]) -> Result<u32, Mp4Error> {
    let mut r = Reader::new(mvhd, "mvhd");
    let (version, _) = r.full_box()?;
    match version {
        0 => r.skip(8)?,
        1 => r.skip(16)?,
        _ => {
            return Err(Mp4Error::Version {
                kind: "mvhd",
                version,
            });
        }
    }
    let timescale = r.u32()?;
    if timescale == 0 {
        return Err(Mp4Error::Invalid {
            field: "mvhd timescale",
            value: 0,
        });
    }
    Ok(timescale)
}

pub(crate) fn parse_tkhd(tkhd: &[u8]) -> Result<u32, Mp4Error> {
    let mut r = Reader::new(tkhd, "tkhd");
    let (version, _) = r.full_box()?;
    match version {
        0 => r.skip(8)?,
        1 => r.skip(16)?,
        _ => {
            return Err(Mp4Error::Version {
                kind: "tkhd",
                version,
            });
        }
    }
    r.u32()
}

/// `mdhd` timescale and duration.
fn parse_mdhd(mdhd: &[u8]) -> Result<(u32, u64), Mp4Error> {
    let mut r = Reader::new(mdhd, "mdhd");
    let (version, _) = r.full_box()?;
    let (timescale, duration) = match version {
        0 => {
            r.skip(8)?;
            (r.u32()?, u64::from(r.u32()?))
        }
        1 => {
            r.skip(16)?;
            (r.u32()?, r.u64()?)
        }
        _ => {
            return Err(Mp4Error::Version {
                kind: "mdhd",
                version,
            });
        }
    };
    if timescale == 0 {
        return Err(Mp4Error::Invalid {
            field: "mdhd timescale",
            value: 0,
        });
    }
    Ok((timescale, duration))
}

fn parse_hdlr(hdlr: &[u8]) -> Result<[u8; 4], Mp4Error> {
    let mut r = Reader::new(hdlr, "hdlr");
    r.full_box()?;
    r.skip(4)?; // pre_defined
    r.fourcc()
}

/// What a `trak` of a [`Movie`] and of an initialisation segment
/// ([`crate::InitSegment`]) have in common: the handler, the media header and the first
/// sample entry, checked against each other and against the tracks already used.
pub(crate) struct TrakMedia<'a> {
    pub(crate) kind: TrackKind,
    /// `mdhd` timescale (never 0) and duration.
    pub(crate) timescale: u32,
    pub(crate) media_duration: u64,
    pub(crate) stbl: &'a [u8],
    /// The first sample entry's type.
    pub(crate) entry: FourCc,
    pub(crate) info: EntryInfo,
    /// Sample descriptions in `stsd`.
    pub(crate) descriptions: u32,
}

/// The media of track `id` (see [`TrakMedia`]), or why it is not used. `first_used` names
/// the track already used of a kind, if any (the first of each kind is used).
pub(crate) fn parse_trak_media(
    trak: &[u8],
    id: u32,
    first_used: impl Fn(TrackKind) -> Option<u32>,
) -> Result<Result<TrakMedia<'_>, SkippedTrack>, Mp4Error> {
    let skip = |kind, entry, reason| {
        Ok(Err(SkippedTrack {
            id,
            kind,
            entry,
            reason,
        }))
    };
    let mdia = require(trak, "trak", "mdia")?;
    let handler = parse_hdlr(require(mdia, "mdia", "hdlr")?)?;
    let expected_kind = match &handler {
        b"vide" => TrackKind::Video,
        b"soun" => TrackKind::Audio,
        _ => return skip(None, None, SkipReason::Handler(FourCc(handler))),
    };
    let (timescale, media_duration) = parse_mdhd(require(mdia, "mdia", "mdhd")?)?;
    let minf = require(mdia, "mdia", "minf")?;
    let stbl = require(minf, "minf", "stbl")?;
    let (entry, fourcc, descriptions) = parse_stsd(require(stbl, "stbl", "stsd")?)?;
    let skip = |reason| skip(Some(expected_kind), Some(fourcc), reason);
    let info = match entry {
        Entry::Skipped(reason) => return skip(reason),
        Entry::Supported(info) => info,
    };
    let kind = info.codec.kind();
    if kind != expected_kind {
        return skip(SkipReason::HandlerMismatch {
            handler: FourCc(handler),
            entry: FourCc(info.fourcc),
        });
    }
    if let Some(used) = first_used(kind) {
        return skip(SkipReason::NotFirst { used });
    }
    Ok(Ok(TrakMedia {
        kind,
        timescale,
        media_duration,
        stbl,
        entry: fourcc,
        info,
        descriptions,
    }))
}

/// Parses one `trak`. `ordinal` (1-based) names the track in errors until its track_ID is
/// known; `used` are the tracks chosen so far.
fn parse_trak(
    trak: &[u8],
    ordinal: u32,
    movie_timescale: u32,
    used: &[Track],
) -> Result<TrakOutcome, Mp4Error> {
    let id = require(trak, "trak", "tkhd")
        .and_then(parse_tkhd)
        .map_err(|e| e.in_track(ordinal))?;
    parse_trak_body(trak, id, movie_timescale, used).map_err(|e| e.in_track(id))
}

fn parse_trak_body(
    trak: &[u8],
    id: u32,
    movie_timescale: u32,
    used: &[Track],
) -> Result<TrakOutcome, Mp4Error> {
    let first_used = |kind| used.iter().find(|t| t.kind == kind).map(|t| t.id);
    let media = match parse_trak_media(trak, id, first_used)? {
        Ok(media) => media,
        Err(skipped) => return Ok(TrakOutcome::Skipped(skipped)),
    };
    let TrakMedia {
        kind,
        timescale,
        media_duration,
        stbl,
        entry,
        info,
        descriptions,
    } = media;
    let skip = |reason| {
        Ok(TrakOutcome::Skipped(SkippedTrack {
            id,
            kind: Some(kind),
            entry: Some(entry),
            reason,
        }))
    };
    let table = SampleTable::parse(stbl)?;
    if table.count == 0 {
        return skip(SkipReason::NoSamples);
    }
    if table.max_description_index > 1 {
        return skip(SkipReason::MultipleSampleDescriptions(
            descriptions.max(table.max_description_index),
        ));
    }
    let edit_list = EditList::of_trak(trak)?;
    let timing = Timing {
        timescale,
        movie_timescale,
        empty_duration: edit_list.empty_duration,
        media_time: edit_list.media_time,
        dts_shift: table.min_composition_offset.unsigned_abs(),
        origin_ms: 0,
    };
    Ok(TrakOutcome::Used(Box::new(Track {
        id,
        kind,
        codec: info.codec,
        sample_entry: info.fourcc,
        timescale,
        media_duration,
        sample_count: table.count,
        width: info.width,
        height: info.height,
        sample_rate: info.sample_rate,
        channels: info.channels,
        config: info.config,
        edit_list,
        table,
        timing,
    })))
}

#[cfg(test)]
mod tests;
