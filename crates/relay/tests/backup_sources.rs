//! Backup sources under paused tokio time over in-memory networks: the primary's server dies
//! and the backup takes over within `failover_after`; the primary comes back and the relay
//! fails back after `failback_healthy`; every source gone fails the relay after each was
//! tried; a backup with another codec configuration gets its sequence headers through. Each
//! destination keeps one session and one strictly increasing timeline throughout.

mod support;

use std::sync::Arc;
use std::time::Duration;

use baton_media::TagType;
use baton_net::client::{ClientOptions, RtmpConnection};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{AllowAll, Decision, IngestPolicy, StreamRequest};
use baton_net::testing::MemoryNetwork;
use baton_net::transport::{DialFuture, Dialer};
use baton_net::{MediaKind, RtmpUrl};
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayState, Side};
use baton_rtmp::session::ClientMode;
use support::{media_dts, observe};
use tokio::time::{Instant, sleep, sleep_until};

const PRIMARY: &str = "rtmp://primary/live/s";
const BACKUP: &str = "rtmp://backup/live/s";
const DST: &str = "rtmp://out/live/d";

/// Video payloads end with the publisher's mark, so the destination tells the sources apart.
const PRIMARY_MARK: u8 = 1;
const BACKUP_MARK: u8 = 2;

/// Each host is a server of its own (killed with `set_reachable(false)` + `drop_connections`).
#[derive(Debug)]
struct Router {
    primary: Arc<MemoryNetwork>,
    backup: Arc<MemoryNetwork>,
    out: Arc<MemoryNetwork>,
}

impl Dialer for Router {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        match host {
            "primary" => self.primary.dial(host, port),
            "backup" => self.backup.dial(host, port),
            _ => self.out.dial(host, port),
        }
    }
}

struct World {
    primary: Arc<MemoryNetwork>,
    backup: Arc<MemoryNetwork>,
    out: Arc<MemoryNetwork>,
    out_hub: Arc<StreamHub>,
}

/// Refuses every play: a source that answers "no" (a wrong key, a forbidden stream).
struct DenyPlay;

impl IngestPolicy for DenyPlay {
    fn authorize_play(&self, _request: &StreamRequest<'_>) -> Decision {
        Decision::Deny {
            code: "NetStream.Play.Forbidden".into(),
            description: "forbidden".into(),
        }
    }
}

fn world() -> World {
    world_with(Arc::new(AllowAll))
}

fn world_with(primary_policy: Arc<dyn IngestPolicy>) -> World {
    let (primary, _) = MemoryNetwork::with_default_ingest(primary_policy);
    let (backup, _) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    let (out, out_hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World {
        primary,
        backup,
        out,
        out_hub,
    }
}

impl World {
    fn config(&self) -> RelayConfig {
        let mut config = RelayConfig::new(PRIMARY, DST);
        config.backup_sources = vec![BACKUP.into()];
        config.failover_after = Duration::from_secs(3);
        config.client = ClientOptions {
            dialer: Arc::new(Router {
                primary: Arc::clone(&self.primary),
                backup: Arc::clone(&self.backup),
                out: Arc::clone(&self.out),
            }),
            ..ClientOptions::default()
        };
        config.jitter_seed = Some(7);
        config
    }

    fn observer(&self) -> Subscription {
        self.out_hub.subscribe(StreamKey::new("out", "live", "d"))
    }

    fn kill(net: &MemoryNetwork) {
        net.set_reachable(false);
        net.drop_connections();
    }
}

/// Publishes `seconds` of A/V to `url` over `net`: an AVC sequence header with profile
/// `profile`, AAC, then 30 fps video (keyframe every 30 frames, payloads ending in `mark`)
/// and audio every 23 ms. Stops quietly when the connection breaks (a killed server).
fn publish(
    net: &Arc<MemoryNetwork>,
    url: &'static str,
    seconds: u32,
    profile: u8,
    mark: u8,
) -> tokio::task::JoinHandle<usize> {
    let net = Arc::clone(net);
    tokio::spawn(async move {
        let options = ClientOptions {
            dialer: Arc::new(Arc::clone(&net)),
            ..ClientOptions::default()
        };
        let url = RtmpUrl::parse(url).unwrap();
        let Ok(mut conn) = RtmpConnection::connect(&url, ClientMode::Publish, &options).await
        else {
            return 0;
        };
        let avc = [0x17, 0, 0, 0, 0, 1, profile, 0, 0x1f];
        let _ = conn.send_media(MediaKind::Video, 0, &avc);
        let _ = conn.send_media(MediaKind::Audio, 0, &[0xaf, 0, 0x12, 0x10]);
        let begin = Instant::now();
        let (mut video_ms, mut audio_ms, mut sent) = (0u32, 0u32, 0usize);
        while video_ms < seconds * 1000 {
            let (kind, ts, payload) = if video_ms <= audio_ms {
                let first = if (video_ms / 33) % 30 == 0 {
                    0x17
                } else {
                    0x27
                };
                let out = (MediaKind::Video, video_ms, vec![first, 1, 0, 0, 0, mark]);
                video_ms += 33;
                out
            } else {
                let out = (MediaKind::Audio, audio_ms, vec![0xaf, 1, 0x21, 0x10]);
                audio_ms += 23;
                out
            };
            sleep_until(begin + Duration::from_millis(u64::from(ts))).await;
            if conn.send_media(kind, ts, &payload).is_err() || conn.flush().await.is_err() {
                return sent;
            }
            if kind == MediaKind::Video {
                sent += 1;
            }
        }
        let _ = conn.close(Duration::from_secs(1)).await;
        sent
    })
}

/// The marks of the video frames, in order, runs collapsed: which source fed the
/// destination when.
fn video_sources(events: &[StreamEvent]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for e in events {
        if let StreamEvent::Frame(f) = e
            && f.kind == TagType::Video
            && !f.config
        {
            let mark = *f.payload.last().unwrap();
            if out.last() != Some(&mark) {
                out.push(mark);
            }
        }
    }
    out
}

/// One session (ended once, at stop) and both tracks strictly increasing.
fn assert_one_session_one_timeline(events: &[StreamEvent]) {
    let left = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::PublisherLeft))
        .count();
    assert_eq!(left, 1, "one destination session, ended at stop");
    for kind in [TagType::Video, TagType::Audio] {
        let dts = media_dts(events, kind);
        assert!(!dts.is_empty());
        assert!(
            dts.windows(2).all(|p| p[0] < p[1]),
            "{kind:?} DTS not strictly increasing"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_backup_takes_over_within_the_failover_time_on_one_session() {
    let w = world();
    let observer = w.observer();
    let _backup = publish(&w.backup, BACKUP, 30, 0x64, BACKUP_MARK);
    let _primary = publish(&w.primary, PRIMARY, 30, 0x64, PRIMARY_MARK);
    let relay = Relay::spawn(w.config()).unwrap();
    sleep(Duration::from_secs(5)).await;
    let before = relay.status();
    World::kill(&w.primary);
    let killed = Instant::now();
    let cell = relay.status_cell();
    // The backup's media reaches the destination within the failover time (3 s) and a
    // connection's round trips.
    let mut taken_over = None;
    while Instant::now() < killed + Duration::from_secs(6) {
        sleep(Duration::from_millis(100)).await;
        let s = cell.snapshot();
        if s.active_source == 1 && s.state == RelayState::Forwarding {
            taken_over = Some(Instant::now() - killed);
            break;
        }
    }
    sleep(Duration::from_secs(4)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    assert_eq!(before.active_source, 0);
    assert_eq!(before.state, RelayState::Forwarding);
    let taken_over = taken_over.expect("the backup took over");
    eprintln!("backup live {taken_over:?} after the primary's server died");
    assert!(
        taken_over <= Duration::from_millis(3_600),
        "backup live after {taken_over:?}"
    );
    assert_eq!(status.active_source, 1);
    assert_eq!(status.source_switches, 1);
    assert_eq!(status.destination_sessions, 1);
    assert_eq!(status.sources.len(), 2);
    let primary_error = status.sources[0]
        .last_error
        .as_ref()
        .expect("why the primary left");
    assert_eq!(primary_error.error.side, Side::Source);
    assert!(status.sources[1].last_error.is_none());
    assert_eq!(video_sources(&events), vec![PRIMARY_MARK, BACKUP_MARK]);
    assert_one_session_one_timeline(&events);
}

#[tokio::test(start_paused = true)]
async fn the_relay_fails_back_to_the_primary_once_it_has_been_healthy() {
    let w = world();
    let observer = w.observer();
    let mut config = w.config();
    config.failback_every = Some(Duration::from_secs(2));
    config.failback_healthy = Duration::from_secs(4);
    let _backup = publish(&w.backup, BACKUP, 40, 0x64, BACKUP_MARK);
    let _primary = publish(&w.primary, PRIMARY, 40, 0x64, PRIMARY_MARK);
    let relay = Relay::spawn(config).unwrap();
    sleep(Duration::from_secs(4)).await;
    World::kill(&w.primary);
    sleep(Duration::from_secs(6)).await;
    assert_eq!(relay.status().active_source, 1, "on the backup");
    // The primary's encoder is back.
    w.primary.set_reachable(true);
    let back = Instant::now();
    let _primary_again = publish(&w.primary, PRIMARY, 30, 0x64, PRIMARY_MARK);
    let mut failed_back = None;
    while Instant::now() < back + Duration::from_secs(15) {
        sleep(Duration::from_millis(100)).await;
        if relay.status().active_source == 0 {
            failed_back = Some(Instant::now() - back);
            break;
        }
    }
    sleep(Duration::from_secs(3)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    let failed_back = failed_back.expect("failed back to the primary");
    eprintln!("failed back {failed_back:?} after the primary returned");
    // Not before it was healthy for 4 s; at most a probe interval (2 s), a keyframe
    // interval (1 s) and round trips later.
    assert!(
        failed_back >= Duration::from_secs(4) && failed_back <= Duration::from_millis(7_500),
        "failed back after {failed_back:?}"
    );
    assert_eq!(status.state, RelayState::Forwarding);
    assert_eq!(status.source_switches, 2);
    assert_eq!(status.destination_sessions, 1);
    assert_eq!(
        video_sources(&events),
        vec![PRIMARY_MARK, BACKUP_MARK, PRIMARY_MARK]
    );
    // The primary took over at a keyframe.
    let first_again = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) if f.kind == TagType::Video && !f.config => Some(f),
            _ => None,
        })
        .skip_while(|f| *f.payload.last().unwrap() == PRIMARY_MARK)
        .find(|f| *f.payload.last().unwrap() == PRIMARY_MARK)
        .unwrap();
    assert!(first_again.keyframe);
    assert_one_session_one_timeline(&events);
}

#[tokio::test(start_paused = true)]
async fn the_relay_fails_when_every_source_failed_in_one_pass() {
    let w = world();
    World::kill(&w.primary);
    World::kill(&w.backup);
    let started = Instant::now();
    let relay = Relay::spawn(w.config()).unwrap();
    let cell = relay.status_cell();
    let err = relay.wait().await.expect_err("no source at all");
    let after = Instant::now() - started;
    let status = cell.snapshot();

    assert_eq!(err.side, Side::Source);
    // Each source had its failover time (3 s), far inside the grace period.
    assert!(
        after >= Duration::from_secs(6) && after < Duration::from_millis(6_500),
        "failed after {after:?}"
    );
    assert_eq!(status.state, RelayState::Failed);
    assert_eq!(status.source_switches, 1, "primary, then the backup");
    assert!(status.sources.iter().all(|s| s.last_error.is_some()));
    assert_eq!(status.destination_sessions, 0);
}

#[tokio::test(start_paused = true)]
async fn a_backup_with_another_codec_configuration_gets_its_sequence_headers_through() {
    let w = world();
    // Read as it comes: the hub's queue keeps one header of each kind, the latest.
    let observer = w.observer();
    let collector =
        tokio::spawn(
            async move { observe(&observer, Instant::now() + Duration::from_secs(13)).await },
        );
    let _backup = publish(&w.backup, BACKUP, 30, 0x4d, BACKUP_MARK);
    let _primary = publish(&w.primary, PRIMARY, 30, 0x64, PRIMARY_MARK);
    let relay = Relay::spawn(w.config()).unwrap();
    sleep(Duration::from_secs(4)).await;
    World::kill(&w.primary);
    sleep(Duration::from_secs(7)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = collector.await.unwrap();

    assert_eq!(status.active_source, 1);
    assert_eq!(status.destination_sessions, 1);
    // The backup's sequence header (profile 0x4d) reached the session before its first video
    // frame, after the primary's (profile 0x64).
    let mut seen = Vec::new();
    let mut first_backup_frame_after_header = None;
    for e in &events {
        if let StreamEvent::Frame(f) = e
            && f.kind == TagType::Video
        {
            if f.config {
                seen.push(f.payload[6]);
            } else if *f.payload.last().unwrap() == BACKUP_MARK
                && first_backup_frame_after_header.is_none()
            {
                first_backup_frame_after_header = Some(seen.last() == Some(&0x4d) && f.keyframe);
            }
        }
    }
    assert_eq!(seen, vec![0x64, 0x4d], "each configuration once, in order");
    assert_eq!(first_backup_frame_after_header, Some(true));
    assert_one_session_one_timeline(&events);
}

#[tokio::test(start_paused = true)]
async fn a_refused_primary_fails_over_at_once() {
    let w = world_with(Arc::new(DenyPlay));
    let observer = w.observer();
    let _backup = publish(&w.backup, BACKUP, 10, 0x64, BACKUP_MARK);
    let relay = Relay::spawn(w.config()).unwrap();
    let started = Instant::now();
    let cell = relay.status_cell();
    let mut forwarding = None;
    while Instant::now() < started + Duration::from_secs(5) {
        sleep(Duration::from_millis(50)).await;
        if cell.snapshot().state == RelayState::Forwarding {
            forwarding = Some(Instant::now() - started);
            break;
        }
    }
    sleep(Duration::from_secs(2)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    // No failover time spent on a source that said no.
    let forwarding = forwarding.expect("the backup forwards");
    assert!(forwarding < Duration::from_secs(1), "after {forwarding:?}");
    assert_eq!((status.active_source, status.source_switches), (1, 1));
    let refusal = &status.sources[0].last_error.as_ref().unwrap().error;
    assert_eq!((refusal.side, refusal.retryable), (Side::Source, false));
    assert_ne!(refusal.kind, ErrorKind::Timeout);
    assert_eq!(video_sources(&events), vec![BACKUP_MARK]);
    assert_one_session_one_timeline(&events);
}
