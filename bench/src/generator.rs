//! The load generator: N real-time streams of the clip from one process.
//!
//! One [`Pacer`] task serves every stream from a single timer: at each tick it walks the
//! active streams and, for each whose next frame is due, encodes the due frames into that
//! connection's RTMP session (the payloads are the clip's shared `Bytes`; the session copies
//! them once into its chunked output) and writes with a non-blocking `try_write`. No per-frame
//! allocation, no per-stream timer. Connection tasks only handle handshakes, commands and
//! acknowledgements.
//!
//! Streams enter the pacer two ways:
//! * [`serve_players`]: an RTMP server; a player's `play live/s{i}` starts stream i (Baton
//!   relays and ffmpeg pull this way);
//! * [`publish_all`]: RTMP clients publishing `s{i}` to a server (nginx-rtmp is fed this way).
//!
//! Each stream starts at the clip's beginning (metadata, sequence headers, first keyframe)
//! and loops it on one continuous timeline. Every coded frame is entered in the stream's
//! ledger with its send instant before its bytes reach the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use baton_media::TagType;
use baton_rtmp::RtmpUrl;
use baton_rtmp::session::{
    ClientConfig, ClientEvent, ClientMode, ClientSession, MediaKind, ServerConfig, ServerEvent,
    ServerSession,
};
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::clip::Clip;
use crate::conn::{Conn, Session, stream_index};
use crate::ledger::Ledgers;

/// A connection with no input for this long is closed (players acknowledge every 2.5 MB,
/// i.e. every ~10 s at 2 Mb/s; publishers to nginx hear little back, so this is generous).
const IDLE: Duration = Duration::from_secs(120);

/// Pacer settings.
#[derive(Clone, Debug)]
pub struct PacerConfig {
    /// Timer period: frames due within one tick are written together.
    pub tick: Duration,
    /// Bytes a stream may have queued (socket full) before its frames are dropped and
    /// counted as backlogged: the system under test is not reading.
    pub max_backlog: usize,
}

/// A stream that started: its connection and, for a server, the message stream it plays on.
#[derive(Debug)]
pub struct Activation {
    pub conn: Arc<Conn>,
    pub index: usize,
    pub stream_id: u32,
}

/// Where connection tasks hand started streams to the pacer.
#[derive(Clone, Debug)]
pub struct PacerHandle {
    tx: mpsc::Sender<Activation>,
}

impl PacerHandle {
    fn activate(&self, activation: Activation) {
        // The channel holds one slot per stream and each stream starts once per connection:
        // it is only full if a peer keeps restarting streams, which the bench then reports.
        if let Err(e) = self.tx.try_send(activation) {
            warn!(error = %e, "pacer queue full: a stream restart was ignored");
        }
    }
}

/// The single timer that paces every stream (see [`Pacer::run_blocking`]).
#[derive(Debug)]
pub struct Pacer {
    clip: Arc<Clip>,
    ledgers: Arc<Ledgers>,
    config: PacerConfig,
    rx: mpsc::Receiver<Activation>,
    active: Vec<Active>,
}

#[derive(Debug)]
struct Active {
    conn: Arc<Conn>,
    index: usize,
    stream_id: u32,
    start: Instant,
    /// The next frame of the stream ([`Clip::frame`] numbering) and when it is due.
    seq: u64,
    due: Instant,
}

impl Pacer {
    pub fn new(
        clip: Arc<Clip>,
        ledgers: Arc<Ledgers>,
        config: PacerConfig,
    ) -> (Pacer, PacerHandle) {
        let (tx, rx) = mpsc::channel(ledgers.len().max(1) * 2);
        let pacer = Pacer {
            clip,
            ledgers,
            config,
            rx,
            active: Vec::new(),
        };
        (pacer, PacerHandle { tx })
    }

    /// Runs until `cancel`, on the calling thread: the bench gives the pacer a thread of its
    /// own (`spawn_blocking`) so that its bursts of writes never delay the sink's tasks,
    /// whose receive instants are the other half of every latency sample.
    pub fn run_blocking(mut self, cancel: &CancellationToken) {
        let mut next_tick = Instant::now();
        while !cancel.is_cancelled() {
            next_tick += self.config.tick;
            let now = Instant::now();
            if next_tick > now {
                std::thread::sleep(next_tick - now);
            } else {
                // Late: carry on from now rather than bursting to catch up ticks.
                next_tick = now;
            }
            while let Ok(a) = self.rx.try_recv() {
                let now = Instant::now();
                // A restarted stream (new connection for the same index) replaces the old one.
                self.active.retain(|s| s.index != a.index);
                self.active.push(Active {
                    conn: a.conn,
                    index: a.index,
                    stream_id: a.stream_id,
                    start: now,
                    seq: 0,
                    due: now,
                });
            }
            let now = Instant::now();
            let mut active = std::mem::take(&mut self.active);
            active.retain_mut(|s| self.service(s, now));
            self.active = active;
        }
    }

    /// Sends the frames of `s` due by `now`. `false` when the stream's connection is gone.
    fn service(&self, s: &mut Active, now: Instant) -> bool {
        if s.due > now {
            return true;
        }
        let mut st = s.conn.lock();
        if st.closed {
            return false;
        }
        let clock = self.ledgers.clock;
        let sent_at = clock.now();
        // Every destination stream of this source expects the frame (one unless fanned out).
        let mut ledgers = self.ledgers.copies(s.index);
        if ledgers.is_empty() {
            return false;
        }
        let window = &self.ledgers.window;
        while s.due <= now {
            let (frame, dts) = self.clip.frame(s.seq);
            let len = frame.payload.len();
            if st.backlog() > self.config.max_backlog {
                if frame.track.is_some() {
                    for ledger in &mut ledgers {
                        ledger.on_backlogged(len, sent_at, window);
                    }
                }
            } else {
                let kind = media_kind(frame.kind);
                // The generator's timeline starts at 0 and a run lasts minutes: no wrap.
                if let Err(e) = st
                    .session
                    .send_media(s.stream_id, kind, dts as u32, &frame.payload)
                {
                    debug!(stream = s.index, error = %e, "cannot send media");
                    st.closed = true;
                    return false;
                }
                if let Some(track) = frame.track {
                    for ledger in &mut ledgers {
                        ledger.on_sent(track, dts, frame.fingerprint, len, sent_at, window);
                    }
                }
            }
            s.seq += 1;
            let (_, next_dts) = self.clip.frame(s.seq);
            s.due = s.start + Duration::from_millis(next_dts.max(0) as u64);
        }
        drop(ledgers);
        s.conn.flush_from_outside(&mut st).is_ok()
    }
}

/// Serves players on `listener` until `cancel`: `play live/s{i}` starts stream i.
pub async fn serve_players(
    listener: TcpListener,
    streams: usize,
    pacer: PacerHandle,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (sock, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "generator accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let pacer = pacer.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let session =
                ServerSession::new(ServerConfig::default(), rand::random(), Instant::now());
            let conn = Conn::new(sock, Session::Server(session));
            let me = Arc::clone(&conn);
            let result = conn
                .drive(&cancel, IDLE, |st, _| {
                    let Session::Server(session) = &mut st.session else {
                        return Err(anyhow!("not a server session"));
                    };
                    while let Some(event) = session.poll_event() {
                        on_player_event(session, event, streams, &me, &pacer)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                debug!(%peer, error = %e, "generator connection ended");
            }
        });
    }
}

fn on_player_event(
    session: &mut ServerSession,
    event: ServerEvent,
    streams: usize,
    conn: &Arc<Conn>,
    pacer: &PacerHandle,
) -> Result<()> {
    match event {
        ServerEvent::ConnectRequested { request_id, .. } => session.accept_connect(request_id)?,
        ServerEvent::PlayRequested {
            request_id,
            stream_id,
            stream_name,
            ..
        } => match stream_index(&stream_name, streams) {
            Some(index) => {
                session.accept_play(request_id)?;
                pacer.activate(Activation {
                    conn: Arc::clone(conn),
                    index,
                    stream_id,
                });
            }
            None => session.reject_play(
                request_id,
                "NetStream.Play.StreamNotFound",
                &format!("no stream {stream_name}"),
            )?,
        },
        ServerEvent::PublishRequested { request_id, .. } => session.reject_publish(
            request_id,
            "NetStream.Publish.Denied",
            "the load generator only plays",
        )?,
        _ => {}
    }
    Ok(())
}

/// Publishes streams `s0..s{streams}` to `rtmp://{addr}/{app}/s{i}`, at most `concurrency`
/// connection attempts at a time; each connection runs until `cancel`. Returns once every
/// connection attempt is under way.
pub async fn publish_all(
    addr: SocketAddr,
    app: &str,
    streams: usize,
    concurrency: usize,
    pacer: PacerHandle,
    cancel: CancellationToken,
    tracker: TaskTracker,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    for index in 0..streams {
        let url = RtmpUrl::parse(&format!("rtmp://{addr}/{app}/s{index}"))
            .map_err(|e| anyhow!("bad publish URL: {e}"))?;
        let permit = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            p = Arc::clone(&permits).acquire_owned() => p.context("connect permits")?,
        };
        let pacer = pacer.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let result = publish_one(addr, url, index, permit, &pacer, &cancel).await;
            // Expected when the server is stopped; an early end shows up as lost frames.
            if let Err(e) = result {
                debug!(stream = index, error = %e, "publisher ended");
            }
        });
    }
    Ok(())
}

async fn publish_one(
    addr: SocketAddr,
    url: RtmpUrl,
    index: usize,
    permit: tokio::sync::OwnedSemaphorePermit,
    pacer: &PacerHandle,
    cancel: &CancellationToken,
) -> Result<()> {
    let sock = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))?
        .with_context(|| format!("connect to {addr}"))?;
    let config = ClientConfig::default_for(url, ClientMode::Publish);
    let session = ClientSession::new(config, rand::random(), Instant::now());
    let conn = Conn::new(sock, Session::Client(session));
    let me = Arc::clone(&conn);
    let mut permit = Some(permit);
    conn.drive(cancel, IDLE, |st, _| {
        let Session::Client(session) = &mut st.session else {
            return Err(anyhow!("not a client session"));
        };
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::Publishing => {
                    permit = None;
                    pacer.activate(Activation {
                        conn: Arc::clone(&me),
                        index,
                        stream_id: 0,
                    });
                }
                ClientEvent::Rejected {
                    code, description, ..
                } => return Err(anyhow!("publish refused: {code} ({description})")),
                _ => {}
            }
        }
        Ok(())
    })
    .await
}

/// The RTMP message kind of an FLV tag.
fn media_kind(kind: TagType) -> MediaKind {
    match kind {
        TagType::Audio => MediaKind::Audio,
        TagType::Video => MediaKind::Video,
        TagType::Script => MediaKind::Data,
    }
}
