//! The one error type of playlist parsing.

/// Why a playlist could not be parsed. `line` is 1-based. None of these is helped by parsing
/// the same text again; a live source may help by loading the playlist again (a truncated
/// response, a producer restarting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is larger than [`crate::MAX_PLAYLIST_BYTES`].
    #[error("playlist of {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    /// More segments, or variants and renditions, than [`crate::MAX_ENTRIES`].
    #[error("playlist has more than {limit} entries")]
    TooManyEntries { limit: usize },
    /// The first line is not `#EXTM3U` (RFC 8216 §4.3.1.1): not a playlist.
    #[error("not an HLS playlist: the first line is not #EXTM3U")]
    NotAPlaylist,
    /// A media playlist without EXT-X-TARGETDURATION, which is REQUIRED (§4.3.3.1).
    #[error("media playlist has no EXT-X-TARGETDURATION")]
    MissingTargetDuration,
    /// Master-playlist and media-playlist tags in one playlist (§4.3.5: MUST NOT).
    #[error("line {line}: {tag} in a playlist that already has tags of the other playlist kind")]
    MixedPlaylist { line: usize, tag: &'static str },
    /// A tag's value or attribute is malformed or out of range.
    #[error("line {line}: bad {tag} value: {reason}")]
    BadValue {
        line: usize,
        tag: &'static str,
        reason: String,
    },
    /// A REQUIRED attribute is absent.
    #[error("line {line}: {tag} lacks the required attribute {attribute}")]
    MissingAttribute {
        line: usize,
        tag: &'static str,
        attribute: &'static str,
    },
    /// A tag that must precede every segment (EXT-X-MEDIA-SEQUENCE,
    /// EXT-X-DISCONTINUITY-SEQUENCE) appears after one (§4.3.3.2, §4.3.3.3).
    #[error("line {line}: {tag} after the first segment")]
    TagAfterSegments { line: usize, tag: &'static str },
    /// A URI line without the tag that must precede it: EXTINF in a media playlist
    /// (§4.3.2.1), EXT-X-STREAM-INF in a master playlist (§4.3.4.2).
    #[error("line {line}: URI without the {tag} that must precede it")]
    UriWithoutTag { line: usize, tag: &'static str },
    /// EXTINF or EXT-X-STREAM-INF at the end of the playlist with no URI line after it (a
    /// truncated playlist).
    #[error("line {line}: {tag} is not followed by a URI")]
    MissingUri { line: usize, tag: &'static str },
    /// EXT-X-BYTERANGE without an offset whose previous segment is not a sub-range of the same
    /// resource (§4.3.2.2).
    #[error("line {line}: EXT-X-BYTERANGE has no offset and does not continue the previous range")]
    ByteRangeWithoutOffset { line: usize },
    /// A URI that cannot be resolved against the playlist's URL.
    #[error("line {line}: bad URI {uri:?}: {reason}")]
    BadUri {
        line: usize,
        uri: String,
        reason: String,
    },
    /// Encryption Baton does not implement: SAMPLE-AES, SAMPLE-AES-CTR, or a KEYFORMAT other
    /// than `identity` (DRM). Only METHOD=NONE and AES-128 with an identity key are supported.
    #[error(
        "line {line}: unsupported encryption {method} (only NONE and AES-128 with KEYFORMAT=\"identity\" are supported)"
    )]
    UnsupportedEncryption { line: usize, method: String },
    /// A playlist feature Baton cannot relay (EXT-X-I-FRAMES-ONLY: pictures without the media
    /// between them).
    #[error("line {line}: unsupported playlist feature: {feature}")]
    Unsupported { line: usize, feature: &'static str },
}
