//! The SRT source end to end over loopback (real time: the SRT stack keeps its own clock):
//! an in-process SRT peer sends the HLS fixture's MPEG-TS (`tests/fixtures/hls/`), a relay
//! pulls it — calling the peer, or listening for it — into Baton's own ingest over an
//! in-memory network. One destination session, every frame, DTS increasing, the SRT
//! statistics in the status; a wrong passphrase, a silent peer and a stream of garbage are
//! named source errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_media::TagType;
use baton_net::client::ClientOptions;
use baton_net::hub::{StreamHub, StreamKey};
use baton_net::ingest::AllowAll;
use baton_net::testing::{MemoryNetwork, media, observe};
use baton_relay::ts::TsFrames;
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayError, RelayState, Side};
use bytes::Bytes;
use futures_util::SinkExt;
use srt_tokio::SrtSocket;

const DST: &str = "rtmp://mem/live/dst";
const SEGMENTS: usize = 8;

fn fixture() -> Vec<u8> {
    let mut all = Vec::new();
    for i in 0..SEGMENTS {
        let path = format!(
            "{}/tests/fixtures/hls/seg{i}.ts",
            env!("CARGO_MANIFEST_DIR")
        );
        all.extend_from_slice(&std::fs::read(&path).unwrap());
    }
    all
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn world() -> (Arc<MemoryNetwork>, Arc<StreamHub>) {
    MemoryNetwork::with_default_ingest(Arc::new(AllowAll))
}

fn relay(url: &str, net: &Arc<MemoryNetwork>, grace: Duration) -> Relay {
    let mut config = RelayConfig::new(url, DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        connect_timeout: Duration::from_millis(700),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(1);
    config.grace = grace;
    Relay::spawn(config).unwrap()
}

/// Sends `ts` in 1316-byte messages (seven TS packets, as encoders do), `pause` apart (until
/// the relay hangs up).
async fn send(peer: &mut SrtSocket, ts: &[u8], pause: Duration) {
    for chunk in ts.chunks(1316) {
        let message = (std::time::Instant::now(), Bytes::copy_from_slice(chunk));
        if peer.send(message).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Frames `TsFrames` makes of `ts`.
fn expected(ts: &[u8]) -> (usize, usize) {
    let mut frames = TsFrames::default();
    frames.push(ts);
    frames.finish();
    let (mut video, mut audio) = (0, 0);
    while let Some(f) = frames.poll_frame() {
        match (f.kind, f.config) {
            (TagType::Video, false) => video += 1,
            (TagType::Audio, false) => audio += 1,
            _ => {}
        }
    }
    (video, audio)
}

/// SRT latency of the every-frame tests: what arrives later than this is dropped as too late
/// to play (TLPKTDROP), so it is chosen well above a loaded test machine's scheduling stalls.
const LATENCY_MS: u64 = 400;

async fn relays_every_frame_in_one_session(listener: bool) {
    let (net, hub) = world();
    let ts = fixture();
    let port = free_port();
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let (relay, mut peer) = if listener {
        let relay = relay(
            &format!("srt://127.0.0.1:{port}?mode=listener&latency={LATENCY_MS}"),
            &net,
            Duration::from_secs(10),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let peer = SrtSocket::builder()
            .latency(Duration::from_millis(LATENCY_MS))
            .call(format!("127.0.0.1:{port}").as_str(), None)
            .await
            .unwrap();
        (relay, peer)
    } else {
        let peer = SrtSocket::builder()
            .latency(Duration::from_millis(LATENCY_MS))
            .listen_on(format!("127.0.0.1:{port}"));
        let relay = relay(
            &format!("srt://127.0.0.1:{port}?streamid=live/a&latency={LATENCY_MS}"),
            &net,
            Duration::from_secs(10),
        );
        (relay, peer.await.unwrap())
    };
    let started = Instant::now();
    let run = async {
        send(&mut peer, &ts, Duration::from_millis(15)).await;
        // Statistics come about once a second, the relay's status too.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let status = relay.status();
        assert_eq!(status.state, RelayState::Forwarding, "{status:?}");
        // The peer hangs up: what the demuxer still held is relayed too.
        peer.close_and_finish().await.unwrap();
        drop(peer);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        relay.stop();
        assert_eq!(relay.wait().await, Ok(()));
        status
    };
    let (frames, status) = tokio::join!(observe(&sub, Duration::from_secs(20)), run);

    assert_eq!(status.destination_sessions, 1);
    assert_eq!(status.source_connections, 1);
    assert_eq!(status.bytes_in, ts.len() as u64);
    let srt = status.srt.expect("SRT statistics in the status");
    assert!(srt.packets_received as usize >= ts.len() / 1316, "{srt:?}");
    assert_eq!(srt.latency, Duration::from_millis(LATENCY_MS));
    let (video, audio) = (
        media(&frames, TagType::Video),
        media(&frames, TagType::Audio),
    );
    let (want_video, want_audio) = expected(&ts);
    assert_eq!((video.len(), audio.len()), (want_video, want_audio));
    assert_eq!(video.len(), SEGMENTS * 25);
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not strictly increasing"
        );
    }
    // A/V aligned: both tracks start together and end within a fraction of a second.
    assert!((video[0].dts - audio[0].dts).abs() <= 100);
    let media_ms = video.last().unwrap().dts - video[0].dts;
    assert!(media_ms >= 7_500, "{media_ms} ms of media");
    eprintln!(
        "{media_ms} ms of media relayed in {:?}; {srt:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_caller_relays_every_frame_in_one_session_with_statistics() {
    relays_every_frame_in_one_session(false).await;
}

#[tokio::test]
async fn a_listener_relays_the_peer_that_calls_it() {
    relays_every_frame_in_one_session(true).await;
}

async fn failure(relay: Relay) -> RelayError {
    tokio::time::timeout(Duration::from_secs(20), relay.wait())
        .await
        .expect("the relay ends")
        .unwrap_err()
}

#[tokio::test]
async fn a_wrong_passphrase_fails_at_once_naming_it() {
    let (net, _hub) = world();
    let port = free_port();
    let peer = tokio::spawn(
        SrtSocket::builder()
            .encryption(0, "the-right-one")
            .listen_on(format!("127.0.0.1:{port}")),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let relay = relay(
        &format!("srt://127.0.0.1:{port}?passphrase=not-the-right-one"),
        &net,
        Duration::from_secs(10),
    );
    let started = Instant::now();
    let e = failure(relay).await;
    peer.abort();
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Refused));
    assert!(!e.retryable);
    assert!(e.message.contains("check the passphrase"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_peer_that_never_answers_is_a_retried_timeout() {
    let (net, _hub) = world();
    let relay = relay(
        &format!("srt://127.0.0.1:{}", free_port()),
        &net,
        Duration::from_secs(3),
    );
    let status = relay.status_cell();
    let e = failure(relay).await;
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Timeout));
    assert!(e.retryable);
    assert!(e.message.contains("no SRT handshake answer"), "{e}");
    // Retried until the grace period ran out.
    assert_eq!(status.snapshot().source_connections, 0);
}

#[tokio::test]
async fn a_stream_of_garbage_is_a_named_protocol_error() {
    let (net, _hub) = world();
    let port = free_port();
    let peer = SrtSocket::builder().listen_on(format!("127.0.0.1:{port}"));
    let relay = relay(
        &format!("srt://127.0.0.1:{port}"),
        &net,
        Duration::from_secs(30),
    );
    let status = relay.status_cell();
    let mut peer = peer.await.unwrap();
    let garbage: Vec<u8> = (0..200 * 1316u32).map(|i| (i * 7 + 3) as u8).collect();
    let sender = tokio::spawn(async move {
        send(&mut peer, &garbage, Duration::from_millis(25)).await;
        peer
    });
    let deadline = Instant::now() + Duration::from_secs(8);
    let error = loop {
        if let Some(record) = status.snapshot().last_error {
            break record.error;
        }
        assert!(Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    relay.stop();
    sender.abort();
    assert_eq!(
        (error.side, error.kind),
        (Side::Source, ErrorKind::Protocol)
    );
    assert!(error.retryable);
    assert!(
        error.message.contains("no transport stream packets"),
        "{error}"
    );
}

#[tokio::test]
async fn frames_leave_at_the_pace_the_peer_sends_them() {
    // Three seconds of the fixture sent at real time (each segment's bytes spread over its
    // second): after SRT's latency buffer, frames reach the destination as they were sent,
    // never as a burst.
    let (net, hub) = world();
    let mut ts = Vec::new();
    let mut segments = Vec::new();
    for i in 0..3 {
        let path = format!(
            "{}/tests/fixtures/hls/seg{i}.ts",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap();
        ts.extend_from_slice(&bytes);
        segments.push(bytes);
    }
    let port = free_port();
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let peer = SrtSocket::builder()
        .latency(Duration::from_millis(120))
        .listen_on(format!("127.0.0.1:{port}"));
    let relay = relay(
        &format!("srt://127.0.0.1:{port}?latency=120"),
        &net,
        Duration::from_secs(10),
    );
    let mut peer = peer.await.unwrap();
    let run = async {
        for segment in &segments {
            let chunks = segment.len().div_ceil(1316) as u32;
            send(&mut peer, segment, Duration::from_secs(1) / chunks).await;
        }
        peer.close_and_finish().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        relay.stop();
        relay.wait().await.unwrap();
    };
    let (frames, ()) = tokio::join!(observe(&sub, Duration::from_secs(20)), run);
    let arrivals: Vec<_> = frames
        .iter()
        .filter(|(_, f)| f.kind == TagType::Video && !f.config)
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(arrivals.len(), expected(&ts).0);
    let spread = *arrivals.last().unwrap() - arrivals[0];
    // 75 frames of 40 ms: the last leaves about 3 s after the first.
    assert!(spread >= Duration::from_millis(2_500), "{spread:?}");
    // No burst: the most in any 200 ms is a few hundred ms of video — the demuxer's merge
    // holds video until the audio PES that ffmpeg writes every few hundred ms arrives.
    let most = arrivals
        .iter()
        .map(|t| {
            arrivals
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_millis(200))
                .count()
        })
        .max()
        .unwrap();
    assert!(most <= 15, "{most} video frames within 200 ms");
    eprintln!("75 video frames over {spread:?}; at most {most} within 200 ms");
}
