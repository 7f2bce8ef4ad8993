//! HTTP-FLV: serving ingest streams to players (`GET /APP/STREAM.flv[?vhost=DOMAIN]`) and pulling
//! FLV over HTTP(S) as a relay source.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_flv::{FlvDemuxer, FlvMuxer};
use baton_media::Frame;
use baton_media::timeline::{TimestampUnwrapper, wire_timestamp};
use bytes::{Bytes, BytesMut};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::egress::http::{HttpError, MAX_REDIRECTS};
use crate::egress::{self, Egress, EgressRefusal};
use crate::http_listener::HttpLimits;
use crate::hub::{StreamEvent, StreamHub, StreamKey};
use crate::ingest::{DEFAULT_DOMAIN, Decision, IngestPolicy, StreamRequest};
use crate::metrics::ListenerCounters;

/// Settings of the HTTP-FLV play listener.
#[derive(Clone, Debug)]
pub struct HttpFlvConfig {
    /// How long a request for a stream that is not being published waits for a publisher
    /// before answering 404.
    pub wait_for_publisher: Duration,
    /// Simultaneous HTTP-FLV players; further requests get 503.
    pub max_players: usize,
    /// The play listener's connection cap and timeouts ([`crate::http_listener`]); the idle
    /// timeout never ends a response while media flows.
    pub listener: HttpLimits,
}

impl Default for HttpFlvConfig {
    fn default() -> Self {
        HttpFlvConfig {
            wait_for_publisher: Duration::from_secs(10),
            max_players: 4096,
            listener: HttpLimits {
                max_connections: 4096,
                ..HttpLimits::default()
            },
        }
    }
}

#[derive(Clone)]
struct PlayState {
    hub: Arc<StreamHub>,
    policy: Arc<dyn IngestPolicy>,
    config: HttpFlvConfig,
    players: Arc<Semaphore>,
    /// Server shutdown: waiting requests answer and streaming bodies end at once.
    shutdown: CancellationToken,
}

/// Frames muxed into one HTTP body chunk at most (fewer, larger writes).
const BODY_BATCH: usize = 32;

/// The router of the play listener. Requests and response bodies end when `shutdown` fires.
pub fn play_router(
    hub: Arc<StreamHub>,
    policy: Arc<dyn IngestPolicy>,
    config: HttpFlvConfig,
    shutdown: CancellationToken,
) -> Router {
    Router::new()
        .route("/{*path}", axum::routing::get(play))
        .with_state(PlayState {
            hub,
            policy,
            players: Arc::new(Semaphore::new(config.max_players)),
            config,
            shutdown,
        })
}

/// Serves HTTP-FLV playback on `listener` until `cancel` fires.
pub async fn serve_play(
    listener: TcpListener,
    hub: Arc<StreamHub>,
    policy: Arc<dyn IngestPolicy>,
    config: HttpFlvConfig,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    serve_play_counted(
        listener,
        hub,
        policy,
        config,
        ListenerCounters::default(),
        cancel,
    )
    .await
}

/// [`serve_play`], counting the listener's connections into `counters`.
pub async fn serve_play_counted(
    listener: TcpListener,
    hub: Arc<StreamHub>,
    policy: Arc<dyn IngestPolicy>,
    config: HttpFlvConfig,
    counters: ListenerCounters,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    info!(addr = ?listener.local_addr().ok(), "HTTP-FLV play listening");
    let limits = config.listener;
    let app = play_router(hub, policy, config, cancel.clone());
    crate::http_listener::serve_counted(listener, app, limits, counters, cancel).await
}

#[derive(serde::Deserialize)]
struct PlayQuery {
    vhost: Option<String>,
}

async fn play(
    State(state): State<PlayState>,
    Path(path): Path<String>,
    Query(query): Query<PlayQuery>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let Some(key) = key_of(&path, query.vhost, host_header(&headers)) else {
        return (StatusCode::NOT_FOUND, "expected /APP/STREAM.flv\n").into_response();
    };
    let request = StreamRequest {
        key: &key,
        query: uri.query(),
        tc_url: None,
        peer,
    };
    if let Decision::Deny { code, description } = state.policy.authorize_play(&request) {
        info!(%peer, stream = %key, %code, "HTTP-FLV play refused");
        return (StatusCode::FORBIDDEN, format!("{description}\n")).into_response();
    }
    let Ok(permit) = Arc::clone(&state.players).try_acquire_owned() else {
        info!(%peer, stream = %key, limit = state.config.max_players, "HTTP-FLV play refused: too many players");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many players\n").into_response();
    };
    let subscription = state.hub.subscribe(key.clone());
    let wait = tokio::time::timeout(state.config.wait_for_publisher, async {
        loop {
            match subscription.recv().await {
                StreamEvent::Frame(f) => return f,
                StreamEvent::PublisherLeft => continue,
            }
        }
    });
    let waited = tokio::select! {
        _ = state.shutdown.cancelled() => {
            return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
        }
        waited = wait => waited,
    };
    let first = match waited {
        Ok(frame) => frame,
        Err(_) => {
            return (
                StatusCode::NOT_FOUND,
                format!("stream {key} is not being published\n"),
            )
                .into_response();
        }
    };
    info!(%peer, stream = %key, "HTTP-FLV play started");
    let mut head = BytesMut::new();
    head.extend_from_slice(&FlvMuxer::header(true, true));
    mux_frame(&first, &mut head);
    // The body: the FLV header and first frame, then batches of up to BODY_BATCH frames; it
    // ends after the publisher leaves.
    let shutdown = state.shutdown.clone();
    let body = futures_util::stream::unfold(
        (Some(head.freeze()), Some((subscription, permit))),
        move |(head, player)| {
            let shutdown = shutdown.clone();
            async move {
                if let Some(head) = head {
                    return Some((Ok::<Bytes, Infallible>(head), (None, player)));
                }
                // The permit (the player's slot) lives as long as the subscription.
                let (subscription, permit) = player?;
                let mut out = BytesMut::new();
                let first = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    event = subscription.recv() => event,
                };
                let mut event = Some(first);
                let mut muxed = 0;
                while let Some(current) = event.take() {
                    match current {
                        StreamEvent::Frame(frame) => mux_frame(&frame, &mut out),
                        StreamEvent::PublisherLeft if out.is_empty() => return None,
                        StreamEvent::PublisherLeft => {
                            return Some((Ok(out.freeze()), (None, None)));
                        }
                    }
                    muxed += 1;
                    if muxed < BODY_BATCH {
                        event = subscription.try_recv();
                    }
                }
                Some((Ok(out.freeze()), (None, Some((subscription, permit)))))
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "video/x-flv")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn mux_frame(frame: &Frame, out: &mut BytesMut) {
    FlvMuxer::write_tag(frame.kind, wire_timestamp(frame.dts), &frame.payload, out);
}

/// The stream of `/APP/STREAM.flv` (`path` without its leading `/`): the domain is the `vhost`
/// query parameter, else the request's host.
fn key_of(path: &str, vhost: Option<String>, host: Option<String>) -> Option<StreamKey> {
    let (app, stream) = path.strip_suffix(".flv")?.rsplit_once('/')?;
    if app.is_empty() || stream.is_empty() {
        return None;
    }
    let domain = vhost
        .filter(|v| !v.is_empty())
        .or(host)
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_string())
        .to_ascii_lowercase();
    Some(StreamKey::new(domain, app, stream))
}

/// The stream of this node's play listener that an HTTP-FLV pull of `url` reaches, as the
/// listener derives it from the request reqwest sends for `url`. `None` when `url` names no
/// stream, or has percent-escapes in its path (not worth decoding for a lookup that only
/// picks the cheaper way to watch a source).
pub fn play_key(url: &reqwest::Url) -> Option<StreamKey> {
    let path = url.path().strip_prefix('/')?;
    if path.contains('%') {
        return None;
    }
    let vhost = url
        .query_pairs()
        .find(|(k, _)| k == "vhost")
        .map(|(_, v)| v.into_owned());
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string());
    key_of(path, vhost, host)
}

/// The hostname of the `Host` header, without port.
fn host_header(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// Why an HTTP-FLV pull failed.
#[derive(Debug, thiserror::Error)]
pub enum FlvSourceError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("server answered {0}")]
    Status(StatusCode),
    #[error("bad FLV data: {0}")]
    Flv(#[from] baton_flv::FlvError),
    #[error("the server ended the stream")]
    Ended,
    /// The account may not reach the address (nothing was sent to it).
    #[error(transparent)]
    Egress(#[from] EgressRefusal),
    /// The host name did not resolve.
    #[error("{0}")]
    Lookup(String),
    /// A URL or redirect that cannot be followed (bad target, too many redirects).
    #[error("{0}")]
    Redirect(String),
    /// The HTTPS server's certificate was rejected (the message says why).
    #[error(transparent)]
    Certificate(crate::tls::TlsError),
}

impl From<HttpError> for FlvSourceError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Egress(r) => FlvSourceError::Egress(r),
            HttpError::Http(e) => FlvSourceError::Http(e),
            HttpError::Certificate(e) => FlvSourceError::Certificate(e),
            HttpError::Lookup(m) => FlvSourceError::Lookup(m),
            HttpError::Url(m) | HttpError::Redirect(m) => FlvSourceError::Redirect(m),
        }
    }
}

impl FlvSourceError {
    /// 4xx other than 404/408/429: the server refuses, retrying soon won't help.
    pub fn is_refusal(&self) -> bool {
        match self {
            FlvSourceError::Status(s) => {
                s.is_client_error() && !matches!(s.as_u16(), 404 | 408 | 425 | 429)
            }
            _ => false,
        }
    }
}

/// An FLV stream pulled over HTTP(S).
#[derive(Debug)]
pub struct FlvSource {
    response: reqwest::Response,
    demuxer: FlvDemuxer,
    unwrapper: TimestampUnwrapper,
    bytes_in: u64,
}

impl FlvSource {
    /// Sends the GET (only where `egress` allows, redirects included) and checks the
    /// status; the body is then read by [`Self::next_frame`].
    pub async fn connect(egress: &Egress, url: &str) -> Result<FlvSource, FlvSourceError> {
        let response = egress::http::send(egress, url, MAX_REDIRECTS, |c, u| c.get(u)).await?;
        if !response.status().is_success() {
            return Err(FlvSourceError::Status(response.status()));
        }
        Ok(FlvSource {
            response,
            demuxer: FlvDemuxer::new(Default::default()),
            unwrapper: TimestampUnwrapper::new(),
            bytes_in: 0,
        })
    }

    /// The next frame, with its timestamp unwrapped past 32 bits. Cancel-safe.
    pub async fn next_frame(&mut self) -> Result<Frame, FlvSourceError> {
        loop {
            if let Some(frame) = self.try_next_frame() {
                return frame;
            }
            match self.response.chunk().await? {
                Some(chunk) => {
                    self.bytes_in += chunk.len() as u64;
                    self.demuxer.push_bytes(chunk);
                }
                None => return Err(FlvSourceError::Ended),
            }
        }
    }

    /// A frame already received, without waiting.
    pub fn try_next_frame(&mut self) -> Option<Result<Frame, FlvSourceError>> {
        match self.demuxer.poll_tag() {
            Ok(Some(tag)) => {
                let dts = self.unwrapper.unwrap(tag.timestamp);
                Some(Ok(Frame::new(tag.tag_type, dts, tag.data)))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }
}
