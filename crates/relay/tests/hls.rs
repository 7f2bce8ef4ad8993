//! The HLS live source end to end with paused time: a sliding live playlist of MPEG-TS
//! segments (ffmpeg's, `tests/fixtures/hls/`) served over HTTP on 127.0.0.1, relayed into
//! Baton's own ingest over an in-memory network, observed from the hub. One destination
//! session with DTS increasing across segments, an EXT-X-DISCONTINUITY and a media-sequence
//! reset; frames paced at real time; EXT-X-ENDLIST is an unpublish (the destination session
//! held through a producer restart, a stale ended playlist neither replayed nor taken for
//! the source's return); a playlist that stops changing, a 404, a non-playlist and unbuilt
//! features are named source errors.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use baton_media::{Frame, TagType};
use baton_net::client::ClientOptions;
use baton_net::egress::Egress;
use baton_net::hub::{StreamHub, StreamKey};
use baton_net::ingest::AllowAll;
use baton_net::testing::{MemoryNetwork, media, observe};
use baton_relay::probe::{ProbeConfig, wait_for_source};
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayState, Side, SourceUrl};
use bytes::Bytes;
use tokio::time::Instant;

const DST: &str = "rtmp://mem/live/dst";
/// Segments in the fixture run; each is one second.
const SEGMENTS: usize = 8;

/// What the origin lists now.
#[derive(Default)]
struct Live {
    media_sequence: u64,
    /// (URI, EXT-X-DISCONTINUITY before it).
    window: VecDeque<(String, bool)>,
    ended: bool,
    /// Lines after the header (EXT-X-MAP, EXT-X-KEY).
    extra: String,
    /// Served instead of a playlist.
    body: Option<String>,
}

struct Origin {
    live: Mutex<Live>,
    segments: HashMap<String, Bytes>,
}

impl Origin {
    fn playlist(&self) -> (StatusCode, String) {
        let live = self.live.lock().unwrap();
        if let Some(body) = &live.body {
            return (StatusCode::OK, body.clone());
        }
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{}\n{}",
            live.media_sequence, live.extra
        );
        for (uri, discontinuity) in &live.window {
            if *discontinuity {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            text.push_str(&format!("#EXTINF:1.000,\n{uri}\n"));
        }
        if live.ended {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        (StatusCode::OK, text)
    }

    /// Appends a segment, keeping the last five listed.
    fn publish(&self, uri: &str, discontinuity: bool) {
        let mut live = self.live.lock().unwrap();
        live.window.push_back((uri.to_string(), discontinuity));
        while live.window.len() > 5 {
            live.window.pop_front();
            live.media_sequence += 1;
        }
    }

    /// A producer restart: the numbering starts over.
    fn reset(&self) {
        let mut live = self.live.lock().unwrap();
        live.window.clear();
        live.media_sequence = 0;
    }
}

async fn playlist(State(origin): State<Arc<Origin>>) -> impl IntoResponse {
    origin.playlist()
}

/// A segment; under `ranged/` a `Range: bytes=A-B` is answered with 206 and those bytes,
/// elsewhere it is ignored (200 and the whole file, as some servers do).
async fn segment(
    State(origin): State<Arc<Origin>>,
    uri: Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    let path = uri.path().trim_start_matches('/');
    let Some(bytes) = origin.segments.get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    match range {
        Some((first, last)) if path.starts_with("ranged/") => (
            StatusCode::PARTIAL_CONTENT,
            bytes.slice(first..=last.min(bytes.len() - 1)),
        )
            .into_response(),
        _ => (StatusCode::OK, bytes.clone()).into_response(),
    }
}

/// The fixture segments under `a/`, `b/` and `c/` (the same bytes: each run's timestamps
/// start over).
async fn origin() -> (Arc<Origin>, String) {
    let mut segments = HashMap::new();
    let mut all = Vec::new();
    for i in 0..SEGMENTS {
        let path = format!(
            "{}/tests/fixtures/hls/seg{i}.ts",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        for run in ["a", "b", "c"] {
            segments.insert(format!("{run}/seg{i}.ts"), bytes.clone());
        }
        all.extend_from_slice(&bytes);
    }
    // AES-128 copies under `k/`, the IV the sequence number (each is published at its own
    // number), with their key and two wrong ones.
    for i in 0..SEGMENTS {
        let plain = &segments[&format!("a/seg{i}.ts")];
        let iv = (i as u128).to_be_bytes();
        segments.insert(
            format!("k/seg{i}.ts"),
            Bytes::from(encrypt(&KEY, &iv, plain)),
        );
    }
    segments.insert("k/key.bin".into(), Bytes::from_static(&KEY));
    segments.insert("k/wrong.bin".into(), Bytes::from_static(&[0x55; 16]));
    segments.insert("k/long.bin".into(), Bytes::from_static(&[0x55; 17]));
    let fmp4 = format!("{}/tests/fixtures/hls/fmp4", env!("CARGO_MANIFEST_DIR"));
    segments.insert(
        "f/init.mp4".to_string(),
        Bytes::from(std::fs::read(format!("{fmp4}/init.mp4")).unwrap()),
    );
    for i in 0..SEGMENTS {
        let bytes = std::fs::read(format!("{fmp4}/seg{i}.m4s")).unwrap();
        segments.insert(format!("f/seg{i}.m4s"), Bytes::from(bytes));
    }
    // The whole run in one resource, for EXT-X-BYTERANGE.
    let all = Bytes::from(all);
    segments.insert("ranged/all.ts".to_string(), all.clone());
    segments.insert("plain/all.ts".to_string(), all);
    let origin = Arc::new(Origin {
        live: Mutex::new(Live::default()),
        segments,
    });
    let app = Router::new()
        .route("/live.m3u8", get(playlist))
        .fallback(segment)
        .with_state(Arc::clone(&origin));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, format!("http://{addr}/live.m3u8"))
}

const KEY: [u8; 16] = *b"baton-hls-key-01";

/// AES-128-CBC with PKCS#7, as an HLS packager writes it.
fn encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    use aes::cipher::generic_array::GenericArray;
    use aes::cipher::{BlockEncrypt, KeyInit};
    let cipher = aes::Aes128::new(GenericArray::from_slice(key));
    let pad = 16 - data.len() % 16;
    let mut out = data.to_vec();
    out.extend(std::iter::repeat_n(pad as u8, pad));
    let mut previous = *iv;
    for block in out.chunks_exact_mut(16) {
        for (b, p) in block.iter_mut().zip(previous) {
            *b ^= p;
        }
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
        previous.copy_from_slice(block);
    }
    out
}

fn relay(url: &str, net: &Arc<MemoryNetwork>, grace: Duration) -> Relay {
    let mut config = RelayConfig::new(url, DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(1);
    config.grace = grace;
    Relay::spawn(config).unwrap()
}

fn world() -> (Arc<MemoryNetwork>, Arc<StreamHub>) {
    MemoryNetwork::with_default_ingest(Arc::new(AllowAll))
}

#[tokio::test(start_paused = true)]
async fn a_live_playlist_through_a_discontinuity_and_a_reset_is_one_paced_session() {
    let (net, hub) = world();
    let (origin, url) = origin().await;
    for i in 0..4 {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    // The producer: a segment a second; run b after an EXT-X-DISCONTINUITY, run c after a
    // restart that numbers segments from 0 again; then EXT-X-ENDLIST.
    let producer = {
        let origin = Arc::clone(&origin);
        tokio::spawn(async move {
            let mut next = Vec::new();
            next.extend((4..SEGMENTS).map(|i| (format!("a/seg{i}.ts"), false, false)));
            next.extend((0..SEGMENTS).map(|i| (format!("b/seg{i}.ts"), i == 0, false)));
            next.extend((0..SEGMENTS).map(|i| (format!("c/seg{i}.ts"), false, i == 0)));
            for (uri, discontinuity, reset) in next {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if reset {
                    origin.reset();
                }
                origin.publish(&uri, discontinuity);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            origin.live.lock().unwrap().ended = true;
        })
    };
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let started = Instant::now();
    let relay = relay(&url, &net, Duration::from_secs(5));
    let status = relay.status_cell();
    let frames = observe(&sub, Duration::from_secs(60)).await;
    let elapsed = frames.last().unwrap().0 - started;
    let e = relay.wait().await.unwrap_err();
    producer.await.unwrap();
    // EXT-X-ENDLIST is an unpublish: the relay held the destination for its grace (5 s) and
    // then failed, naming the end.
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Ended));
    assert!(e.message.contains("EXT-X-ENDLIST"), "{e}");
    let status = status.snapshot();
    assert_eq!(status.state, RelayState::Failed);
    assert_eq!(status.destination_sessions, 1);
    assert_eq!(status.source_connections, 1);

    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    // Started three target durations from the live edge (a1); then runs a, b and c (the
    // reset restarts at the live start position of what is listed): at least 22 segments.
    assert!(video.len() >= 22 * 25, "{} video frames", video.len());
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not strictly increasing"
        );
    }
    // Seamless at the discontinuity and the reset: no hole in the video beyond a frame and
    // an audio frame's overhang.
    let gap = video.windows(2).map(|w| w[1].dts - w[0].dts).max().unwrap();
    assert!(gap <= 40 + 22, "video gap {gap} ms");
    // Real time: the media took about as long as it lasts (the last frames leave up to the
    // lead, 500 ms, early).
    let media_ms = video.last().unwrap().dts - video[0].dts;
    assert!(
        elapsed.as_millis() as i64 + 500 >= media_ms,
        "{media_ms} ms of media in {elapsed:?}"
    );
    // Paced: no frame more than the lead (500 ms) ahead of its time, none more than a
    // segment and a half late, and never a burst.
    let t0 = frames.iter().find(|(_, f)| !f.config).unwrap().0;
    // Frames leaving at one instant: their DTS span, per instant.
    let mut same_instant: HashMap<_, (i64, i64)> = HashMap::new();
    for (at, f) in &frames {
        if f.config || f.kind == TagType::Script {
            continue;
        }
        let due = t0 + Duration::from_millis(u64::try_from(f.dts - video[0].dts).unwrap_or(0));
        assert!(
            *at + Duration::from_millis(550) >= due,
            "frame {} ms arrived {:?} early",
            f.dts,
            due - *at
        );
        assert!(
            *at <= due + Duration::from_millis(1500),
            "frame {} ms arrived {:?} late",
            f.dts,
            *at - due
        );
        // The first lead's worth leaves at once; after that, frames leave as they fall due,
        // a batch at a time.
        if *at > t0 {
            let span = same_instant.entry(*at).or_insert((f.dts, f.dts));
            span.0 = span.0.min(f.dts);
            span.1 = span.1.max(f.dts);
        }
    }
    let burst = same_instant
        .values()
        .map(|(first, last)| last - first)
        .max()
        .unwrap_or(0);
    let batch = i64::try_from(baton_relay::hls::BATCH.as_millis()).unwrap();
    // A batch, plus the frame that was due just after it (40 ms of 25 fps video).
    assert!(
        burst <= batch + 40,
        "{burst} ms of media left at one instant"
    );
}

#[tokio::test(start_paused = true)]
async fn a_producer_restart_after_endlist_continues_on_the_same_session_without_replay() {
    let (net, hub) = world();
    let (origin, url) = origin().await;
    for i in 0..4 {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    // The producer: a4..a7, EXT-X-ENDLIST (killed), 20 s of the stale ended playlist, then
    // a new ffmpeg numbering from 0 under the same names, and the end again.
    let stale = Duration::from_secs(20);
    let producer = {
        let origin = Arc::clone(&origin);
        tokio::spawn(async move {
            for i in 4..SEGMENTS {
                tokio::time::sleep(Duration::from_secs(1)).await;
                origin.publish(&format!("a/seg{i}.ts"), false);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            origin.live.lock().unwrap().ended = true;
            tokio::time::sleep(stale).await;
            origin.reset();
            origin.live.lock().unwrap().ended = false;
            let restarted = Instant::now();
            for i in 0..SEGMENTS {
                origin.publish(&format!("a/seg{i}.ts"), false);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            origin.live.lock().unwrap().ended = true;
            restarted
        })
    };
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = relay(&url, &net, Duration::from_secs(35));
    let status = relay.status_cell();
    let frames = observe(&sub, Duration::from_secs(120)).await;
    let e = relay.wait().await.unwrap_err();
    let restarted = producer.await.unwrap();
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Ended));
    let status = status.snapshot();
    assert_eq!(
        status.destination_sessions, 1,
        "one session through the restart"
    );
    // The stale ended playlist outlived the relay's stall timeout (12 s): the source was
    // reconnected, and the reconnect did not replay it either.
    assert!(
        status.source_connections >= 2,
        "{}",
        status.source_connections
    );

    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    // a1..a7 (three target durations from the edge), then the new run a0..a7 whole: every
    // segment once, nothing of the ended playlist again.
    assert_eq!(video.len(), (7 + SEGMENTS) * 25);
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not strictly increasing"
        );
    }
    // The outage shows as a gap of about its wall-clock length between the runs.
    let (at, gap) = video
        .windows(2)
        .map(|w| (w[1].dts, w[1].dts - w[0].dts))
        .max_by_key(|(_, gap)| *gap)
        .unwrap();
    assert!(
        (15_000..=25_000).contains(&gap),
        "a gap of {gap} ms at {at} ms"
    );
    // The new run's media left after the restart, none of it before.
    let second = frames
        .iter()
        .find(|(_, f)| f.dts == at && f.kind == TagType::Video && !f.config)
        .unwrap()
        .0;
    assert!(second >= restarted, "new run relayed before the restart");
    // Audio stays with the video across the restart.
    let (v, a) = (video.last().unwrap().dts, audio.last().unwrap().dts);
    assert!((v - a).abs() < 200, "video ends at {v} ms, audio at {a} ms");
}

#[tokio::test(start_paused = true)]
async fn a_probe_sees_the_source_back_only_when_segments_newer_than_the_ended_ones_appear() {
    let (net, _hub) = world();
    let (origin, url) = origin().await;
    for i in 0..5 {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    origin.live.lock().unwrap().ended = true;
    let options = ClientOptions {
        dialer: Arc::new(Arc::clone(&net)),
        ..ClientOptions::default()
    };
    let config = ProbeConfig {
        jitter_seed: Some(1),
        ..ProbeConfig::default()
    };
    let source = SourceUrl::parse(&url).unwrap();
    let egress = Egress::unrestricted();
    let back = wait_for_source(&source, &options, &egress, &config);
    tokio::pin!(back);
    // A stale ended playlist, then the same playlist without its end (a producer stuck):
    // neither is the source's return, for a minute.
    let stale = tokio::time::timeout(Duration::from_secs(30), &mut back).await;
    assert!(
        stale.is_err(),
        "a stale ended playlist counted as the source's return"
    );
    origin.live.lock().unwrap().ended = false;
    let stuck = tokio::time::timeout(Duration::from_secs(30), &mut back).await;
    assert!(
        stuck.is_err(),
        "a stuck playlist counted as the source's return"
    );
    // The producer restarts, numbering from 0 under the same names: back within seconds (two
    // segments: the first frames of a run wait for a second of media).
    origin.reset();
    let restarted = Instant::now();
    origin.publish("a/seg0.ts", false);
    origin.publish("a/seg1.ts", false);
    tokio::time::timeout(Duration::from_secs(30), &mut back)
        .await
        .expect("the new run is the source's return");
    assert!(
        restarted.elapsed() < Duration::from_secs(12),
        "{:?}",
        restarted.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_playlist_that_stops_changing_fails_the_relay_with_a_stall_and_is_not_replayed() {
    let (net, hub) = world();
    let (origin, url) = origin().await;
    for i in 0..4 {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    let producer = {
        let origin = Arc::clone(&origin);
        tokio::spawn(async move {
            for i in 4..SEGMENTS {
                tokio::time::sleep(Duration::from_secs(1)).await;
                origin.publish(&format!("a/seg{i}.ts"), false);
            }
        })
    };
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = relay(&url, &net, Duration::from_secs(20));
    let frames = observe(&sub, Duration::from_secs(120)).await;
    let e = relay.wait().await.unwrap_err();
    producer.await.unwrap();
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Timeout));
    assert!(e.retryable);
    assert!(e.message.contains("HLS playlist unchanged"), "{e}");
    // a1..a7 once each: the reconnect after the stall resumed after a7, not three back.
    let video = media(&frames, TagType::Video);
    assert_eq!(video.len(), 7 * 25);
    assert!(video.windows(2).all(|w| w[0].dts < w[1].dts));
}

/// The relay's error for a playlist served as `live` says (grace 20 s: paused time jumps
/// ahead while the real loopback requests are in flight).
async fn failure(set: impl FnOnce(&mut Live)) -> baton_relay::RelayError {
    let (net, _hub) = world();
    let (origin, url) = origin().await;
    for i in 0..4 {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    set(&mut origin.live.lock().unwrap());
    let relay = relay(&url, &net, Duration::from_secs(20));
    tokio::time::timeout(Duration::from_secs(60), relay.wait())
        .await
        .expect("the relay ends")
        .unwrap_err()
}

#[tokio::test(start_paused = true)]
async fn a_missing_playlist_is_not_found() {
    let (net, _hub) = world();
    let (_origin, url) = origin().await;
    let url = url.replace("live.m3u8", "missing.m3u8");
    let relay = relay(&url, &net, Duration::from_secs(3));
    let e = relay.wait().await.unwrap_err();
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::NotFound));
    assert!(
        e.message.contains("HLS playlist") && e.message.contains("404"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_document_that_is_not_a_playlist_is_a_protocol_error() {
    let e = failure(|live| live.body = Some("<html>hello</html>".into())).await;
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Protocol));
    assert!(e.message.contains("not an HLS playlist"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn aes_128_segments_are_decrypted() {
    let extra = "#EXT-X-KEY:METHOD=AES-128,URI=\"k/key.bin\"\n";
    let entries = (0..SEGMENTS).map(|i| format!("k/seg{i}.ts")).collect();
    let (frames, _) = relay_until_ended(extra, entries).await;
    // Every segment, decrypted with the IV of its sequence number.
    let video = media(&frames, TagType::Video);
    assert_eq!(video.len(), SEGMENTS * 25);
    assert!(video.windows(2).all(|w| w[0].dts < w[1].dts));
}

#[tokio::test(start_paused = true)]
async fn a_wrong_aes_key_is_a_named_source_error() {
    let e = failure(|live| {
        live.extra = "#EXT-X-KEY:METHOD=AES-128,URI=\"k/wrong.bin\"\n".into();
        live.window = (0..4).map(|i| (format!("k/seg{i}.ts"), false)).collect();
    })
    .await;
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Protocol));
    assert!(e.retryable);
    assert!(
        e.message.contains("cannot decrypt") && e.message.contains("k/wrong.bin"),
        "{e}"
    );
    let e = failure(|live| {
        live.extra = "#EXT-X-KEY:METHOD=AES-128,URI=\"k/long.bin\"\n".into();
        live.window = (0..4).map(|i| (format!("k/seg{i}.ts"), false)).collect();
    })
    .await;
    assert!(e.message.contains("17 bytes, not the 16"), "{e}");
    let e = failure(|live| {
        live.extra = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k/key.bin\"\n".into();
    })
    .await;
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Unsupported));
    assert!(e.message.contains("SAMPLE-AES"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn fmp4_segments_are_relayed_like_transport_streams() {
    let extra = "#EXT-X-MAP:URI=\"f/init.mp4\"\n";
    let entries = (0..SEGMENTS).map(|i| format!("f/seg{i}.m4s")).collect();
    let (frames, destination_sessions) = relay_until_ended(extra, entries).await;
    assert_eq!(destination_sessions, 1);
    // Sequence headers from the initialisation section, then f0..f7, each once: a keyframe a
    // second, 25 fps, AAC alongside.
    assert!(
        frames
            .iter()
            .any(|(_, f)| f.config && f.kind == TagType::Video)
    );
    assert!(
        frames
            .iter()
            .any(|(_, f)| f.config && f.kind == TagType::Audio)
    );
    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    assert_eq!(video.len(), SEGMENTS * 25);
    assert_eq!(video.iter().filter(|f| f.keyframe).count(), SEGMENTS);
    assert!(video[0].keyframe);
    // 48 kHz AAC, 1024 samples a frame: 8 s is 375 frames and the encoder's flush.
    assert!(
        (370..=385).contains(&audio.len()),
        "{} audio frames",
        audio.len()
    );
    for track in [&video, &audio] {
        assert!(track.windows(2).all(|w| w[0].dts < w[1].dts));
    }
    let gap = video.windows(2).map(|w| w[1].dts - w[0].dts).max().unwrap();
    assert!(gap <= 40, "video gap {gap} ms");
    // B-frames: composition offsets carried.
    assert!(video.iter().any(|f| f.composition_time() > 0));
    // A/V as ffprobe shows the files: the initialisation section's edit list starts the
    // audio 58 ms after the video.
    let (v, a) = (video[0].dts, audio[0].dts);
    assert!(
        (a - v - 58).abs() <= 1,
        "video starts at {v} ms, audio at {a} ms"
    );
}

/// Relays the playlist a producer writes (the `extra` tags, then [`produce`] with `entries`)
/// until the relay ends with it (grace 3 s): the frames the destination received and the
/// destination sessions opened.
async fn relay_until_ended(extra: &str, entries: Vec<String>) -> (Vec<(Instant, Frame)>, u64) {
    let (net, hub) = world();
    let (origin, url) = origin().await;
    origin.live.lock().unwrap().extra = extra.into();
    let producer = produce(&origin, entries);
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = relay(&url, &net, Duration::from_secs(3));
    let status = relay.status_cell();
    let frames = observe(&sub, Duration::from_secs(60)).await;
    assert_eq!(relay.wait().await.unwrap_err().kind, ErrorKind::Ended);
    producer.await.unwrap();
    (frames, status.snapshot().destination_sessions)
}

/// A producer that lists `entries` one a second after the first, then ends the playlist.
fn produce(origin: &Arc<Origin>, mut entries: Vec<String>) -> tokio::task::JoinHandle<()> {
    let first = entries.remove(0);
    origin.publish(&first, false);
    let origin = Arc::clone(origin);
    tokio::spawn(async move {
        for entry in entries {
            tokio::time::sleep(Duration::from_secs(1)).await;
            origin.publish(&entry, false);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        origin.live.lock().unwrap().ended = true;
    })
}

#[tokio::test(start_paused = true)]
async fn a_segment_that_404s_is_skipped_and_the_relay_goes_on() {
    let mut entries: Vec<String> = (0..3).map(|i| format!("a/seg{i}.ts")).collect();
    entries.push("a/gone.ts".into());
    entries.extend((4..SEGMENTS).map(|i| format!("a/seg{i}.ts")));
    let (frames, _) = relay_until_ended("", entries).await;
    // a0..a2, gone (skipped after two tries), a4..a7 with the hole closed.
    let video = media(&frames, TagType::Video);
    assert_eq!(video.len(), 7 * 25);
    assert!(video.windows(2).all(|w| w[0].dts < w[1].dts));
}

#[tokio::test(start_paused = true)]
async fn a_playlist_ended_before_the_relay_started_is_not_played() {
    let (net, hub) = world();
    let (origin, url) = origin().await;
    for i in 0..SEGMENTS {
        origin.publish(&format!("a/seg{i}.ts"), false);
    }
    origin.live.lock().unwrap().ended = true;
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = relay(&url, &net, Duration::from_secs(3));
    let frames = observe(&sub, Duration::from_secs(10)).await;
    let e = relay.wait().await.unwrap_err();
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Ended));
    assert!(e.message.contains("EXT-X-ENDLIST"), "{e}");
    assert!(frames.is_empty(), "a stale ended playlist was replayed");
}

#[tokio::test(start_paused = true)]
async fn byte_range_segments_are_read_as_ranges_or_cut_from_whole_answers() {
    let sizes: Vec<u64> = (0..SEGMENTS)
        .map(|i| {
            let path = format!(
                "{}/tests/fixtures/hls/seg{i}.ts",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::metadata(path).unwrap().len()
        })
        .collect();
    for resource in ["ranged/all.ts", "plain/all.ts"] {
        let mut entries = Vec::new();
        let mut offset = 0;
        for size in &sizes {
            entries.push(format!("#EXT-X-BYTERANGE:{size}@{offset}\n{resource}"));
            offset += size;
        }
        let (frames, _) = relay_until_ended("", entries).await;
        // All eight, each once.
        let video = media(&frames, TagType::Video);
        assert_eq!(video.len(), SEGMENTS * 25, "{resource}");
        assert!(video.windows(2).all(|w| w[0].dts < w[1].dts), "{resource}");
    }
}
