//! RTMP client connections over TCP: publish to, or play from, any RTMP server.
//!
//! [`RtmpConnection::connect`] performs TCP connect, handshake and the command exchange up to
//! `NetStream.Publish.Start` / `NetStream.Play.Start`, within one timeout. After that the
//! connection is driven by the caller: [`RtmpConnection::next_media`] for players,
//! [`RtmpConnection::send_media`] + [`RtmpConnection::drive`] for publishers.
//!
//! `rtmps://` URLs run the same exchange inside TLS ([`crate::tls`]): the handshake follows
//! the dial (through the same [`Dialer`], so the egress check still decides where it goes)
//! and is bounded by the same timeout; a rejected certificate is [`ClientError::Tls`] with
//! [`TlsError::Certificate`], which [`ClientError::is_refusal`] counts as a refusal.

use std::sync::Arc;
use std::time::Duration;

use baton_rtmp::RtmpUrl;
use baton_rtmp::session::{
    ClientConfig, ClientEvent, ClientMode, ClientSession, HandshakeMode, MediaKind, Stage,
};
use bytes::Bytes;
use tokio::time::Instant;

use crate::io::{IoError, SessionIo, Step};
use crate::tls::{TlsClient, TlsError, TlsInfo};
use crate::transport::{BoxReader, BoxWriter, Dialer, TcpDialer};

/// How to connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Opens the byte stream (TCP by default; in-memory in tests).
    pub dialer: Arc<dyn Dialer>,
    /// Time allowed for TCP connect, handshake and commands up to Publish.Start / Play.Start.
    pub connect_timeout: Duration,
    pub handshake: HandshakeMode,
    pub chunk_size: u32,
    pub max_message_size: usize,
    /// Enhanced RTMP codecs to announce in `connect` (empty: none).
    pub fourcc_list: Vec<String>,
    /// Whom `rtmps://` servers' certificates must chain to (default: the web PKI roots).
    pub tls: TlsClient,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            dialer: Arc::new(TcpDialer),
            connect_timeout: Duration::from_secs(10),
            handshake: HandshakeMode::Digest,
            chunk_size: 4096,
            max_message_size: 8 << 20,
            fourcc_list: Vec::new(),
            tls: TlsClient::default(),
        }
    }
}

/// Why a client connection failed. [`ClientError::is_refusal`] tells a server's refusal (which
/// retrying soon will not fix) from a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("timed out after {0:?} before the stream started")]
    Timeout(Duration),
    /// `rtmps://`: the TLS handshake failed (a certificate rejected, an alert, not TLS).
    #[error("{0}")]
    Tls(TlsError),
    /// `rtmps://`: the server accepted TCP but did not complete the TLS handshake in time.
    #[error("TLS handshake with {addr} did not complete within {timeout:?}")]
    TlsTimeout { addr: String, timeout: Duration },
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("connection closed by the server")]
    Closed,
    #[error("server refused {stage}: {code} ({description})")]
    Refused {
        stage: String,
        code: String,
        description: String,
    },
    #[error("{0} is not supported yet")]
    Unsupported(String),
}

impl ClientError {
    fn refused(stage: Stage, code: String, description: String) -> ClientError {
        ClientError::Refused {
            stage: format!("{stage:?}").to_lowercase(),
            code,
            description,
        }
    }

    /// The server answered and said no (bad stream key, forbidden, bad app...), or its TLS
    /// certificate was rejected: retrying soon will not change either.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ClientError::Refused { .. } | ClientError::Tls(TlsError::Certificate { .. })
        )
    }
}

/// What a playing connection yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayEvent {
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// The server says the stream ended (unpublished); the connection stays open and media may
    /// resume if a publisher comes back.
    Ended { code: String },
}

/// An established RTMP client connection (publishing or playing).
#[derive(Debug)]
pub struct RtmpConnection {
    session: ClientSession,
    io: SessionIo<BoxReader, BoxWriter>,
    mode: ClientMode,
    tls: Option<TlsInfo>,
}

impl RtmpConnection {
    /// Connects and starts publishing or playing `url`.
    pub async fn connect(
        url: &RtmpUrl,
        mode: ClientMode,
        options: &ClientOptions,
    ) -> Result<RtmpConnection, ClientError> {
        let timeout = options.connect_timeout;
        let deadline = Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, Self::establish(url, mode, options, deadline)).await
        {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    async fn establish(
        url: &RtmpUrl,
        mode: ClientMode,
        options: &ClientOptions,
        deadline: Instant,
    ) -> Result<RtmpConnection, ClientError> {
        let addr = format!("{}:{}", url.host, url.port);
        let (mut reader, mut writer) =
            options
                .dialer
                .dial(&url.host, url.port)
                .await
                .map_err(|source| ClientError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
        let mut tls = None;
        if url.tls {
            // Polled before the outer timeout (same deadline), so a stalled handshake is
            // named as such.
            let handshake = options.tls.connect(&url.host, reader, writer);
            let (r, w, info) = match tokio::time::timeout_at(deadline, handshake).await {
                Ok(result) => result.map_err(ClientError::Tls)?,
                Err(_) => {
                    return Err(ClientError::TlsTimeout {
                        addr,
                        timeout: options.connect_timeout,
                    });
                }
            };
            (reader, writer, tls) = (r, w, Some(info));
        }
        let session = ClientSession::new(
            ClientConfig {
                url: url.clone(),
                mode,
                chunk_size: options.chunk_size,
                handshake: options.handshake,
                fourcc_list: options.fourcc_list.clone(),
                max_message_size: options.max_message_size,
                ..ClientConfig::default_for(url.clone(), mode)
            },
            rand::random(),
            Instant::now().into_std(),
        );
        let mut conn = RtmpConnection {
            session,
            io: SessionIo::new(reader, writer),
            mode,
            tls,
        };
        loop {
            while let Some(event) = conn.session.poll_event() {
                match event {
                    ClientEvent::Publishing if mode == ClientMode::Publish => return Ok(conn),
                    ClientEvent::Playing if mode == ClientMode::Play => return Ok(conn),
                    ClientEvent::Rejected {
                        stage,
                        code,
                        description,
                    } => return Err(ClientError::refused(stage, code, description)),
                    _ => {}
                }
            }
            if conn.io.step(&mut conn.session).await? == Step::Closed {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Player: the next media message or end-of-stream notice. Also writes acknowledgements
    /// and ping responses as they come due. Cancel-safe.
    pub async fn next_media(&mut self) -> Result<PlayEvent, ClientError> {
        loop {
            if let Some(event) = self.try_next_media() {
                return event;
            }
            if self.io.step(&mut self.session).await? == Step::Closed {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Player: a media message or end notice already received and decoded, without waiting.
    /// Lets a driver handle everything one read brought in a single pass.
    pub fn try_next_media(&mut self) -> Option<Result<PlayEvent, ClientError>> {
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => {
                    return Some(Ok(PlayEvent::Media {
                        kind,
                        timestamp,
                        payload,
                    }));
                }
                ClientEvent::StreamEnded { code } => return Some(Ok(PlayEvent::Ended { code })),
                ClientEvent::Rejected {
                    stage,
                    code,
                    description,
                } => return Some(Err(ClientError::refused(stage, code, description))),
                _ => {}
            }
        }
        None
    }

    /// Publisher: queues one media message (encoded at once; written by [`Self::drive`]).
    pub fn send_media(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        self.session
            .send_media(kind, timestamp, payload)
            .map_err(|e| ClientError::Io(IoError::Session(e)))
    }

    /// Publisher: writes queued output and processes what the server sends (acknowledgements,
    /// pings, status). Returns only on failure or when the server ends the publish. Cancel-safe.
    pub async fn drive(&mut self) -> Result<(), ClientError> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Rejected {
                        stage,
                        code,
                        description,
                    } => return Err(ClientError::refused(stage, code, description)),
                    ClientEvent::StreamEnded { code } => {
                        return Err(ClientError::Refused {
                            stage: "publish".into(),
                            code,
                            description: "the server ended the publish".into(),
                        });
                    }
                    _ => {}
                }
            }
            if self.io.step(&mut self.session).await? == Step::Closed {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Bytes encoded but not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.io.queued(&self.session)
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        Ok(self.io.flush(&mut self.session).await?)
    }

    /// Ends the stream cleanly (publish: FCUnpublish + deleteStream; play: deleteStream),
    /// flushes within `timeout` and closes the socket.
    pub async fn close(mut self, timeout: Duration) -> Result<(), ClientError> {
        self.session.close();
        match tokio::time::timeout(timeout, self.io.shutdown(&mut self.session)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.io.bytes_in()
    }

    pub fn bytes_out(&self) -> u64 {
        self.io.bytes_out()
    }

    pub fn mode(&self) -> ClientMode {
        self.mode
    }

    /// What TLS negotiated (`rtmps://`), `None` for plain RTMP.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }
}
