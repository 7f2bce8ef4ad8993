//! The sink: an RTMP server accepting the systems under test's publishes of `live/s{i}` and
//! accounting every received frame in stream i's ledger (latency, loss).

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

/// Accepts publishers on `listener` until `cancel`.
pub async fn serve_publishers(
    listener: TcpListener,
    ledgers: Arc<Ledgers>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    serve(listener, cancel, tracker, move || {
        let ledgers = Arc::clone(&ledgers);
        // Message stream id → benchmark stream index, for this connection's publishes.
        let mut publishing: Vec<(u32, usize)> = Vec::new();
        move |session: &mut ServerSession, event, read_at: Instant| {
            let at = ledgers.clock.micros(read_at.into_std());
            on_event(session, event, &ledgers, &mut publishing, at)
        }
    })
    .await;
}

/// Accepts RTMP connections on `listener` until `cancel`, each driven by its own server
/// session; `handler()` makes each connection's event handler (called with the session, the
/// event and when the bytes that brought it were read).
pub async fn serve<H, F>(
    listener: TcpListener,
    cancel: CancellationToken,
    tracker: TaskTracker,
    handler: H,
) where
    H: Fn() -> F,
    F: FnMut(&mut ServerSession, ServerEvent, Instant) -> Result<()> + Send + 'static,
{
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
        let mut on_event = handler();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let session = ServerSession::new(
                ServerConfig::default(),
                rand::random(),
                Instant::now().into_std(),
            );
            let conn = Conn::new(sock, Session::Server(session));
            let result = conn
                .drive(&cancel, IDLE, |st, read_at| {
                    let Session::Server(session) = &mut st.session else {
                        return Err(anyhow!("not a server session"));
                    };
                    while let Some(event) = session.poll_event() {
                        on_event(session, event, read_at)?;
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
    ledgers: &Ledgers,
    publishing: &mut Vec<(u32, usize)>,
    at: u64,
) -> Result<()> {
    match event {
        ServerEvent::Media {
            stream_id,
            kind,
            timestamp,
            payload,
        } => {
            let Some(&(_, index)) = publishing.iter().find(|(id, _)| *id == stream_id) else {
                return Ok(());
            };
            let tag = match kind {
                MediaKind::Audio => TagType::Audio,
                MediaKind::Video => TagType::Video,
                MediaKind::Data => return Ok(()),
            };
            let Some(track) = tracked(tag, &payload) else {
                return Ok(());
            };
            if let Some(mut ledger) = ledgers.stream(index) {
                ledger.on_received(track, i64::from(timestamp), &payload, at, &ledgers.window);
            }
        }
        ServerEvent::ConnectRequested { request_id, .. } => session.accept_connect(request_id)?,
        ServerEvent::PublishRequested {
            request_id,
            stream_id,
            stream_name,
            ..
        } => match stream_index(&stream_name, ledgers.len()) {
            Some(index) if publishing.len() < MAX_STREAMS_PER_CONN => {
                session.accept_publish(request_id)?;
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
