//! RTSP sources (IP cameras, NVRs): `rtsp://[user:password@]host[:554]/path[?transport=udp]`
//! pulled with [retina](https://github.com/scottlamb/retina) and turned into FLV-bodied frames
//! ([`frames`]).
//!
//! **Why retina.** RTSP clients fail on camera quirks far more than on the protocol: retina is
//! the pure-Rust client written for an NVR (Moonfire) against dozens of real cameras (its test
//! data are their DESCRIBE/SETUP/PLAY answers), depacketizes H.264 (RFC 6184), H.265 (RFC
//! 7798) and AAC (RFC 3640) into exactly the forms FLV carries (AVCC / HVCC with the decoder
//! configuration records built, raw AAC with the AudioSpecificConfig), does basic and digest
//! authentication (RFC 2617, RFC 7616) and the keep-alives of a playing session (`OPTIONS`,
//! `GET_PARAMETER` or `SET_PARAMETER` — whichever the camera supports — every half session
//! timeout, at most 30 s; a camera that does not answer one within the next interval ends
//! the session with an error), widens RTP timestamps past their 32-bit wrap, is fuzzed, and
//! brings no TLS, no C library and no second crypto provider. It has no TLS at all, so
//! `rtsps://` is refused by name.
//!
//! **Egress.** retina dials by URL, not through a [`Dialer`](crate::transport::Dialer). So the
//! host is resolved and checked first ([`Egress::resolve`]) and retina is given the URL with
//! the checked IP literal as its host: the address checked is the address connected, as for
//! every other source. The Request-URI then names the IP (digest authentication hashes the
//! same URI it sends, so that holds; RTSP has no `Host` header). Two things retina would
//! otherwise do on its own are kept within the rule, and a third it does not do:
//! * a dropped session's `TEARDOWN` on a *fresh* connection goes to the base URL the camera
//!   answered (`Content-Base`, often the camera's private address behind NAT): sessions are
//!   dropped with `TeardownPolicy::Never`. Over TCP the camera ends the session when the
//!   connection closes (the interleaved channel is gone, RFC 2326 §10.12); over UDP it lets
//!   it expire after its session timeout (60 s by default, RFC 2326 §12.37);
//! * over UDP, `SETUP` sends its firewall-opening datagrams to the address the camera names in
//!   its `Transport` answer (`source=`, `server_port`), before Baton could check it, and binds
//!   two UDP ports a stream: UDP is therefore allowed only where an account may make Baton
//!   listen ([`Egress::may_listen`]: the root account, or `baton relay`); a tenant's task is
//!   refused by name and told to use TCP, the default;
//! * redirects (3xx) are not followed (retina returns them as errors; here they are a
//!   refusal, so the operator puts the target in the URL, where the policy sees it).
//!
//! **Errors** are [`RtspError`]s naming what failed. retina's error is opaque apart from the
//! response status; the rest is told from its message (the tests in `baton-relay`'s
//! `tests/rtsp.rs` pin each case against a live server, so a retina that words them
//! differently fails a test, not a camera).

pub mod frames;
mod url;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use baton_media::Frame;
use baton_mpegts::Codec;
use futures_util::{FutureExt, StreamExt};
use retina::client::{
    Credentials, Demuxed, InitialTimestampPolicy, PlayOptions, Session, SessionOptions,
    SetupOptions, TcpTransportOptions, TeardownPolicy, Transport, UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, warn};

pub use self::frames::{RtpFrames, RtpTime, VideoUnit};
pub use self::url::{DEFAULT_PORT, RtspTransport, RtspUrl, mask_userinfo};
use crate::egress::{Egress, EgressError};

/// A camera whose video stays undecodable this long (frames arrive, but no keyframe since
/// the connection or since a loss) fails with [`RtspError::NoKeyframe`]: a keyframe interval
/// is seconds, never this long.
pub const NO_KEYFRAME: Duration = Duration::from_secs(30);

/// A playing session that delivers no frame at all this long fails with
/// [`RtspError::Timeout`] (a camera that lost power leaves a TCP connection open).
pub const NO_MEDIA: Duration = Duration::from_secs(5);

/// How long a playing session may go without a frame, or without decodable video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtspLimits {
    /// [`NO_MEDIA`] by default.
    pub no_media: Duration,
    /// [`NO_KEYFRAME`] by default.
    pub no_keyframe: Duration,
}

impl Default for RtspLimits {
    fn default() -> Self {
        RtspLimits {
            no_media: NO_MEDIA,
            no_keyframe: NO_KEYFRAME,
        }
    }
}

/// Why an RTSP source failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtspError {
    #[error("{0}")]
    InvalidUrl(String),
    /// `rtsps://`, an unknown `transport=`.
    #[error("{0}")]
    Unsupported(String),
    /// The egress policy refused the address (nothing was sent), or UDP for this account.
    #[error("{0}")]
    EgressDenied(String),
    /// The host name did not resolve.
    #[error("{0}")]
    Lookup(String),
    /// 401: the credentials were wrong, or the camera wants some and the URL has none.
    #[error("RTSP server {server}: {detail}")]
    Auth { server: String, detail: String },
    /// 404: no such stream (path) on the server.
    #[error("RTSP server {server}: no stream at this path (404 Not Found)")]
    NotFound { server: String },
    /// Another 4xx/5xx answer.
    #[error("RTSP server {server} answered {status}: {detail}")]
    Status {
        server: String,
        status: u16,
        detail: String,
    },
    /// TCP connection refused, unreachable, ...
    #[error("cannot connect to RTSP server {server}: {detail}")]
    Connect { server: String, detail: String },
    /// The server sent something that is not RTSP/RTP as it should be.
    #[error("RTSP server {server} sent what Baton cannot read: {detail}")]
    Protocol { server: String, detail: String },
    /// The connection broke or the server closed it.
    #[error("RTSP server {server}: connection lost: {detail}")]
    Disconnected { server: String, detail: String },
    /// No answer (connect, DESCRIBE … PLAY) or no frame in time.
    #[error("RTSP server {server}: {what} within {after:?}")]
    Timeout {
        server: String,
        what: &'static str,
        after: Duration,
    },
    /// Frames, but no keyframe for [`NO_KEYFRAME`].
    #[error(
        "RTSP server {server}: no video keyframe for {after:?} ({dropped} undecodable frames dropped)"
    )]
    NoKeyframe {
        server: String,
        after: Duration,
        dropped: u64,
    },
    /// Nothing Baton can relay as video.
    #[error(
        "RTSP server {server}: no H.264 or H.265 video among its streams ({streams}); Baton relays H.264/H.265 video with AAC audio"
    )]
    NoVideo { server: String, streams: String },
}

impl RtspError {
    /// Whether trying again (later) can help: not for a bad URL, wrong credentials, a refused
    /// address, a codec Baton cannot carry, a redirect, or a request the server rejects as
    /// such ([`is_refusal`]: 4xx but 404 — a camera's stream can come back — and the ones
    /// about the moment).
    pub fn is_retryable(&self) -> bool {
        match self {
            RtspError::InvalidUrl(_)
            | RtspError::Unsupported(_)
            | RtspError::EgressDenied(_)
            | RtspError::Auth { .. }
            | RtspError::NoVideo { .. } => false,
            RtspError::Status { status, .. } => !is_refusal(*status),
            _ => true,
        }
    }
}

/// An answer that the same request will get again: a redirect (3xx: not followed, the
/// target would be an address the egress policy never checked) or a 4xx (but 404, 408
/// Request Timeout, and 453 Not Enough Bandwidth / 454 Session Not Found, which are about
/// the moment; RFC 2326 §7.1.1).
pub fn is_refusal(status: u16) -> bool {
    (300..400).contains(&status)
        || ((400..500).contains(&status) && !matches!(status, 404 | 408 | 453 | 454))
}

/// One playing RTSP session: its video (and AAC audio, if the camera has it) as frames.
pub struct RtspConnection {
    demuxed: Demuxed,
    frames: RtpFrames,
    video_stream: usize,
    audio_stream: Option<usize>,
    out: VecDeque<Frame>,
    /// `host:port` as the URL wrote it, for messages.
    server: String,
    peer: SocketAddr,
    transport: RtspTransport,
    /// When video last was decodable (a keyframe, or the connection).
    decodable_since: Instant,
    last_frame: Instant,
    bytes_in: u64,
    notes: Vec<String>,
    limits: RtspLimits,
}

impl std::fmt::Debug for RtspConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspConnection")
            .field("server", &self.server)
            .field("peer", &self.peer)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl RtspConnection {
    /// Resolves and checks the host through `egress`, then `DESCRIBE`, `SETUP` (the first
    /// H.264/H.265 video stream and the first AAC audio stream) and `PLAY`, all within
    /// `timeout`. The other streams are described in [`notes`](Self::take_notes).
    pub async fn connect(
        url: &RtspUrl,
        egress: &Egress,
        timeout: Duration,
    ) -> Result<RtspConnection, RtspError> {
        RtspConnection::connect_with(url, egress, timeout, RtspLimits::default()).await
    }

    /// [`connect`](Self::connect) with other limits than the defaults (tests).
    pub async fn connect_with(
        url: &RtspUrl,
        egress: &Egress,
        timeout: Duration,
        limits: RtspLimits,
    ) -> Result<RtspConnection, RtspError> {
        let server = format!("{}:{}", url.host(), url.port());
        if url.transport() == RtspTransport::Udp && egress.may_listen().is_err() {
            return Err(RtspError::EgressDenied(format!(
                "account {:?} may not receive RTSP over UDP from {server}: the camera names the address Baton sends to and Baton binds ports for it; only the root account may; remove transport=udp (RTP over the RTSP TCP connection)",
                egress.account()
            )));
        }
        let deadline = Instant::now() + timeout;
        let addrs = egress
            .resolve(url.host(), url.port())
            .await
            .map_err(|e| match e {
                EgressError::Refused(r) => RtspError::EgressDenied(r.to_string()),
                EgressError::Lookup { .. } => RtspError::Lookup(e.to_string()),
            })?;
        let mut last = None;
        for addr in addrs {
            match timeout_at(deadline, open(url, addr, &server)).await {
                Ok(Ok(mut conn)) => {
                    conn.limits = limits;
                    return Ok(conn);
                }
                // Another address of the name may answer.
                Ok(Err(e @ RtspError::Connect { .. })) => last = Some(e),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(RtspError::Timeout {
                        server,
                        what: "no answer to DESCRIBE, SETUP and PLAY",
                        after: timeout,
                    });
                }
            }
        }
        Err(last.unwrap_or(RtspError::Lookup(format!(
            "{server}: no address to connect to"
        ))))
    }

    /// The next frame. Cancel-safe: converted frames wait in a queue, retina's stream keeps
    /// what it has read.
    pub async fn next_frame(&mut self) -> Result<Frame, RtspError> {
        loop {
            if let Some(frame) = self.out.pop_front() {
                return Ok(frame);
            }
            let deadline = self.last_frame + self.limits.no_media;
            let item = match timeout_at(deadline, self.demuxed.next()).await {
                Ok(item) => item,
                Err(_) => {
                    return Err(RtspError::Timeout {
                        server: self.server.clone(),
                        what: "no frame",
                        after: self.limits.no_media,
                    });
                }
            };
            self.take(item)?;
        }
    }

    /// A frame already received, without waiting.
    pub fn try_next_frame(&mut self) -> Option<Result<Frame, RtspError>> {
        loop {
            if let Some(frame) = self.out.pop_front() {
                return Some(Ok(frame));
            }
            let item = self.demuxed.next().now_or_never()?;
            if let Err(e) = self.take(item) {
                return Some(Err(e));
            }
        }
    }

    /// Streams of the camera that are not relayed, described (each once).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Payload bytes of the frames received (RTP and RTSP framing not counted).
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// The address connected (checked by the egress policy).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn transport(&self) -> RtspTransport {
        self.transport
    }

    /// `host:port` as the URL wrote it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// One item of retina's stream into frames.
    fn take(&mut self, item: Option<Result<CodecItem, retina::Error>>) -> Result<(), RtspError> {
        let item = match item {
            None => {
                return Err(RtspError::Disconnected {
                    server: self.server.clone(),
                    detail: "the server closed the session".into(),
                });
            }
            Some(Err(e)) => return Err(classify(&e, &self.server, false)),
            Some(Ok(item)) => item,
        };
        // Frames go straight into the connection's queue: nothing is allocated per frame
        // beyond the frame's own body.
        match item {
            CodecItem::VideoFrame(v) if v.stream_id() == self.video_stream => {
                self.last_frame = Instant::now();
                self.bytes_in += v.data().len() as u64;
                let record = match self.demuxed.streams()[v.stream_id()].parameters() {
                    Some(ParametersRef::Video(p)) => p.extra_data(),
                    _ => &[],
                };
                let ts = v.timestamp();
                if v.loss() > 0 {
                    debug!(server = %self.server, lost = v.loss(), "RTSP: RTP packets lost; video waits for the next keyframe");
                }
                let was_waiting = self.frames.awaiting_keyframe();
                self.frames.video(
                    &VideoUnit {
                        time: RtpTime {
                            elapsed: ts.elapsed(),
                            clock_rate: ts.clock_rate().get(),
                        },
                        keyframe: v.is_random_access_point(),
                        loss: v.loss(),
                        record,
                        data: v.data(),
                    },
                    &mut self.out,
                );
                if !self.frames.awaiting_keyframe() {
                    self.decodable_since = Instant::now();
                } else if !was_waiting {
                    // A loss started a wait now.
                    self.decodable_since = Instant::now();
                } else if self.decodable_since.elapsed() >= self.limits.no_keyframe {
                    return Err(RtspError::NoKeyframe {
                        server: self.server.clone(),
                        after: self.limits.no_keyframe,
                        dropped: self.frames.dropped(),
                    });
                }
            }
            CodecItem::AudioFrame(a) if Some(a.stream_id()) == self.audio_stream => {
                self.last_frame = Instant::now();
                self.bytes_in += a.data().len() as u64;
                let config = match self.demuxed.streams()[a.stream_id()].parameters() {
                    Some(ParametersRef::Audio(p)) => p.extra_data(),
                    _ => &[],
                };
                let ts = a.timestamp();
                self.frames.audio(
                    RtpTime {
                        elapsed: ts.elapsed(),
                        clock_rate: ts.clock_rate().get(),
                    },
                    config,
                    a.data(),
                    &mut self.out,
                );
            }
            // RTCP sender reports, ONVIF metadata, streams not set up.
            _ => {}
        }
        Ok(())
    }
}

/// `DESCRIBE`, `SETUP`, `PLAY` at `addr`.
async fn open(url: &RtspUrl, addr: SocketAddr, server: &str) -> Result<RtspConnection, RtspError> {
    let has_credentials = url.credentials().is_some();
    let fail = |e: retina::Error| classify(&e, server, has_credentials);
    let options = SessionOptions::default()
        .user_agent(format!("Baton/{}", env!("CARGO_PKG_VERSION")))
        .teardown(TeardownPolicy::Never)
        .creds(url.credentials().map(|(user, password)| Credentials {
            username: user.to_string(),
            password: password.to_string(),
        }));
    let mut session = Session::describe(url.request_to(addr), options)
        .await
        .map_err(fail)?;
    let mut video = None;
    let mut audio = None;
    let mut notes = Vec::new();
    let mut described = Vec::new();
    for (i, s) in session.streams().iter().enumerate() {
        let what = format!("{} {}/{}", s.media(), s.encoding_name(), s.clock_rate_hz());
        match (s.media(), s.encoding_name()) {
            ("video", "h264") if video.is_none() => video = Some((i, Codec::H264)),
            ("video", "h265") if video.is_none() => video = Some((i, Codec::H265)),
            ("audio", "mpeg4-generic")
                if audio.is_none() && matches!(s.parameters(), Some(ParametersRef::Audio(_))) =>
            {
                audio = Some(i)
            }
            _ => notes.push(format!(
                "stream {i} ({what}): not relayed (Baton relays the first H.264/H.265 video and the first AAC audio stream)"
            )),
        }
        described.push(what);
    }
    let Some((video_stream, codec)) = video else {
        return Err(RtspError::NoVideo {
            server: server.to_string(),
            streams: described.join(", "),
        });
    };
    let transport = match url.transport() {
        RtspTransport::Tcp => Transport::Tcp(TcpTransportOptions::default()),
        RtspTransport::Udp => Transport::Udp(UdpTransportOptions::default()),
    };
    for i in std::iter::once(video_stream).chain(audio) {
        let options = SetupOptions::default()
            .transport(transport.clone())
            .frame_format(FrameFormat::MP4);
        session.setup(i, options).await.map_err(fail)?;
    }
    // Use the cameras' `rtptime` for A/V sync where every stream has one; otherwise each
    // stream starts at its first packet (retina's default would refuse such a camera).
    let playing = session
        .play(PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Permissive))
        .await
        .map_err(fail)?;
    let demuxed = playing.demuxed().map_err(fail)?;
    for note in &notes {
        warn!(server, "RTSP source: {note}");
    }
    let now = Instant::now();
    Ok(RtspConnection {
        demuxed,
        frames: RtpFrames::new(codec),
        video_stream,
        audio_stream: audio,
        out: VecDeque::new(),
        server: server.to_string(),
        peer: addr,
        transport: url.transport(),
        decodable_since: now,
        last_frame: now,
        bytes_in: 0,
        notes,
        limits: RtspLimits::default(),
    })
}

/// retina's error as an [`RtspError`]. retina tells the response status; the other causes
/// are told apart by the message's first words (see the module docs). Only the first line
/// is kept: the rest is retina's connection context (addresses, byte positions), logged at
/// debug level. Credentials never reach retina's URL, so never its messages.
pub fn classify(e: &retina::Error, server: &str, has_credentials: bool) -> RtspError {
    let text = e.to_string();
    debug!(server, error = %text, "RTSP error");
    let detail = text.lines().next().unwrap_or_default().trim().to_string();
    let server = server.to_string();
    match e.status_code() {
        Some(401) => {
            let detail = if has_credentials {
                "the credentials in the URL were refused (401 Unauthorized)".to_string()
            } else {
                "the server asks for credentials and the URL has none (401 Unauthorized; write rtsp://user:password@host/…)".to_string()
            };
            RtspError::Auth { server, detail }
        }
        Some(404) => RtspError::NotFound { server },
        Some(status) if (300..400).contains(&status) => RtspError::Status {
            server,
            status,
            detail: format!(
                "{detail} (Baton does not follow RTSP redirects: use the URL it names)"
            ),
        },
        Some(status) if status >= 400 => RtspError::Status {
            server,
            status,
            detail,
        },
        // A success answer retina could not use (an SDP it cannot parse, a Transport header
        // without ports) is the server's fault.
        Some(_) => RtspError::Protocol { server, detail },
        None if detail.starts_with("Unable to connect") => RtspError::Connect { server, detail },
        None if detail.starts_with("Error reading from RTSP peer")
            || detail.starts_with("Error writing to RTSP peer")
            || detail.starts_with("Error receiving UDP packet")
            || detail.starts_with("Timeout")
            || detail.contains("failed to respond to keepalive") =>
        {
            RtspError::Disconnected { server, detail }
        }
        None => RtspError::Protocol { server, detail },
    }
}
