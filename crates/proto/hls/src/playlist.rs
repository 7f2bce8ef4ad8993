//! What a parsed playlist holds (RFC 8216 §4.3). Every URI is resolved against the URL the
//! playlist was loaded from; per-segment state that tags carry forward (key, initialisation
//! section, byte-range offsets) is resolved onto each [`Segment`].

use std::time::Duration;

use url::Url;

/// A parsed playlist: a master playlist lists variants, a media playlist lists segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playlist {
    /// A master (multivariant) playlist, §4.3.4.
    Master(MasterPlaylist),
    /// A media playlist, §4.3.3.
    Media(MediaPlaylist),
}

/// A master playlist: the variant streams and their renditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterPlaylist {
    /// EXT-X-STREAM-INF entries in document order (I-frame-only variants are left out: they
    /// cannot be relayed).
    pub variants: Vec<Variant>,
    /// EXT-X-MEDIA entries in document order.
    pub renditions: Vec<Rendition>,
}

impl MasterPlaylist {
    /// The audio rendition a variant plays with, when its audio is a separate playlist: in the
    /// variant's AUDIO group, the DEFAULT=YES rendition with a URI, else the group's first one
    /// with a URI. `None` when the variant names no group or the group's audio is muxed into
    /// the variant (no URI, §4.3.4.2.1).
    pub fn audio_rendition(&self, variant: &Variant) -> Option<&Rendition> {
        let group = variant.audio.as_deref()?;
        let mut in_group = self
            .renditions
            .iter()
            .filter(|r| r.media_type == MediaType::Audio && r.group_id == group && r.uri.is_some());
        let first = in_group.clone().next();
        in_group.find(|r| r.default).or(first)
    }
}

/// One EXT-X-STREAM-INF variant (§4.3.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The variant's media playlist.
    pub uri: Url,
    /// BANDWIDTH: peak bits per second (REQUIRED).
    pub bandwidth: u64,
    /// AVERAGE-BANDWIDTH, bits per second.
    pub average_bandwidth: Option<u64>,
    /// CODECS: the RFC 6381 codec strings, split at commas and trimmed.
    pub codecs: Option<Vec<String>>,
    /// RESOLUTION.
    pub resolution: Option<Resolution>,
    /// FRAME-RATE, as written (e.g. `29.970`).
    pub frame_rate: Option<String>,
    /// AUDIO: the GROUP-ID of the audio renditions this variant plays with.
    pub audio: Option<String>,
}

impl Variant {
    /// Whether the variant has video, as far as the playlist says: CODECS names a video codec
    /// (`avc1`, `avc3`, `hvc1`, `hev1`, `av01`, `vp09`, `dvh1`, `dvhe`), or RESOLUTION is given,
    /// or CODECS is absent (nothing says it is audio-only).
    pub fn has_video(&self) -> bool {
        const VIDEO: [&str; 8] = [
            "avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "dvh1", "dvhe",
        ];
        match &self.codecs {
            None => true,
            Some(codecs) => {
                self.resolution.is_some()
                    || codecs
                        .iter()
                        .any(|c| VIDEO.iter().any(|v| c.starts_with(v)))
            }
        }
    }

    /// Whether Baton can carry the variant's video: CODECS names H.264 (`avc1`/`avc3`) or
    /// H.265 (`hvc1`/`hev1`), or says nothing about codecs.
    pub fn has_supported_video(&self) -> bool {
        const SUPPORTED: [&str; 4] = ["avc1", "avc3", "hvc1", "hev1"];
        match &self.codecs {
            None => true,
            Some(codecs) => codecs
                .iter()
                .any(|c| SUPPORTED.iter().any(|v| c.starts_with(v))),
        }
    }
}

/// A picture size (decimal-resolution, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One EXT-X-MEDIA rendition (§4.3.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// TYPE.
    pub media_type: MediaType,
    /// GROUP-ID.
    pub group_id: String,
    /// NAME.
    pub name: String,
    /// DEFAULT=YES.
    pub default: bool,
    /// URI: the rendition's media playlist; absent when the rendition is muxed into the
    /// variant's segments.
    pub uri: Option<Url>,
}

/// EXT-X-MEDIA TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// AUDIO.
    Audio,
    /// VIDEO.
    Video,
    /// SUBTITLES.
    Subtitles,
    /// CLOSED-CAPTIONS.
    ClosedCaptions,
}

/// A media playlist (§4.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist {
    /// EXT-X-TARGETDURATION: the longest a segment may be (§4.3.3.1); the unit of the reload
    /// cadence.
    pub target_duration: Duration,
    /// EXT-X-MEDIA-SEQUENCE: the sequence number of the first segment (0 when absent).
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE: the discontinuity sequence of the first segment.
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE.
    pub playlist_type: Option<PlaylistType>,
    /// EXT-X-ENDLIST: no segment will be added.
    pub ended: bool,
    /// The segments; `segments[i]` has sequence number `media_sequence + i`.
    pub segments: Vec<Segment>,
}

impl MediaPlaylist {
    /// The sequence number one past the last segment.
    pub fn end_sequence(&self) -> u64 {
        self.media_sequence
            .saturating_add(self.segments.len() as u64)
    }

    /// The segment with sequence number `sequence`, if listed.
    pub fn segment(&self, sequence: u64) -> Option<&Segment> {
        let index = sequence.checked_sub(self.media_sequence)?;
        self.segments.get(usize::try_from(index).ok()?)
    }
}

/// EXT-X-PLAYLIST-TYPE (§4.3.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaylistType {
    /// EVENT: segments are only appended.
    Event,
    /// VOD: the playlist never changes.
    Vod,
}

/// One media segment with everything that applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The segment's sequence number (§3).
    pub sequence: u64,
    /// The resource holding the segment.
    pub uri: Url,
    /// EXTINF duration.
    pub duration: Duration,
    /// EXT-X-BYTERANGE: the segment is this sub-range of `uri` (the implicit offset resolved).
    pub byte_range: Option<ByteRange>,
    /// EXT-X-DISCONTINUITY precedes this segment: its timestamps, codecs or encoding
    /// parameters may not continue the previous segment's.
    pub discontinuity: bool,
    /// EXT-X-KEY METHOD=AES-128 in effect: the key and the IV for this segment.
    pub key: Option<SegmentKey>,
    /// EXT-X-MAP in effect: the initialisation section (fMP4 `ftyp`+`moov`) the segment needs.
    pub map: Option<InitSection>,
    /// EXT-X-PROGRAM-DATE-TIME before this segment, as written (ISO 8601; not interpreted:
    /// Baton's timeline runs on media timestamps, this is kept for logs and diagnostics).
    pub program_date_time: Option<String>,
}

/// A sub-range of a resource: `length` bytes from `offset` (EXT-X-BYTERANGE, §4.3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    /// First byte.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

impl ByteRange {
    /// One past the last byte (`offset + length`; parsing guarantees no overflow).
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.length)
    }

    /// The HTTP `Range` header value: `bytes=first-last` (RFC 9110 §14.1.2). `None` for an
    /// empty range, which no request can ask for.
    pub fn http_range(&self) -> Option<String> {
        let last = self.end().checked_sub(1).filter(|_| self.length > 0)?;
        Some(format!("bytes={}-{last}", self.offset))
    }
}

/// AES-128 (CBC, PKCS7) encryption of a whole segment (§4.3.2.4, §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentKey {
    /// Where the 16-byte key is loaded from.
    pub uri: Url,
    /// The IV: the tag's IV attribute, or the segment's sequence number as a 128-bit
    /// big-endian integer when the tag has none (§5.2).
    pub iv: [u8; 16],
}

/// An EXT-X-MAP initialisation section (§4.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InitSection {
    /// The resource holding it.
    pub uri: Url,
    /// BYTERANGE: the section is this sub-range of `uri` (offset 0 when the attribute gives
    /// none).
    pub byte_range: Option<ByteRange>,
    /// The AES-128 key in effect where the EXT-X-MAP tag appears: the section is encrypted
    /// with it (§4.3.2.5, version 6+).
    pub key: Option<SegmentKey>,
}
