//! The SRT live source: an MPEG-TS stream received over one SRT connection
//! ([`baton_net::srt_client`]) and turned into frames by [`TsFrames`].
//!
//! * **Time.** Frames leave on `TsFrames`' millisecond timeline (0 at the first access
//!   unit of the connection); the runner's `Timeline` joins each connection's frames to the
//!   relay's one destination session like an RTMP source's. SRT delivers at the sender's
//!   pace (each packet is released one latency after it was sent), so nothing is paced
//!   here: the only bursts are a connection's first messages (up to one latency's worth)
//!   and `TsFrames`' merge of audio and video, a few hundred milliseconds at most.
//! * **Bad input.** A connection that delivers bytes but no frame for [`NO_MEDIA`] — random
//!   bytes, no PAT/PMT, only codecs Baton cannot carry — fails with a `Protocol` error that
//!   says what the demuxer found ([`TsFrames::why_empty`]); one that delivers nothing fails
//!   with `Timeout`. Both are retried (a new connection) like a drop. Continuity errors and
//!   truncated PES inside a good stream are the demuxer's to absorb.
//! * **The end.** When the connection closes or goes quiet, the frames `TsFrames` still holds
//!   (the last unit of each track, completed only when the end is known) are released
//!   before the error: the stream's last frames are relayed, not lost.
//! * **Statistics.** The connection's RTT, loss, retransmissions and drops are published in
//!   the relay status ([`SrtSource::stats`]).

use std::time::Duration;

use baton_media::Frame;
use baton_net::egress::{Egress, EgressError};
use baton_net::srt_client::{Rejection, SrtConnection, SrtError, SrtStats, SrtUrl};
use bytes::Bytes;
use tokio::time::{Instant, timeout_at};
use tracing::warn;

use crate::error::{ErrorKind, RelayError, Side};
use crate::event::SourceEvent;
use crate::ts::TsFrames;

/// How long a connection may go without producing a frame before it is dropped with a
/// named error (shorter than the relay's default stall timeout, which would only say
/// "no media").
pub const NO_MEDIA: Duration = Duration::from_secs(4);

/// A connected SRT source.
#[derive(Debug)]
pub struct SrtSource {
    conn: SrtConnection,
    ts: TsFrames,
    /// When the last frame left (or the connection was made).
    last_frame: Instant,
    /// Bytes received since the last frame.
    bytes_since_frame: u64,
    /// The connection ended: the frames `TsFrames` still held are handed out, then this.
    ended: Option<RelayError>,
    /// A frame taken from `TsFrames` to learn that the stream had one left.
    held: Option<Frame>,
}

impl SrtSource {
    /// Calls the peer (or waits for it, in listener mode) as `url` says.
    pub async fn connect(
        url: &SrtUrl,
        egress: &Egress,
        timeout: Duration,
    ) -> Result<SrtSource, RelayError> {
        let conn = SrtConnection::connect(url, egress, timeout)
            .await
            .map_err(|e| from_srt(&e))?;
        Ok(SrtSource {
            conn,
            ts: TsFrames::default(),
            last_frame: Instant::now(),
            bytes_since_frame: 0,
            ended: None,
            held: None,
        })
    }

    /// The next frame. Cancel-safe: received bytes are kept in the demuxer.
    pub async fn next(&mut self) -> Result<SourceEvent, RelayError> {
        loop {
            if let Some(event) = self.poll_frame() {
                return Ok(event);
            }
            if let Some(e) = &self.ended {
                return Err(e.clone());
            }
            match timeout_at(self.last_frame + NO_MEDIA, self.conn.recv()).await {
                Ok(Ok(data)) => self.push(&data),
                Ok(Err(e)) => self.end(from_srt(&e)),
                Err(_) => self.quiet(),
            }
        }
    }

    /// A frame from what was already received, without waiting.
    pub fn try_next(&mut self) -> Option<Result<SourceEvent, RelayError>> {
        loop {
            if let Some(event) = self.poll_frame() {
                return Some(Ok(event));
            }
            if let Some(e) = &self.ended {
                return Some(Err(e.clone()));
            }
            match self.conn.try_recv()? {
                Ok(data) => self.push(&data),
                Err(e) => self.end(from_srt(&e)),
            }
        }
    }

    /// The connection ended or stopped delivering: what the demuxer holds is completed and
    /// released first (the stream's last frames: a stream that stops leaves its last unit of
    /// each track incomplete until the end is known), then the error is the source's.
    fn end(&mut self, e: RelayError) {
        self.ts.finish();
        self.ended = Some(e);
    }

    pub fn bytes_in(&self) -> u64 {
        self.conn.bytes_in()
    }

    /// The connection's latest statistics.
    pub fn stats(&mut self) -> SrtStats {
        self.conn.stats()
    }

    fn push(&mut self, data: &Bytes) {
        self.bytes_since_frame += data.len() as u64;
        self.ts.push(data);
        for dropped in self.ts.take_dropped() {
            warn!(peer = %self.conn.peer(), "SRT source: {dropped}");
        }
    }

    /// Nothing complete for [`NO_MEDIA`]: the stream stopped (its last units, completed now,
    /// are released first) or never carried media.
    fn quiet(&mut self) {
        self.ts.finish();
        let e = match self.ts.poll_frame() {
            Some(frame) => {
                self.held = Some(frame);
                RelayError::new(
                    Side::Source,
                    ErrorKind::Timeout,
                    format!(
                        "the stream from the SRT peer {} stopped: nothing more for {NO_MEDIA:?}",
                        self.conn.peer()
                    ),
                )
            }
            None => self.no_media(),
        };
        self.ended = Some(e);
    }

    fn poll_frame(&mut self) -> Option<SourceEvent> {
        let frame = self.held.take().or_else(|| self.ts.poll_frame())?;
        self.last_frame = Instant::now();
        self.bytes_since_frame = 0;
        Some(SourceEvent::Frame(frame))
    }

    fn no_media(&self) -> RelayError {
        if self.bytes_since_frame == 0 {
            return RelayError::new(
                Side::Source,
                ErrorKind::Timeout,
                format!(
                    "the SRT peer {} sent nothing for {NO_MEDIA:?}",
                    self.conn.peer()
                ),
            );
        }
        RelayError::new(
            Side::Source,
            ErrorKind::Protocol,
            format!(
                "{} bytes from the SRT peer {} in {NO_MEDIA:?} but no frame: {}",
                self.bytes_since_frame,
                self.conn.peer(),
                self.ts.why_empty()
            ),
        )
    }
}

/// The relay's view of an SRT failure of the source.
pub fn from_srt(e: &SrtError) -> RelayError {
    from_srt_on(Side::Source, e)
}

/// The relay's view of an SRT failure on `side`. A stream id the peer does not know
/// (`SRT_REJX_NOTFOUND`) may still appear at a source (its publisher is not there yet) and
/// is retried there; a destination that refuses the stream id will refuse it again, so for
/// the destination it is final, like a refused passphrase.
pub fn from_srt_on(side: Side, e: &SrtError) -> RelayError {
    let kind = match e {
        SrtError::InvalidUrl(_) => ErrorKind::InvalidUrl,
        SrtError::Unsupported(_) => ErrorKind::Unsupported,
        SrtError::Egress(EgressError::Refused(_)) | SrtError::ListenDenied(_) => {
            ErrorKind::EgressDenied
        }
        SrtError::Egress(EgressError::Lookup { .. }) | SrtError::Bind { .. } => ErrorKind::Connect,
        SrtError::Timeout { .. } => ErrorKind::Timeout,
        SrtError::Rejected { why, .. } => match why {
            Rejection::NotFound => ErrorKind::NotFound,
            Rejection::Busy => ErrorKind::Connect,
            Rejection::Passphrase | Rejection::Refused => ErrorKind::Refused,
        },
        SrtError::Handshake { .. } => ErrorKind::Protocol,
        SrtError::Io(_) | SrtError::Closed => ErrorKind::Disconnected,
    };
    let mut error = RelayError::new(side, kind, e.to_string());
    error.retryable = e.is_retryable()
        && !(side == Side::Destination
            && matches!(
                e,
                SrtError::Rejected {
                    why: Rejection::NotFound,
                    ..
                }
            ));
    error
}
