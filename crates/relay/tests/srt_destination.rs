//! SRT destinations end to end over loopback (real time: the SRT stack keeps its own clock):
//! an in-process SRT peer sends the HLS fixture's MPEG-TS (`tests/fixtures/hls/`) to a relay's
//! SRT source, and the relay pushes it, remuxed by its TS muxer, to an in-process SRT
//! listener. Every frame arrives in one SRT session with DTS increasing and no continuity
//! error — also across a source reconnect — and the destination's SRT statistics are in the
//! status; a listener that refuses the stream id fails the relay at once with a destination
//! error naming the refusal.

use std::time::Duration;

use baton_media::TagType;
use baton_mpegts::{Demuxer, DemuxerConfig};
use baton_relay::ts::TsFrames;
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayState, RelayStatus, Side};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::{SrtListener, SrtSocket};
use tokio::sync::mpsc;

const SEGMENTS: usize = 8;

fn segment(i: usize) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/hls/seg{i}.ts",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// SRT latency of the every-frame tests: what arrives later than this is dropped as too late
/// to play (TLPKTDROP), so it is chosen well above a loaded test machine's scheduling stalls
/// (the slow-receiver test keeps 80 ms: its buffer bound is a latency's worth).
const LATENCY_MS: u64 = 400;

/// A source peer listening on `port` (bound before this returns) for the relay to call.
async fn listen(port: u16) -> tokio::task::JoinHandle<std::io::Result<SrtSocket>> {
    listen_with(port, LATENCY_MS).await
}

/// [`listen`] with an SRT latency of `latency_ms`.
async fn listen_with(
    port: u16,
    latency_ms: u64,
) -> tokio::task::JoinHandle<std::io::Result<SrtSocket>> {
    let peer = tokio::spawn(
        SrtSocket::builder()
            .latency(Duration::from_millis(latency_ms))
            .listen_on(format!("127.0.0.1:{port}")),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    peer
}

fn relay(source: &str, destination: &str, grace: Duration) -> Relay {
    let mut config = RelayConfig::new(source, destination);
    config.client.connect_timeout = Duration::from_millis(1500);
    config.jitter_seed = Some(1);
    config.grace = grace;
    Relay::spawn(config).unwrap()
}

/// Sends `ts` in 1316-byte messages, `pause` apart, then closes.
async fn feed(mut peer: SrtSocket, ts: &[u8], pause: Duration) {
    for chunk in ts.chunks(1316) {
        let message = (std::time::Instant::now(), Bytes::copy_from_slice(chunk));
        if peer.send(message).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
    let _ = peer.close_and_finish().await;
}

/// Video and audio frames (not headers) in `ts`, and their DTS, as Baton's demuxer reads it.
fn frames(ts: &[u8]) -> (Vec<i64>, Vec<i64>) {
    let mut frames = TsFrames::default();
    frames.push(ts);
    frames.finish();
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    while let Some(f) = frames.poll_frame() {
        match (f.kind, f.config) {
            (TagType::Video, false) => video.push(f.dts),
            (TagType::Audio, false) => audio.push(f.dts),
            _ => {}
        }
    }
    (video, audio)
}

/// An SRT listener on `port` that accepts callers and reports (stream id, received bytes) of
/// each session when it ends.
async fn receiver(port: u16) -> mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    let (_listener, mut incoming) = SrtListener::builder()
        .latency(Duration::from_millis(LATENCY_MS))
        .bind(format!("127.0.0.1:{port}").as_str())
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _listener = _listener;
        while let Some(request) = incoming.incoming().next().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let id = request
                    .stream_id()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let Ok(mut socket) = request.accept(None).await else {
                    return;
                };
                let mut got = Vec::new();
                while let Some(Ok((_, data))) = socket.next().await {
                    got.extend_from_slice(&data);
                }
                let _ = tx.send((id, got));
            });
        }
    });
    rx
}

async fn push_every_frame(source_drops: bool) -> (RelayStatus, Vec<u8>, Vec<u8>) {
    let (src_port, dst_port) = (free_port(), free_port());
    let mut sessions = receiver(dst_port).await;
    let peer = listen(src_port).await;
    let relay = relay(
        &format!("srt://127.0.0.1:{src_port}?latency={LATENCY_MS}"),
        &format!("srt://127.0.0.1:{dst_port}?streamid=live/out&latency={LATENCY_MS}"),
        Duration::from_secs(10),
    );
    let status = relay.status_cell();
    let mut sent = Vec::new();
    let halves: Vec<Vec<usize>> = if source_drops {
        vec![
            (0..SEGMENTS / 2).collect(),
            (SEGMENTS / 2..SEGMENTS).collect(),
        ]
    } else {
        vec![(0..SEGMENTS).collect()]
    };
    let mut peer = Some(peer.await.unwrap().unwrap());
    for (n, half) in halves.iter().enumerate() {
        let ts: Vec<u8> = half.iter().flat_map(|&i| segment(i)).collect();
        let socket = match peer.take() {
            Some(p) => p,
            // The encoder comes back on the same port: the relay's source reconnects.
            None => listen(src_port).await.await.unwrap().unwrap(),
        };
        feed(socket, &ts, Duration::from_millis(10)).await;
        sent.push(ts);
        if n + 1 < halves.len() {
            // Source lost: the destination is held (the grace period) while it comes back.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // Statistics come about once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let forwarding = status.snapshot();
    // The source ended (the peer closed): the relay holds the destination for it.
    assert_eq!(
        forwarding.state,
        RelayState::SourceReconnecting,
        "{forwarding:?}"
    );
    assert!(forwarding.first_forwarded.is_some());
    relay.stop();
    assert_eq!(relay.wait().await, Ok(()));
    let (id, received) = tokio::time::timeout(Duration::from_secs(10), sessions.recv())
        .await
        .expect("the destination session ended")
        .unwrap();
    assert_eq!(id, "live/out");
    // One session: no second caller.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sessions.try_recv().is_err(), "a second SRT session");
    (forwarding, sent.concat(), received)
}

fn check(status: &RelayStatus, sent: &[u8], received: &[u8], halves: &[&[u8]]) {
    assert_eq!(status.destination_sessions, 1);
    let transport = status.destination_transport.as_ref().unwrap();
    assert_eq!(transport.protocol, "srt");
    let srt = status
        .destination_srt
        .expect("destination SRT statistics in the status");
    // Statistics lag by up to a second or two: some of what arrived, in full 1316-byte
    // messages (plus SRT, UDP and IP headers).
    assert!(
        srt.packets_sent as usize >= received.len() / 1316 / 2,
        "{srt:?}"
    );
    assert!(srt.bytes_sent >= srt.packets_sent * (1316 + 44), "{srt:?}");
    assert_eq!(srt.latency, Duration::from_millis(LATENCY_MS));
    assert_eq!(srt.packets_dropped, 0, "{srt:?}");
    // Whole TS packets, no continuity break anywhere (one muxer, one timeline).
    assert_eq!(received.len() % 188, 0);
    let mut demuxer = Demuxer::new(DemuxerConfig::default());
    demuxer.push(received);
    while demuxer.poll_event().is_some() {}
    let stats = demuxer.stats();
    assert_eq!(
        (
            stats.continuity_errors,
            stats.transport_errors,
            stats.bytes_skipped
        ),
        (0, 0, 0),
        "{stats:?}"
    );
    let (video, audio) = frames(received);
    let want: usize = halves.iter().map(|h| frames(h).0.len()).sum();
    assert_eq!(video.len(), want, "video frames");
    assert_eq!(video.len(), SEGMENTS * 25);
    let want_audio: usize = halves.iter().map(|h| frames(h).1.len()).sum();
    assert_eq!(audio.len(), want_audio, "audio frames");
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0] < w[1]),
            "DTS not strictly increasing"
        );
    }
    let _ = sent;
}

#[tokio::test]
async fn an_srt_destination_gets_every_frame_in_one_session_with_statistics() {
    let (status, sent, received) = push_every_frame(false).await;
    check(&status, &sent, &received, &[&sent]);
}

#[tokio::test]
async fn a_source_reconnect_continues_the_same_ts_on_the_same_session() {
    let (status, sent, received) = push_every_frame(true).await;
    let first: Vec<u8> = (0..SEGMENTS / 2).flat_map(segment).collect();
    let second: Vec<u8> = (SEGMENTS / 2..SEGMENTS).flat_map(segment).collect();
    assert_eq!(status.source_connections, 2);
    check(&status, &sent, &received, &[&first, &second]);
}

/// A listener that refuses every caller with `reason`.
async fn refusing(port: u16, reason: ServerRejectReason) {
    let (listener, mut incoming) = SrtListener::builder()
        .bind(format!("127.0.0.1:{port}").as_str())
        .await
        .unwrap();
    tokio::spawn(async move {
        let _listener = listener;
        while let Some(request) = incoming.incoming().next().await {
            let _ = request.reject(RejectReason::Server(reason)).await;
        }
    });
}

#[tokio::test]
async fn a_destination_that_refuses_the_stream_id_fails_the_relay_at_once() {
    for (reason, kind) in [
        (ServerRejectReason::Forbidden, ErrorKind::Refused),
        (ServerRejectReason::Notfound, ErrorKind::NotFound),
    ] {
        let (src_port, dst_port) = (free_port(), free_port());
        refusing(dst_port, reason).await;
        let peer = listen(src_port).await;
        let relay = relay(
            &format!("srt://127.0.0.1:{src_port}"),
            &format!("srt://127.0.0.1:{dst_port}?streamid=live/nope"),
            Duration::from_secs(30),
        );
        let feeder = tokio::spawn(async move {
            let ts: Vec<u8> = (0..2).flat_map(segment).collect();
            feed(peer.await.unwrap().unwrap(), &ts, Duration::from_millis(10)).await;
        });
        let started = std::time::Instant::now();
        let e = tokio::time::timeout(Duration::from_secs(10), relay.wait())
            .await
            .expect("the relay failed before its grace period")
            .unwrap_err();
        feeder.abort();
        assert_eq!((e.side, e.kind), (Side::Destination, kind), "{e}");
        assert!(!e.retryable, "{e}");
        assert!(e.message.contains("rejected the connection"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(8));
    }
}

#[tokio::test]
async fn a_silent_destination_is_a_retried_timeout_and_bad_options_are_refused_by_name() {
    // Nobody at the destination's port: a destination timeout, retried until the grace
    // period ends.
    let src_port = free_port();
    let peer = listen(src_port).await;
    let relay = relay(
        &format!("srt://127.0.0.1:{src_port}"),
        &format!("srt://127.0.0.1:{}?streamid=x", free_port()),
        Duration::from_secs(3),
    );
    let feeder = tokio::spawn(async move {
        let ts: Vec<u8> = (0..SEGMENTS).flat_map(segment).collect();
        feed(peer.await.unwrap().unwrap(), &ts, Duration::from_millis(40)).await;
    });
    let e = tokio::time::timeout(Duration::from_secs(20), relay.wait())
        .await
        .expect("the relay ends")
        .unwrap_err();
    feeder.abort();
    assert_eq!(
        (e.side, e.kind),
        (Side::Destination, ErrorKind::Timeout),
        "{e}"
    );
    assert!(e.retryable);

    for (url, says) in [
        ("srt://h:9000?mode=rendezvous", "rendezvous"),
        ("srt://h:9000?maxbw=100", "\"maxbw\""),
        ("srt://h:9000?transtype=file", "transtype=file"),
    ] {
        let e = Relay::spawn(RelayConfig::new("rtmp://h/a/b", url)).unwrap_err();
        assert_eq!(e.side, Side::Destination, "{url}");
        assert!(!e.retryable);
        assert!(e.message.contains(says), "{url}: {e}");
    }
}

#[tokio::test]
async fn a_receiver_that_stops_reading_never_grows_the_relays_memory() {
    // The receiver accepts and then reads nothing: its SRT stack stops acknowledging. The
    // relay's own queue stays under its high-water mark (frames wait in the out queue, where
    // drop-to-keyframe applies), SRT's send buffer under its cap (what is too late is
    // dropped), and the session ends as the peer goes silent — then it is reconnected.
    let (src_port, dst_port) = (free_port(), free_port());
    let (listener, mut incoming) = SrtListener::builder()
        .latency(Duration::from_millis(80))
        .bind(format!("127.0.0.1:{dst_port}").as_str())
        .await
        .unwrap();
    let held = tokio::spawn(async move {
        let _listener = listener;
        let mut sockets = Vec::new();
        while let Some(request) = incoming.incoming().next().await {
            if let Ok(socket) = request.accept(None).await {
                sockets.push(socket);
            }
        }
    });
    let peer = listen_with(src_port, 80).await;
    let relay = relay(
        &format!("srt://127.0.0.1:{src_port}?latency=80"),
        &format!("srt://127.0.0.1:{dst_port}?latency=80"),
        Duration::from_secs(30),
    );
    let status = relay.status_cell();
    let feeder = tokio::spawn(async move {
        let ts: Vec<u8> = (0..SEGMENTS).flat_map(segment).collect();
        let ts = [ts.clone(), ts.clone(), ts].concat();
        feed(peer.await.unwrap().unwrap(), &ts, Duration::from_millis(3)).await;
    });
    let (mut most_buffered, mut dropped, mut destination_error) = (0, 0, None);
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = status.snapshot();
        if let Some(srt) = now.destination_srt {
            most_buffered = most_buffered.max(srt.send_buffer_bytes);
            dropped = dropped.max(srt.packets_dropped);
        }
        if let Some(record) = now.last_error.filter(|r| r.error.side == Side::Destination) {
            destination_error = Some(record.error);
        }
    }
    let s = status.snapshot();
    relay.stop();
    assert_eq!(relay.wait().await, Ok(()), "the relay rode it out");
    feeder.abort();
    held.abort();
    eprintln!("{s:?}; most in the send buffer: {most_buffered} bytes");
    // What SRT could not deliver in time was dropped (counted), not kept: the send buffer
    // holds about a latency's worth (a few hundred KB at this burst rate), far under its cap.
    assert!(dropped > 0, "{s:?}");
    assert!(
        most_buffered <= 2 << 20,
        "{most_buffered} bytes in the send buffer"
    );
    assert!(most_buffered < baton_net::srt_client::SEND_BUFFER_BYTES);
    // The silent receiver ends the session: a retryable destination error, reconnected.
    let e = destination_error.expect("the session ended");
    assert_eq!(
        (e.kind, e.retryable),
        (ErrorKind::Disconnected, true),
        "{e}"
    );
    assert!(s.frames_in > 0 && s.frames_out > 0);
}

#[tokio::test]
async fn a_listening_destination_pushes_to_the_receiver_that_calls_it() {
    // `mode=listener` (the operator's, `baton relay`'s): the relay binds the port when the
    // source's first frame arrives and pushes to the receiver that calls it.
    let (src_port, dst_port) = (free_port(), free_port());
    let peer = listen(src_port).await;
    let relay = relay(
        &format!("srt://127.0.0.1:{src_port}?latency={LATENCY_MS}"),
        &format!("srt://127.0.0.1:{dst_port}?mode=listener&latency={LATENCY_MS}"),
        Duration::from_secs(10),
    );
    let status = relay.status_cell();
    let ts: Vec<u8> = (0..SEGMENTS).flat_map(segment).collect();
    let feeder = tokio::spawn({
        let ts = ts.clone();
        async move { feed(peer.await.unwrap().unwrap(), &ts, Duration::from_millis(10)).await }
    });
    let addr = format!("127.0.0.1:{dst_port}");
    let mut receiver = loop {
        let call = SrtSocket::builder()
            .latency(Duration::from_millis(LATENCY_MS))
            .call(addr.as_str(), None);
        if let Ok(Ok(socket)) = tokio::time::timeout(Duration::from_millis(300), call).await {
            break socket;
        }
    };
    let collect = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(Ok((_, data))) = receiver.next().await {
            got.extend_from_slice(&data);
        }
        got
    });
    feeder.await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    relay.stop();
    assert_eq!(relay.wait().await, Ok(()));
    let received = tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .expect("the session ended")
        .unwrap();
    let s = status.snapshot();
    assert_eq!(s.destination_sessions, 1);
    let (video, _) = frames(&received);
    // The receiver called once the port was bound; what came before reached it as the
    // latest GOP at most, so the stream's end is all there.
    let (all, _) = frames(&ts);
    assert!(
        video.len() >= all.len() - 50,
        "{} of {}",
        video.len(),
        all.len()
    );
    assert!(video.windows(2).all(|w| w[0] < w[1]));
}
