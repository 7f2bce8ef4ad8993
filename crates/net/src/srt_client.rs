//! SRT connections for one relay side: Baton calls a peer (caller mode, the default) or waits
//! on a port for one peer to call it (listener mode), and receives what the peer sends — for a
//! relay source, an MPEG-TS stream in 1316-byte messages — or sends to it (a relay
//! destination: [`SrtConnection::send`], the same 1316-byte messages).
//!
//! SRT itself (handshake, ARQ, TSBPD latency buffer, AES key exchange) is the pure-Rust
//! [`srt_tokio`] crate; this module decides *where* that socket may go and names what went
//! wrong:
//!
//! * **Addresses** ([`SrtUrl`]): `srt://host:port?streamid=…&passphrase=…&pbkeylen=…&latency=…`
//!   in the spelling of libsrt's `srt-live-transmit` (`latency` in milliseconds, as
//!   `SRTO_LATENCY`; ffmpeg's own URL option of the same name is in microseconds — Baton
//!   takes the libsrt one). Options Baton does not implement are refused by name, never
//!   ignored: `mode=rendezvous`, `transtype` other than `live`, anything unknown.
//! * **Caller** ([`SrtConnection::connect`]): the host is resolved once through the account's
//!   [`Egress`] and the handshake goes only to the first address that passed the policy
//!   (never a second lookup), from a UDP socket of that address's family. A peer that does
//!   not answer the handshake in time is [`SrtError::Timeout`]; one that answers with a
//!   rejection (wrong passphrase, unknown stream id) is [`SrtError::Rejected`] with SRT's
//!   reason.
//! * **Listener**: binds the URL's IP (empty: every interface) and port and completes the
//!   first valid handshake. Because a bound port is taken from the whole host and answers
//!   anyone, only the operator may ask for it ([`Egress::may_listen`]: the root account, or
//!   an unrestricted egress); the host must be an IP literal (a name is ambiguous for a
//!   bind), the port a fixed one, and a `streamid` is refused (a listener for one source
//!   does not check what callers send: protect the port with a passphrase instead).
//! * **Containment.** srt-protocol is Baton's patched copy (`vendor/srt-protocol`), in which
//!   what a peer sends is a rejection, an error or an ignored packet rather than a panic.
//!   The handshake still runs in a task of its own ([`SrtError::Handshake`] names a failure
//!   there) and the connection's data loop is srt-tokio's own task: whatever ends one ends
//!   that connection ([`SrtError::Closed`], retried), never the relay or the process.
//! * **Statistics** ([`SrtStats`]): the socket's receive-side counters (RTT, lost,
//!   retransmitted, dropped, decrypt errors), read without waiting from the socket's
//!   statistics channel (updated about once a second); [`SrtSendStats`] the send side's
//!   (sent, retransmitted, NAK-reported lost, dropped too late, RTT from the peer's ACKs,
//!   the send buffer).
//! * **Sending** ([`SrtConnection::send`]): one message per call, taken as soon as
//!   srt-tokio's input queue (128 messages) has room; the message's origin time is the
//!   moment it is taken, so the peer plays it one latency later and the sender drops it
//!   (too late, `TLPKTDROP`) if it is still unacknowledged well past that. A caller that
//!   cannot keep up therefore sees `send` wait — its own queue is the place to bound.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use srt_protocol::packet::{CoreRejectReason, RejectReason, ServerRejectReason};
use srt_protocol::protocol::pending_connection::ConnectionReject;
use srt_tokio::SrtSocket;
use srt_tokio::options::{KeySize, Passphrase};
use tokio::net::UdpSocket;
use tokio_util::task::AbortOnDropHandle;

use crate::egress::{Egress, EgressError, ip_literal};

/// The longest stream id SRT carries (`SRTO_STREAMID`).
pub const MAX_STREAM_ID: usize = 512;
/// The passphrase lengths SRT allows, in bytes (`SRTO_PASSPHRASE`).
pub const PASSPHRASE_LEN: std::ops::RangeInclusive<usize> = 10..=79;
/// The largest `latency` accepted, in milliseconds.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// Who starts the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SrtMode {
    /// Baton dials `host:port`.
    Caller { host: String, port: u16 },
    /// Baton binds `addr` and waits for one caller.
    Listener { addr: SocketAddr },
}

/// A parsed `srt://` source address. See the module docs for the options.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtUrl {
    pub mode: SrtMode,
    /// Sent to the listener in the handshake (caller mode only).
    pub stream_id: Option<String>,
    /// AES passphrase (10–79 bytes); `None`: unencrypted.
    pub passphrase: Option<Passphrase>,
    /// `pbkeylen` (16, 24, 32; unspecified lets the peer choose, AES-128 by default).
    pub key_size: KeySize,
    /// Receive latency (TSBPD buffer); `None`: the SRT default (120 ms).
    pub latency: Option<Duration>,
}

impl fmt::Debug for SrtUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtUrl")
            .field("mode", &self.mode)
            .field("stream_id", &self.stream_id)
            .field("encrypted", &self.passphrase.is_some())
            .field("key_size", &self.key_size)
            .field("latency", &self.latency)
            .finish()
    }
}

/// Why an SRT source could not be used. [`SrtError::is_retryable`] says whether trying
/// again can help.
#[derive(Debug, thiserror::Error)]
pub enum SrtError {
    /// The URL cannot be used as written.
    #[error("{0}")]
    InvalidUrl(String),
    /// The URL asks for an SRT feature Baton does not build.
    #[error("{0}")]
    Unsupported(String),
    /// The account's egress refused the host, or its name did not resolve.
    #[error(transparent)]
    Egress(#[from] EgressError),
    /// Listener mode is not this account's to ask for.
    #[error("{0}")]
    ListenDenied(String),
    /// The peer did not answer the handshake in time.
    #[error("no SRT handshake answer from {addr} within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    /// The peer answered and refused (wrong or missing passphrase, unknown stream id, …).
    #[error("the SRT peer {addr} rejected the connection: {reason}")]
    Rejected {
        addr: SocketAddr,
        reason: String,
        why: Rejection,
    },
    /// The SRT library failed on the handshake (see [`contained`]): e.g. a caller's key
    /// length (`pbkeylen`) other than the listener's, or encryption on one side only.
    #[error(
        "the SRT handshake on {addr} failed in the SRT library ({why}); check that both sides use the same passphrase and pbkeylen"
    )]
    Handshake { addr: SocketAddr, why: String },
    /// The listener's port could not be bound (in use, not this host's address, …).
    #[error("cannot listen for SRT on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("SRT connection: {0}")]
    Io(#[from] io::Error),
    /// The connection ended: the peer closed it or went silent past SRT's idle timeout.
    #[error("the SRT connection closed (the peer ended it or went silent)")]
    Closed,
}

impl SrtError {
    /// Whether trying again (later) can help: not for a URL, a refused feature or address,
    /// or a peer that rejected the handshake (wrong passphrase: the same answer comes again).
    pub fn is_retryable(&self) -> bool {
        match self {
            SrtError::InvalidUrl(_)
            | SrtError::Unsupported(_)
            | SrtError::ListenDenied(_)
            | SrtError::Egress(EgressError::Refused(_)) => false,
            SrtError::Rejected { why, .. } => matches!(why, Rejection::NotFound | Rejection::Busy),
            SrtError::Egress(EgressError::Lookup { .. })
            | SrtError::Timeout { .. }
            | SrtError::Bind { .. }
            | SrtError::Handshake { .. }
            | SrtError::Io(_)
            | SrtError::Closed => true,
        }
    }
}

/// What a peer's rejection means for Baton.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The passphrase is wrong, missing or unexpected (SRT_REJ_BADSECRET, SRT_REJ_UNSECURE).
    Passphrase,
    /// The stream id names nothing (yet): SRT_REJX_NOTFOUND (2404). Retrying can help.
    NotFound,
    /// The peer is busy, overloaded or closing: retrying can help.
    Busy,
    /// Any other refusal (forbidden, unauthorized, bad request, version, …).
    Refused,
}

impl Rejection {
    fn of(reject: &ConnectionReject) -> Rejection {
        let (ConnectionReject::Rejecting(reason) | ConnectionReject::Rejected(reason)) = reject;
        match reason {
            RejectReason::Core(CoreRejectReason::BadSecret | CoreRejectReason::Unsecure) => {
                Rejection::Passphrase
            }
            RejectReason::Server(ServerRejectReason::Notfound) => Rejection::NotFound,
            RejectReason::Core(
                CoreRejectReason::Backlog
                | CoreRejectReason::Resource
                | CoreRejectReason::Close
                | CoreRejectReason::Timeout
                | CoreRejectReason::System,
            )
            | RejectReason::Server(
                ServerRejectReason::Overload
                | ServerRejectReason::Down
                | ServerRejectReason::Conflict
                | ServerRejectReason::InternalServerError
                | ServerRejectReason::Gateway,
            ) => Rejection::Busy,
            _ => Rejection::Refused,
        }
    }
}

impl SrtUrl {
    /// Parses `srt://host:port?…`. See the module docs.
    pub fn parse(url: &str) -> Result<SrtUrl, SrtError> {
        let invalid = |why: &str| SrtError::InvalidUrl(format!("{url}: {why}"));
        if !is_srt_url(url) {
            return Err(invalid("not an srt:// URL"));
        }
        let rest = &url[6..];
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if authority.contains(['/', '@', '#']) {
            return Err(invalid(
                "an SRT address is srt://host:port?options (no path, user or fragment)",
            ));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| {
            invalid("an SRT address needs a port (srt://host:port, srt://[v6]:port)")
        })?;
        let mut mode = None;
        let mut stream_id = None;
        let mut passphrase = None;
        let mut key_size = None;
        let mut latency = None;
        // Percent-escapes are decoded; a '+' is a plus (passphrases have them), not a space.
        let query = query.replace('+', "%2B");
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "mode" => mode = Some(value.to_ascii_lowercase()),
                "streamid" => {
                    if value.len() > MAX_STREAM_ID {
                        return Err(invalid(&format!(
                            "streamid is {} bytes; SRT carries at most {MAX_STREAM_ID}",
                            value.len()
                        )));
                    }
                    stream_id = Some(value.into_owned());
                }
                "passphrase" => {
                    // SRT (libsrt and srt-protocol alike) measures the passphrase in bytes.
                    let n = value.len();
                    if !PASSPHRASE_LEN.contains(&n) {
                        return Err(invalid(&format!(
                            "the passphrase has {n} bytes; SRT takes 10 to 79"
                        )));
                    }
                    passphrase = Some(
                        Passphrase::try_from(value.into_owned())
                            .map_err(|e| invalid(&format!("passphrase: {e}")))?,
                    );
                }
                "pbkeylen" => {
                    let size = value
                        .parse::<u16>()
                        .ok()
                        .and_then(|v| KeySize::try_from(v).ok())
                        .ok_or_else(|| {
                            invalid(&format!(
                                "pbkeylen={value}: one of 16, 24, 32 (AES key bytes)"
                            ))
                        })?;
                    key_size = Some(size);
                }
                "latency" => {
                    let ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| *ms <= MAX_LATENCY_MS)
                        .ok_or_else(|| {
                            invalid(&format!(
                                "latency={value}: milliseconds, 0 to {MAX_LATENCY_MS}"
                            ))
                        })?;
                    latency = Some(Duration::from_millis(ms));
                }
                "transtype" if value.eq_ignore_ascii_case("live") => {}
                "transtype" => {
                    return Err(SrtError::Unsupported(format!(
                        "{url}: transtype={value} is not supported (live only)"
                    )));
                }
                other => {
                    return Err(SrtError::Unsupported(format!(
                        "{url}: the SRT option {other:?} is not supported (streamid, passphrase, pbkeylen, latency, mode, transtype=live)"
                    )));
                }
            }
        }
        if key_size.is_some() && passphrase.is_none() {
            return Err(invalid("pbkeylen without a passphrase"));
        }
        let mode = match mode.as_deref() {
            None | Some("caller" | "client") => {
                if host.is_empty() {
                    return Err(invalid(&format!(
                        "no host to call; add mode=listener to wait for a caller on port {port}"
                    )));
                }
                if port == 0 {
                    return Err(invalid("port 0 cannot be called"));
                }
                SrtMode::Caller {
                    host: host.to_string(),
                    port,
                }
            }
            Some("listener" | "server") => {
                let ip = if host.is_empty() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    ip_literal(host).ok_or_else(|| {
                        invalid(&format!(
                            "listener mode binds an IP address of this host; {host:?} is not one (leave the host empty for every interface)"
                        ))
                    })?
                };
                if port == 0 {
                    return Err(invalid(
                        "listener mode needs a fixed port (the peer must know where to call)",
                    ));
                }
                if stream_id.is_some() {
                    return Err(invalid(
                        "streamid is what a caller sends; a listener for one source does not check it (protect the port with a passphrase)",
                    ));
                }
                SrtMode::Listener {
                    addr: SocketAddr::new(ip, port),
                }
            }
            Some("rendezvous") => {
                return Err(SrtError::Unsupported(format!(
                    "{url}: SRT rendezvous mode is not supported (caller or listener)"
                )));
            }
            Some(other) => {
                return Err(invalid(&format!("mode={other}: one of caller, listener")));
            }
        };
        Ok(SrtUrl {
            mode,
            stream_id,
            passphrase,
            key_size: key_size.unwrap_or_default(),
            latency,
        })
    }

    /// Listener mode: Baton waits for the peer.
    pub fn is_listener(&self) -> bool {
        matches!(self.mode, SrtMode::Listener { .. })
    }
}

/// Whether `url` is an `srt://` address (the scheme in any case).
pub fn is_srt_url(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("srt://"))
}

/// `host:port` / `[v6]:port` / `:port`; `None` without a valid port.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, rest) = v6.split_once(']')?;
        (&authority[..inner.len() + 2], rest.strip_prefix(':')?)
    } else {
        authority.rsplit_once(':')?
    };
    if host.contains(':') && !host.starts_with('[') {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Receive-side statistics of one SRT connection (cumulative since it was made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrtStats {
    /// Round-trip time: the smoothed one when the SRT stack reports it — srt-tokio 0.4 does
    /// not (its statistics leave RTT at zero), so this is the handshake's round trip.
    pub rtt: Duration,
    /// The receive latency both sides agreed on (TSBPD).
    pub latency: Duration,
    /// Data packets received, retransmissions included.
    pub packets_received: u64,
    /// Data packets found missing (sequence gaps reported as lost).
    pub packets_lost: u64,
    /// Retransmitted data packets received.
    pub packets_retransmitted: u64,
    /// Data packets dropped: too late to play (TLPKTDROP) or never recovered.
    pub packets_dropped: u64,
    /// Data packets that would not decrypt (a passphrase mismatch shows here).
    pub decrypt_errors: u64,
    /// Bytes received, retransmissions included (SRT payload bytes).
    pub bytes_received: u64,
}

/// Send-side statistics of one SRT connection (cumulative since it was made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrtSendStats {
    /// Smoothed round-trip time the peer reports in its ACKs (the handshake's round trip
    /// until the first full ACK).
    pub rtt: Duration,
    /// The latency both sides agreed on (the peer's TSBPD delay; packets older than about
    /// this are dropped rather than sent).
    pub latency: Duration,
    /// Data packets sent, retransmissions included.
    pub packets_sent: u64,
    /// Data packets sent again after a NAK or a timeout.
    pub packets_retransmitted: u64,
    /// Data packets the peer reported lost (NAKs).
    pub packets_lost: u64,
    /// NAK reports received.
    pub naks: u64,
    /// Data packets dropped unsent or unacknowledged because they were too late to play
    /// (`TLPKTDROP`).
    pub packets_dropped: u64,
    /// Bytes sent, retransmissions and SRT/UDP/IP headers included (libsrt's
    /// `byteSentTotal`).
    pub bytes_sent: u64,
    /// Packets in the send buffer (sent, not yet acknowledged, or waiting) at the last
    /// update, their bytes, and the time span they cover.
    pub send_buffer_packets: u64,
    pub send_buffer_bytes: u64,
    pub send_buffer_time: Duration,
}

/// One connected SRT socket, receiving or sending.
#[derive(Debug)]
pub struct SrtConnection {
    socket: SrtSocket,
    peer: SocketAddr,
    /// The handshake's round trip (what RTT the statistics lack).
    handshake_rtt: Duration,
    /// The latest statistics; `latency` is the agreed one, set at the handshake.
    stats: SrtStats,
    send_stats: SrtSendStats,
    bytes_in: u64,
    /// Payload bytes handed to the socket by [`SrtConnection::send`].
    bytes_out: u64,
}

impl SrtConnection {
    /// Calls or waits for the peer as `url` says. A caller is checked against `egress` and
    /// gives up after `timeout`; a listener (only where [`Egress::may_listen`]) waits until a
    /// caller completes a handshake — drop the future to stop waiting (the port is released).
    pub async fn connect(
        url: &SrtUrl,
        egress: &Egress,
        timeout: Duration,
    ) -> Result<SrtConnection, SrtError> {
        match &url.mode {
            SrtMode::Caller { host, port } => {
                let lookup = tokio::time::timeout(timeout, egress.resolve(host, *port))
                    .await
                    .map_err(|_| EgressError::Lookup {
                        host: host.clone(),
                        reason: format!("no answer within {timeout:?}"),
                    })?;
                let addr = lookup?
                    .into_iter()
                    .next()
                    .ok_or_else(|| SrtError::InvalidUrl(format!("{host}: no address")))?;
                let local = match addr {
                    SocketAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
                    SocketAddr::V6(_) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
                };
                let udp = UdpSocket::bind(local).await?;
                let (builder, stream_id) = (builder(url, timeout), url.stream_id.clone());
                let socket = contained(addr, async move {
                    builder.socket(udp).call(addr, stream_id.as_deref()).await
                })
                .await?
                .map_err(|e| handshake_error(e, addr, timeout))?;
                Ok(SrtConnection::new(socket, addr))
            }
            SrtMode::Listener { addr } => {
                egress.may_listen().map_err(SrtError::ListenDenied)?;
                let udp = UdpSocket::bind(addr)
                    .await
                    .map_err(|source| SrtError::Bind {
                        addr: *addr,
                        source,
                    })?;
                let addr = *addr;
                let builder = builder(url, timeout).set(|o| o.connect.local = addr);
                let socket = contained(addr, builder.socket(udp).listen())
                    .await?
                    .map_err(|e| handshake_error(e, addr, timeout))?;
                let peer = socket.settings().remote;
                Ok(SrtConnection::new(socket, peer))
            }
        }
    }

    fn new(socket: SrtSocket, peer: SocketAddr) -> SrtConnection {
        let (latency, send_latency, handshake_rtt) = (
            socket.settings().recv_tsbpd_latency,
            socket.settings().send_tsbpd_latency,
            socket.settings().rtt,
        );
        SrtConnection {
            socket,
            peer,
            handshake_rtt,
            stats: SrtStats {
                latency,
                rtt: handshake_rtt,
                ..SrtStats::default()
            },
            send_stats: SrtSendStats {
                latency: send_latency,
                rtt: handshake_rtt,
                ..SrtSendStats::default()
            },
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The next message from the peer. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Bytes, SrtError> {
        let next = self.socket.next().await;
        self.received(next)
    }

    /// A message already received, without waiting.
    pub fn try_recv(&mut self) -> Option<Result<Bytes, SrtError>> {
        let next = self.socket.next().now_or_never()?;
        Some(self.received(next))
    }

    fn received(
        &mut self,
        next: Option<Result<(std::time::Instant, Bytes), io::Error>>,
    ) -> Result<Bytes, SrtError> {
        match next {
            Some(Ok((_, data))) => {
                self.bytes_in += data.len() as u64;
                Ok(data)
            }
            Some(Err(e)) => Err(SrtError::Io(e)),
            None => Err(SrtError::Closed),
        }
    }

    /// Payload bytes received.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Sends one message (at most 1316 bytes: one SRT live-mode payload), waiting while
    /// srt-tokio's input queue is full. Cancel-safe: cancelled before it returns, nothing
    /// was sent. Fails with [`SrtError::Closed`] once the connection has ended (the peer
    /// closed it or went silent past the idle timeout).
    pub async fn send(&mut self, data: Bytes) -> Result<(), SrtError> {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(ready) = self.socket.poll_ready_unpin(cx) {
                return Poll::Ready(ready.map_err(|_| SrtError::Closed));
            }
            self.poll_closed(cx)
        })
        .await?;
        let len = data.len() as u64;
        Pin::new(&mut self.socket)
            .start_send((std::time::Instant::now(), data))
            .map_err(|_| SrtError::Closed)?;
        self.bytes_out += len;
        Ok(())
    }

    /// Waits until the connection ends ([`SrtError::Closed`]); what a sending side does
    /// while it has nothing to send. Messages the peer sends meanwhile are discarded (a
    /// destination has nothing to receive). Cancel-safe.
    pub async fn closed(&mut self) -> SrtError {
        match std::future::poll_fn(|cx| self.poll_closed(cx)).await {
            Err(e) => e,
            Ok(()) => SrtError::Closed,
        }
    }

    /// `Ready(Err(Closed))` once the socket's stream ended; data that arrives is dropped.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SrtError>> {
        loop {
            match Pin::new(&mut self.socket).poll_next(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(SrtError::Io(e))),
                Poll::Ready(None) => return Poll::Ready(Err(SrtError::Closed)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Closes the connection (SRT shutdown to the peer), within `timeout`.
    pub async fn close(mut self, timeout: Duration) -> Result<(), SrtError> {
        match tokio::time::timeout(timeout, self.socket.close()).await {
            Ok(result) => result.map_err(SrtError::Io),
            Err(_) => Err(SrtError::Closed),
        }
    }

    /// Payload bytes handed to the socket by [`Self::send`].
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// The latest send-side statistics (updated about once a second).
    pub fn send_stats(&mut self) -> SrtSendStats {
        self.read_stats();
        self.send_stats
    }

    /// The latest statistics (the socket updates them about once a second).
    pub fn stats(&mut self) -> SrtStats {
        self.read_stats();
        self.stats
    }

    fn read_stats(&mut self) {
        let updates = self.socket.statistics();
        while let Some(Some(s)) = updates.next().now_or_never() {
            self.send_stats = SrtSendStats {
                rtt: if s.tx_average_rtt.is_zero() {
                    self.handshake_rtt
                } else {
                    s.tx_average_rtt
                },
                latency: self.send_stats.latency,
                packets_sent: s.tx_data,
                packets_retransmitted: s.tx_retransmit_data,
                packets_lost: s.tx_loss_data,
                naks: s.rx_nak,
                packets_dropped: s.tx_dropped_data,
                bytes_sent: s.tx_bytes,
                send_buffer_packets: s.tx_buffered_data,
                send_buffer_bytes: s.tx_buffered_bytes,
                send_buffer_time: s.tx_buffered_time,
            };
            let rtt = [s.rx_average_rtt, s.tx_average_rtt, self.handshake_rtt]
                .into_iter()
                .find(|rtt| !rtt.is_zero())
                .unwrap_or_default();
            self.stats = SrtStats {
                rtt,
                latency: self.stats.latency,
                packets_received: s.rx_data,
                packets_lost: s.rx_loss_data,
                packets_retransmitted: s.rx_retransmit_data,
                packets_dropped: s.rx_dropped_data,
                decrypt_errors: s.rx_decrypt_errors,
                bytes_received: s.rx_bytes,
            };
        }
    }
}

/// Runs a handshake in a task of its own, so that a panic of the SRT library on what a peer
/// sent (srt-protocol 0.4 has `unimplemented!` paths in its responder: a key length or an
/// encryption the listener did not expect) becomes [`SrtError::Handshake`] instead of taking
/// the relay down. Dropping the returned future aborts the task (and releases its socket).
async fn contained<T: Send + 'static>(
    addr: SocketAddr,
    handshake: impl Future<Output = T> + Send + 'static,
) -> Result<T, SrtError> {
    let task = AbortOnDropHandle::new(tokio::spawn(handshake));
    task.await.map_err(|e| {
        let why = match e.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
            Err(e) => e.to_string(),
        };
        SrtError::Handshake { addr, why }
    })
}

/// The send buffer, in bytes: libsrt's default `SRTO_SNDBUF` (8192 packets of 1472
/// bytes). srt-protocol's own default (46,592 bytes: 32 packets) cannot take one burst of a
/// destination's first GOP; a fuller buffer drops its oldest packets (counted as dropped).
/// It only fills while the peer does not acknowledge — within the too-late window, since
/// older packets are dropped (`TLPKTDROP`) — so a live stream keeps a few hundred packets
/// in it at most.
pub const SEND_BUFFER_BYTES: u64 = 8192 * 1472;

/// The socket options of `url`: latency, encryption, handshake timeout, send buffer.
fn builder(url: &SrtUrl, timeout: Duration) -> srt_tokio::SrtSocketBuilder {
    let mut builder = SrtSocket::builder().set(|o| {
        o.connect.timeout = timeout;
        o.sender.buffer_size = srt_tokio::options::ByteCount(SEND_BUFFER_BYTES);
    });
    if let Some(latency) = url.latency {
        builder = builder.latency(latency);
    }
    if let Some(passphrase) = &url.passphrase {
        let (passphrase, key_size) = (passphrase.clone(), url.key_size);
        builder = builder.set(|o| {
            o.encryption.passphrase = Some(passphrase);
            o.encryption.key_size = key_size;
        });
    }
    builder
}

fn handshake_error(e: io::Error, addr: SocketAddr, timeout: Duration) -> SrtError {
    match e.kind() {
        io::ErrorKind::TimedOut => SrtError::Timeout { addr, timeout },
        io::ErrorKind::ConnectionRefused => {
            let why = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ConnectionReject>())
                .map_or(Rejection::Refused, Rejection::of);
            let reason = match why {
                Rejection::Passphrase => format!("{e} (check the passphrase)"),
                _ => e.to_string(),
            };
            SrtError::Rejected { addr, reason, why }
        }
        _ => SrtError::Io(e),
    }
}

#[cfg(test)]
mod tests;
