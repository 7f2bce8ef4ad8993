//! The HLS live source: a media playlist followed at its live edge, its MPEG-TS or fMP4
//! segments demuxed into frames on one continuous timeline, paced at real time.
//!
//! ```text
//!   reader task: playlist loads ─▶ LiveTracker ─▶ segment GETs ─▶ TsFrames   ─▶ Timeline
//!                                                 (+ EXT-X-MAP)   Fmp4Frames      │
//!   HlsSource::next: ◀── paced (a frame leaves when the clock reaches its DTS) ◀──┘ channel
//! ```
//!
//! * **Requests** go through the account's egress ([`baton_net::egress::http`]): the playlist
//!   (a master playlist's best variant, [`baton_hls::VariantPreference::Best`]), then each
//!   segment the [`LiveTracker`] asks for, byte ranges as `Range` requests.
//! * **The live edge** is the tracker's (RFC 8216 §6.3.3–6.3.4): start about three target
//!   durations from the end, reload after a target duration (half of one when nothing
//!   changed), skip ahead when far behind, a segment that fails once asked for again, a
//!   sequence reset followed by URI.
//! * **Segments.** MPEG-TS into [`TsFrames`]; fMP4/CMAF (EXT-X-MAP) into `Fmp4Frames`,
//!   which reads each media segment with [`baton_mp4::fragment`] against the initialisation
//!   section (fetched once, again when the tag names another one; at most
//!   `fetch::MAX_INIT_BYTES`). The same FLV bodies and millisecond timeline either way; an
//!   fMP4 segment that cannot be read is skipped with a warning.
//! * **Timeline.** Segments that continue each other go into one demuxer (its timestamps run
//!   on across segments, 33-bit wraps included, `tfdt` for fMP4). At a timeline break the
//!   tracker names (EXT-X-DISCONTINUITY, a media-sequence reset, segments skipped, a new
//!   initialisation section or segment format) the demuxer is finished and a new one
//!   begins, placed on the output timeline as the playlist player places its items
//!   ([`Timeline::begin_seamless_segment`] after a [`SegmentLookahead`]): presentation
//!   continues where the previous run ended.
//! * **Pacing.** A frame leaves when the clock reaches its output DTS, at most
//!   [`LEAD`] early; a frame more than [`MAX_LATE`] late (a slow segment fetch) moves the
//!   clock instead of bursting the backlog into the destination. Frames due within [`BATCH`]
//!   of the one that woke the relay leave with it ([`HlsSource::try_next`]): one wake-up and
//!   one destination write for a few frames rather than one per frame.
//! * **Memory.** One segment in flight (at most [`fetch::MAX_SEGMENT_BYTES`]) and at most
//!   [`CHANNEL_FRAMES`] frames queued: the reader fetches the next segment when the queue has
//!   room, i.e. a few seconds before the frames run out.
//! * **Ends.** EXT-X-ENDLIST (every segment played) is an unpublish
//!   ([`SourceEvent::Ended`]): the relay holds the destination session for its grace period
//!   while the reader keeps reloading the playlist. A producer killed and restarted writes
//!   the tag, then a new playlist (continued, or numbered from 0 again, even with the same
//!   segment names): what it lists after the end is played as a new run, on the same
//!   destination session, timeline rebased. A stale copy of the ended playlist lists nothing
//!   new and is not replayed. A playlist that stops changing without the tag is a retryable
//!   source error ([`ErrorKind::Timeout`], "HLS playlist unchanged …"). A reconnect resumes
//!   after the last segment fetched ([`Resume`]), so a stale playlist is not replayed; an
//!   outage probe counts only segments listed after its first look
//!   ([`Resume::new_segments_only`]).
//! * **AES-128** (EXT-X-KEY METHOD=AES-128): the key is fetched through the egress like a
//!   segment (once per key URI, exactly 16 bytes), each segment (and an encrypted
//!   initialisation section) decrypted whole, CBC with PKCS#7, the IV from the tag or the
//!   media sequence number (`crypt`). A wrong key fails the padding check (or leaves a
//!   transport stream without its sync byte): a retryable source error naming the segment
//!   and the key, never a skipped segment. SAMPLE-AES and DRM key formats are refused by the
//!   playlist parser, naming them.
//! * **Not built yet** (refused with [`ErrorKind::Unsupported`] naming them): audio
//!   renditions in separate playlists.

mod crypt;
mod demux;
mod fetch;
mod fmp4;
mod reader;

pub(crate) use crypt::{aes_key, decrypt_segment};
pub(crate) use demux::Demux;
pub(crate) use fetch::{MAX_INIT_BYTES, MAX_KEY_BYTES, MAX_SEGMENT_BYTES};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_hls::{ByteRange, MediaPlaylist, TrackerConfig};
use baton_media::Frame;
use baton_media::timeline::TimelineConfig;
use baton_net::egress::Egress;
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::error::{ErrorKind, RelayError, Side};
use crate::event::SourceEvent;

/// How far ahead of the clock frames may leave.
pub const LEAD: Duration = Duration::from_millis(500);

/// Frames due within this much of now leave together.
pub const BATCH: Duration = Duration::from_millis(50);

/// A frame this late moves the pacing clock (the output falls behind by the delay rather than
/// sending the backlog at once).
pub const MAX_LATE: Duration = Duration::from_secs(1);

/// Frames queued between the reader and the paced output, at most: about 1.7 s of 25 fps
/// video with 48 kHz AAC (1.2 s at 60 fps), which with [`LEAD`] covers a segment request's
/// latency; more only costs memory (the queue was most of an HLS relay's heap at 256).
pub const CHANNEL_FRAMES: usize = 128;

/// What a relay's HLS connections share: where the last one stopped, so a reconnect does not
/// replay segments already relayed (a stale copy of an ended playlist included).
#[derive(Debug, Default)]
pub struct Resume {
    state: Mutex<ResumeState>,
}

#[derive(Debug, Default)]
struct ResumeState {
    /// The last segment fetched (or, for a probe, the last one listed at first).
    last: Option<(Url, Option<ByteRange>)>,
    /// Only segments listed after the first load count (a probe of the source's return).
    new_only: bool,
}

impl Resume {
    /// A `Resume` for which everything the first playlist loaded lists counts as played: only
    /// segments a later load adds are fetched. What an outage probe uses — the source is
    /// "back" when it has media newer than what the failed relay saw, not when a stale
    /// playlist (ended or not) is still served.
    pub fn new_segments_only() -> Resume {
        Resume {
            state: Mutex::new(ResumeState {
                last: None,
                new_only: true,
            }),
        }
    }

    fn set(&self, uri: &Url, range: Option<ByteRange>) {
        self.lock().last = Some((uri.clone(), range));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ResumeState> {
        // Plain data: a panic while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `playlist` without the segments up to and including the last one fetched, when it
    /// is listed.
    fn after(&self, mut playlist: MediaPlaylist) -> MediaPlaylist {
        let mut state = self.lock();
        let Some((uri, range)) = state.last.clone() else {
            if state.new_only
                && let Some(last) = playlist.segments.last()
            {
                state.last = Some((last.uri.clone(), last.byte_range));
                playlist.media_sequence = playlist.end_sequence();
                playlist.segments.clear();
            }
            return playlist;
        };
        if let Some(i) = playlist
            .segments
            .iter()
            .rposition(|s| s.uri == uri && s.byte_range == range)
        {
            playlist.segments.drain(..=i);
            playlist.media_sequence = playlist.media_sequence.saturating_add(i as u64 + 1);
        }
        playlist
    }
}

/// A connected HLS source. Dropping it stops its reader.
#[derive(Debug)]
pub struct HlsSource {
    rx: mpsc::Receiver<Result<SourceEvent, RelayError>>,
    /// The next frame, received and waiting for its time.
    pending: Option<Frame>,
    /// Wall instant ↔ output DTS the pacing runs from.
    pace: Option<(Instant, i64)>,
    bytes_in: Arc<AtomicU64>,
    stall_timeout: Duration,
    reader: JoinHandle<()>,
}

impl Drop for HlsSource {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl HlsSource {
    /// Loads the playlist at `url` (through `egress`) and starts following it. Fails with the
    /// reason when the playlist cannot be loaded or uses what is not built yet.
    pub async fn connect(
        egress: &Egress,
        url: &str,
        resume: Arc<Resume>,
        timeline: TimelineConfig,
    ) -> Result<HlsSource, RelayError> {
        let url = Url::parse(url).map_err(|e| {
            RelayError::new(Side::Source, ErrorKind::InvalidUrl, format!("{url}: {e}"))
        })?;
        let bytes_in = Arc::new(AtomicU64::new(0));
        let requested_at = Instant::now().into_std();
        let (media_url, playlist) = fetch::load_media(egress, &url, &bytes_in).await?;
        let tracker = TrackerConfig::default();
        // The tracker reports a playlist that stopped changing within its limit and half a
        // target duration (its reload cadence); the relay's frame-gap stall detection waits
        // longer, so the named error comes first.
        let stall_timeout = tracker.stall_limit(playlist.target_duration)
            + playlist.target_duration.saturating_mul(2);
        let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
        let reader = reader::Reader::new(
            egress.clone(),
            media_url,
            tracker,
            timeline,
            resume,
            Arc::clone(&bytes_in),
            tx,
        );
        let reader = tokio::spawn(reader.run(playlist, requested_at));
        Ok(HlsSource {
            rx,
            pending: None,
            pace: None,
            bytes_in,
            stall_timeout,
            reader,
        })
    }

    /// The next frame, when its time has come. Cancel-safe: a frame received is kept until
    /// it leaves.
    pub async fn next(&mut self) -> Result<SourceEvent, RelayError> {
        loop {
            if let Some(dts) = self.pending.as_ref().map(|f| f.dts) {
                sleep_until(self.due(dts)).await;
                if let Some(frame) = self.pending.take() {
                    return Ok(SourceEvent::Frame(frame));
                }
            }
            match self.rx.recv().await {
                Some(Ok(SourceEvent::Frame(frame))) => self.pending = Some(frame),
                Some(Ok(SourceEvent::Ended)) => {
                    // Whatever follows is a new run, paced from its own first frame.
                    self.pace = None;
                    return Ok(SourceEvent::Ended);
                }
                Some(event) => return event,
                None => {
                    return Err(RelayError::new(
                        Side::Internal,
                        ErrorKind::Protocol,
                        "the HLS reader stopped without a reason",
                    ));
                }
            }
        }
    }

    /// A frame (or event) that may leave now without waiting: the next frame when it is due
    /// within [`BATCH`], an event queued behind the frames already out.
    pub fn try_next(&mut self) -> Option<Result<SourceEvent, RelayError>> {
        if self.pending.is_none() {
            match self.rx.try_recv().ok()? {
                Ok(SourceEvent::Frame(frame)) => self.pending = Some(frame),
                event => return Some(event),
            }
        }
        let dts = self.pending.as_ref()?.dts;
        if self.due(dts) > Instant::now() + BATCH {
            return None;
        }
        self.pending.take().map(|f| Ok(SourceEvent::Frame(f)))
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    /// How long the relay should wait for a frame before it calls the source stalled: longer
    /// than this source takes to report a stalled playlist itself.
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// When a frame with output `dts` may leave.
    fn due(&mut self, dts: i64) -> Instant {
        let now = Instant::now();
        let (start, first) = *self.pace.get_or_insert((now, dts));
        let ahead = u64::try_from(dts.saturating_sub(first)).unwrap_or(0);
        let due = (start + Duration::from_millis(ahead))
            .checked_sub(LEAD)
            .unwrap_or(start);
        if due + MAX_LATE < now {
            // Late (a slow fetch): start the clock again from this frame.
            self.pace = Some((now, dts));
            return now;
        }
        due
    }
}
