//! The relay engine end to end over an in-memory network with paused tokio time: Baton's own
//! RTMP client publishing into Baton's own ingest, a relay pulling from one stream and pushing
//! to another, and an observer subscribed to the destination stream in the hub.

use std::sync::Arc;
use std::time::Duration;

use baton_media::{Frame, TagType};
use baton_net::client::{ClientOptions, RtmpConnection};
use baton_net::egress::{Egress, EgressPolicy};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{Decision, IngestPolicy, StreamRequest};
use baton_net::testing::MemoryNetwork;
use baton_net::transport::{DialFuture, Dialer};
use baton_net::{MediaKind, RtmpUrl};
use baton_relay::{DEFAULT_GRACE, ErrorKind, Relay, RelayConfig, RelayState, Side};
use baton_rtmp::session::ClientMode;
use tokio::time::{Instant, sleep, sleep_until};

const SRC: &str = "rtmp://mem/live/src";
const DST: &str = "rtmp://mem/live/dst";

fn dst_key() -> StreamKey {
    StreamKey::new("mem", "live", "dst")
}

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

struct World {
    net: Arc<MemoryNetwork>,
    hub: Arc<StreamHub>,
}

fn world() -> World {
    let (net, hub) = MemoryNetwork::with_default_ingest(Arc::new(DenyForbidden));
    World { net, hub }
}

fn options(dialer: Arc<dyn Dialer>) -> ClientOptions {
    ClientOptions {
        dialer,
        ..ClientOptions::default()
    }
}

fn relay_config(dialer: Arc<dyn Dialer>, dst: &str) -> RelayConfig {
    let mut config = RelayConfig::new(SRC, dst);
    config.client = options(dialer);
    config.jitter_seed = Some(7);
    config
}

/// The synthetic A/V stream: AVC and AAC sequence headers, then 30 fps video (keyframe every
/// 30 frames) and audio every 23 ms, published in real (paused) time for `seconds`.
async fn publish(net: &Arc<MemoryNetwork>, url: &str, seconds: u32, start_ts: u32) -> usize {
    let url = RtmpUrl::parse(url).unwrap();
    let dialer: Arc<dyn Dialer> = Arc::new(Arc::clone(net));
    let mut conn = RtmpConnection::connect(&url, ClientMode::Publish, &options(dialer))
        .await
        .expect("publisher connects");
    conn.send_media(
        MediaKind::Video,
        start_ts,
        &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f],
    )
    .unwrap();
    conn.send_media(MediaKind::Audio, start_ts, &[0xaf, 0, 0x12, 0x10])
        .unwrap();
    let begin = Instant::now();
    let (mut video_ms, mut audio_ms, mut sent) = (0u32, 0u32, 0usize);
    let end_ms = seconds * 1000;
    while video_ms < end_ms {
        let (kind, ts, payload): (MediaKind, u32, Vec<u8>) = if video_ms <= audio_ms {
            let key = (video_ms / 33) % 30 == 0;
            let first = if key { 0x17 } else { 0x27 };
            let out = (
                MediaKind::Video,
                video_ms,
                vec![first, 1, 0, 0, 0, 0xde, 0xad],
            );
            video_ms += 33;
            out
        } else {
            let out = (MediaKind::Audio, audio_ms, vec![0xaf, 1, 0x21, 0x10]);
            audio_ms += 23;
            out
        };
        sleep_until(begin + Duration::from_millis(u64::from(ts))).await;
        conn.send_media(kind, start_ts.wrapping_add(ts), &payload)
            .unwrap();
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
async fn observe(sub: &Subscription, deadline: Instant) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        events.push(event);
    }
    events
}

fn video(events: &[StreamEvent]) -> Vec<&Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) if f.kind == TagType::Video && !f.config => Some(f),
            _ => None,
        })
        .collect()
}

fn assert_monotonic(events: &[StreamEvent]) {
    for kind in [TagType::Video, TagType::Audio] {
        let dts: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Frame(f) if f.kind == kind && !f.config => Some(f.dts),
                _ => None,
            })
            .collect();
        assert!(
            dts.windows(2).all(|w| w[0] < w[1]),
            "{kind:?} DTS not strictly increasing: {dts:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn source_dropping_three_times_keeps_one_destination_session() {
    let w = world();
    let observer = w.hub.subscribe(dst_key());
    let relay = Relay::spawn(relay_config(Arc::new(Arc::clone(&w.net)), DST)).unwrap();
    let mut sent = 0;
    for round in 0..4u32 {
        // Each publisher starts its own timeline somewhere else, one near the 32-bit wrap.
        let start_ts = [0, 5_000_000, u32::MAX - 1000, 42][round as usize];
        sent += publish(&w.net, SRC, 3, start_ts).await;
        sleep(Duration::from_secs(1)).await;
    }
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    let left = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::PublisherLeft))
        .count();
    assert_eq!(left, 1, "the destination session ended once, at stop");
    assert!(matches!(events.last(), Some(StreamEvent::PublisherLeft)));
    assert_eq!(video(&events).len(), sent, "every video frame arrived");
    assert_monotonic(&events);
    assert_eq!(status.destination_sessions, 1);
    assert_eq!(status.timeline.segments, 4);
    assert_eq!(status.state, RelayState::SourceReconnecting);

    // The output timeline is continuous: each segment starts after the previous one's last
    // frame plus the wall-clock gap (about 1 s), not back at 0 or at the source's timestamps.
    let v = video(&events);
    let jumps: Vec<i64> = v
        .windows(2)
        .map(|p| p[1].dts - p[0].dts)
        .filter(|d| *d > 100)
        .collect();
    assert_eq!(jumps.len(), 3, "three rebases: {jumps:?}");
    assert!(jumps.iter().all(|d| (1000..=1200).contains(d)), "{jumps:?}");
    assert!(v.last().unwrap().dts < 4 * 3000 + 3 * 1200);
}

#[tokio::test(start_paused = true)]
async fn missing_source_fails_after_the_grace_period() {
    let w = world();
    let started = Instant::now();
    let relay = Relay::spawn(relay_config(Arc::new(Arc::clone(&w.net)), DST)).unwrap();
    let err = relay.wait().await.expect_err("no source, no relay");
    let elapsed = started.elapsed();
    assert_eq!(err.side, Side::Source);
    assert!(err.retryable);
    assert!(
        elapsed >= DEFAULT_GRACE && elapsed < DEFAULT_GRACE + Duration::from_secs(1),
        "failed after {elapsed:?}"
    );
    assert!(
        !w.hub.is_publishing(&dst_key()),
        "no destination without media"
    );
}

#[tokio::test(start_paused = true)]
async fn refused_destination_fails_at_once_without_retrying() {
    let w = world();
    let relay = Relay::spawn(relay_config(
        Arc::new(Arc::clone(&w.net)),
        "rtmp://mem/live/forbidden",
    ))
    .unwrap();
    let started = Instant::now();
    let publisher = {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish(&net, SRC, 5, 0).await })
    };
    let err = relay.wait().await.expect_err("refused");
    assert_eq!(err.side, Side::Destination);
    assert_eq!(err.kind, ErrorKind::Refused);
    assert!(!err.retryable);
    assert!(err.message.contains("NetStream.Publish.Denied"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    publisher.abort();
}

#[tokio::test(start_paused = true)]
async fn a_destination_the_accounts_egress_forbids_is_never_dialed() {
    // The push is a connection the task's account makes too: acme may reach public addresses
    // only, so its relay from a public source to a loopback destination fails on the
    // destination side, for good, and nothing reaches the loopback stream.
    let w = world();
    let policy = Arc::new(EgressPolicy::new(
        Some("root"),
        Default::default(),
        Default::default(),
    ));
    let src = "rtmp://8.8.8.8/live/src";
    let mut config = relay_config(Arc::new(Arc::clone(&w.net)), "rtmp://127.0.0.1/live/dst");
    config.source = src.into();
    config.egress = Egress::new(policy, "acme");
    let observer = w.hub.subscribe(StreamKey::new("127.0.0.1", "live", "dst"));
    let relay = Relay::spawn(config).unwrap();
    let publisher = {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish(&net, src, 5, 0).await })
    };
    let err = relay.wait().await.expect_err("refused");
    assert_eq!(err.side, Side::Destination);
    assert_eq!(err.kind, ErrorKind::EgressDenied);
    assert!(!err.retryable);
    assert!(err.message.contains("egress.accounts.acme"), "{err}");
    assert!(
        observe(&observer, Instant::now() + Duration::from_secs(1))
            .await
            .is_empty(),
        "nothing was published to the loopback destination"
    );
    assert_eq!(
        w.net.dials(),
        2,
        "the publisher's and the source's, none to the destination"
    );
    publisher.abort();
}

#[tokio::test(start_paused = true)]
async fn kicked_destination_reconnects_and_resumes_at_a_keyframe() {
    let w = world();
    let observer = w.hub.subscribe(dst_key());
    let relay = Relay::spawn(relay_config(Arc::new(Arc::clone(&w.net)), DST)).unwrap();
    let publisher = {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish(&net, SRC, 8, 0).await })
    };
    sleep(Duration::from_secs(3)).await;
    assert!(w.hub.kick(&dst_key()), "the relay is publishing");
    publisher.await.unwrap();
    let status = relay.status();
    relay.stop();
    relay.wait().await.unwrap();
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(status.destination_sessions, 2);
    let split = events
        .iter()
        .position(|e| matches!(e, StreamEvent::PublisherLeft))
        .expect("first session ended");
    let second: Vec<&Frame> = events[split + 1..]
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    assert!(second.iter().take(2).all(|f| f.config), "headers first");
    let first_video = second
        .iter()
        .find(|f| f.kind == TagType::Video && !f.config)
        .unwrap();
    assert!(first_video.keyframe, "the new session starts at a keyframe");
    assert_monotonic(&events[split + 1..]);
}

/// Routes `src` to one network and `dst` to another, so each side can fail on its own.
#[derive(Debug)]
struct Split {
    src: Arc<MemoryNetwork>,
    dst: Arc<MemoryNetwork>,
}

impl Dialer for Split {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        if host == "dst" {
            self.dst.dial(host, port)
        } else {
            self.src.dial(host, port)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn unreachable_destination_backs_off_then_fails_after_grace() {
    let src = world();
    let dst = world();
    dst.net.set_reachable(false);
    let dialer = Arc::new(Split {
        src: Arc::clone(&src.net),
        dst: Arc::clone(&dst.net),
    });
    let relay = Relay::spawn(relay_config(dialer, "rtmp://dst/live/dst")).unwrap();
    let publisher = {
        let net = Arc::clone(&src.net);
        tokio::spawn(async move { publish(&net, SRC, 20, 0).await })
    };
    sleep(Duration::from_secs(5)).await;
    let status = relay.status();
    assert_eq!(status.state, RelayState::DestinationReconnecting);
    let last = status.last_error.expect("error recorded");
    assert_eq!(last.error.side, Side::Destination);
    assert_eq!(last.error.kind, ErrorKind::Connect);
    let err = relay.wait().await.expect_err("destination never came");
    assert_eq!(err.side, Side::Destination);
    assert!(err.retryable);
    publisher.abort();
}

#[tokio::test(start_paused = true)]
async fn destination_that_comes_back_within_grace_gets_the_stream() {
    let src = world();
    let dst = world();
    dst.net.set_reachable(false);
    let observer = dst.hub.subscribe(dst_key_on("dst"));
    let dialer = Arc::new(Split {
        src: Arc::clone(&src.net),
        dst: Arc::clone(&dst.net),
    });
    let relay = Relay::spawn(relay_config(dialer, "rtmp://dst/live/dst")).unwrap();
    let publisher = {
        let net = Arc::clone(&src.net);
        tokio::spawn(async move { publish(&net, SRC, 12, 0).await })
    };
    sleep(Duration::from_secs(4)).await;
    dst.net.set_reachable(true);
    // The destination backoff (1 s doubling) tries again about 7 s after the first failure.
    sleep(Duration::from_secs(5)).await;
    let status = relay.status();
    publisher.await.unwrap();
    relay.stop();
    relay.wait().await.unwrap();
    assert_eq!(status.state, RelayState::Forwarding);
    assert_eq!(status.destination_sessions, 1);
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;
    let v = video(&events);
    assert!(v[0].keyframe);
    assert!(v.len() > 100, "{} frames", v.len());
    assert_monotonic(&events);
}

fn dst_key_on(domain: &str) -> StreamKey {
    StreamKey::new(domain, "live", "dst")
}

#[tokio::test(start_paused = true)]
async fn invalid_urls_are_refused_before_starting() {
    let err = Relay::spawn(RelayConfig::new("rtsps://x/y", DST)).unwrap_err();
    assert_eq!((err.side, err.kind), (Side::Source, ErrorKind::Unsupported));
    // An SRT address without a port; an SRT mode Baton does not build.
    let err = Relay::spawn(RelayConfig::new("srt://x/y", DST)).unwrap_err();
    assert_eq!((err.side, err.kind), (Side::Source, ErrorKind::InvalidUrl));
    let err = Relay::spawn(RelayConfig::new("srt://x:9000?mode=rendezvous", DST)).unwrap_err();
    assert_eq!((err.side, err.kind), (Side::Source, ErrorKind::Unsupported));
    assert!(err.message.contains("rendezvous"), "{err}");
    let err = Relay::spawn(RelayConfig::new(SRC, "rtmp://host-only")).unwrap_err();
    assert_eq!(
        (err.side, err.kind),
        (Side::Destination, ErrorKind::InvalidUrl)
    );
    let err = Relay::spawn(RelayConfig::new(SRC, "ftp://x/app/key")).unwrap_err();
    assert_eq!(
        (err.side, err.kind),
        (Side::Destination, ErrorKind::InvalidUrl)
    );
    assert!(!err.retryable);
}

#[tokio::test(start_paused = true)]
async fn source_connection_drop_resumes_without_repeats_or_rebase() {
    let w = world();
    // The publisher reaches the ingest over its own network, so dropping the relay's
    // connections leaves it publishing.
    let publisher_net = MemoryNetwork::new(Arc::clone(w.net.ingest()));
    let dialer = Arc::new(Split {
        src: Arc::clone(&w.net),
        dst: MemoryNetwork::new(Arc::clone(w.net.ingest())),
    });
    let observer = w.hub.subscribe(dst_key_on("dst"));
    let relay = Relay::spawn(relay_config(dialer, "rtmp://dst/live/dst")).unwrap();
    let publisher = tokio::spawn(async move { publish(&publisher_net, SRC, 8, 0).await });
    // Just after a keyframe (every 990 ms): the replay after the 0.5 s backoff starts at that
    // keyframe and covers what the relay already had and what it missed.
    sleep(Duration::from_millis(3100)).await;
    w.net.drop_connections();
    let sent = publisher.await.unwrap();
    let status = relay.status();
    relay.stop();
    relay.wait().await.unwrap();
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(status.destination_sessions, 1);
    assert_eq!(status.source_connections, 2);
    assert_eq!(
        status.timeline.segments, 1,
        "no rebase: the same stream resumed"
    );
    assert!(
        status.frames_deduplicated > 0,
        "the ingest replayed its GOP cache"
    );
    // A clean relay drops nothing: the sequence headers re-sent at the destination's start
    // and by the reconnected source are repeats, not drops (they read `dropped 3` once).
    assert_eq!(status.frames_dropped, 0, "{status:?}");
    assert_monotonic(&events);
    let v = video(&events);
    // Nothing repeated; at most the frames between the last relayed one and the replayed
    // GOP's keyframe are missing (none here: the replay covered the outage).
    let mut dts: Vec<i64> = v.iter().map(|f| f.dts).collect();
    dts.dedup();
    assert_eq!(dts.len(), v.len());
    assert_eq!(v.len(), sent, "every frame relayed exactly once");
    assert!(
        dts.windows(2)
            .all(|w| w[1] - w[0] == 33 || w[1] - w[0] == 34),
        "{dts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn source_reconnect_after_a_new_keyframe_continues_the_timeline() {
    let w = world();
    let publisher_net = MemoryNetwork::new(Arc::clone(w.net.ingest()));
    let observer = w.hub.subscribe(dst_key());
    let relay = Relay::spawn(relay_config(Arc::new(Arc::clone(&w.net)), DST)).unwrap();
    let publisher = tokio::spawn(async move { publish(&publisher_net, SRC, 8, 0).await });
    // Just before a keyframe (every 990 ms): the replay after the 0.5 s backoff starts at the
    // next keyframe, with nothing we relayed in it. Both of the relay's connections drop.
    sleep(Duration::from_millis(3900)).await;
    w.net.drop_connections();
    publisher.await.unwrap();
    let status = relay.status();
    relay.stop();
    relay.wait().await.unwrap();
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(status.destination_sessions, 2);
    assert_eq!(status.timeline.segments, 1, "same stream: no rebase");
    assert_eq!(status.frames_deduplicated, 0);
    // The output keeps the source's own spacing across the outage: the hole is the frames
    // published while the relay was away up to the keyframe the new destination session
    // starts at (the reconnect buffer keeps only the latest GOP of 990 ms), not a rebase gap.
    let v = video(&events);
    let hole = v.windows(2).map(|p| p[1].dts - p[0].dts).max().unwrap();
    assert!((66..2 * 990).contains(&hole), "largest step {hole} ms");
}

#[tokio::test(start_paused = true)]
async fn a_new_publish_of_the_same_content_is_not_mistaken_for_a_replay() {
    let w = world();
    let first_net = MemoryNetwork::new(Arc::clone(w.net.ingest()));
    let observer = w.hub.subscribe(dst_key_on("dst"));
    let dialer = Arc::new(Split {
        src: Arc::clone(&w.net),
        dst: MemoryNetwork::new(Arc::clone(w.net.ingest())),
    });
    let relay = Relay::spawn(relay_config(dialer, "rtmp://dst/live/dst")).unwrap();
    {
        let net = Arc::clone(&first_net);
        tokio::spawn(async move { publish(&net, SRC, 8, 0).await });
    }
    // The first publisher and the relay's source connection die together, without an
    // unpublish notice; a second publisher starts the same clip from the top.
    sleep(Duration::from_millis(2500)).await;
    first_net.drop_connections();
    w.net.drop_connections();
    let sent = publish(&w.net, SRC, 3, 0).await;
    sleep(Duration::from_millis(200)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.unwrap();
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(status.frames_deduplicated, 0);
    assert_eq!(status.timeline.segments, 2);
    assert_monotonic(&events);
    let v = video(&events);
    let split = v
        .windows(2)
        .position(|p| p[1].dts - p[0].dts > 100)
        .unwrap()
        + 1;
    assert_eq!(
        v.len() - split,
        sent,
        "the whole second publish was relayed"
    );
}

#[tokio::test(start_paused = true)]
async fn state_changes_are_published() {
    let w = world();
    let relay = Relay::spawn(relay_config(Arc::new(Arc::clone(&w.net)), DST)).unwrap();
    let mut states = relay.state_changes();
    let seen = tokio::spawn(async move {
        let mut seen = vec![*states.borrow_and_update()];
        while states.changed().await.is_ok() {
            seen.push(*states.borrow_and_update());
        }
        seen
    });
    publish(&w.net, SRC, 2, 0).await;
    sleep(Duration::from_secs(1)).await;
    relay.stop();
    relay.wait().await.unwrap();
    let seen = seen.await.unwrap();
    assert_eq!(
        seen,
        vec![
            RelayState::Connecting,
            RelayState::Forwarding,
            RelayState::SourceReconnecting,
            RelayState::Stopped
        ]
    );
}
