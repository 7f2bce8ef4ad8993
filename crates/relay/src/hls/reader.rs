//! The reader task of an [`HlsSource`](super::HlsSource): drives the [`LiveTracker`], fetches
//! segments, demuxes them and places their frames on the output timeline.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use baton_hls::{
    InitSection, LiveTracker, MediaPlaylist, SegmentKey, SegmentRequest, StallError, TrackerConfig,
    TrackerEvent,
};
use baton_media::Frame;
use baton_media::timeline::{SegmentLookahead, Timeline, TimelineConfig};
use baton_mp4::{InitSegment, Mp4Error};
use baton_mpegts::PACKET_LEN;
use baton_net::egress::Egress;
use bytes::Bytes;
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use super::Resume;
use super::crypt;
use super::demux::Demux;
use super::fetch::{self, MAX_INIT_BYTES, MAX_KEY_BYTES, MAX_SEGMENT_BYTES};
use crate::error::{ErrorKind, RelayError, Side};
use crate::event::SourceEvent;

/// Bytes handed to the demuxer at a time (348 packets), so frames leave as they are found.
const PUSH: usize = 348 * PACKET_LEN;

/// The receiving [`HlsSource`](super::HlsSource) is gone: stop.
struct Closed;

type Tx = mpsc::Sender<Result<SourceEvent, RelayError>>;

pub(super) struct Reader {
    egress: Egress,
    url: Url,
    tracker: LiveTracker,
    resume: Arc<Resume>,
    /// Whether this connection fetched a segment yet (until then every playlist loaded is
    /// cut after the last segment an earlier connection fetched).
    fetched: bool,
    bytes_in: Arc<AtomicU64>,
    /// The fMP4 initialisation section in use.
    init: Option<(InitSection, Arc<InitSegment>)>,
    /// The AES-128 key in use, by URI.
    key: Option<(Url, [u8; 16])>,
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
            init: None,
            key: None,
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
        // An encrypted segment needs its key: fetched when it changes.
        let key = match &request.key {
            Some(key) => match self.key(key).await? {
                Ok(bytes) => Some((bytes, key)),
                // Not a key: every segment would fail the same way.
                Err(e) if e.kind == ErrorKind::Protocol => return Ok(Err(e)),
                Err(e) => return Ok(self.failed(request, "key fetch", e)),
            },
            None => None,
        };
        // An fMP4 segment needs its initialisation section: fetched when it changes.
        let init = match &request.map {
            Some(map) => match self.init(map).await? {
                Ok(init) => Some(init),
                Err(e) => return Ok(self.failed(request, "initialisation section", e)),
            },
            None => None,
        };
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
                return Ok(self.failed(request, "segment fetch", e));
            }
        };
        self.tracker.segment_done();
        let data = match key {
            Some((bytes, key)) => {
                let ts = request.map.is_none();
                match crypt::decrypt_segment(&bytes, &key.iv, &data, ts) {
                    Ok(plain) => plain,
                    Err(e) => return Ok(Err(undecryptable(&request.uri, &key.uri, &e))),
                }
            }
            None => data,
        };
        self.fetched = true;
        self.resume.set(&request.uri, request.byte_range);
        if let Some(reason) = request.discontinuity {
            info!(sequence = request.sequence, ?reason, "HLS timeline break");
            self.out.restart(&self.tx).await?;
        }
        self.out.select(init, &self.tx).await?;
        if let Err(e) = self.out.feed(&data, &self.tx).await? {
            warn!(sequence = request.sequence, error = %e, "HLS fMP4 segment unreadable; skipped");
        }
        Ok(Ok(()))
    }

    /// What `request` needed (`what`: its key, initialisation section or bytes) failed with
    /// `e`: the source's error when no retry can help (refused, not found...), else the
    /// tracker asks for the segment again or skips it.
    fn failed(
        &mut self,
        request: &SegmentRequest,
        what: &str,
        e: RelayError,
    ) -> Result<(), RelayError> {
        if !e.retryable {
            return Err(e);
        }
        warn!(sequence = request.sequence, error = %e, retry = request.retry, "HLS {what} failed");
        self.tracker.segment_failed();
        Ok(())
    }

    /// The 16-byte AES-128 key `key` names: the one in use, or fetched (through the egress,
    /// like segments). The outer error: the source is gone; the inner: the key failed.
    async fn key(&mut self, key: &SegmentKey) -> Result<Result<[u8; 16], RelayError>, Closed> {
        if let Some((uri, bytes)) = &self.key
            && *uri == key.uri
        {
            return Ok(Ok(*bytes));
        }
        let get = fetch::get(&self.egress, &key.uri, None, MAX_KEY_BYTES, &self.bytes_in);
        let fetched = tokio::select! {
            fetched = get => fetched,
            _ = self.tx.closed() => return Err(Closed),
        };
        let data = match fetched {
            Ok(data) => data,
            Err(e) => return Ok(Err(fetch::fetch_error(&key.uri, "key", &e))),
        };
        let bytes = match crypt::aes_key(&data) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Ok(Err(RelayError::new(
                    Side::Source,
                    ErrorKind::Protocol,
                    format!("HLS key {}: {e}", key.uri),
                )));
            }
        };
        self.key = Some((key.uri.clone(), bytes));
        Ok(Ok(bytes))
    }

    /// The parsed initialisation section `map` names: the one in use, or fetched and parsed.
    /// The outer error: the source is gone; the inner: this section failed.
    async fn init(
        &mut self,
        map: &InitSection,
    ) -> Result<Result<Arc<InitSegment>, RelayError>, Closed> {
        if let Some((current, init)) = &self.init
            && current == map
        {
            return Ok(Ok(Arc::clone(init)));
        }
        let get = fetch::get(
            &self.egress,
            &map.uri,
            map.byte_range,
            MAX_INIT_BYTES,
            &self.bytes_in,
        );
        let fetched = tokio::select! {
            fetched = get => fetched,
            _ = self.tx.closed() => return Err(Closed),
        };
        let data = match fetched {
            Ok(data) => data,
            Err(e) => {
                return Ok(Err(fetch::fetch_error(
                    &map.uri,
                    "initialisation section",
                    &e,
                )));
            }
        };
        let data = match &map.key {
            Some(key) => {
                let bytes = match self.key(key).await? {
                    Ok(bytes) => bytes,
                    Err(e) => return Ok(Err(e)),
                };
                match crypt::decrypt_segment(&bytes, &key.iv, &data, false) {
                    Ok(plain) => plain,
                    Err(e) => return Ok(Err(undecryptable(&map.uri, &key.uri, &e))),
                }
            }
            None => data,
        };
        match InitSegment::parse(&data) {
            Ok(init) => {
                let init = Arc::new(init);
                self.init = Some((map.clone(), Arc::clone(&init)));
                Ok(Ok(init))
            }
            Err(e) => Ok(Err(RelayError::new(
                Side::Source,
                ErrorKind::Protocol,
                format!("HLS initialisation section {}: {e}", map.uri),
            ))),
        }
    }
}

/// A segment (or initialisation section) that its key does not open: a source error, so the
/// relay reconnects (fetching the key again) and, if it persists, fails naming it.
fn undecryptable(uri: &Url, key: &Url, e: &dyn std::fmt::Display) -> RelayError {
    RelayError::new(
        Side::Source,
        ErrorKind::Protocol,
        format!("HLS segment {uri}: cannot decrypt with the AES-128 key {key}: {e}"),
    )
}

fn stalled(url: &Url, e: &StallError) -> RelayError {
    RelayError::new(Side::Source, ErrorKind::Timeout, format!("{url}: {e}"))
}

/// Segment runs (transport stream or fMP4) → frames on the output timeline.
struct Output {
    demux: Demux,
    /// The current run's first frames, until where its tracks start is known.
    lookahead: Option<SegmentLookahead>,
    timeline: Timeline,
}

impl Output {
    fn new(config: TimelineConfig) -> Output {
        Output {
            demux: Demux::new(None),
            lookahead: Some(SegmentLookahead::new()),
            timeline: Timeline::new(config),
        }
    }

    /// Makes the demuxer the next segment needs (`init`: fMP4 with that initialisation
    /// section; `None`: a transport stream) the current one: a change of format or of
    /// initialisation section starts a new run.
    async fn select(&mut self, init: Option<Arc<InitSegment>>, tx: &Tx) -> Result<(), Closed> {
        let same = match (&self.demux, &init) {
            (Demux::Ts(_), None) => true,
            (Demux::Fmp4(current, _), Some(init)) => Arc::ptr_eq(current, init),
            _ => false,
        };
        if same {
            return Ok(());
        }
        self.restart(tx).await?;
        if init.is_some() {
            self.demux = Demux::new(init);
        }
        Ok(())
    }

    /// Demuxes `data` (the next segment of the current run) and sends its frames. The inner
    /// error: an fMP4 segment that could not be read (nothing of it is sent).
    async fn feed(&mut self, data: &Bytes, tx: &Tx) -> Result<Result<(), Mp4Error>, Closed> {
        match &mut self.demux {
            Demux::Ts(_) => {
                for piece in data.chunks(PUSH) {
                    if let Demux::Ts(ts) = &mut self.demux {
                        ts.push(piece);
                    }
                    self.drain(tx).await?;
                }
            }
            Demux::Fmp4(_, f) => {
                if let Err(e) = f.push(data) {
                    return Ok(Err(e));
                }
                self.drain(tx).await?;
            }
        }
        Ok(Ok(()))
    }

    /// Ends the current run (its held frames sent) and starts another, placed seamlessly.
    async fn restart(&mut self, tx: &Tx) -> Result<(), Closed> {
        self.finish(tx).await?;
        self.demux = self.demux.restarted();
        self.lookahead = Some(SegmentLookahead::new());
        Ok(())
    }

    /// Ends the current run: every frame it holds is sent.
    async fn finish(&mut self, tx: &Tx) -> Result<(), Closed> {
        self.demux.finish();
        self.drain(tx).await?;
        self.begin(tx).await
    }

    async fn drain(&mut self, tx: &Tx) -> Result<(), Closed> {
        for stream in self.demux.take_dropped() {
            warn!(stream = %stream, "HLS stream not relayed");
        }
        while let Some(frame) = self.demux.poll_frame() {
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
