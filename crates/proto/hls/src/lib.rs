//! HLS (RFC 8216) without I/O: playlist parsing, variant choice and a live-edge tracker.
//!
//! - [`parse`] turns a playlist's text and the URL it was loaded from into a [`Playlist`]: a
//!   [`MasterPlaylist`] (variants and renditions) or a [`MediaPlaylist`] (segments with their
//!   byte ranges, AES-128 keys and initialisation sections resolved per segment). Bounded
//!   ([`MAX_PLAYLIST_BYTES`], [`MAX_ENTRIES`]); bad input is a named [`ParseError`].
//! - [`choose_variant`] picks the variant a relay plays ([`VariantPreference`]).
//! - [`LiveTracker`] follows a live media playlist as RFC 8216 §6.3.4 says: it is given each
//!   playlist the caller loaded and the outcome of each segment fetch, with the time, and says
//!   which segment to fetch next and when to reload ([`TrackerEvent`]).
//!
//! No network, no clock: the relay loads playlists and segments and passes `now` in.

mod attr;
mod error;
mod parse;
mod playlist;
pub mod tracker;
mod variant;

pub use error::ParseError;
pub use parse::parse;
pub use playlist::{
    ByteRange, InitSection, MasterPlaylist, MediaPlaylist, MediaType, Playlist, PlaylistType,
    Rendition, Resolution, Segment, SegmentKey, Variant,
};
pub use tracker::{
    Discontinuity, LiveTracker, SegmentRequest, SkipReason, StallError, TrackerConfig, TrackerEvent,
};
pub use variant::{VariantError, VariantPreference, choose_variant};

/// The largest playlist [`parse`] reads (bytes of text). Real live playlists are a few KiB; a
/// long VOD or EVENT playlist of 100,000 segments is about 4 MB.
pub const MAX_PLAYLIST_BYTES: usize = 4 * 1024 * 1024;

/// The most segments (media playlist) or variants plus renditions (master playlist) [`parse`]
/// accepts.
pub const MAX_ENTRIES: usize = 100_000;

/// The largest EXT-X-TARGETDURATION or EXTINF duration accepted, in seconds (a day). Larger
/// values are not durations any live source uses, and bounding them keeps every deadline the
/// tracker computes far from overflow.
pub const MAX_DURATION_SECS: u64 = 86_400;
