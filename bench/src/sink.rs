//! The sink: an RTMP server accepting the systems under test's publishes of `live/s{i}`
//! ([`serve_publishers`]) and handing each stream's media to a [`Receiver`]: the RTMP
//! benchmark's ledgers (latency, loss) or the sources benchmark's counters.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use baton_media::TagType;
use baton_rtmp::session::{MediaKind, ServerConfig, ServerEvent, ServerSession};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::clip::tracked;
use crate::conn::{Conn, Session, stream_index};
use crate::ledger::Ledgers;

/// Publishers send continuously; one silent this long is gone.
const IDLE: Duration = Duration::from_secs(60);
/// Message streams a publisher may open on one connection (ffmpeg and nginx use one).
const MAX_STREAMS_PER_CONN: usize = 8;

/// What a sink does with the streams `live/s0` … `live/s{N-1}` published into it: the
/// connection handling (connect, publish by name, refusals) is [`serve_publishers`]'s.
pub trait Receiver: Send + Sync + 'static {
    /// N: the streams expected; any other name is refused.
    fn streams(&self) -> usize;
    /// Streams per destination, for publishes into app `live{d}` (d ≥ 1): there `s{i}` is
    /// stream `d × stride + i` (nginx-rtmp's `push` keeps the stream name, so the K `push`
    /// lines of a relay fanning out go to K apps). Everything goes to `live` by default.
    fn app_stride(&self) -> usize {
        self.streams()
    }
    /// Stream `index` is published (again): a new timeline begins.
    fn published(&self, _index: usize) {}
    /// A media message of stream `index`, whose bytes were read at `read_at`.
    fn media(
        &self,
        index: usize,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
        read_at: Instant,
    );
}

/// The RTMP benchmark's sink: every audio/video frame into its stream's ledger.
impl Receiver for Ledgers {
    fn streams(&self) -> usize {
        self.len()
    }

    fn app_stride(&self) -> usize {
        self.sources()
    }

    fn media(
        &self,
        index: usize,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
        read_at: Instant,
    ) {
        let tag = match kind {
            MediaKind::Audio => TagType::Audio,
            MediaKind::Video => TagType::Video,
            MediaKind::Data => return,
        };
        let Some(track) = tracked(tag, payload) else {
            return;
        };
        let at = self.clock.micros(read_at.into_std());
        if let Some(mut ledger) = self.stream(index) {
            ledger.on_received(track, i64::from(timestamp), payload, at, &self.window);
        }
    }
}

/// Accepts publishers on `listener` until `cancel`; what they publish goes to `receiver`.
pub async fn serve_publishers<R: Receiver>(
    listener: TcpListener,
    receiver: Arc<R>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (sock, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "sink accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let receiver = Arc::clone(&receiver);
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let session = ServerSession::new(
                ServerConfig::default(),
                rand::random(),
                Instant::now().into_std(),
            );
            let conn = Conn::new(sock, Session::Server(session));
            // Message stream id → benchmark stream index, for this connection's publishes.
            let mut publishing: Vec<(u32, usize)> = Vec::new();
            // The first stream index of the app connected to (`live{d}`: d × stride).
            let mut app_offset = Some(0);
            let result = conn
                .drive(&cancel, IDLE, |st, read_at| {
                    let Session::Server(session) = &mut st.session else {
                        return Err(anyhow!("not a server session"));
                    };
                    while let Some(event) = session.poll_event() {
                        on_event(
                            session,
                            event,
                            &*receiver,
                            &mut publishing,
                            &mut app_offset,
                            read_at,
                        )?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                debug!(%peer, error = %e, "sink connection ended");
            }
        });
    }
}

fn on_event(
    session: &mut ServerSession,
    event: ServerEvent,
    receiver: &impl Receiver,
    publishing: &mut Vec<(u32, usize)>,
    app_offset: &mut Option<usize>,
    read_at: Instant,
) -> Result<()> {
    match event {
        ServerEvent::Media {
            stream_id,
            kind,
            timestamp,
            payload,
        } => {
            if let Some(&(_, index)) = publishing.iter().find(|(id, _)| *id == stream_id) {
                receiver.media(index, kind, timestamp, &payload, read_at);
            }
        }
        ServerEvent::ConnectRequested {
            request_id, app, ..
        } => {
            *app_offset = app_offset_of(&app, receiver.app_stride());
            session.accept_connect(request_id)?
        }
        ServerEvent::PublishRequested {
            request_id,
            stream_id,
            stream_name,
            ..
        } => match app_offset.and_then(|offset| {
            stream_index(&stream_name, receiver.streams().saturating_sub(offset))
                .map(|i| offset + i)
        }) {
            Some(index) if publishing.len() < MAX_STREAMS_PER_CONN => {
                session.accept_publish(request_id)?;
                receiver.published(index);
                publishing.retain(|(id, _)| *id != stream_id);
                publishing.push((stream_id, index));
            }
            _ => session.reject_publish(
                request_id,
                "NetStream.Publish.BadName",
                &format!("the sink does not expect {stream_name}"),
            )?,
        },
        ServerEvent::PlayRequested { request_id, .. } => session.reject_play(
            request_id,
            "NetStream.Play.StreamNotFound",
            "the sink only receives",
        )?,
        ServerEvent::PublishFinished { stream_id } => publishing.retain(|(id, _)| *id != stream_id),
        ServerEvent::PlayFinished { .. } => {}
    }
    Ok(())
}

/// The first stream index of app `app`: `live` → 0, `live{d}` → d × `stride`; None (every
/// publish refused) for any other app.
fn app_offset_of(app: &str, stride: usize) -> Option<usize> {
    let d = match app.strip_prefix("live")? {
        "" => 0,
        d => d.parse::<usize>().ok()?,
    };
    Some(d * stride)
}

#[cfg(test)]
mod tests {
    use super::app_offset_of;

    #[test]
    fn apps_are_destinations() {
        assert_eq!(app_offset_of("live", 100), Some(0));
        assert_eq!(app_offset_of("live1", 100), Some(100));
        assert_eq!(app_offset_of("live2", 100), Some(200));
        assert_eq!(app_offset_of("other", 100), None);
        assert_eq!(app_offset_of("livex", 100), None);
    }
}
