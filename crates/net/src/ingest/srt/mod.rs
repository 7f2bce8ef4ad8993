//! The SRT ingest: publishers send MPEG-TS over SRT (`srt://HOST:PORT?streamid=…`, caller
//! mode, as OBS, ffmpeg and hardware encoders do) and their streams join the same
//! [`StreamHub`](crate::hub::StreamHub) as RTMP publishes — GOP cache, RTMP and HTTP-FLV
//! play, relays, forbid and kick.
//!
//! One UDP port serves every publisher: srt-tokio's [`SrtListener`] multiplexes the
//! connections and hands each handshake to [`SrtIngestServer::run`] *before* it completes
//! (SRT access control), so a refusal goes back as an SRT rejection code the caller shows:
//!
//! | why | code |
//! |---|---|
//! | no / unparsable stream id ([`stream_id`]) | 2400 `BadRequest` |
//! | a play request (`m=request`): SRT play is not served here | 2405 `BadMode` |
//! | more than [`SrtConfig::max_connections`] | 2402 `Overload` |
//! | encryption expected and absent, or offered and not configured | 1011 `Unsecure` |
//! | wrong passphrase (detected by srt-tokio) | 1010 `BadSecret` |
//! | the [`IngestPolicy`](super::IngestPolicy) says no (forbidden, bad signature, unknown domain) | 2403 `Forbidden` |
//! | the stream already has a publisher (RTMP or SRT) | 2409 `Conflict` |
//!
//! The stream id decides domain, app, stream and query ([`stream_id::parse`]); the query
//! reaches the policy as an RTMP stream name's query does, so signed publish URLs work by
//! putting `auth_key=…` into the stream id. The hub slot is claimed before the handshake is
//! answered, so a second publisher learns at once that the stream is taken.
//!
//! A connection: datagrams → [`TsFrames`] → frames into the hub's [`Publisher`]. The TS
//! timeline (milliseconds from the first access unit) is moved so that the first frame out is
//! at 0 ms, like an RTMP publisher's; sequence headers come first, keyframes are flagged by
//! the frame itself. A kick (forbid) closes the SRT connection (the caller gets a shutdown).
//! Bounds: connections ([`SrtConfig::max_connections`]), time from accept to the first frame
//! ([`SrtConfig::handshake_timeout`]) and between frames ([`SrtConfig::idle_timeout`]), SRT's
//! own peer-idle timeout for silent peers, and the demuxer's memory bounds ([`crate::ts`]).
//! Bytes that are not a transport stream produce no frames, so such a publisher is closed
//! at the first-frame deadline; nothing a publisher sends reaches another connection.
//!
//! srt-protocol is Baton's patched copy (`vendor/srt-protocol`, see its `BATON.md`): what a
//! peer sends is a rejection, an error or an ignored packet, never a panic in the listener's
//! task. Baton decides the keys from the caller's key size (so the sizes always match), and
//! should the listener's task end all the same, [`SrtIngestServer::run`] binds the port
//! again (after a second); the publishers it carried lose their connection and reconnect.

pub mod stream_id;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use srt_protocol::packet::CoreRejectReason;
use srt_protocol::settings::KeySettings;
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::options::{KeySize, Passphrase, SocketOptions};
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::{DEFAULT_DOMAIN, Decision, Ingest, StreamRequest};
use crate::hub::{ClaimError, IngestProtocol, PublishOrigin, Publisher, StreamKey};
use crate::ts::TsFrames;
use stream_id::Mode;

/// Settings of the SRT ingest listener.
#[derive(Clone, Debug)]
pub struct SrtConfig {
    /// The domain of publishes whose stream id names none (no `h=`, no `vhost`). SRT carries
    /// no host name, so set it to the host players use (`rtmp://HOST/app/stream`).
    pub domain: String,
    /// The passphrase callers must encrypt with (AES, key length as the caller chooses);
    /// `None`: unencrypted only. 10 to 79 bytes (SRT counts bytes, not characters).
    pub passphrase: Option<String>,
    /// Receive latency (TSBPD): how long lost packets may be retransmitted.
    pub latency: Duration,
    /// Simultaneous SRT connections (handshaking or publishing).
    pub max_connections: usize,
    /// From accepting a connection to its first frame.
    pub handshake_timeout: Duration,
    /// A publisher that sends no frame this long is closed.
    pub idle_timeout: Duration,
    /// A peer from which no SRT packet at all arrives this long is gone (SRTO_PEERIDLETIMEO).
    pub peer_idle_timeout: Duration,
}

impl Default for SrtConfig {
    fn default() -> Self {
        SrtConfig {
            domain: DEFAULT_DOMAIN.to_string(),
            passphrase: None,
            latency: Duration::from_millis(120),
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            peer_idle_timeout: Duration::from_secs(5),
        }
    }
}

/// Why an SRT publish ended.
#[derive(Debug, thiserror::Error)]
pub enum SrtConnError {
    #[error("srt: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake not completed within the handshake timeout")]
    HandshakeTimeout,
    #[error("no media frame within {0:?} (not an MPEG-TS stream with audio or video?)")]
    NoMedia(Duration),
    #[error("no media frame for {0:?}")]
    IdleTimeout(Duration),
    #[error("publisher of {0} disconnected by the server")]
    Kicked(StreamKey),
    #[error("server shutting down")]
    Shutdown,
}

/// A bound SRT ingest listener. See the module docs.
pub struct SrtIngestServer {
    addr: SocketAddr,
    config: Arc<SrtConfig>,
    /// `config.passphrase`, checked once at bind.
    passphrase: Option<Passphrase>,
    ingest: Arc<Ingest>,
    listener: Option<(SrtListener, srt_tokio::SrtIncoming)>,
}

impl std::fmt::Debug for SrtIngestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtIngestServer")
            .field("addr", &self.addr)
            .field("config", &self.config)
            .finish()
    }
}

impl SrtIngestServer {
    /// Binds the UDP port (port 0: any free one, see [`local_addr`](Self::local_addr)).
    pub async fn bind(
        addr: SocketAddr,
        config: SrtConfig,
        ingest: Arc<Ingest>,
    ) -> std::io::Result<SrtIngestServer> {
        let passphrase = config
            .passphrase
            .clone()
            .map(Passphrase::try_from)
            .transpose()
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the SRT passphrase must have 10 to 79 bytes",
                )
            })?;
        let config = Arc::new(config);
        let (listener, addr) = bind_listener(addr, &config).await?;
        Ok(SrtIngestServer {
            addr,
            config,
            passphrase,
            ingest,
            listener: Some(listener),
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers handshakes until `cancel` fires, then waits for the publishers (which also
    /// watch `cancel`) to close.
    pub async fn run(mut self, cancel: CancellationToken) {
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        info!(addr = %self.addr, encrypted = self.config.passphrase.is_some(), "SRT ingest listening");
        let mut current = self.listener.take();
        // The listener serving when `cancel` fired (none while it is being bound again).
        let serving = loop {
            let Some((listener, mut incoming)) = current.take() else {
                tokio::select! {
                    _ = cancel.cancelled() => break None,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                current = match bind_listener(self.addr, &self.config).await {
                    Ok((l, _)) => {
                        info!(addr = %self.addr, "SRT ingest listening again");
                        Some(l)
                    }
                    Err(e) => {
                        error!(addr = %self.addr, error = %e, "SRT listener could not be bound again");
                        None
                    }
                };
                continue;
            };
            let cancelled = loop {
                tokio::select! {
                    _ = cancel.cancelled() => break true,
                    request = incoming.incoming().next() => match request {
                        Some(request) => self.answer(request, &permits, &tracker, &cancel).await,
                        None => break false,
                    },
                }
            };
            if cancelled {
                break Some(listener);
            }
            // The listener's task ended by itself (srt-tokio panicked on a packet): the
            // connections it carried are gone; bind the port again (after a second).
            error!(addr = %self.addr, "SRT listener stopped unexpectedly; binding it again");
        };
        // The publishers close first (their shutdowns still go out through the listener's
        // socket), then the listener.
        tracker.close();
        tracker.wait().await;
        if let Some(mut listener) = serving {
            listener.close().await;
        }
    }

    /// Accepts or rejects one handshake; an accepted one is served on its own task.
    async fn answer(
        &self,
        request: ConnectionRequest,
        permits: &Arc<Semaphore>,
        tracker: &TaskTracker,
        cancel: &CancellationToken,
    ) {
        let peer = request.remote();
        let counters = self.ingest.metrics().listener("srt");
        match self.admit(&request, permits) {
            Ok(admitted) => {
                counters.accepted.inc();
                let config = Arc::clone(&self.config);
                let cancel = cancel.child_token();
                tracker.spawn(async move {
                    let Admitted {
                        publisher,
                        key_settings,
                        permit,
                        user,
                    } = admitted;
                    let key = publisher.key().clone();
                    let user = user.as_deref().unwrap_or("");
                    match serve(
                        request,
                        key_settings,
                        publisher,
                        &config,
                        cancel,
                        peer,
                        user,
                    )
                    .await
                    {
                        Ok(()) => info!(%peer, stream = %key, "SRT publish finished"),
                        Err(e) => {
                            if matches!(e, SrtConnError::HandshakeTimeout) {
                                counters.handshake_failures.inc();
                            }
                            info!(%peer, stream = %key, cause = %e, "SRT publish ended")
                        }
                    }
                    drop(permit);
                });
            }
            Err((reason, why)) => {
                match refusal_reason(&reason) {
                    Some(label) => self.ingest.metrics().publish_refused("srt", label),
                    None => {
                        counters.refused.inc();
                    }
                }
                let id = request.stream_id().map_or("", |s| s.as_str());
                info!(%peer, stream_id = id, code = reject_code(reason), reason = %why, "SRT publish refused");
                if let Err(e) = request.reject(reason).await {
                    debug!(%peer, error = %e, "SRT rejection not sent");
                }
            }
        }
    }

    /// The checks before a handshake is answered (see the module docs for the order).
    fn admit(
        &self,
        request: &ConnectionRequest,
        permits: &Arc<Semaphore>,
    ) -> Result<Admitted, (RejectReason, String)> {
        let server = |r: ServerRejectReason| RejectReason::Server(r);
        let parsed = stream_id::parse(request.stream_id().map(|s| s.as_str()))
            .map_err(|e| (server(ServerRejectReason::BadRequest), e.to_string()))?;
        if parsed.mode == Mode::Play {
            return Err((
                server(ServerRejectReason::BadMode),
                "playing over SRT (m=request) is not supported: play over RTMP or HTTP-FLV".into(),
            ));
        }
        let permit = Arc::clone(permits).try_acquire_owned().map_err(|_| {
            (
                server(ServerRejectReason::Overload),
                format!(
                    "too many SRT connections (limit {})",
                    self.config.max_connections
                ),
            )
        })?;
        let key_settings = match (&self.passphrase, request.key_size()) {
            (Some(passphrase), size) if size != KeySize::Unspecified => Some(KeySettings {
                key_size: size,
                passphrase: passphrase.clone(),
            }),
            (Some(_), _) => {
                return Err((
                    RejectReason::Core(CoreRejectReason::Unsecure),
                    "this listener requires encryption (a passphrase)".into(),
                ));
            }
            (None, KeySize::Unspecified) => None,
            (None, _) => {
                return Err((
                    RejectReason::Core(CoreRejectReason::Unsecure),
                    "encryption offered but this listener has no passphrase".into(),
                ));
            }
        };
        let domain = parsed
            .domain
            .clone()
            .unwrap_or_else(|| self.config.domain.to_ascii_lowercase());
        let key = StreamKey::new(domain, &parsed.app, &parsed.stream);
        let stream_request = StreamRequest {
            key: &key,
            query: parsed.query.as_deref(),
            tc_url: None,
            peer: request.remote(),
        };
        if let Decision::Deny { description, .. } =
            self.ingest.policy.authorize_publish(&stream_request)
        {
            return Err((server(ServerRejectReason::Forbidden), description));
        }
        let publisher = self
            .ingest
            .hub
            .publish_from(
                key,
                PublishOrigin {
                    protocol: IngestProtocol::Srt,
                    remote: request.remote(),
                },
            )
            .map_err(|ClaimError::AlreadyPublishing(key)| {
                (
                    server(ServerRejectReason::Conflict),
                    format!("stream {key} is already publishing"),
                )
            })?;
        Ok(Admitted {
            publisher,
            key_settings,
            permit,
            user: parsed.user,
        })
    }
}

/// The metrics label of an [`SrtIngestServer::admit`] refusal; `None` for the connection cap
/// (counted as the listener's refusal, not a refused publish).
fn refusal_reason(reason: &RejectReason) -> Option<&'static str> {
    Some(match reason {
        RejectReason::Server(ServerRejectReason::Overload) => return None,
        RejectReason::Server(ServerRejectReason::BadRequest) => "bad_stream_id",
        RejectReason::Server(ServerRejectReason::BadMode) => "bad_mode",
        RejectReason::Server(ServerRejectReason::Conflict) => "stream_busy",
        RejectReason::Server(ServerRejectReason::Forbidden) => "policy",
        RejectReason::Core(CoreRejectReason::Unsecure) => "encryption",
        _ => "other",
    })
}

/// A handshake that passed [`SrtIngestServer::admit`]: the stream claimed, the keys to
/// answer with, a connection permit.
struct Admitted {
    publisher: Publisher,
    key_settings: Option<KeySettings>,
    permit: OwnedSemaphorePermit,
    /// The user the stream id names, for logs.
    user: Option<String>,
}

/// Binds the UDP socket (with SRT's buffer sizes) and the listener on it.
async fn bind_listener(
    addr: SocketAddr,
    config: &SrtConfig,
) -> std::io::Result<((SrtListener, srt_tokio::SrtIncoming), SocketAddr)> {
    let mut options = SocketOptions::default();
    options.connect.local = addr;
    let socket = srt_tokio::bind_socket(&options).await?;
    let local = socket.local_addr()?;
    let peer_idle = config.peer_idle_timeout;
    let listener = SrtListener::builder()
        .latency(config.latency)
        .set(|o| o.session.peer_idle_timeout = peer_idle)
        .socket(socket)
        .bind(local)
        .await?;
    Ok((listener, local))
}

/// The numeric SRT rejection code, for logs.
fn reject_code(reason: RejectReason) -> i32 {
    match reason {
        RejectReason::Core(c) => c as i32,
        RejectReason::Server(s) => s as i32,
        RejectReason::CoreUnrecognized(c)
        | RejectReason::ServerUnrecognized(c)
        | RejectReason::User(c) => c,
    }
}

/// Completes the handshake and publishes until the peer leaves, a timeout, a kick or `cancel`.
async fn serve(
    request: ConnectionRequest,
    key_settings: Option<KeySettings>,
    publisher: Publisher,
    config: &SrtConfig,
    cancel: CancellationToken,
    peer: SocketAddr,
    user: &str,
) -> Result<(), SrtConnError> {
    let kick = publisher.close_signal();
    let accept = tokio::time::timeout(config.handshake_timeout, request.accept(key_settings));
    let mut socket = tokio::select! {
        _ = cancel.cancelled() => return Err(SrtConnError::Shutdown),
        _ = kick.cancelled() => return Err(SrtConnError::Kicked(publisher.key().clone())),
        accepted = accept => accepted.map_err(|_| SrtConnError::HandshakeTimeout)??,
    };
    info!(%peer, stream = %publisher.key(), user, "SRT publish started");
    let result = publish(&mut socket, &publisher, config, &cancel, &kick, peer).await;
    // Tell the caller (a kick, a timeout, shutdown): SRT's shutdown, not just silence.
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close()).await;
    result
}

async fn publish(
    socket: &mut SrtSocket,
    publisher: &Publisher,
    config: &SrtConfig,
    cancel: &CancellationToken,
    kick: &CancellationToken,
    peer: SocketAddr,
) -> Result<(), SrtConnError> {
    let mut ts = TsFrames::default();
    let mut timeline = Timeline::default();
    let mut deadline = Instant::now() + config.handshake_timeout;
    loop {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(SrtConnError::Shutdown),
            _ = kick.cancelled() => return Err(SrtConnError::Kicked(publisher.key().clone())),
            _ = sleep_until(deadline) => {
                return Err(match timeline.origin {
                    None => SrtConnError::NoMedia(config.handshake_timeout),
                    Some(_) => SrtConnError::IdleTimeout(config.idle_timeout),
                });
            }
            item = socket.next() => item,
        };
        let sent = match item {
            Some(Ok((_, data))) => {
                ts.push(&data);
                forward(&mut ts, &mut timeline, publisher, peer)
            }
            Some(Err(e)) => return Err(e.into()),
            None => {
                ts.finish();
                forward(&mut ts, &mut timeline, publisher, peer);
                return Ok(());
            }
        };
        if sent > 0 {
            deadline = Instant::now() + config.idle_timeout;
        }
    }
}

/// Moves the frames `ts` has ready into the hub; returns how many.
fn forward(
    ts: &mut TsFrames,
    timeline: &mut Timeline,
    publisher: &Publisher,
    peer: SocketAddr,
) -> usize {
    let mut sent = 0;
    while let Some(mut frame) = ts.poll_frame() {
        frame.dts = timeline.place(frame.dts);
        if frame.config {
            super::conn::log_codec(peer, publisher.key(), &frame);
        }
        publisher.send(frame);
        sent += 1;
    }
    for dropped in ts.take_dropped() {
        warn!(%peer, stream = %publisher.key(), %dropped, "SRT publish: stream not carried");
    }
    sent
}

/// The TS adapter's milliseconds (0 = first access unit; a unit of the other track may be
/// a little earlier) moved so the first frame out is at 0 and none is negative, as an RTMP
/// publisher's timestamps are.
#[derive(Debug, Default)]
struct Timeline {
    origin: Option<i64>,
}

impl Timeline {
    fn place(&mut self, dts: i64) -> i64 {
        let origin = *self.origin.get_or_insert(dts);
        (dts - origin).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_starts_at_zero_and_never_goes_negative() {
        let mut t = Timeline::default();
        assert_eq!(t.place(-23), 0);
        assert_eq!(t.place(0), 23);
        assert_eq!(t.place(40), 63);
        assert_eq!(t.place(-100), 0);
    }

    #[test]
    fn codes() {
        assert_eq!(
            reject_code(RejectReason::Server(ServerRejectReason::Conflict)),
            2409
        );
        assert_eq!(
            reject_code(RejectReason::Core(CoreRejectReason::Unsecure)),
            1011
        );
    }
}
