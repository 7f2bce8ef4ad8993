//! The slate under paused tokio time over in-memory networks: every source gone → the slate
//! within 1 s; a source back → live again at its keyframe, its sequence headers first; the
//! slate's hold over → the relay ends, its sessions closed cleanly; a slate of another
//! resolution gets its sequence headers through, a matching default sends none. Each
//! destination keeps one session and one strictly increasing timeline throughout.

use std::sync::Arc;
use std::time::Duration;

use baton_media::{Frame, TagType};
use baton_net::client::{ClientOptions, RtmpConnection};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::AllowAll;
use baton_net::testing::MemoryNetwork;
use baton_net::transport::{DialFuture, Dialer};
use baton_net::{MediaKind, RtmpUrl};
use baton_relay::slate::{Slate, default_for};
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayState, Side, SlateClip, SlateConfig};
use baton_rtmp::session::ClientMode;
use bytes::Bytes;
use tokio::time::{Instant, sleep, sleep_until};

const SRC: &str = "rtmp://src/live/s";
const DST: &str = "rtmp://out/live/d";
const DST2: &str = "rtmp://out/live/e";

/// The publisher's video payloads are 6 bytes; every slate frame is longer.
const LIVE_VIDEO_LEN: usize = 6;

#[derive(Debug)]
struct Router {
    src: Arc<MemoryNetwork>,
    out: Arc<MemoryNetwork>,
}

impl Dialer for Router {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        match host {
            "src" => self.src.dial(host, port),
            _ => self.out.dial(host, port),
        }
    }
}

struct World {
    src: Arc<MemoryNetwork>,
    out: Arc<MemoryNetwork>,
    out_hub: Arc<StreamHub>,
}

fn world() -> World {
    let (src, _) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    let (out, out_hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World { src, out, out_hub }
}

impl World {
    fn config(&self, slate: SlateConfig) -> RelayConfig {
        let mut config = RelayConfig::new(SRC, DST);
        config.extra_destinations = vec![DST2.into()];
        config.slate = Some(slate);
        config.client = ClientOptions {
            dialer: Arc::new(Router {
                src: Arc::clone(&self.src),
                out: Arc::clone(&self.out),
            }),
            ..ClientOptions::default()
        };
        config.jitter_seed = Some(7);
        config
    }

    fn observer(&self, name: &str) -> Subscription {
        self.out_hub.subscribe(StreamKey::new("out", "live", name))
    }

    fn kill_source(&self) {
        self.src.set_reachable(false);
        self.src.drop_connections();
    }
}

/// What a live stream with this AVC configuration record looks like to the relay.
fn fake_avc_header() -> Vec<u8> {
    vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]
}

/// Publishes `seconds` of A/V to the source: `video_header` (an FLV video tag body), AAC,
/// then 30 fps video (keyframe every 30 frames, 6-byte payloads) and audio every 23 ms.
/// Stops quietly when the connection breaks (a killed server).
fn publish(
    net: &Arc<MemoryNetwork>,
    seconds: u32,
    video_header: Vec<u8>,
) -> tokio::task::JoinHandle<()> {
    let net = Arc::clone(net);
    tokio::spawn(async move {
        let options = ClientOptions {
            dialer: Arc::new(Arc::clone(&net)),
            ..ClientOptions::default()
        };
        let url = RtmpUrl::parse(SRC).unwrap();
        let Ok(mut conn) = RtmpConnection::connect(&url, ClientMode::Publish, &options).await
        else {
            return;
        };
        let _ = conn.send_media(MediaKind::Video, 0, &video_header);
        let _ = conn.send_media(MediaKind::Audio, 0, &[0xaf, 0, 0x12, 0x10]);
        let begin = Instant::now();
        let (mut video_ms, mut audio_ms) = (0u32, 0u32);
        while video_ms < seconds * 1000 {
            let (kind, ts, payload) = if video_ms <= audio_ms {
                let first = if (video_ms / 33) % 30 == 0 {
                    0x17
                } else {
                    0x27
                };
                let out = (MediaKind::Video, video_ms, vec![first, 1, 0, 0, 0, 9]);
                video_ms += 33;
                out
            } else {
                let out = (MediaKind::Audio, audio_ms, vec![0xaf, 1, 0x21, 0x10]);
                audio_ms += 23;
                out
            };
            sleep_until(begin + Duration::from_millis(u64::from(ts))).await;
            if conn.send_media(kind, ts, &payload).is_err() || conn.flush().await.is_err() {
                return;
            }
        }
        let _ = conn.close(Duration::from_secs(1)).await;
    })
}

fn collect(sub: Subscription, until: Duration) -> tokio::task::JoinHandle<Vec<StreamEvent>> {
    tokio::spawn(async move {
        let deadline = Instant::now() + until;
        let mut events = Vec::new();
        while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
            events.push(event);
        }
        events
    })
}

fn frames(events: &[StreamEvent]) -> impl Iterator<Item = &Frame> {
    events.iter().filter_map(|e| match e {
        StreamEvent::Frame(f) => Some(f),
        _ => None,
    })
}

fn is_slate(f: &Frame) -> bool {
    f.payload.len() > LIVE_VIDEO_LEN
}

/// Video frames in order, runs collapsed: `L` live, `S` slate.
fn video_runs(events: &[StreamEvent]) -> String {
    let mut out = String::new();
    for f in frames(events).filter(|f| f.kind == TagType::Video && !f.config) {
        let c = if is_slate(f) { 'S' } else { 'L' };
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// One session (ended once), both tracks strictly increasing, no video gap over `max_gap`.
fn assert_one_session_one_timeline(events: &[StreamEvent], max_gap: i64) {
    let left = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::PublisherLeft))
        .count();
    assert_eq!(left, 1, "one destination session, ended once");
    for kind in [TagType::Video, TagType::Audio] {
        let dts: Vec<i64> = frames(events)
            .filter(|f| f.kind == kind && !f.config)
            .map(|f| f.dts)
            .collect();
        assert!(!dts.is_empty());
        assert!(
            dts.windows(2).all(|p| p[0] < p[1]),
            "{kind:?} DTS not strictly increasing"
        );
        if kind == TagType::Video {
            let gap = dts.windows(2).map(|p| p[1] - p[0]).max().unwrap();
            assert!(gap <= max_gap, "a video gap of {gap} ms");
        }
    }
}

/// Video sequence headers in the order the session got them.
fn video_headers(events: &[StreamEvent]) -> Vec<Bytes> {
    frames(events)
        .filter(|f| f.kind == TagType::Video && f.config)
        .map(|f| f.payload.clone())
        .collect()
}

fn slate(clip: SlateClip, hold: Duration) -> SlateConfig {
    SlateConfig {
        clip,
        after: Duration::from_secs(1),
        hold,
    }
}

#[tokio::test(start_paused = true)]
async fn every_source_gone_the_slate_within_a_second_then_live_again_at_its_keyframe() {
    let w = world();
    let observed = [
        collect(w.observer("d"), Duration::from_secs(30)),
        collect(w.observer("e"), Duration::from_secs(30)),
    ];
    let _live = publish(&w.src, 30, fake_avc_header());
    let relay = Relay::spawn(w.config(slate(SlateClip::Default, Duration::from_secs(60)))).unwrap();
    let cell = relay.status_cell();
    sleep(Duration::from_millis(4_010)).await;
    let before = relay.status();
    w.kill_source();
    let killed = Instant::now();
    let mut slate_after = None;
    while Instant::now() < killed + Duration::from_secs(3) {
        sleep(Duration::from_millis(10)).await;
        if cell.snapshot().slate_active {
            slate_after = Some(Instant::now() - killed);
            break;
        }
    }
    sleep(Duration::from_secs(8)).await;
    let during = relay.status();
    // The encoder is back.
    w.src.set_reachable(true);
    let back = Instant::now();
    let _again = publish(&w.src, 30, fake_avc_header());
    let mut live_after = None;
    while Instant::now() < back + Duration::from_secs(6) {
        sleep(Duration::from_millis(10)).await;
        if !cell.snapshot().slate_active {
            live_after = Some(Instant::now() - back);
            break;
        }
    }
    sleep(Duration::from_secs(3)).await;
    let after = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");

    assert!(!before.slate_active);
    assert_eq!(before.slate_starts, 0);
    let slate_after = slate_after.expect("the slate started");
    eprintln!("slate on {slate_after:?} after the source died");
    assert!(slate_after <= Duration::from_secs(1), "{slate_after:?}");
    assert!(during.slate_active);
    assert_eq!(during.slate_starts, 1);
    assert_eq!(during.state, RelayState::SourceReconnecting);
    let live_after = live_after.expect("live again");
    eprintln!("live again {live_after:?} after the publisher returned");
    // A connection's round trips, the relay's source backoff (at most 2.4 s) and no more
    // than a keyframe interval (1 s).
    assert!(live_after <= Duration::from_millis(3_500), "{live_after:?}");
    assert!(!after.slate_active);
    assert_eq!(after.slate_starts, 1);
    assert_eq!(after.state, RelayState::Forwarding);
    assert_eq!(after.destination_sessions, 2, "one session per destination");
    let slate_header = default_for(None).video_config().unwrap().payload.clone();
    for observed in observed {
        let events = observed.await.unwrap();
        assert_eq!(video_runs(&events), "LSL");
        // One segment of slate: about 8 s of it, looped (3.2 s a loop).
        let slate_frames = frames(&events)
            .filter(|f| f.kind == TagType::Video && !f.config && is_slate(f))
            .count();
        assert!((240..=330).contains(&slate_frames), "{slate_frames}");
        // The slate's headers before its first frame, the live ones again before the live
        // keyframe that ended it.
        assert_eq!(
            video_headers(&events),
            vec![
                Bytes::from(fake_avc_header()),
                slate_header.clone(),
                Bytes::from(fake_avc_header())
            ]
        );
        let mut last_header = None;
        let mut switches = Vec::new();
        let mut previous_slate = None;
        for f in frames(&events).filter(|f| f.kind == TagType::Video) {
            if f.config {
                last_header = Some(f.payload.clone());
                continue;
            }
            if previous_slate != Some(is_slate(f)) {
                switches.push((f.keyframe, last_header.clone()));
                previous_slate = Some(is_slate(f));
            }
        }
        assert_eq!(
            switches,
            vec![
                (true, Some(Bytes::from(fake_avc_header()))),
                (true, Some(slate_header.clone())),
                (true, Some(Bytes::from(fake_avc_header()))),
            ],
            "each run starts at a keyframe after its own header"
        );
        // The slate fills the gap: no video gap longer than `after` and a frame.
        assert_one_session_one_timeline(&events, 1_100);
    }
}

#[tokio::test(start_paused = true)]
async fn the_slate_hold_ends_the_relay_with_its_sessions_closed_cleanly() {
    let w = world();
    let observed = collect(w.observer("d"), Duration::from_secs(20));
    let _live = publish(&w.src, 30, fake_avc_header());
    let relay = Relay::spawn(w.config(slate(SlateClip::Default, Duration::from_secs(5)))).unwrap();
    let cell = relay.status_cell();
    sleep(Duration::from_secs(3)).await;
    w.kill_source();
    let killed = Instant::now();
    let err = relay.wait().await.expect_err("the hold ended");
    let ended = Instant::now() - killed;
    let status = cell.snapshot();
    let events = observed.await.unwrap();

    // The slate 1 s after the last live frame, then its 5 s hold (the grace period, 35 s,
    // does not apply).
    assert!(
        ended >= Duration::from_millis(5_900) && ended < Duration::from_millis(6_200),
        "ended {ended:?} after the source"
    );
    assert_eq!(err.side, Side::Source);
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(err.to_string().contains("hold"), "{err}");
    assert_eq!(status.state, RelayState::Failed);
    assert_eq!(status.slate_starts, 1);
    assert_eq!(status.destination_sessions, 2);
    assert_eq!(video_runs(&events), "LS");
    // Closed cleanly: the destination saw the publisher leave once, after the slate.
    assert_one_session_one_timeline(&events, 1_100);
    assert!(matches!(events.last(), Some(StreamEvent::PublisherLeft)));
}

#[tokio::test(start_paused = true)]
async fn a_slate_of_another_resolution_gets_its_sequence_headers_through() {
    let w = world();
    let observed = collect(w.observer("d"), Duration::from_secs(14));
    // The live stream is 1920x1080 (the default slate's own header, as an encoder would
    // send it); the operator's slate is 640x360.
    let live_header = default_for(Some((1920, 1080)))
        .video_config()
        .unwrap()
        .payload
        .clone();
    let small = Arc::clone(default_for(Some((640, 360))));
    let small_header = small.video_config().unwrap().payload.clone();
    let _live = publish(&w.src, 30, live_header.to_vec());
    let relay =
        Relay::spawn(w.config(slate(SlateClip::Clip(small), Duration::from_secs(60)))).unwrap();
    sleep(Duration::from_secs(3)).await;
    w.kill_source();
    sleep(Duration::from_secs(4)).await;
    w.src.set_reachable(true);
    let _again = publish(&w.src, 30, live_header.to_vec());
    sleep(Duration::from_secs(5)).await;
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observed.await.unwrap();

    assert_eq!(video_runs(&events), "LSL");
    assert_eq!(
        video_headers(&events),
        vec![live_header.clone(), small_header, live_header],
        "the slate's 640x360 header, then the live 1920x1080 one again"
    );
    assert_one_session_one_timeline(&events, 1_100);
}

#[tokio::test(start_paused = true)]
async fn a_default_slate_matching_the_live_stream_sends_no_header_change() {
    let w = world();
    let observed = collect(w.observer("d"), Duration::from_secs(14));
    let live = default_for(Some((1920, 1080)));
    let live_header = live.video_config().unwrap().payload.clone();
    let _live = publish(&w.src, 30, live_header.to_vec());
    let relay = Relay::spawn(w.config(slate(SlateClip::Default, Duration::from_secs(60)))).unwrap();
    sleep(Duration::from_secs(3)).await;
    w.kill_source();
    sleep(Duration::from_secs(4)).await;
    w.src.set_reachable(true);
    let _again = publish(&w.src, 30, live_header.to_vec());
    sleep(Duration::from_secs(5)).await;
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observed.await.unwrap();

    assert_eq!(video_runs(&events), "LSL");
    // The default picked by the live stream's resolution is 1920x1080: the same header.
    assert_eq!(video_headers(&events), vec![live_header]);
    assert_one_session_one_timeline(&events, 1_100);
}

#[tokio::test]
async fn an_operators_slate_file_is_loaded_once_into_memory() {
    let dir = std::env::temp_dir().join(format!("baton-slate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("slate.flv");
    std::fs::write(&path, baton_relay::slate::DEFAULT_SLATES[0].2).unwrap();
    let slate = Slate::load(
        path.to_str().unwrap(),
        &baton_net::egress::Egress::unrestricted(),
    )
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(slate.resolution(), Some((640, 360)));
    assert!(slate.has_audio());
    let missing = Slate::load(
        "/nonexistent/slate.flv",
        &baton_net::egress::Egress::unrestricted(),
    )
    .await
    .unwrap_err();
    assert!(missing.to_string().contains("slate"), "{missing}");
}

#[tokio::test(start_paused = true)]
async fn a_clip_loaded_when_the_relay_starts_plays_else_the_default() {
    let dir = std::env::temp_dir().join(format!("baton-slate-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.flv");
    std::fs::write(&path, baton_relay::slate::DEFAULT_SLATES[0].2).unwrap();
    let small_header = default_for(Some((640, 360)))
        .video_config()
        .unwrap()
        .payload
        .clone();
    let default_header = default_for(None).video_config().unwrap().payload.clone();
    // A clip that cannot be loaded: the default plays (the error is logged and was the
    // relay's last error until the source's came).
    for (clip, want) in [
        (path.to_str().unwrap().to_owned(), small_header),
        ("/nonexistent/slate.flv".to_owned(), default_header),
    ] {
        let w = world();
        let observed = collect(w.observer("d"), Duration::from_secs(10));
        let _live = publish(&w.src, 30, fake_avc_header());
        let config = w.config(slate(SlateClip::Load(clip), Duration::from_secs(60)));
        let relay = Relay::spawn(config).unwrap();
        sleep(Duration::from_secs(3)).await;
        w.kill_source();
        sleep(Duration::from_secs(4)).await;
        relay.stop();
        relay.wait().await.expect("stopped cleanly");
        let events = observed.await.unwrap();

        assert_eq!(video_runs(&events), "LS");
        assert_eq!(video_headers(&events)[1], want);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
