//! The RTMP ingest server: accepts publishers and players on `rtmp://HOST:PORT/APP/STREAM[?query]`.
//!
//! A publish's *domain* (vhost) is the `vhost` query parameter when given, otherwise the host
//! of its tcUrl; streams are keyed by domain/app/stream ([`StreamKey`]). Publish and play
//! requests go to an [`IngestPolicy`] which accepts or refuses them (forbid lists and signed
//! URLs hook in there); the [`StreamHub`] enforces one publisher per stream.

mod conn;
mod domain;
pub mod rtmps;
pub mod srt;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::hub::{StreamHub, StreamKey};
use crate::metrics::NetMetrics;

pub use conn::ConnError;
pub use domain::{DEFAULT_DOMAIN, query_param, resolve_domain, split_query};
pub use srt::{SrtConfig, SrtConnError, SrtIngestServer};

/// The stream of this ingest that a client playing (or publishing) `url` reaches: what the
/// ingest derives from the tcUrl, app and stream name Baton's own client sends for `url`.
pub fn play_key(url: &baton_rtmp::RtmpUrl) -> StreamKey {
    let (stream, query) = split_query(&url.stream);
    conn::stream_key(&url.app, Some(&url.tc_url), stream, query)
}

/// Limits and sizes of the ingest server. Defaults suit a small origin.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Simultaneous RTMP connections; further connections are closed at once.
    pub max_connections: usize,
    /// Largest RTMP message accepted (bytes). A peer announcing more is disconnected.
    pub max_message_size: usize,
    /// Time allowed from TCP accept to the RTMP `connect` command.
    pub handshake_timeout: Duration,
    /// A connection that neither sends nor receives anything this long is closed.
    pub idle_timeout: Duration,
    /// Chunk size Baton sends with.
    pub chunk_size: u32,
    /// Interval of RTMP ping requests to idle peers (`None`: never ping).
    pub ping_interval: Option<Duration>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_connections: 4096,
            max_message_size: 8 << 20,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            chunk_size: 4096,
            ping_interval: Some(Duration::from_secs(30)),
        }
    }
}

/// A publish or play request as the policy sees it.
#[derive(Debug, Clone)]
pub struct StreamRequest<'a> {
    pub key: &'a StreamKey,
    /// The raw query string of the stream name (after `?`), if any.
    pub query: Option<&'a str>,
    pub tc_url: Option<&'a str>,
    pub peer: SocketAddr,
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refuse with an RTMP onStatus code (e.g. `NetStream.Publish.Denied`) and a description.
    Deny {
        code: String,
        description: String,
    },
}

impl Decision {
    /// A refused publish: `NetStream.Publish.Denied` with `description`.
    pub fn publish_denied(description: impl Into<String>) -> Decision {
        Decision::Deny {
            code: "NetStream.Publish.Denied".into(),
            description: description.into(),
        }
    }
}

/// Decides whether a publish or play may proceed. Called on the connection's task: keep it
/// fast and non-blocking (in-memory lookups).
pub trait IngestPolicy: Send + Sync + 'static {
    fn authorize_publish(&self, _request: &StreamRequest<'_>) -> Decision {
        Decision::Allow
    }
    fn authorize_play(&self, _request: &StreamRequest<'_>) -> Decision {
        Decision::Allow
    }
}

/// Accepts every request.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl IngestPolicy for AllowAll {}

/// The ingest service: configuration, the stream hub and the policy, shared by every
/// connection. [`IngestServer`] feeds it TCP connections; tests can feed it in-memory ones.
pub struct Ingest {
    config: IngestConfig,
    hub: Arc<StreamHub>,
    policy: Arc<dyn IngestPolicy>,
    metrics: NetMetrics,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("config", &self.config)
            .finish()
    }
}

impl Ingest {
    pub fn new(
        config: IngestConfig,
        hub: Arc<StreamHub>,
        policy: Arc<dyn IngestPolicy>,
    ) -> Arc<Ingest> {
        Ingest::with_metrics(config, hub, policy, NetMetrics::default())
    }

    /// [`Ingest::new`], counting its listeners' connections and refused publishes into
    /// `metrics`.
    pub fn with_metrics(
        config: IngestConfig,
        hub: Arc<StreamHub>,
        policy: Arc<dyn IngestPolicy>,
        metrics: NetMetrics,
    ) -> Arc<Ingest> {
        Arc::new(Ingest {
            config,
            hub,
            policy,
            metrics,
        })
    }

    /// Where the ingest's listeners count.
    pub fn metrics(&self) -> &NetMetrics {
        &self.metrics
    }

    pub fn hub(&self) -> &Arc<StreamHub> {
        &self.hub
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Serves one RTMP connection until the peer leaves, an error, or `cancel`.
    pub async fn serve_connection<R, W>(
        &self,
        reader: R,
        writer: W,
        peer: SocketAddr,
        cancel: CancellationToken,
    ) -> Result<(), ConnError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        conn::serve(reader, writer, peer, self, cancel).await
    }
}

/// A bound RTMP ingest listener (or RTMPS: [`IngestServer::bind_tls`]).
pub struct IngestServer {
    listener: TcpListener,
    ingest: Arc<Ingest>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for IngestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestServer")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl IngestServer {
    pub async fn bind(addr: SocketAddr, ingest: Arc<Ingest>) -> std::io::Result<IngestServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(IngestServer {
            listener,
            ingest,
            tls: None,
        })
    }

    /// An RTMPS listener: each connection's TLS handshake (bounded by the ingest's
    /// `handshake_timeout`) presents `certificates`' current pair, then the connection is
    /// served like a plain one. It shares the ingest's connection limit per listener.
    pub async fn bind_tls(
        addr: SocketAddr,
        ingest: Arc<Ingest>,
        certificates: &Arc<rtmps::ServerCertificates>,
    ) -> std::io::Result<IngestServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(IngestServer {
            listener,
            ingest,
            tls: Some(certificates.acceptor()),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `cancel` fires, then waits for the connection tasks (which
    /// also watch `cancel`) to finish.
    pub async fn run(self, cancel: CancellationToken) {
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.ingest.config.max_connections));
        let protocol = if self.tls.is_some() { "rtmps" } else { "rtmp" };
        let counters = self.ingest.metrics.listener(protocol);
        info!(addr = ?self.listener.local_addr().ok(), protocol, "RTMP ingest listening");
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (socket, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                counters.refused.inc();
                warn!(%peer, limit = self.ingest.config.max_connections, "connection refused: too many connections");
                continue;
            };
            counters.accepted.inc();
            let _ = socket.set_nodelay(true);
            let ingest = Arc::clone(&self.ingest);
            let cancel = cancel.child_token();
            let counters = counters.clone();
            let tls = self.tls.clone();
            tracker.spawn(async move {
                let served = match tls {
                    None => {
                        let (reader, writer) = socket.into_split();
                        ingest.serve_connection(reader, writer, peer, cancel).await
                    }
                    Some(acceptor) => {
                        let limit = ingest.config.handshake_timeout;
                        match tokio::time::timeout(limit, acceptor.accept(socket)).await {
                            Ok(Ok(stream)) => {
                                let (reader, writer) = tokio::io::split(stream);
                                ingest.serve_connection(reader, writer, peer, cancel).await
                            }
                            Ok(Err(e)) => {
                                counters.handshake_failures.inc();
                                info!(%peer, cause = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                counters.handshake_failures.inc();
                                info!(%peer, ?limit, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                match served {
                    Ok(()) => debug!(%peer, "connection closed"),
                    Err(e) => {
                        if matches!(
                            e,
                            ConnError::HandshakeTimeout
                                | ConnError::Session(baton_rtmp::SessionError::Handshake(_))
                        ) {
                            counters.handshake_failures.inc();
                        }
                        info!(%peer, cause = %e, "connection closed")
                    }
                }
                drop(permit);
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}
