//! The reader task of an [`HlsSource`](super::HlsSource): drives the [`LiveTracker`], fetches
//! segments, demuxes them and places their frames on the output timeline.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use baton_hls::{
    LiveTracker, MediaPlaylist, SegmentRequest, StallError, TrackerConfig, TrackerEvent,
};
use baton_media::Frame;
use baton_media::timeline::{SegmentLookahead, Timeline, TimelineConfig};
use baton_mpegts::PACKET_LEN;
use baton_net::egress::Egress;
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use super::Resume;
use super::fetch::{self, MAX_SEGMENT_BYTES};
use crate::error::{ErrorKind, RelayError, Side};
use crate::event::SourceEvent;
use crate::ts::TsFrames;

/// Bytes handed to the demuxer at a time (348 packets), so frames leave as they are found.
const PUSH: usize = 348 * PACKET_LEN;

/// The receiving [`HlsSource`](super::HlsSource) is gone: stop.
struct Closed;

type Tx = mpsc::Sender<Result<SourceEvent, RelayError>>;

/// Refuses a playlist whose segments need what is not built yet.
pub(super) fn refuse_unbuilt(url: &Url, playlist: &MediaPlaylist) -> Result<(), RelayError> {
    for segment in &playlist.segments {
        refuse_segment(url, segment.map.is_some(), segment.key.is_some())?;
    }
    Ok(())
}

fn refuse_segment(url: &Url, map: bool, key: bool) -> Result<(), RelayError> {
    let what = if map {
        "HLS fMP4/CMAF segments (EXT-X-MAP) are not supported yet"
    } else if key {
        "HLS AES-128 encrypted segments (EXT-X-KEY) are not supported yet"
    } else {
        return Ok(());
    };
    Err(RelayError::new(
        Side::Source,
        ErrorKind::Unsupported,
        format!("{url}: {what}"),
    ))
}

pub(super) struct Reader {
    egress: Egress,
    url: Url,
    tracker: LiveTracker,
    resume: Arc<Resume>,
    /// Whether this connection fetched a segment yet (until then every playlist loaded is
    /// cut after the last segment an earlier connection fetched).
    fetched: bool,
    bytes_in: Arc<AtomicU64>,
    out: Output,
    tx: Tx,
}

impl Reader {
    pub(super) fn new(
        egress: Egress,
        url: Url,
        tracker: TrackerConfig,
        timeline: TimelineConfig,
        resume: Arc<Resume>,
        bytes_in: Arc<AtomicU64>,
        tx: Tx,
    ) -> Reader {
        Reader {
            egress,
            url,
            tracker: LiveTracker::new(tracker, Instant::now().into_std()),
            resume,
            fetched: false,
            bytes_in,
            out: Output::new(timeline),
            tx,
        }
    }

    /// Follows the playlist until it fails or the source is dropped (an end, EXT-X-ENDLIST, is
    /// reported and the playlist followed on).
    pub(super) async fn run(mut self, first: MediaPlaylist, requested_at: std::time::Instant) {
        let first = self.resume.after(first);
        self.tracker.handle_playlist(first, requested_at);
        let tx = self.tx.clone();
        let end = match self.follow().await {
            Ok(end) => end,
            Err(Closed) => return,
        };
        let _ = tx.send(end).await;
    }

    /// Works the tracker; returns the source's last word.
    async fn follow(&mut self) -> Result<Result<SourceEvent, RelayError>, Closed> {
        let mut reload_at = None;
        loop {
            while let Some(event) = self.tracker.poll_event() {
                match event {
                    TrackerEvent::Fetch(request) => {
                        if let Err(e) = self.segment(&request).await? {
                            return Ok(Err(e));
                        }
                    }
                    TrackerEvent::ReloadAt(at) => reload_at = Some(at),
                    TrackerEvent::Skipped {
                        first,
                        count,
                        reason,
                    } => {
                        warn!(url = %self.url, first, count, ?reason, "HLS segments skipped")
                    }
                    TrackerEvent::Reset {
                        previous_sequence,
                        sequence,
                        resumed_by_uri,
                    } => {
                        info!(url = %self.url, previous_sequence, sequence, resumed_by_uri, "HLS media sequence reset")
                    }
                    TrackerEvent::Ended => {
                        // Like an unpublish: the relay holds the destination for its grace
                        // period while the playlist is reloaded for a new run.
                        info!(url = %self.url, "HLS playlist ended (EXT-X-ENDLIST); waiting for more");
                        // What the demuxer holds goes out; a new run gets a new demuxer.
                        self.out.restart(&self.tx).await?;
                        self.tx
                            .send(Ok(SourceEvent::Ended))
                            .await
                            .map_err(|_| Closed)?;
                    }
                    TrackerEvent::Stalled(e) => {
                        // What the demuxer still holds goes out first: a reconnect resumes
                        // after the last segment fetched.
                        self.out.finish(&self.tx).await?;
                        return Ok(Err(stalled(&self.url, &e)));
                    }
                }
            }
            let Some(at) = reload_at.take() else {
                return Ok(Err(RelayError::new(
                    Side::Internal,
                    ErrorKind::Protocol,
                    "the HLS tracker asked for nothing",
                )));
            };
            tokio::select! {
                _ = sleep_until(Instant::from_std(at)) => {}
                _ = self.tx.closed() => return Err(Closed),
            }
            let requested_at = Instant::now().into_std();
            let load = fetch::load(&self.egress, &self.url, &self.bytes_in);
            let loaded = tokio::select! {
                loaded = load => loaded,
                _ = self.tx.closed() => return Err(Closed),
            };
            match loaded {
                Ok(baton_hls::Playlist::Media(playlist)) => {
                    if let Err(e) = refuse_unbuilt(&self.url, &playlist) {
                        return Ok(Err(e));
                    }
                    let playlist = if self.fetched {
                        playlist
                    } else {
                        self.resume.after(playlist)
                    };
                    self.tracker.handle_playlist(playlist, requested_at);
                }
                Ok(baton_hls::Playlist::Master(_)) => {
                    warn!(url = %self.url, "HLS media playlist reloaded as a master playlist");
                    self.tracker.handle_playlist_failed(requested_at);
                }
                Err(e) if !e.retryable => return Ok(Err(e)),
                Err(e) => {
                    warn!(url = %self.url, error = %e, "HLS playlist reload failed");
                    self.tracker.handle_playlist_failed(requested_at);
                }
            }
        }
    }

    /// Fetches one segment and sends its frames. The outer error: the source is gone; the
    /// inner: the relay's source failed.
    async fn segment(
        &mut self,
        request: &SegmentRequest,
    ) -> Result<Result<(), RelayError>, Closed> {
        if let Err(e) = refuse_segment(&request.uri, request.map.is_some(), request.key.is_some()) {
            return Ok(Err(e));
        }
        let get = fetch::get(
            &self.egress,
            &request.uri,
            request.byte_range,
            MAX_SEGMENT_BYTES,
            &self.bytes_in,
        );
        let fetched = tokio::select! {
            fetched = get => fetched,
            _ = self.tx.closed() => return Err(Closed),
        };
        let data = match fetched {
            Ok(data) => data,
            Err(e) => {
                let e = fetch::fetch_error(&request.uri, "segment", &e);
                if !e.retryable {
                    return Ok(Err(e));
                }
                warn!(sequence = request.sequence, error = %e, retry = request.retry, "HLS segment fetch failed");
                self.tracker.segment_failed();
                return Ok(Ok(()));
            }
        };
        self.tracker.segment_done();
        self.fetched = true;
        self.resume.set(&request.uri, request.byte_range);
        if let Some(reason) = request.discontinuity {
            info!(sequence = request.sequence, ?reason, "HLS timeline break");
            self.out.restart(&self.tx).await?;
        }
        self.out.feed(&data, &self.tx).await?;
        Ok(Ok(()))
    }
}

fn stalled(url: &Url, e: &StallError) -> RelayError {
    RelayError::new(Side::Source, ErrorKind::Timeout, format!("{url}: {e}"))
}

/// Transport stream runs → frames on the output timeline.
struct Output {
    ts: TsFrames,
    /// The current run's first frames, until where its tracks start is known.
    lookahead: Option<SegmentLookahead>,
    timeline: Timeline,
}

impl Output {
    fn new(config: TimelineConfig) -> Output {
        Output {
            ts: TsFrames::default(),
            lookahead: Some(SegmentLookahead::new()),
            timeline: Timeline::new(config),
        }
    }

    /// Demuxes `data` (the next segment of the current run) and sends its frames.
    async fn feed(&mut self, data: &[u8], tx: &Tx) -> Result<(), Closed> {
        for piece in data.chunks(PUSH) {
            self.ts.push(piece);
            self.drain(tx).await?;
        }
        Ok(())
    }

    /// Ends the current run (its held frames sent) and starts another, placed seamlessly.
    async fn restart(&mut self, tx: &Tx) -> Result<(), Closed> {
        self.finish(tx).await?;
        self.ts = TsFrames::default();
        self.lookahead = Some(SegmentLookahead::new());
        Ok(())
    }

    /// Ends the current run: every frame it holds is sent.
    async fn finish(&mut self, tx: &Tx) -> Result<(), Closed> {
        self.ts.finish();
        self.drain(tx).await?;
        self.begin(tx).await
    }

    async fn drain(&mut self, tx: &Tx) -> Result<(), Closed> {
        for stream in self.ts.take_dropped() {
            warn!(stream = %stream, "HLS stream not relayed");
        }
        while let Some(frame) = self.ts.poll_frame() {
            match self.lookahead.as_mut() {
                Some(ahead) => {
                    ahead.push(frame);
                    if ahead.is_complete() {
                        self.begin(tx).await?;
                    }
                }
                None => self.send(frame, tx).await?,
            }
        }
        Ok(())
    }

    /// The run's start is known (or it ended first): begins its timeline segment and sends
    /// the frames read ahead.
    async fn begin(&mut self, tx: &Tx) -> Result<(), Closed> {
        let Some(ahead) = self.lookahead.take() else {
            return Ok(());
        };
        let (start, frames) = ahead.finish();
        if frames.is_empty() && start.first_dts().is_none() {
            // Nothing of this run yet: keep looking.
            self.lookahead = Some(SegmentLookahead::new());
            return Ok(());
        }
        self.timeline.begin_seamless_segment(&start);
        for frame in frames {
            self.send(frame, tx).await?;
        }
        Ok(())
    }

    async fn send(&mut self, mut frame: Frame, tx: &Tx) -> Result<(), Closed> {
        self.timeline.map(&mut frame);
        tx.send(Ok(SourceEvent::Frame(frame)))
            .await
            .map_err(|_| Closed)
    }
}
