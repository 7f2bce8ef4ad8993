//! An in-memory network for tests: a [`Dialer`] whose connections are served by an [`Ingest`]
//! over `tokio::io::duplex` pipes. No sockets, so `#[tokio::test(start_paused = true)]` drives
//! every timeout, backoff and grace period deterministically.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use baton_media::{Frame, TagType};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::hub::{HubConfig, StreamEvent, StreamHub, Subscription};
use crate::ingest::{Ingest, IngestConfig, IngestPolicy};
use crate::transport::{BoxReader, BoxWriter, DialFuture, Dialer};

/// Pipe capacity of one in-memory connection, per direction.
const PIPE_BYTES: usize = 256 * 1024;

/// Dials into an in-process ingest. Can be made unreachable to simulate a dead server.
#[derive(Debug)]
pub struct MemoryNetwork {
    ingest: Arc<Ingest>,
    reachable: AtomicBool,
    dials: AtomicU64,
    next_port: AtomicU16,
    cancel: Mutex<CancellationToken>,
}

impl MemoryNetwork {
    pub fn new(ingest: Arc<Ingest>) -> Arc<MemoryNetwork> {
        Arc::new(MemoryNetwork {
            ingest,
            reachable: AtomicBool::new(true),
            dials: AtomicU64::new(0),
            next_port: AtomicU16::new(40000),
            cancel: Mutex::new(CancellationToken::new()),
        })
    }

    /// A network into a fresh ingest with the default configuration, publishes decided by
    /// `policy`, and that ingest's hub.
    pub fn with_default_ingest(
        policy: Arc<dyn IngestPolicy>,
    ) -> (Arc<MemoryNetwork>, Arc<StreamHub>) {
        let hub = StreamHub::new(HubConfig::default());
        let ingest = Ingest::new(IngestConfig::default(), Arc::clone(&hub), policy);
        (MemoryNetwork::new(ingest), hub)
    }

    /// While unreachable, dials fail with `ConnectionRefused`.
    pub fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::SeqCst);
    }

    /// Closes every connection served so far (as a server restart would).
    pub fn drop_connections(&self) {
        let mut cancel = self.cancel.lock().unwrap_or_else(|e| e.into_inner());
        cancel.cancel();
        *cancel = CancellationToken::new();
    }

    /// Successful dials so far.
    pub fn dials(&self) -> u64 {
        self.dials.load(Ordering::SeqCst)
    }

    pub fn ingest(&self) -> &Arc<Ingest> {
        &self.ingest
    }
}

impl Dialer for Arc<MemoryNetwork> {
    fn dial(&self, _host: &str, _port: u16) -> DialFuture {
        let net = Arc::clone(self);
        Box::pin(async move {
            if !net.reachable.load(Ordering::SeqCst) {
                return Err(std::io::ErrorKind::ConnectionRefused.into());
            }
            net.dials.fetch_add(1, Ordering::SeqCst);
            let (client, server) = tokio::io::duplex(PIPE_BYTES);
            let port = net.next_port.fetch_add(1, Ordering::Relaxed);
            let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            let (server_r, server_w) = tokio::io::split(server);
            let ingest = Arc::clone(&net.ingest);
            let cancel = net
                .cancel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .child_token();
            tokio::spawn(async move {
                let _ = ingest
                    .serve_connection(server_r, server_w, peer, cancel)
                    .await;
            });
            let (r, w) = tokio::io::split(client);
            Ok((Box::new(r) as BoxReader, Box::new(w) as BoxWriter))
        })
    }
}

/// Publishes a synthetic A/V stream to `url` over `net` in real (or paused) time: AVC and AAC
/// sequence headers, then 30 fps video with a keyframe every 30 frames and audio every 23 ms,
/// for `seconds`, timestamps starting at `start_ts`. Returns the video frames sent; stops early
/// (like a crashed encoder) if the connection breaks.
pub async fn publish_test_stream(
    net: &Arc<MemoryNetwork>,
    url: &str,
    seconds: u32,
    start_ts: u32,
) -> Result<usize, crate::client::ClientError> {
    use crate::client::{ClientOptions, RtmpConnection};
    use baton_rtmp::session::{ClientMode, MediaKind};
    use tokio::time::{Duration, Instant, sleep_until};

    let url = baton_rtmp::RtmpUrl::parse(url)
        .map_err(|e| crate::client::ClientError::Unsupported(e.to_string()))?;
    let options = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        ..ClientOptions::default()
    };
    let mut conn = RtmpConnection::connect(&url, ClientMode::Publish, &options).await?;
    conn.send_media(
        MediaKind::Video,
        start_ts,
        &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f],
    )?;
    conn.send_media(MediaKind::Audio, start_ts, &[0xaf, 0, 0x12, 0x10])?;
    let begin = Instant::now();
    let (mut video_ms, mut audio_ms, mut sent) = (0u32, 0u32, 0usize);
    while video_ms < seconds * 1000 {
        let (kind, ts, payload): (MediaKind, u32, Vec<u8>) = if video_ms <= audio_ms {
            let first = if (video_ms / 33) % 30 == 0 {
                0x17
            } else {
                0x27
            };
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
        conn.send_media(kind, start_ts.wrapping_add(ts), &payload)?;
        if kind == MediaKind::Video {
            sent += 1;
        }
        if conn.flush().await.is_err() {
            return Ok(sent);
        }
    }
    conn.close(Duration::from_secs(1)).await?;
    Ok(sent)
}

/// An FLV file like [`publish_test_stream`]'s stream: AVC (profile byte `avc_profile`) and
/// AAC sequence headers, then `seconds` of 30 fps video with a keyframe every `gop` frames
/// and AAC audio every 23 ms, both tracks ending within a frame of `seconds`. Every video
/// payload ends with `mark` and the frame's second (`dts / 1000`), so tests can tell which
/// file and which second a frame came from.
pub fn test_flv_file(seconds: u32, gop: u32, avc_profile: u8, mark: u8) -> bytes::Bytes {
    use baton_flv::{FlvMuxer, TagType};
    let mut out = bytes::BytesMut::new();
    out.extend_from_slice(&FlvMuxer::header(true, true));
    let avc = [0x17, 0, 0, 0, 0, 1, avc_profile, 0, 0x1f];
    FlvMuxer::write_tag(TagType::Video, 0, &avc, &mut out);
    FlvMuxer::write_tag(TagType::Audio, 0, &[0xaf, 0, 0x12, 0x10], &mut out);
    let end = seconds * 1000;
    let (mut v, mut a, mut n) = (0u32, 0u32, 0u32);
    while v < end || a < end {
        if v < end && v <= a {
            let first = if n % gop.max(1) == 0 { 0x17 } else { 0x27 };
            let second = u8::try_from(v / 1000).unwrap_or(u8::MAX);
            let body = [first, 1, 0, 0, 0, 0xde, 0xad, mark, second];
            FlvMuxer::write_tag(TagType::Video, v, &body, &mut out);
            n += 1;
            v = n * 1000 / 30;
        } else {
            FlvMuxer::write_tag(TagType::Audio, a, &[0xaf, 1, 0x21, 0x10], &mut out);
            a += 23;
        }
    }
    out.freeze()
}

/// The frames a hub subscriber sees, with their arrival instants, until the publisher leaves
/// or `limit` has passed.
pub async fn observe(sub: &Subscription, limit: std::time::Duration) -> Vec<(Instant, Frame)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        match event {
            StreamEvent::Frame(f) => out.push((Instant::now(), f)),
            StreamEvent::PublisherLeft => break,
        }
    }
    out
}

/// The coded (not configuration) frames of one kind among `frames`.
pub fn media(frames: &[(Instant, Frame)], kind: TagType) -> Vec<&Frame> {
    frames
        .iter()
        .map(|(_, f)| f)
        .filter(|f| f.kind == kind && !f.config)
        .collect()
}
