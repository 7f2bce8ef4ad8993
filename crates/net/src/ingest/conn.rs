//! One ingest connection: drives a sans-IO [`ServerSession`] over a TCP socket, feeds publishes
//! into the hub and plays subscriptions out of it.

use std::net::SocketAddr;

use baton_codec::describe;
use baton_media::Frame;
use baton_media::timeline::{TimestampUnwrapper, wire_timestamp};
use baton_rtmp::session::{ServerConfig, ServerEvent, ServerSession};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::{Decision, Ingest, StreamRequest, resolve_domain, split_query};
use crate::hub::{
    ClaimError, IngestProtocol, PublishOrigin, Publisher, StreamEvent, StreamKey, Subscription,
};
use crate::io::{IoError, SessionIo, Step};
use crate::media_kind;

/// Output queued for a player beyond which Baton stops taking frames from its subscription
/// queue, letting that queue's drop-to-keyframe policy absorb the slowness.
const PLAY_HIGH_WATER: usize = 256 * 1024;
/// Frames moved from a subscription into the session per wake-up, at most.
const PLAY_BATCH: usize = 64;

/// Why an ingest connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("rtmp: {0}")]
    Session(#[from] baton_rtmp::SessionError),
    #[error("no RTMP connect within the handshake timeout")]
    HandshakeTimeout,
    #[error("idle timeout")]
    IdleTimeout,
    #[error("publisher of {0} disconnected by the server")]
    Kicked(StreamKey),
    #[error("server shutting down")]
    Shutdown,
}

struct Publishing {
    stream_id: u32,
    publisher: Publisher,
    kick: CancellationToken,
    unwrapper: TimestampUnwrapper,
}

struct Playing {
    stream_id: u32,
    subscription: Subscription,
    /// The publisher left; the next frame comes from a new one (announce it first).
    between_publishers: bool,
}

#[derive(Default)]
struct ConnState {
    /// The app (without query) and tcUrl of the accepted `connect`.
    connected: Option<(String, Option<String>)>,
    publishing: Option<Publishing>,
    playing: Option<Playing>,
}

pub(super) async fn serve<R, W>(
    reader: R,
    writer: W,
    peer: SocketAddr,
    ctx: &Ingest,
    cancel: CancellationToken,
) -> Result<(), ConnError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut io = SessionIo::new(reader, writer);
    let config = &ctx.config;
    let mut session = ServerSession::new(
        ServerConfig {
            chunk_size: config.chunk_size,
            max_message_size: config.max_message_size,
            ping_interval: config.ping_interval,
            ..ServerConfig::default()
        },
        rand::random(),
        Instant::now().into_std(),
    );
    let mut state = ConnState::default();
    let handshake_deadline = Instant::now() + config.handshake_timeout;
    let mut last_activity = Instant::now();

    loop {
        let want_frames = state.playing.is_some() && io.queued(&session) < PLAY_HIGH_WATER;
        let kick = state.publishing.as_ref().map(|p| p.kick.clone());
        let mut deadline = last_activity + config.idle_timeout;
        if state.connected.is_none() {
            deadline = deadline.min(handshake_deadline);
        }
        if let Some(t) = session.poll_timeout() {
            deadline = deadline.min(Instant::from_std(t));
        }

        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ConnError::Shutdown),
            _ = async { match &kick { Some(k) => k.cancelled().await, None => std::future::pending().await } } => {
                let key = state.publishing.as_ref().map(|p| p.publisher.key().clone());
                return Err(ConnError::Kicked(key.unwrap_or_else(|| StreamKey::new("", "", ""))));
            }
            step = io.step(&mut session) => {
                match step? {
                    Step::Closed => return Ok(()),
                    Step::Read(_) => handle_events(&mut session, &mut state, ctx, peer)?,
                    Step::Wrote(_) => {}
                }
                last_activity = Instant::now();
            }
            event = async { state.playing.as_ref().map(|p| p.subscription.recv()).expect("guarded by want_frames").await }, if want_frames => {
                let playing = state.playing.as_mut().expect("guarded by want_frames");
                play_event(&mut session, playing, event)?;
                for _ in 1..PLAY_BATCH {
                    if io.queued(&session) >= PLAY_HIGH_WATER {
                        break;
                    }
                    match playing.subscription.try_recv() {
                        Some(event) => play_event(&mut session, playing, event)?,
                        None => break,
                    }
                }
            }
            _ = sleep_until(deadline) => {
                let now = Instant::now();
                if state.connected.is_none() && now >= handshake_deadline {
                    return Err(ConnError::HandshakeTimeout);
                }
                if now >= last_activity + config.idle_timeout {
                    return Err(ConnError::IdleTimeout);
                }
                session.handle_timeout(now.into_std());
            }
        }
    }
}

fn play_event(
    session: &mut ServerSession,
    playing: &mut Playing,
    event: StreamEvent,
) -> Result<(), ConnError> {
    match event {
        StreamEvent::Frame(frame) => {
            if playing.between_publishers {
                playing.between_publishers = false;
                session.send_publish_notify(playing.stream_id)?;
            }
            session.send_media(
                playing.stream_id,
                media_kind(frame.kind),
                wire_timestamp(frame.dts),
                &frame.payload,
            )?
        }
        StreamEvent::PublisherLeft => {
            playing.between_publishers = true;
            session.send_unpublish_notify(playing.stream_id)?
        }
    }
    Ok(())
}

fn handle_events(
    session: &mut ServerSession,
    state: &mut ConnState,
    ctx: &Ingest,
    peer: SocketAddr,
) -> Result<(), ConnError> {
    while let Some(event) = session.poll_event() {
        match event {
            ServerEvent::ConnectRequested {
                request_id,
                app,
                tc_url,
                ..
            } => {
                let app = split_query(&app).0.to_string();
                session.accept_connect(request_id)?;
                state.connected = Some((app, tc_url));
            }
            ServerEvent::PublishRequested {
                request_id,
                stream_id,
                app,
                tc_url,
                stream_name,
                query,
                ..
            } => {
                let key = stream_key(&app, tc_url.as_deref(), &stream_name, query.as_deref());
                let request = StreamRequest {
                    key: &key,
                    query: query.as_deref(),
                    tc_url: tc_url.as_deref(),
                    peer,
                };
                let busy = state.publishing.is_some();
                if let Some((code, description)) = refusal(Role::Publish, busy, ctx, &request) {
                    let reason = if busy { "connection_busy" } else { "policy" };
                    ctx.metrics.publish_refused("rtmp", reason);
                    info!(%peer, stream = %key, %code, %description, "publish refused");
                    session.reject_publish(request_id, &code, &description)?;
                    continue;
                }
                let origin = PublishOrigin {
                    protocol: IngestProtocol::Rtmp,
                    remote: peer,
                };
                match ctx.hub.publish_from(key.clone(), origin) {
                    Ok(publisher) => {
                        session.accept_publish(request_id)?;
                        info!(%peer, stream = %key, "publish started");
                        state.publishing = Some(Publishing {
                            stream_id,
                            kick: publisher.close_signal(),
                            publisher,
                            unwrapper: TimestampUnwrapper::new(),
                        });
                    }
                    Err(ClaimError::AlreadyPublishing(_)) => {
                        ctx.metrics.publish_refused("rtmp", "stream_busy");
                        info!(%peer, stream = %key, "publish refused: stream busy");
                        session.reject_publish(
                            request_id,
                            "NetStream.Publish.BadName",
                            &format!("stream {key} is already publishing"),
                        )?;
                    }
                }
            }
            ServerEvent::PlayRequested {
                request_id,
                stream_id,
                app,
                tc_url,
                stream_name,
                query,
                ..
            } => {
                let key = stream_key(&app, tc_url.as_deref(), &stream_name, query.as_deref());
                let request = StreamRequest {
                    key: &key,
                    query: query.as_deref(),
                    tc_url: tc_url.as_deref(),
                    peer,
                };
                let busy = state.playing.is_some();
                if let Some((code, description)) = refusal(Role::Play, busy, ctx, &request) {
                    info!(%peer, stream = %key, %code, %description, "play refused");
                    session.reject_play(request_id, &code, &description)?;
                    continue;
                }
                session.accept_play(request_id)?;
                info!(%peer, stream = %key, "play started");
                state.playing = Some(Playing {
                    stream_id,
                    subscription: ctx.hub.subscribe(key),
                    between_publishers: false,
                });
            }
            ServerEvent::Media {
                stream_id,
                kind,
                timestamp,
                payload,
            } => match &mut state.publishing {
                Some(p) if p.stream_id == stream_id => {
                    let dts = p.unwrapper.unwrap(timestamp);
                    let frame = Frame::new(crate::tag_type(kind), dts, payload);
                    if frame.config {
                        log_codec(peer, p.publisher.key(), &frame);
                    }
                    p.publisher.send(frame);
                }
                _ => debug!(%peer, stream_id, "media on a stream that is not publishing: dropped"),
            },
            ServerEvent::PublishFinished { stream_id } => {
                if let Some(p) = state.publishing.take_if(|p| p.stream_id == stream_id) {
                    info!(%peer, stream = %p.publisher.key(), "publish finished");
                }
            }
            ServerEvent::PlayFinished { stream_id } => {
                if let Some(p) = state.playing.take_if(|p| p.stream_id == stream_id) {
                    info!(%peer, stream = %p.subscription.key(), dropped = p.subscription.dropped(), "play finished");
                }
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Role {
    Publish,
    Play,
}

/// Why a publish or play is refused before the hub is asked (status code, description): this
/// connection already does one, or the policy says no.
fn refusal(
    role: Role,
    busy: bool,
    ctx: &Ingest,
    request: &StreamRequest<'_>,
) -> Option<(String, String)> {
    if busy {
        let (code, description) = match role {
            Role::Publish => (
                "NetStream.Publish.BadName",
                "this connection is already publishing",
            ),
            Role::Play => (
                "NetStream.Play.Failed",
                "this connection is already playing a stream",
            ),
        };
        return Some((code.into(), description.into()));
    }
    let decision = match role {
        Role::Publish => ctx.policy.authorize_publish(request),
        Role::Play => ctx.policy.authorize_play(request),
    };
    match decision {
        Decision::Allow => None,
        Decision::Deny { code, description } => Some((code, description)),
    }
}

/// Logs what a publisher's sequence header says (codec, size, rate), once per header.
pub(super) fn log_codec(peer: SocketAddr, key: &StreamKey, frame: &Frame) {
    if frame.is_video() {
        if let Some(v) = describe::video_params(&frame.payload) {
            info!(%peer, stream = %key, codec = v.codec, width = v.width, height = v.height, profile = v.profile, level = v.level, fps = v.frame_rate, "video");
        }
    } else if let Some(a) = describe::audio_params(&frame.payload) {
        info!(%peer, stream = %key, codec = a.codec, sample_rate = a.sample_rate, channels = a.channels, profile = a.profile, "audio");
    }
}

/// The hub key of a publish/play: domain from the request, app without its query.
pub(super) fn stream_key(
    app: &str,
    tc_url: Option<&str>,
    stream_name: &str,
    query: Option<&str>,
) -> StreamKey {
    let domain = resolve_domain(tc_url, app, query);
    StreamKey::new(domain, split_query(app).0, stream_name)
}
