//! Source outages with the relay's default settings, under paused tokio time: an encoder that
//! restarts within 30 s costs nothing at the destination; a relay says `connecting` until
//! media reaches the destination; and the probe that tells a task its source is back.

use std::sync::Arc;
use std::time::Duration;

use baton_media::TagType;
use baton_net::client::{ClientOptions, RtmpConnection};
use baton_net::egress::{Egress, EgressPolicy};
use baton_net::hub::{StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::AllowAll;
use baton_net::testing::{MemoryNetwork, publish_test_stream};
use baton_net::transport::Dialer;
use baton_net::{MediaKind, RtmpUrl};
use baton_relay::probe::{ProbeConfig, ProbeOutcome, probe, wait_for_source};
use baton_relay::{
    DEFAULT_GRACE, ErrorKind, Relay, RelayConfig, RelayState, SourceUrl, TOLERATED_OUTAGE,
};
use baton_rtmp::session::ClientMode;
use tokio::time::{Instant, sleep};

const SRC: &str = "rtmp://mem/live/src";
const DST: &str = "rtmp://mem/live/dst";

struct World {
    net: Arc<MemoryNetwork>,
    hub: Arc<StreamHub>,
}

fn world() -> World {
    let (net, hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World { net, hub }
}

fn options(net: &Arc<MemoryNetwork>) -> ClientOptions {
    ClientOptions {
        dialer: Arc::new(Arc::clone(net)) as Arc<dyn Dialer>,
        ..ClientOptions::default()
    }
}

/// The defaults, as tasks get them, over the in-memory network.
fn default_config(net: &Arc<MemoryNetwork>, seed: u64) -> RelayConfig {
    let mut config = RelayConfig::new(SRC, DST);
    config.client = options(net);
    config.jitter_seed = Some(seed);
    config
}

async fn observe(sub: &Subscription, deadline: Instant) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        events.push(event);
    }
    events
}

fn media_dts(events: &[StreamEvent], kind: TagType) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame(f) if f.kind == kind && !f.config => Some(f.dts),
            _ => None,
        })
        .collect()
}

#[test]
fn the_default_grace_outlasts_a_30_second_outage_and_the_backoff_cap() {
    let config = RelayConfig::new(SRC, DST);
    assert_eq!(config.grace, DEFAULT_GRACE);
    let b = &config.source_backoff;
    // The last attempt before the grace ends comes at most one (jittered) backoff cap after
    // the source is back, and leaves time to connect.
    let worst_wait = b.max.mul_f64(1.0 + b.jitter);
    assert!(
        TOLERATED_OUTAGE + worst_wait + Duration::from_secs(2) <= config.grace,
        "{config:?}"
    );
}

/// An encoder that goes away and is back `outage` later, with the defaults: one destination
/// session, both tracks strictly increasing, the relay forwarding again.
async fn outage_keeps_the_session(outage: Duration, seed: u64) {
    let w = world();
    let observer = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = Relay::spawn(default_config(&w.net, seed)).unwrap();
    let first = publish_test_stream(&w.net, SRC, 3, 0).await.unwrap();
    sleep(outage).await;
    let second = publish_test_stream(&w.net, SRC, 3, 0).await.unwrap();
    sleep(Duration::from_millis(500)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;

    let what = format!("outage {outage:?}, jitter seed {seed}");
    assert_eq!(status.destination_sessions, 1, "{what}");
    let left = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::PublisherLeft))
        .count();
    assert_eq!(
        left, 1,
        "{what}: the destination session ended once, at stop"
    );
    assert_eq!(status.timeline.segments, 2, "{what}");
    for kind in [TagType::Video, TagType::Audio] {
        let dts = media_dts(&events, kind);
        assert!(
            dts.windows(2).all(|p| p[0] < p[1]),
            "{what}: {kind:?} DTS not strictly increasing"
        );
    }
    assert_eq!(
        media_dts(&events, TagType::Video).len(),
        first + second,
        "{what}: every video frame of both publishes"
    );
}

#[tokio::test(start_paused = true)]
async fn an_encoder_back_after_29_5_seconds_keeps_the_destination_session() {
    outage_keeps_the_session(Duration::from_millis(29_500), 7).await;
}

#[tokio::test(start_paused = true)]
async fn an_encoder_back_after_29_9_seconds_keeps_the_destination_session_whatever_the_jitter() {
    for seed in [1, 2, 3, 5, 8, 13] {
        outage_keeps_the_session(Duration::from_millis(29_900), seed).await;
    }
}

/// Routes host `dst` to one network and everything else to another.
#[derive(Debug)]
struct Split {
    src: Arc<MemoryNetwork>,
    dst: Arc<MemoryNetwork>,
}

impl Dialer for Split {
    fn dial(&self, host: &str, port: u16) -> baton_net::transport::DialFuture {
        if host == "dst" {
            self.dst.dial(host, port)
        } else {
            self.src.dial(host, port)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_source_server_down_for_29_9_seconds_keeps_the_destination_session() {
    // The source's whole server restarts: every reconnect attempt is refused until it is
    // back, so only the backoff's cap bounds how late the first attempt after its return is.
    for seed in [1, 2, 3, 5, 8, 13] {
        let (src, dst) = (world(), world());
        let observer = dst.hub.subscribe(StreamKey::new("dst", "live", "dst"));
        let mut config = default_config(&src.net, seed);
        config.destination = "rtmp://dst/live/dst".into();
        config.client.dialer = Arc::new(Split {
            src: Arc::clone(&src.net),
            dst: Arc::clone(&dst.net),
        });
        let relay = Relay::spawn(config).unwrap();
        publish_test_stream(&src.net, SRC, 3, 0).await.unwrap();
        src.net.set_reachable(false);
        src.net.drop_connections();
        sleep(Duration::from_millis(29_900)).await;
        src.net.set_reachable(true);
        let publisher = {
            let net = Arc::clone(&src.net);
            tokio::spawn(async move { publish_test_stream(&net, SRC, 6, 0).await })
        };
        // At most one capped backoff (2.4 s with jitter) after the server is back, and the
        // first media through.
        sleep(Duration::from_millis(3_500)).await;
        assert_eq!(relay.status().state, RelayState::Forwarding, "seed {seed}");
        publisher.await.unwrap().unwrap();
        sleep(Duration::from_millis(500)).await;
        let status = relay.status();
        relay.stop();
        relay.wait().await.expect("stopped cleanly");
        let events = observe(&observer, Instant::now() + Duration::from_secs(1)).await;
        assert_eq!(status.destination_sessions, 1, "seed {seed}");
        let left = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::PublisherLeft))
            .count();
        assert_eq!(left, 1, "seed {seed}: one session, ended at stop");
        let dts = media_dts(&events, TagType::Video);
        assert!(dts.windows(2).all(|p| p[0] < p[1]), "seed {seed}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_10_2_second_outage_costs_nothing_at_the_destination() {
    outage_keeps_the_session(Duration::from_millis(10_200), 7).await;
}

#[tokio::test(start_paused = true)]
async fn a_source_that_never_comes_fails_after_the_default_grace() {
    let w = world();
    let started = Instant::now();
    let relay = Relay::spawn(default_config(&w.net, 7)).unwrap();
    let mut states = relay.state_changes();
    let seen = tokio::spawn(async move {
        let mut seen = vec![*states.borrow_and_update()];
        while states.changed().await.is_ok() {
            seen.push(*states.borrow_and_update());
        }
        seen
    });
    let err = relay.wait().await.expect_err("no source, no relay");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= DEFAULT_GRACE && elapsed < DEFAULT_GRACE + Duration::from_secs(1),
        "failed after {elapsed:?}"
    );
    assert!(err.retryable);
    // Connecting the whole time: nothing ever flowed.
    assert_eq!(
        seen.await.unwrap(),
        vec![RelayState::Connecting, RelayState::Failed]
    );
}

/// Publishes sequence headers and `inter` inter frames (no keyframe), then keyframes for
/// `seconds` — what a destination sees from an encoder that starts mid-GOP.
async fn publish_late_keyframe(net: &Arc<MemoryNetwork>, inter: u32, seconds: u32) {
    let url = RtmpUrl::parse(SRC).unwrap();
    let mut conn = RtmpConnection::connect(&url, ClientMode::Publish, &options(net))
        .await
        .unwrap();
    conn.send_media(MediaKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    let begin = Instant::now();
    let frames = inter + seconds * 30;
    for i in 0..frames {
        let ts = i * 33;
        tokio::time::sleep_until(begin + Duration::from_millis(u64::from(ts))).await;
        let first = if i >= inter && (i - inter).is_multiple_of(30) {
            0x17
        } else {
            0x27
        };
        conn.send_media(MediaKind::Video, ts, &[first, 1, 0, 0, 0, 0xde])
            .unwrap();
        conn.flush().await.unwrap();
    }
    conn.close(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_destination_without_media_yet_is_connecting_not_forwarding() {
    let w = world();
    let relay = Relay::spawn(default_config(&w.net, 7)).unwrap();
    let publisher = {
        let net = Arc::clone(&w.net);
        // 3 s of inter frames before the first keyframe.
        tokio::spawn(async move { publish_late_keyframe(&net, 90, 3).await })
    };
    sleep(Duration::from_secs(2)).await;
    let status = relay.status();
    assert_eq!(
        status.destination_sessions, 1,
        "the destination accepted the publish"
    );
    assert_eq!(status.state, RelayState::Connecting, "but nothing flowed");
    assert_eq!(status.first_forwarded, None);

    sleep(Duration::from_millis(1500)).await;
    let status = relay.status();
    assert_eq!(
        status.state,
        RelayState::Forwarding,
        "the keyframe went out"
    );
    let first = status.first_forwarded.expect("when media first flowed");
    assert!(
        (Duration::from_millis(2900)..Duration::from_millis(3200)).contains(&first),
        "{first:?}"
    );
    publisher.await.unwrap();
    relay.stop();
    relay.wait().await.unwrap();
}

fn probe_config() -> ProbeConfig {
    ProbeConfig {
        jitter_seed: Some(7),
        ..ProbeConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_tells_media_from_an_idle_stream_and_an_unreachable_server() {
    let w = world();
    let url = SourceUrl::parse(SRC).unwrap();
    let config = probe_config();
    let started = Instant::now();
    assert_eq!(
        probe(&url, &options(&w.net), &Egress::unrestricted(), &config).await,
        ProbeOutcome::Idle
    );
    assert!(started.elapsed() >= config.hold);

    let publisher = {
        let net = Arc::clone(&w.net);
        tokio::spawn(async move { publish_test_stream(&net, SRC, 5, 0).await })
    };
    sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    assert_eq!(
        probe(&url, &options(&w.net), &Egress::unrestricted(), &config).await,
        ProbeOutcome::Media
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.hub
            .list()
            .iter()
            .find(|s| s.key.stream == "src")
            .map(|s| s.subscribers),
        Some(0),
        "the probe closed its play"
    );
    publisher.await.unwrap().unwrap();

    w.net.set_reachable(false);
    match probe(&url, &options(&w.net), &Egress::unrestricted(), &config).await {
        ProbeOutcome::Failed(e) => assert_eq!(e.kind, ErrorKind::Connect),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_source_ends_within_a_second_of_its_return() {
    // A server that is down for a while, then up with no stream, then the stream: the wait
    // ends when media arrives, whichever phase the probes were in.
    for (down, idle) in [(0u64, 25u64), (17, 0), (9, 13)] {
        let w = world();
        w.net.set_reachable(down == 0);
        let url = SourceUrl::parse(SRC).unwrap();
        let started = Instant::now();
        let waiter = {
            let (url, options, config) = (url.clone(), options(&w.net), probe_config());
            tokio::spawn(async move {
                wait_for_source(&url, &options, &Egress::unrestricted(), &config).await;
                Instant::now()
            })
        };
        sleep(Duration::from_secs(down)).await;
        w.net.set_reachable(true);
        sleep(Duration::from_secs(idle)).await;
        let back = Instant::now();
        {
            let net = Arc::clone(&w.net);
            tokio::spawn(async move { publish_test_stream(&net, SRC, 10, 0).await });
        }
        let done = waiter.await.unwrap();
        let after = done - back;
        // Down: the probe backoff (capped at 4 s + jitter) can be anywhere in its wait.
        let bound = if idle == 0 {
            Duration::from_millis(4_900)
        } else {
            Duration::from_millis(1_000)
        };
        assert!(
            after <= bound,
            "down {down} s, idle {idle} s: back after {after:?} (started {:?} ago)",
            done - started
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_goes_only_where_the_accounts_egress_allows() {
    // The probe of a task waiting for its retry is a connection its account makes: a source
    // at a loopback address is refused for an account other than root, and nothing is dialed.
    let w = world();
    let policy = Arc::new(EgressPolicy::new(
        Some("root"),
        Default::default(),
        Default::default(),
    ));
    let url = SourceUrl::parse("rtmp://127.0.0.1/live/src").unwrap();
    let config = probe_config();
    let acme = Egress::new(Arc::clone(&policy), "acme");
    match probe(&url, &options(&w.net), &acme, &config).await {
        ProbeOutcome::Failed(e) => {
            assert_eq!(e.kind, ErrorKind::EgressDenied);
            assert!(e.message.contains("egress.accounts.acme"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(w.net.dials(), 0, "nothing was dialed");
    // Refused, the wait gives up probing (the retry at its interval says why).
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for_source(&url, &options(&w.net), &acme, &config),
    )
    .await;
    assert!(waited.is_err(), "the wait never ends");
    assert_eq!(w.net.dials(), 0, "and probes no more");
    // Root may reach loopback: the same probe dials.
    let root = Egress::new(policy, "root");
    assert_eq!(
        probe(&url, &options(&w.net), &root, &config).await,
        ProbeOutcome::Idle
    );
    assert_eq!(w.net.dials(), 1);
}
