//! Following a live media playlist (RFC 8216 §6.3.3, §6.3.4) without I/O.
//!
//! [`LiveTracker`] is told what the caller did and when — a playlist loaded
//! ([`LiveTracker::handle_playlist`]) or not ([`LiveTracker::handle_playlist_failed`]), the
//! segment it was asked for fetched ([`LiveTracker::segment_done`]) or not
//! ([`LiveTracker::segment_failed`]) — and says what to do next through
//! [`LiveTracker::poll_event`].
//!
//! # Calling order
//!
//! 1. [`LiveTracker::new`], then load the playlist and call `handle_playlist` with the time the
//!    request *began* (§6.3.4 measures reload intervals from there).
//! 2. Drain [`LiveTracker::poll_event`] until `None`:
//!    - [`TrackerEvent::Fetch`]: fetch that segment, then call `segment_done` or
//!      `segment_failed`. At most one segment is outstanding: the next `Fetch` comes after the
//!      caller's answer, so a relay holds a bounded number of segments.
//!    - [`TrackerEvent::ReloadAt`]: load the playlist again at that instant (the latest
//!      `ReloadAt` replaces earlier ones) and call `handle_playlist` or `handle_playlist_failed`.
//!    - [`TrackerEvent::Skipped`] and [`TrackerEvent::Reset`] are reports for logs and status;
//!      the segment after them carries a [`Discontinuity`], where the relay breaks its
//!      timeline.
//!    - [`TrackerEvent::Ended`]: the producer ended the playlist (like an unpublish); reloads
//!      go on, and segments a restarted producer lists later are fetched as a new run.
//!    - [`TrackerEvent::Stalled`] is final: nothing follows.
//! 3. Repeat 2 after every call.
//!
//! # Policy
//!
//! - Start: the last segment that begins at least [`TrackerConfig::start_target_durations`]
//!   (3) target durations before the end of the playlist (§6.3.3: a client "SHOULD NOT choose
//!   a segment that starts less than three target durations from the end"); the first segment
//!   when the playlist is shorter. A playlist that already has EXT-X-ENDLIST when first loaded
//!   is over before it began ([`TrackerEvent::Ended`] at once: a stale copy of an ended live
//!   playlist is not replayed), or, with [`TrackerConfig::play_ended`], played from its first
//!   segment (VOD: there is no live edge to stay near).
//! - Reload: one target duration after a load whose playlist changed, half of one after a load
//!   whose playlist did not (§6.3.4), measured from when the load began; EXT-X-ENDLIST
//!   included (a producer killed and restarted writes the tag, then a new playlist).
//! - Identity: segments are tracked by media sequence number. When the number goes backwards,
//!   or a number the tracker already fetched now names a different URI, the producer has
//!   restarted (or a cache served an old copy): [`TrackerEvent::Reset`], and the tracker
//!   resumes after the newest segment whose URI (and byte range) it fetched recently, or at
//!   the live start position when none is listed.
//! - Behind: more than [`TrackerConfig::max_behind`] segments waiting, or the next segment
//!   already gone from the playlist: jump to the live start position
//!   ([`TrackerEvent::Skipped`]).
//! - A segment fetch that fails is asked for once more at once; a second failure skips it.
//! - Stall: no change to the playlist for longer than [`TrackerConfig::stall_limit`] (by
//!   default the larger of 3 target durations and 10 s), whether loads succeed unchanged or
//!   fail: [`TrackerEvent::Stalled`]. An ended playlist does not stall: how long to wait for
//!   the producer's return is the caller's decision (the relay's grace period).
//! - EXT-X-ENDLIST: [`TrackerEvent::Ended`] once the last segment is fetched. Only segments a
//!   later load lists after the end count: a stale copy of the ended playlist is not replayed.
//!   Continued in the old numbering (`append_list`), fetching goes on after the last segment
//!   fetched; numbered anew (a restart, the same URIs perhaps reused), the new run is played
//!   from its first segment ([`TrackerEvent::Reset`], never resumed by URI). Either way the
//!   first new segment carries [`Discontinuity::Restart`].

mod state;

use std::time::Duration;

use url::Url;

use crate::playlist::{ByteRange, InitSection, SegmentKey};

pub use state::LiveTracker;

/// Tunables of [`LiveTracker`]; the defaults follow RFC 8216 §6.3.3–6.3.4 and issue 12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Start at least this many target durations from the end of the playlist. Default 3
    /// (§6.3.3).
    pub start_target_durations: u32,
    /// Skip ahead to the live start position when more than this many segments wait to be
    /// fetched. Default 6 (twice the start distance: a relay that fell this far behind will not
    /// catch up by fetching faster than real time).
    pub max_behind: u64,
    /// A playlist that has not changed for this many target durations has stalled (unless
    /// [`TrackerConfig::stall_min`] is longer). Default 3.
    pub stall_target_durations: u32,
    /// The shortest stall limit, for playlists with short target durations. Default 10 s.
    pub stall_min: Duration,
    /// A playlist that already has EXT-X-ENDLIST when first loaded is played from its first
    /// segment (`true`: a VOD playlist) or is over before it began (`false`, the default: a
    /// live source that ended is like a stream nobody publishes — [`TrackerEvent::Ended`] at
    /// once, and only segments listed later are fetched).
    pub play_ended: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            start_target_durations: 3,
            max_behind: 6,
            stall_target_durations: 3,
            stall_min: Duration::from_secs(10),
            play_ended: false,
        }
    }
}

impl TrackerConfig {
    /// How long a playlist may go unchanged: max(stall_target_durations × target, stall_min).
    pub fn stall_limit(&self, target_duration: Duration) -> Duration {
        target_duration
            .saturating_mul(self.stall_target_durations)
            .max(self.stall_min)
    }
}

/// What the caller should do or know next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerEvent {
    /// Fetch this segment, then report with `segment_done` or `segment_failed`. (Boxed: the
    /// other events are small.)
    Fetch(Box<SegmentRequest>),
    /// Load the playlist again at this instant.
    ReloadAt(std::time::Instant),
    /// Segments that will not be fetched.
    Skipped {
        /// The first skipped sequence number (in the numbering of the playlist at the time).
        first: u64,
        /// How many.
        count: u64,
        /// Why.
        reason: SkipReason,
    },
    /// The media sequence went backwards or was renumbered: a producer restart or an old copy
    /// of the playlist.
    Reset {
        /// EXT-X-MEDIA-SEQUENCE of the playlist before.
        previous_sequence: u64,
        /// EXT-X-MEDIA-SEQUENCE of the playlist now.
        sequence: u64,
        /// Whether a segment fetched before was found in the new playlist by URI and the
        /// tracker resumes after it; otherwise it starts again at the live start position.
        resumed_by_uri: bool,
    },
    /// EXT-X-ENDLIST and every segment fetched: the source has ended (like an unpublish).
    /// Reloads go on; segments listed after the end later are a new run.
    Ended,
    /// The playlist stopped updating: the source has failed.
    Stalled(StallError),
}

/// A segment to fetch, with everything needed to fetch and decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRequest {
    /// Media sequence number.
    pub sequence: u64,
    /// The resource to GET.
    pub uri: Url,
    /// Only this range of it (an HTTP `Range` request).
    pub byte_range: Option<ByteRange>,
    /// Decrypt with AES-128-CBC using this key and IV.
    pub key: Option<SegmentKey>,
    /// The fMP4 initialisation section this segment needs (fetch it when it differs from the
    /// previous segment's).
    pub map: Option<InitSection>,
    /// EXTINF duration.
    pub duration: Duration,
    /// The timeline breaks before this segment, and why; `None` on the first segment.
    pub discontinuity: Option<Discontinuity>,
    /// This is the second (and last) attempt at this segment.
    pub retry: bool,
}

/// Why the timeline breaks before a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Discontinuity {
    /// EXT-X-DISCONTINUITY precedes the segment.
    Tag,
    /// The media sequence was reset ([`TrackerEvent::Reset`]).
    SequenceReset,
    /// Segments were skipped to catch up ([`SkipReason::Behind`], [`SkipReason::Expired`]).
    SkippedAhead,
    /// The segment before failed twice and was skipped ([`SkipReason::Failed`]).
    SegmentSkipped,
    /// The playlist had ended (EXT-X-ENDLIST) and the producer came back.
    Restart,
}

/// Why segments were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// More than [`TrackerConfig::max_behind`] segments were waiting.
    Behind,
    /// The next segment had already left the playlist.
    Expired,
    /// The segment failed twice.
    Failed,
}

/// The playlist did not change for too long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "HLS playlist unchanged for {:.1} s (limit {:.1} s; {failed_loads} failed loads since the last change)",
    unchanged_for.as_secs_f64(),
    limit.as_secs_f64()
)]
pub struct StallError {
    /// Since the last change (or the start).
    pub unchanged_for: Duration,
    /// The limit in force ([`TrackerConfig::stall_limit`]).
    pub limit: Duration,
    /// Loads that failed since the last change.
    pub failed_loads: u32,
}
