//! One pull, several destinations, under paused tokio time over the in-memory network: each
//! destination fails, stalls, reconnects, is added or removed on its own while the others
//! keep every frame on one session; the relay fails only when every destination has.

mod support;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use baton_media::TagType;
use baton_net::client::{ClientOptions, RtmpConnection};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey};
use baton_net::ingest::{Decision, IngestPolicy, StreamRequest};
use baton_net::testing::MemoryNetwork;
use baton_net::transport::{BoxReader, BoxWriter, DialFuture, Dialer};
use baton_net::{MediaKind, RtmpUrl};
use baton_relay::{
    DestinationId, DestinationState, ErrorKind, Relay, RelayConfig, RelayState, Side,
};
use baton_rtmp::session::ClientMode;
use support::{media_dts, observe};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

const SRC: &str = "rtmp://mem/live/src";
const A: &str = "rtmp://mem/live/a";
/// On its own network (`World::b`), so its server can be killed and restarted.
const B: &str = "rtmp://b/live/b";
/// A server that stops reading when told to (`World::gate`).
const STALL: &str = "rtmp://stall/live/stall";
/// Refused by the ingest's policy.
const FORBIDDEN: &str = "rtmp://mem/live/forbidden";

/// Refuses publishing to streams named `forbidden`.
struct DenyForbidden;

impl IngestPolicy for DenyForbidden {
    fn authorize_publish(&self, request: &StreamRequest<'_>) -> Decision {
        if request.key.stream == "forbidden" {
            Decision::Deny {
                code: "NetStream.Publish.Denied".into(),
                description: "forbidden stream".into(),
            }
        } else {
            Decision::Allow
        }
    }
}

/// Makes a reader stop reading (its peer's writes then fill the pipe) until opened again.
#[derive(Debug, Default)]
struct Gate {
    closed: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl Gate {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
        for waker in self.waiters.lock().unwrap().drain(..) {
            waker.wake();
        }
    }
}

struct GatedReader<R> {
    inner: R,
    gate: Arc<Gate>,
}

impl<R: AsyncRead + Unpin> AsyncRead for GatedReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.gate.closed.load(Ordering::SeqCst) {
            self.gate.waiters.lock().unwrap().push(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// Routes host `b` to `World::b`, host `stall` through a gated server into `World::net`'s
/// ingest, everything else to `World::net`.
#[derive(Debug)]
struct Router {
    net: Arc<MemoryNetwork>,
    b: Arc<MemoryNetwork>,
    gate: Arc<Gate>,
}

impl Dialer for Router {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        match host {
            "b" => self.b.dial(host, port),
            "stall" => {
                let ingest = Arc::clone(self.net.ingest());
                let gate = Arc::clone(&self.gate);
                Box::pin(async move {
                    let (client, server) = tokio::io::duplex(64 * 1024);
                    let (server_r, server_w) = tokio::io::split(server);
                    let reader = GatedReader {
                        inner: server_r,
                        gate,
                    };
                    tokio::spawn(async move {
                        let peer = "127.0.0.1:40999".parse().unwrap();
                        let _ = ingest
                            .serve_connection(reader, server_w, peer, CancellationToken::new())
                            .await;
                    });
                    let (r, w) = tokio::io::split(client);
                    Ok((Box::new(r) as BoxReader, Box::new(w) as BoxWriter))
                })
            }
            _ => self.net.dial(host, port),
        }
    }
}

struct World {
    net: Arc<MemoryNetwork>,
    hub: Arc<StreamHub>,
    b: Arc<MemoryNetwork>,
    b_hub: Arc<StreamHub>,
    gate: Arc<Gate>,
}

fn world() -> World {
    let (net, hub) = MemoryNetwork::with_default_ingest(Arc::new(DenyForbidden));
    let (b, b_hub) = MemoryNetwork::with_default_ingest(Arc::new(DenyForbidden));
    World {
        net,
        hub,
        b,
        b_hub,
        gate: Arc::new(Gate::default()),
    }
}

impl World {
    fn config(&self, destinations: &[&str]) -> RelayConfig {
        let mut config = RelayConfig::new(SRC, destinations[0]);
        config.extra_destinations = destinations[1..].iter().map(|d| d.to_string()).collect();
        config.client = ClientOptions {
            dialer: Arc::new(Router {
                net: Arc::clone(&self.net),
                b: Arc::clone(&self.b),
                gate: Arc::clone(&self.gate),
            }),
            ..ClientOptions::default()
        };
        config.jitter_seed = Some(7);
        config
    }

    fn publish(&self, seconds: u32) -> tokio::task::JoinHandle<usize> {
        let net = Arc::clone(&self.net);
        tokio::spawn(async move { publish(&net, seconds).await })
    }
}

fn key(stream: &str) -> StreamKey {
    StreamKey::new("mem", "live", stream)
}

/// The synthetic A/V stream: AVC and AAC sequence headers, then 30 fps video (keyframe every
/// 30 frames, 2 KiB each: about 0.5 Mbit/s, so a destination that stops reading fills its
/// pipe within seconds) and audio every 23 ms, in real (paused) time. Returns the video
/// frames sent.
async fn publish(net: &Arc<MemoryNetwork>, seconds: u32) -> usize {
    let url = RtmpUrl::parse(SRC).unwrap();
    let options = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        ..ClientOptions::default()
    };
    let mut conn = RtmpConnection::connect(&url, ClientMode::Publish, &options)
        .await
        .expect("publisher connects");
    conn.send_media(MediaKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    conn.send_media(MediaKind::Audio, 0, &[0xaf, 0, 0x12, 0x10])
        .unwrap();
    let begin = Instant::now();
    let (mut video_ms, mut audio_ms, mut sent) = (0u32, 0u32, 0usize);
    while video_ms < seconds * 1000 {
        let (kind, ts, payload): (MediaKind, u32, Vec<u8>) = if video_ms <= audio_ms {
            let first = if (video_ms / 33) % 30 == 0 {
                0x17
            } else {
                0x27
            };
            let mut payload = vec![first, 1, 0, 0, 0];
            payload.resize(2048, 0xab);
            let out = (MediaKind::Video, video_ms, payload);
            video_ms += 33;
            out
        } else {
            let out = (MediaKind::Audio, audio_ms, vec![0xaf, 1, 0x21, 0x10]);
            audio_ms += 23;
            out
        };
        sleep_until(begin + Duration::from_millis(u64::from(ts))).await;
        conn.send_media(kind, ts, &payload).unwrap();
        if kind == MediaKind::Video {
            sent += 1;
        }
        conn.flush().await.expect("publisher writes");
    }
    conn.close(Duration::from_secs(1))
        .await
        .expect("publisher closes");
    sent
}

/// Everything the observer saw, until `deadline`.
fn sessions_ended(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, StreamEvent::PublisherLeft))
        .count()
}

/// Every video frame published, on one session ended once (at stop), both tracks strictly
/// increasing.
fn assert_every_frame_on_one_session(events: &[StreamEvent], published: usize, what: &str) {
    assert_eq!(
        sessions_ended(events),
        1,
        "{what}: one session, ended at stop"
    );
    for kind in [TagType::Video, TagType::Audio] {
        let dts = media_dts(events, kind);
        assert!(
            dts.windows(2).all(|p| p[0] < p[1]),
            "{what}: {kind:?} DTS not strictly increasing"
        );
    }
    assert_eq!(
        media_dts(events, TagType::Video).len(),
        published,
        "{what}: every video frame"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_destination_drops_to_keyframes_while_the_other_keeps_every_frame() {
    let w = world();
    let observer = w.hub.subscribe(key("a"));
    let stalled = w.hub.subscribe(key("stall"));
    let relay = Relay::spawn(w.config(&[A, STALL])).unwrap();
    let publisher = w.publish(20);
    sleep(Duration::from_secs(3)).await;
    assert_eq!(
        relay.status().destinations[1].state,
        DestinationState::Forwarding
    );
    // The stall server stops reading: its pipe, then the session's high-water mark, then
    // its out queue fill; only its own queue drops.
    w.gate.close();
    sleep(Duration::from_secs(12)).await;
    let during = relay.status();
    w.gate.open();
    let published = publisher.await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(during.state, RelayState::Forwarding);
    let (a, b) = (&status.destinations[0], &status.destinations[1]);
    assert_eq!(a.frames_dropped, 0, "{a:?}");
    assert_eq!(a.sessions, 1);
    assert!(
        b.frames_dropped > 0,
        "the stalled destination dropped: {b:?}"
    );
    assert!(a.frames_out > b.frames_out, "{a:?} {b:?}");
    assert_eq!(
        status.frames_dropped, b.frames_dropped,
        "the relay's drops are the destinations'"
    );
    assert_eq!(status.frames_out, a.frames_out + b.frames_out);
    assert_every_frame_on_one_session(&events, published, "A");
    // B resumed at a keyframe once its server read again, on one timeline.
    let b_events = observe(&stalled, Instant::now() + Duration::from_millis(100)).await;
    let b_video = media_dts(&b_events, TagType::Video);
    assert!(b_video.windows(2).all(|p| p[0] < p[1]), "B's DTS increase");
    assert!(
        b_video.len() < published,
        "B lost frames: {}",
        b_video.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_destination_killed_and_restarted_reconnects_once_and_the_other_is_undisturbed() {
    let w = world();
    let observer = w.hub.subscribe(key("a"));
    let b_observer = w.b_hub.subscribe(StreamKey::new("b", "live", "b"));
    let relay = Relay::spawn(w.config(&[A, B])).unwrap();
    let publisher = w.publish(15);
    sleep(Duration::from_secs(4)).await;
    w.b.set_reachable(false);
    w.b.drop_connections();
    sleep(Duration::from_secs(1)).await;
    let during = relay.status();
    sleep(Duration::from_secs(2)).await;
    w.b.set_reachable(true);
    let published = publisher.await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;
    let b_events = observe(&b_observer, Instant::now() + Duration::from_millis(100)).await;

    assert_eq!(during.state, RelayState::Forwarding, "A still forwards");
    assert_eq!(during.destinations[1].state, DestinationState::Reconnecting);
    assert_eq!(
        during.destinations[1]
            .last_error
            .as_ref()
            .unwrap()
            .error
            .side,
        Side::Destination
    );
    assert_eq!(status.destinations[0].sessions, 1);
    assert_eq!(status.destinations[1].sessions, 2, "B: one new session");
    assert_eq!(status.destinations[1].state, DestinationState::Forwarding);
    assert_eq!(status.destination_sessions, 3);
    assert_every_frame_on_one_session(&events, published, "A");
    // B's second session: headers first, then a keyframe, one timeline.
    let split = b_events
        .iter()
        .position(|e| matches!(e, StreamEvent::PublisherLeft))
        .expect("B's first session ended");
    let second = &b_events[split + 1..];
    let first_video = second.iter().find_map(|e| match e {
        StreamEvent::Frame(f) if f.kind == TagType::Video && !f.config => Some(f),
        _ => None,
    });
    assert!(first_video.expect("B got video again").keyframe);
    let dts = media_dts(&b_events, TagType::Video);
    assert!(dts.windows(2).all(|p| p[0] < p[1]), "B's DTS increase");
}

#[tokio::test(start_paused = true)]
async fn a_refused_destination_fails_alone_and_the_relay_keeps_forwarding() {
    let w = world();
    let observer = w.hub.subscribe(key("a"));
    let relay = Relay::spawn(w.config(&[A, FORBIDDEN])).unwrap();
    let publisher = w.publish(6);
    sleep(Duration::from_secs(3)).await;
    let status = relay.status();
    let published = publisher.await.unwrap();
    sleep(Duration::from_secs(1)).await;
    relay.stop();
    relay.wait().await.expect("the relay did not fail");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(status.state, RelayState::Forwarding);
    let b = &status.destinations[1];
    assert_eq!(b.state, DestinationState::Failed);
    let error = &b.last_error.as_ref().expect("B's error").error;
    assert_eq!(
        (error.side, error.kind),
        (Side::Destination, ErrorKind::Refused)
    );
    assert_eq!(b.sessions, 0);
    assert_eq!(status.destinations[0].state, DestinationState::Forwarding);
    assert_every_frame_on_one_session(&events, published, "A");
}

#[tokio::test(start_paused = true)]
async fn the_relay_fails_when_its_last_destination_fails() {
    // B is refused at once; A's server is gone and stays gone: A fails when its grace ends,
    // and with it the relay, with A's error.
    let w = world();
    w.b.set_reachable(false);
    let mut config = w.config(&[B, FORBIDDEN]);
    config.grace = Duration::from_secs(10);
    let relay = Relay::spawn(config).unwrap();
    let publisher = w.publish(30);
    sleep(Duration::from_secs(4)).await;
    let during = relay.status();
    assert_eq!(during.state, RelayState::DestinationReconnecting);
    assert_eq!(during.destinations[0].state, DestinationState::Reconnecting);
    assert_eq!(during.destinations[1].state, DestinationState::Failed);
    let started = Instant::now();
    let cell = relay.status_cell();
    let err = relay.wait().await.expect_err("every destination failed");
    let status = cell.snapshot();
    assert_eq!(status.state, RelayState::Failed);
    assert!(
        status
            .destinations
            .iter()
            .all(|d| d.state == DestinationState::Failed),
        "{:?}",
        status.destinations
    );
    assert_eq!(status.last_error.unwrap().error, err);
    assert_eq!(
        (err.side, err.kind),
        (Side::Destination, ErrorKind::Connect)
    );
    assert!(err.retryable, "A's error: down for the grace period");
    assert!(started.elapsed() <= Duration::from_secs(10));
    publisher.abort();
}

#[tokio::test(start_paused = true)]
async fn every_destination_refused_fails_the_relay() {
    let w = world();
    let relay = Relay::spawn(w.config(&[FORBIDDEN, "rtmp://b/live/forbidden"])).unwrap();
    let publisher = w.publish(5);
    let err = relay.wait().await.expect_err("both refused");
    assert_eq!(
        (err.side, err.kind),
        (Side::Destination, ErrorKind::Refused)
    );
    assert!(!err.retryable);
    publisher.abort();
}

#[tokio::test(start_paused = true)]
async fn a_destination_added_and_removed_while_running_leaves_the_other_undisturbed() {
    let w = world();
    let observer = w.hub.subscribe(key("a"));
    let added = w.b_hub.subscribe(StreamKey::new("b", "live", "b"));
    let relay = Relay::spawn(w.config(&[A])).unwrap();
    let publisher = w.publish(12);
    sleep(Duration::from_secs(3)).await;
    let id = relay.add_destination(B).await.expect("added");
    assert_eq!(id, DestinationId(1));
    sleep(Duration::from_secs(4)).await;
    let with_b = relay.status();
    // The last destination cannot go; an unknown one is not there.
    let err = relay
        .remove_destination(DestinationId(7))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    relay.remove_destination(id).await.expect("removed");
    let err = relay
        .remove_destination(DestinationId(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused);
    let err = relay.add_destination("ftp://x/y").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidUrl);
    let published = publisher.await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;
    let b_events = observe(&added, Instant::now() + Duration::from_millis(100)).await;

    assert_eq!(with_b.destinations.len(), 2);
    assert_eq!(with_b.destinations[1].state, DestinationState::Forwarding);
    assert_eq!(status.destinations.len(), 1, "B is gone from the status");
    assert!(
        status.frames_out > status.destinations[0].frames_out,
        "the relay's totals keep what B sent"
    );
    assert_every_frame_on_one_session(&events, published, "A");
    // B: headers, then from a keyframe, about 4 s, and its session ended cleanly.
    let frames: Vec<_> = b_events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    assert!(frames.iter().take(2).all(|f| f.config), "headers first");
    let video: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == TagType::Video && !f.config)
        .collect();
    assert!(video[0].keyframe, "B starts at a keyframe");
    assert!(
        (60..=130).contains(&video.len()),
        "B got about 4 s: {}",
        video.len()
    );
    assert_eq!(sessions_ended(&b_events), 1, "B's session ended on removal");
}
