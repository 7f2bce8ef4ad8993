//! The relay's destination session: an RTMP(S) publish or an SRT push of MPEG-TS.
//!
//! The runner drives one [`Destination`] through the same few calls whatever the transport —
//! [`Destination::send`] a frame (encoded at once, queued), [`Destination::drive`] the
//! queue out (and learn when the session ends), [`Destination::queued_bytes`] for its
//! back-pressure (frames wait in the runner's out queue, where drop-to-keyframe applies,
//! while a session holds more than the runner's high-water mark), [`Destination::close`].
//! An enum, not a trait object: the hot path is a match.
//!
//! * **RTMP(S)** ([`RtmpConnection`]): FLV bodies go out as RTMP messages.
//! * **SRT** ([`SrtDestination`]): frames are remuxed by [`TsMuxer`] into 188-byte TS
//!   packets, sent seven to an SRT message (1316 bytes, libsrt's live payload). A session
//!   gets its headers first from the runner (the latest metadata and sequence headers, then
//!   the latest GOP), exactly as an RTMP session does; the muxer's timeline is the runner's,
//!   so a source reconnect under the grace period continues the same TS (same continuity
//!   counters, no discontinuity). What the muxer refuses maps to:
//!   - a codec TS cannot carry (AV1, VP9, Opus, …): a non-retryable destination error
//!     naming the codec ([`ErrorKind::Unsupported`]);
//!   - a frame before its sequence header: skipped (waiting for the header);
//!   - a bad frame or sequence header: dropped and counted (`frames_dropped`).

use std::collections::VecDeque;
use std::time::Duration;

use baton_media::Frame;
use baton_media::timeline::wire_timestamp;
use baton_mpegts::{MuxError, TsMuxer};
use baton_net::RtmpUrl;
use baton_net::client::{ClientError, ClientOptions, RtmpConnection};
use baton_net::egress::Egress;
use baton_net::media_kind;
use baton_net::srt_client::{SrtConnection, SrtSendStats, SrtUrl, is_srt_url};
use baton_rtmp::session::ClientMode;
use bytes::Bytes;
use tracing::warn;

use crate::error::{ErrorKind, RelayError, Side};
use crate::source::egress_options;
use crate::srt::from_srt_on;
use crate::status::Transport;

/// Where the relay pushes: `rtmp://`, `rtmps://` or `srt://`.
#[derive(Clone, Debug)]
pub(crate) enum DestinationUrl {
    Rtmp(RtmpUrl),
    Srt(Box<SrtUrl>),
}

impl DestinationUrl {
    pub(crate) fn parse(url: &str) -> Result<DestinationUrl, RelayError> {
        if is_srt_url(url) {
            return SrtUrl::parse(url)
                .map(|u| DestinationUrl::Srt(Box::new(u)))
                .map_err(|e| from_srt_on(Side::Destination, &e));
        }
        RtmpUrl::parse(url).map(DestinationUrl::Rtmp).map_err(|e| {
            RelayError::new(
                Side::Destination,
                ErrorKind::InvalidUrl,
                format!("{url}: {e}"),
            )
        })
    }
}

/// What became of one frame handed to [`Destination::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Encoded and queued.
    Queued,
    /// Not sent, and counted as dropped: the SRT muxer could not parse it.
    Dropped,
    /// Not sent: it came before the sequence header it needs.
    Skipped,
}

/// One destination session.
#[derive(Debug)]
pub(crate) enum Destination {
    Rtmp(Box<RtmpConnection>),
    Srt(Box<SrtDestination>),
}

impl Destination {
    /// Opens a session to `url`: an RTMP publish with `options` (egress-checked), or an SRT
    /// call (or, where `egress` allows listening, a wait for the peer) within the connect
    /// timeout.
    pub(crate) async fn connect(
        url: &DestinationUrl,
        options: &ClientOptions,
        egress: &Egress,
    ) -> Result<Destination, RelayError> {
        match url {
            DestinationUrl::Rtmp(u) => {
                RtmpConnection::connect(u, ClientMode::Publish, &egress_options(options, egress))
                    .await
                    .map(|c| Destination::Rtmp(Box::new(c)))
                    .map_err(|e| rtmp_error(&e))
            }
            DestinationUrl::Srt(u) => SrtConnection::connect(u, egress, options.connect_timeout)
                .await
                .map(|conn| Destination::Srt(Box::new(SrtDestination::new(conn))))
                .map_err(|e| from_srt_on(Side::Destination, &e)),
        }
    }

    /// The transport, for the status.
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Destination::Rtmp(c) => Transport {
                protocol: if c.tls().is_some() { "rtmps" } else { "rtmp" },
                tls: c.tls().cloned(),
            },
            Destination::Srt(_) => Transport {
                protocol: "srt",
                tls: None,
            },
        }
    }

    /// Encodes and queues one frame (`frame.dts` on the relay's timeline).
    pub(crate) fn send(&mut self, frame: &Frame) -> Result<Sent, RelayError> {
        match self {
            Destination::Rtmp(c) => c
                .send_media(
                    media_kind(frame.kind),
                    wire_timestamp(frame.dts),
                    &frame.payload,
                )
                .map(|()| Sent::Queued)
                .map_err(|e| RelayError::new(Side::Internal, ErrorKind::Protocol, e.to_string())),
            Destination::Srt(s) => s.send(frame),
        }
    }

    /// Writes what is queued and watches the session. Returns only when the session failed
    /// or ended. Cancel-safe.
    pub(crate) async fn drive(&mut self) -> RelayError {
        match self {
            Destination::Rtmp(c) => match c.drive().await {
                Err(e) => rtmp_error(&e),
                Ok(()) => rtmp_error(&ClientError::Closed),
            },
            Destination::Srt(s) => s.drive().await,
        }
    }

    /// Bytes encoded but not yet handed to the network.
    pub(crate) fn queued_bytes(&self) -> usize {
        match self {
            Destination::Rtmp(c) => c.queued_bytes(),
            Destination::Srt(s) => s.queued_bytes(),
        }
    }

    /// Bytes written to the network (RTMP: the socket's; SRT: TS payload given to SRT).
    pub(crate) fn bytes_out(&self) -> u64 {
        match self {
            Destination::Rtmp(c) => c.bytes_out(),
            Destination::Srt(s) => s.conn.bytes_out(),
        }
    }

    /// The SRT send statistics (`None` for RTMP).
    pub(crate) fn srt_stats(&mut self) -> Option<SrtSendStats> {
        match self {
            Destination::Rtmp(_) => None,
            Destination::Srt(s) => Some(s.conn.send_stats()),
        }
    }

    /// Ends the session cleanly within `timeout` (RTMP: FCUnpublish, deleteStream; SRT: the
    /// muxer's last packets, then SRT's shutdown).
    pub(crate) async fn close(self, timeout: Duration) -> Result<(), String> {
        match self {
            Destination::Rtmp(c) => c.close(timeout).await.map_err(|e| e.to_string()),
            Destination::Srt(s) => s.close(timeout).await,
        }
    }
}

fn rtmp_error(e: &ClientError) -> RelayError {
    RelayError::from_client(Side::Destination, e)
}

/// An SRT destination: the TS muxer and the chunks it made that SRT has not taken yet.
#[derive(Debug)]
pub(crate) struct SrtDestination {
    conn: SrtConnection,
    mux: TsMuxer,
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    queued: usize,
    /// Bad frames dropped (warned about for the first few only).
    bad_frames: u64,
}

/// Beyond the latency and a round trip, how long a closing SRT session waits before its
/// shutdown (see [`SrtDestination::close`]).
const LINGER_MARGIN: Duration = Duration::from_millis(100);

/// Bad frames warned about, per session, before the rest are only counted.
const BAD_FRAME_WARNINGS: u64 = 5;

impl SrtDestination {
    pub(crate) fn new(conn: SrtConnection) -> SrtDestination {
        SrtDestination {
            conn,
            mux: TsMuxer::default(),
            chunks: VecDeque::new(),
            queued: 0,
            bad_frames: 0,
        }
    }

    fn send(&mut self, frame: &Frame) -> Result<Sent, RelayError> {
        let sent = mux_outcome(self.mux.push(frame.kind, frame.dts, &frame.payload))?;
        if sent == Sent::Dropped {
            self.bad_frames += 1;
            if self.bad_frames <= BAD_FRAME_WARNINGS {
                warn!(peer = %self.conn.peer(), kind = ?frame.kind, dts = frame.dts, "SRT destination: a frame the TS muxer could not read was dropped");
            }
        }
        self.take_chunks();
        Ok(sent)
    }

    fn take_chunks(&mut self) {
        while let Some(chunk) = self.mux.poll_chunk() {
            self.queued += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    fn queued_bytes(&self) -> usize {
        self.queued + self.mux.queued()
    }

    async fn drive(&mut self) -> RelayError {
        loop {
            let Some(chunk) = self.chunks.front() else {
                let e = self.conn.closed().await;
                return from_srt_on(Side::Destination, &e);
            };
            // Cancel-safe: the chunk leaves the queue only once SRT took it.
            if let Err(e) = self.conn.send(chunk.clone()).await {
                return from_srt_on(Side::Destination, &e);
            }
            if let Some(chunk) = self.chunks.pop_front() {
                self.queued -= chunk.len();
            }
        }
    }

    async fn close(mut self, timeout: Duration) -> Result<(), String> {
        self.mux.flush();
        self.take_chunks();
        let deadline = tokio::time::Instant::now() + timeout;
        let send = async {
            while let Some(chunk) = self.chunks.pop_front() {
                self.conn.send(chunk).await?;
            }
            Ok::<_, baton_net::srt_client::SrtError>(())
        };
        match tokio::time::timeout_at(deadline, send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                return Err(format!(
                    "the last TS packets were not taken within {timeout:?}"
                ));
            }
        }
        // The receiver plays each packet one latency after it was sent and drops what it
        // still holds when the shutdown arrives (libsrt does): linger that long, plus a
        // round trip for a last retransmission, so the stream's tail is played.
        let stats = self.conn.send_stats();
        let linger = stats.latency + stats.rtt * 2 + LINGER_MARGIN;
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + linger)).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.conn.close(left).await.map_err(|e| e.to_string())
    }
}

/// The runner's reading of a muxer refusal (see the module docs).
fn mux_outcome(result: Result<(), MuxError>) -> Result<Sent, RelayError> {
    match result {
        Ok(()) => Ok(Sent::Queued),
        Err(e @ MuxError::Unsupported { .. }) => Err(RelayError::new(
            Side::Destination,
            ErrorKind::Unsupported,
            format!("SRT destination: {e}"),
        )),
        Err(MuxError::NoConfig { .. }) => Ok(Sent::Skipped),
        Err(MuxError::BadConfig { .. } | MuxError::BadFrame { .. }) => Ok(Sent::Dropped),
    }
}

#[cfg(test)]
mod tests;
