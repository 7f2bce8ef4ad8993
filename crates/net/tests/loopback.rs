//! Baton's own RTMP client against Baton's own ingest server over real loopback TCP, plus
//! HTTP-FLV playback of the same stream.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_flv::{FlvDemuxer, TagType};
use baton_net::client::{ClientError, ClientOptions, RtmpConnection};
use baton_net::http_flv::{self, HttpFlvConfig};
use baton_net::hub::{HubConfig, StreamHub};
use baton_net::ingest::{AllowAll, Ingest, IngestConfig, IngestServer};
use baton_net::{MediaKind, RtmpUrl};
use baton_rtmp::session::ClientMode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Server {
    rtmp: SocketAddr,
    http: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn server(config: IngestConfig) -> Server {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(config, Arc::clone(&hub), Arc::new(AllowAll));
    let listener = IngestServer::bind("127.0.0.1:0".parse().unwrap(), ingest)
        .await
        .unwrap();
    let rtmp = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    tokio::spawn(listener.run(cancel.clone()));
    let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = http_listener.local_addr().unwrap();
    tokio::spawn(http_flv::serve_play(
        http_listener,
        hub,
        Arc::new(AllowAll),
        HttpFlvConfig {
            wait_for_publisher: Duration::from_secs(5),
            ..HttpFlvConfig::default()
        },
        cancel.clone(),
    ));
    Server { rtmp, http, cancel }
}

/// (kind, timestamp, payload) of a small synthetic A/V stream.
fn stream() -> Vec<(MediaKind, u32, Vec<u8>)> {
    let mut out = vec![
        (
            MediaKind::Data,
            0,
            b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09".to_vec(),
        ),
        (
            MediaKind::Video,
            0,
            vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f],
        ),
        (MediaKind::Audio, 0, vec![0xaf, 0, 0x12, 0x10]),
    ];
    for i in 0..120u32 {
        let first = if i % 30 == 0 { 0x17 } else { 0x27 };
        // Big enough to span several chunks.
        let mut payload = vec![first, 1, 0, 0, 0];
        payload.extend((0..3000u32).map(|b| (b ^ i) as u8));
        out.push((MediaKind::Video, i * 33, payload));
        out.push((MediaKind::Audio, i * 33 + 5, vec![0xaf, 1, i as u8, 7]));
    }
    out
}

async fn connect(
    addr: SocketAddr,
    stream: &str,
    mode: ClientMode,
) -> Result<RtmpConnection, ClientError> {
    let url = RtmpUrl::parse(&format!("rtmp://{addr}/live/{stream}")).unwrap();
    RtmpConnection::connect(&url, mode, &ClientOptions::default()).await
}

#[tokio::test]
async fn publish_then_play_over_rtmp_and_http_flv_delivers_every_message() {
    let s = server(IngestConfig::default()).await;
    let mut player = connect(s.rtmp, "s", ClientMode::Play).await.unwrap();
    let http_url = format!("http://{}/live/s.flv", s.http);
    let http_reader = tokio::spawn(async move {
        let response = reqwest::get(http_url).await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut publisher = connect(s.rtmp, "s", ClientMode::Publish).await.unwrap();
    let sent = stream();
    support::relay_through(&mut publisher, &mut player, &sent).await;
    support::close_and_see_end(publisher, &mut player).await;

    // HTTP-FLV: the response ends when the publisher leaves, with every tag in it.
    let body = tokio::time::timeout(Duration::from_secs(5), http_reader)
        .await
        .unwrap()
        .unwrap();
    let mut demuxer = FlvDemuxer::new(Default::default());
    demuxer.push(&body);
    let mut tags = Vec::new();
    while let Some(tag) = demuxer.poll_tag().unwrap() {
        tags.push(tag);
    }
    // The reader may join after the metadata was sent; from the GOP cache it still starts with
    // the sequence headers and the first keyframe.
    let video = tags.iter().filter(|t| t.tag_type == TagType::Video).count();
    assert_eq!(video, 121);
    assert_eq!(
        tags.iter().filter(|t| t.tag_type == TagType::Audio).count(),
        121
    );
}

#[tokio::test]
async fn a_second_publisher_is_refused_with_bad_name() {
    let s = server(IngestConfig::default()).await;
    let _first = connect(s.rtmp, "busy", ClientMode::Publish).await.unwrap();
    match connect(s.rtmp, "busy", ClientMode::Publish).await {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "NetStream.Publish.BadName"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Another stream on the same server is unaffected.
    assert!(connect(s.rtmp, "other", ClientMode::Publish).await.is_ok());
}

#[tokio::test]
async fn garbage_and_stalled_handshakes_close_only_their_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server(IngestConfig {
        handshake_timeout: Duration::from_millis(300),
        ..IngestConfig::default()
    })
    .await;
    let mut good = connect(s.rtmp, "ok", ClientMode::Publish).await.unwrap();

    // Not RTMP at all.
    let mut junk = tokio::net::TcpStream::connect(s.rtmp).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match junk.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "server closes a non-RTMP peer");

    // A handshake that never completes.
    let mut stalled = tokio::net::TcpStream::connect(s.rtmp).await.unwrap();
    stalled.write_all(&[3]).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "server closes a stalled handshake");

    // The good connection still works.
    good.send_media(MediaKind::Video, 0, &[0x17, 0, 0, 0, 0])
        .unwrap();
    good.flush().await.unwrap();
}

#[tokio::test]
async fn http_flv_for_an_unpublished_stream_is_404_after_the_wait() {
    let s = server(IngestConfig::default()).await;
    let started = std::time::Instant::now();
    let response = reqwest::get(format!("http://{}/live/nobody.flv", s.http))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(started.elapsed() >= Duration::from_secs(5));
    let response = reqwest::get(format!("http://{}/not-flv", s.http))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn shutdown_answers_waiting_http_flv_requests_at_once() {
    let s = server(IngestConfig::default()).await;
    let url = format!("http://{}/live/later.flv", s.http);
    let request = tokio::spawn(async move { reqwest::get(url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    s.cancel.cancel();
    let response = tokio::time::timeout(Duration::from_secs(2), request)
        .await
        .expect("answered before the 5 s publisher wait")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(1));
}
