//! The SRT ingest over real loopback UDP, with srt-tokio as the publishing caller: stream-id
//! forms, frames in the hub, refusals (second publisher, play, policy, encryption), kicks,
//! and a publisher of garbage that disturbs nobody.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_net::hub::{HubConfig, StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{
    Decision, Ingest, IngestConfig, IngestPolicy, SrtConfig, SrtIngestServer, StreamRequest,
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use srt_tokio::SrtSocket;
use tokio_util::sync::CancellationToken;

/// Refuses `live/forbidden`; wants `auth_key=good` on `live/signed`.
struct Policy;

impl IngestPolicy for Policy {
    fn authorize_publish(&self, r: &StreamRequest<'_>) -> Decision {
        match r.key.stream.as_str() {
            "forbidden" => Decision::publish_denied("forbidden"),
            "signed" if r.query != Some("auth_key=good") => {
                Decision::publish_denied("bad signature")
            }
            _ => Decision::Allow,
        }
    }
}

struct Server {
    addr: SocketAddr,
    hub: Arc<StreamHub>,
    cancel: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn server(config: SrtConfig) -> Server {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(IngestConfig::default(), Arc::clone(&hub), Arc::new(Policy));
    let srt = SrtIngestServer::bind("127.0.0.1:0".parse().unwrap(), config, ingest)
        .await
        .unwrap();
    let addr = srt.local_addr();
    let cancel = CancellationToken::new();
    tokio::spawn(srt.run(cancel.clone()));
    Server { addr, hub, cancel }
}

fn config() -> SrtConfig {
    SrtConfig {
        domain: "srt.example".into(),
        ..SrtConfig::default()
    }
}

fn fixture() -> Vec<u8> {
    fixture_named("h264_aac.ts")
}

fn fixture_named(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../proto/mpegts/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap()
}

async fn call(addr: SocketAddr, id: &str, passphrase: Option<&str>) -> std::io::Result<SrtSocket> {
    let mut builder = SrtSocket::builder();
    if let Some(p) = passphrase {
        builder = builder.encryption(16, p);
    }
    tokio::time::timeout(Duration::from_secs(5), builder.call(addr, Some(id)))
        .await
        .map_err(|_| std::io::Error::other("call timed out"))?
}

/// Sends `ts` in 1316-byte messages (7 TS packets, as encoders do), paced (one message every
/// 4 ms: the 2 s fixture in 0.2 s; an encoder sends at the media's rate).
/// Returns whether the connection took all of it.
async fn send(socket: &mut SrtSocket, ts: &[u8]) -> bool {
    for chunk in ts.chunks(1316) {
        let message = (Instant::now(), Bytes::copy_from_slice(chunk));
        if socket.send(message).await.is_err() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    true
}

/// Frames of `sub` until `n` have arrived (or 5 s pass).
async fn frames(sub: &Subscription, n: usize) -> Vec<baton_media::Frame> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(StreamEvent::Frame(f)) => out.push(f),
            Ok(StreamEvent::PublisherLeft) => {}
            Err(_) => break,
        }
    }
    out
}

fn key(domain: &str, stream: &str) -> StreamKey {
    StreamKey::new(domain, "live", stream)
}

#[tokio::test]
async fn access_control_publish_reaches_the_hub_like_an_rtmp_publish() {
    let s = server(config()).await;
    let sub = s.hub.subscribe(key("srt.example", "cam"));
    let mut caller = call(s.addr, "#!::r=live/cam,m=publish", None)
        .await
        .unwrap();
    assert!(send(&mut caller, &fixture()).await);
    // 2 s at 25 fps plus AAC at 48 kHz: ~50 video and ~94 audio frames, headers first.
    let got = frames(&sub, 120).await;
    assert!(got.len() >= 120, "only {} frames", got.len());
    let first_video = got.iter().position(|f| f.is_video()).unwrap();
    assert!(got[first_video].config, "video sequence header first");
    assert!(
        got[first_video + 1..]
            .iter()
            .find(|f| f.is_video())
            .unwrap()
            .keyframe
    );
    let first_audio = got.iter().position(|f| !f.is_video()).unwrap();
    assert!(got[first_audio].config, "audio sequence header first");
    assert_eq!(got[0].dts, 0);
    assert!(got.windows(2).all(|w| w[0].dts <= w[1].dts), "DTS in order");
    assert!(got.last().unwrap().dts > 1000);
    assert!(s.hub.is_publishing(&key("srt.example", "cam")));
    drop(caller);
}

#[tokio::test]
async fn h265_and_mp3_arrive_as_enhanced_rtmp_and_flv_mp3() {
    let s = server(config()).await;
    let sub = s.hub.subscribe(key("srt.example", "hevc"));
    let mut caller = call(s.addr, "#!::r=live/hevc,m=publish", None)
        .await
        .unwrap();
    assert!(send(&mut caller, &fixture_named("h265_mp3.ts")).await);
    let got = frames(&sub, 60).await;
    let video: Vec<_> = got.iter().filter(|f| f.is_video()).collect();
    assert!(video.len() >= 20, "{} video frames", video.len());
    // Enhanced RTMP: IsExHeader bit, FourCC hvc1; the sequence start first, then a keyframe.
    assert!(video[0].config && video[0].payload[0] & 0x80 != 0);
    assert_eq!(&video[0].payload[1..5], b"hvc1");
    assert!(video[1].keyframe);
    // FLV MP3 (SoundFormat 2).
    let audio = got.iter().find(|f| !f.is_video()).unwrap();
    assert_eq!(audio.payload[0] >> 4, 2);
}

#[tokio::test]
async fn obs_style_ids_name_domain_and_query() {
    let s = server(config()).await;
    let sub = s.hub.subscribe(key("b.example", "signed"));
    let mut caller = call(s.addr, "b.example/live/signed?auth_key=good", None)
        .await
        .unwrap();
    assert!(send(&mut caller, &fixture()[..32 * 1316]).await);
    assert!(!frames(&sub, 5).await.is_empty());
    // Wrong signature, forbidden stream: the policy refuses at the handshake.
    assert!(
        call(s.addr, "live/signed?auth_key=bad", None)
            .await
            .is_err()
    );
    assert!(call(s.addr, "publish:live/forbidden", None).await.is_err());
}

#[tokio::test]
async fn refusals_at_the_handshake() {
    let s = server(config()).await;
    let _first = call(s.addr, "live/cam", None).await.unwrap();
    // The stream has a publisher: a second one is refused (2409 Conflict).
    assert!(
        call(s.addr, "#!::r=live/cam,m=publish", None)
            .await
            .is_err()
    );
    // Playing over SRT is not served; unparsable ids are refused.
    assert!(
        call(s.addr, "#!::r=live/other,m=request", None)
            .await
            .is_err()
    );
    assert!(call(s.addr, "#!::r=a/b/c/d,m=publish", None).await.is_err());
    // Encryption offered to a listener without a passphrase.
    assert!(
        call(s.addr, "live/enc", Some("0123456789ab"))
            .await
            .is_err()
    );
    // None of this disturbed the first publisher.
    assert!(s.hub.is_publishing(&key("srt.example", "cam")));
}

#[tokio::test]
async fn passphrase() {
    let s = server(SrtConfig {
        passphrase: Some("correct horse battery".into()),
        ..config()
    })
    .await;
    let sub = s.hub.subscribe(key("srt.example", "enc"));
    assert!(call(s.addr, "live/enc", None).await.is_err(), "unencrypted");
    assert!(
        call(s.addr, "live/enc", Some("wrong passphrase"))
            .await
            .is_err(),
        "wrong"
    );
    // The refused handshakes released the stream.
    let mut caller = call(s.addr, "live/enc", Some("correct horse battery"))
        .await
        .unwrap();
    assert!(send(&mut caller, &fixture()[..32 * 1316]).await);
    assert!(!frames(&sub, 5).await.is_empty());
}

#[tokio::test]
async fn a_kick_closes_the_srt_connection() {
    let s = server(config()).await;
    let sub = s.hub.subscribe(key("srt.example", "cam"));
    let mut caller = call(s.addr, "live/cam", None).await.unwrap();
    assert!(send(&mut caller, &fixture()[..32 * 1316]).await);
    assert!(!frames(&sub, 3).await.is_empty());
    assert!(s.hub.kick(&key("srt.example", "cam")));
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(_)) = caller.next().await {}
    })
    .await;
    assert!(closed.is_ok(), "the caller saw its connection closed");
    // The slot is free again.
    let again = call(s.addr, "live/cam", None).await;
    assert!(again.is_ok());
}

#[tokio::test]
async fn garbage_is_closed_at_the_first_frame_deadline_and_disturbs_nobody() {
    let s = server(SrtConfig {
        handshake_timeout: Duration::from_millis(800),
        ..config()
    })
    .await;
    let sub = s.hub.subscribe(key("srt.example", "good"));
    let mut good = call(s.addr, "live/good", None).await.unwrap();
    let mut bad = call(s.addr, "live/bad", None).await.unwrap();
    let noise: Vec<u8> = (0..100 * 1316u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut corrupt = fixture();
    for (i, b) in corrupt.iter_mut().enumerate().skip(3000) {
        if i % 97 == 0 {
            *b ^= 0x5a;
        }
    }
    // Both at once; the garbage publisher may be closed before it is done.
    let (_, complete) = tokio::join!(send(&mut bad, &noise), send(&mut good, &corrupt));
    assert!(complete);
    assert!(
        frames(&sub, 20).await.len() >= 20,
        "the good publisher's frames arrive"
    );
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        while let Some(Ok(_)) = bad.next().await {}
    })
    .await;
    assert!(closed.is_ok(), "the garbage publisher was closed");
    assert!(!s.hub.is_publishing(&key("srt.example", "bad")));
}
