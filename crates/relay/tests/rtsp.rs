//! RTSP sources end to end over loopback (real time: retina keeps its own timers), against an
//! in-process camera: a small RTSP server (RFC 2326 over TCP, RTP interleaved) that serves
//! the HLS fixture's H.264 and AAC (`tests/fixtures/hls/`) packetized as a camera does
//! (RFC 6184 single NAL units and FU-A; RFC 3640 AAC-hbr), with an RTP clock that wraps past
//! 2³² within the first second, a `Content-Base` naming a private address (a camera behind
//! NAT) and a G.711 stream Baton does not carry. Relayed into Baton's own ingest over an
//! in-memory network: one destination session across a camera reboot, every video frame, DTS
//! increasing; 401, 404, garbage, a transport the camera refuses, a camera without H.264 and
//! one that never sends a keyframe are named source errors; keep-alives hold a session whose
//! timeout is shorter than the test; answers and RTP mutated at random are errors, never
//! panics (retina is fuzzed upstream; this checks the path through Baton's use of it).
//!
//! The fixture has B-frames; cameras send none, so this camera stamps decode times.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use baton_flv::{VideoCodec, parse_video_tag_header};
use baton_media::TagType;
use baton_net::client::ClientOptions;
use baton_net::egress::Egress;
use baton_net::hub::{StreamHub, StreamKey};
use baton_net::ingest::AllowAll;
use baton_net::rtsp::{RtspConnection, RtspError, RtspLimits, RtspUrl};
use baton_net::testing::{MemoryNetwork, media, observe};
use baton_relay::ts::TsFrames;
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayError, Side};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const DST: &str = "rtmp://mem/live/dst";
/// The first RTP timestamp of the video: 0.5 s before the 32-bit wrap.
const VIDEO_BASE: u32 = u32::MAX - 45_000;
const AUDIO_BASE: u32 = 0x1234_5678;

/// One access unit of the fixture: AVCC NAL units or a raw AAC frame.
#[derive(Clone)]
struct Unit {
    video: bool,
    ms: i64,
    keyframe: bool,
    data: Bytes,
}

struct Fixture {
    hevc: bool,
    /// Parameter sets: SPS, PPS (H.264); VPS, SPS, PPS (H.265).
    params: Vec<Vec<u8>>,
    asc: Vec<u8>,
    rate: u32,
    units: Vec<Unit>,
}

/// The HLS fixture's eight seconds of H.264 and AAC.
fn fixture() -> Arc<Fixture> {
    let paths: Vec<String> = (0..8)
        .map(|i| {
            format!(
                "{}/tests/fixtures/hls/seg{i}.ts",
                env!("CARGO_MANIFEST_DIR")
            )
        })
        .collect();
    fixture_of(&paths)
}

/// Two seconds of H.265 and AAC (`tests/fixtures/rtsp/`).
fn hevc_fixture() -> Arc<Fixture> {
    fixture_of(&[format!(
        "{}/tests/fixtures/rtsp/h265.ts",
        env!("CARGO_MANIFEST_DIR")
    )])
}

fn fixture_of(paths: &[String]) -> Arc<Fixture> {
    let mut ts = TsFrames::default();
    for path in paths {
        ts.push(&std::fs::read(path).unwrap());
    }
    ts.finish();
    let (mut hevc, mut params, mut asc) = (false, Vec::new(), Vec::new());
    let mut units = Vec::new();
    while let Some(f) = ts.poll_frame() {
        match (f.kind, f.config) {
            (TagType::Video, true) => {
                let header = parse_video_tag_header(&f.payload).unwrap();
                hevc = header.codec == VideoCodec::Hevc;
                let rec = &f.payload[header.payload_offset..];
                params = if hevc {
                    hvcc_params(rec)
                } else {
                    avcc_params(rec)
                };
            }
            (TagType::Audio, true) => asc = f.payload[2..].to_vec(),
            (TagType::Video, false) => units.push(Unit {
                video: true,
                ms: f.dts,
                keyframe: f.keyframe,
                data: f
                    .payload
                    .slice(parse_video_tag_header(&f.payload).unwrap().payload_offset..),
            }),
            (TagType::Audio, false) => units.push(Unit {
                video: false,
                ms: f.dts,
                keyframe: false,
                data: f.payload.slice(2..),
            }),
            _ => {}
        }
    }
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let rate = RATES[usize::from(((asc[0] & 0x07) << 1) | (asc[1] >> 7))];
    Arc::new(Fixture {
        hevc,
        params,
        asc,
        rate,
        units,
    })
}

/// SPS and PPS of an avcC (ISO/IEC 14496-15 5.3.3.1; one of each).
fn avcc_params(rec: &[u8]) -> Vec<Vec<u8>> {
    let n = usize::from(u16::from_be_bytes([rec[6], rec[7]]));
    let p = 8 + n + 1;
    let m = usize::from(u16::from_be_bytes([rec[p], rec[p + 1]]));
    vec![rec[8..8 + n].to_vec(), rec[p + 2..p + 2 + m].to_vec()]
}

/// VPS, SPS and PPS of an hvcC (ISO/IEC 14496-15 8.3.3.1: arrays after 22 bytes), in that
/// order.
fn hvcc_params(rec: &[u8]) -> Vec<Vec<u8>> {
    let mut by_type = HashMap::new();
    let mut p = 23;
    for _ in 0..rec[22] {
        let kind = rec[p] & 0x3f;
        let count = u16::from_be_bytes([rec[p + 1], rec[p + 2]]);
        p += 3;
        for _ in 0..count {
            let n = usize::from(u16::from_be_bytes([rec[p], rec[p + 1]]));
            by_type.insert(kind, rec[p + 2..p + 2 + n].to_vec());
            p += 2 + n;
        }
    }
    [32, 33, 34].iter().map(|t| by_type[t].clone()).collect()
}

/// What the camera does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serve,
    /// Answers every request with bytes that are not RTSP.
    Garbage,
    /// Offers MJPEG video and G.711 audio only.
    MjpegOnly,
    /// Sends the fixture's video without its keyframes.
    NoKeyframes,
}

struct Camera {
    mode: Mode,
    /// Basic authentication (RFC 7617) required with these credentials.
    auth: Option<(&'static str, &'static str)>,
    path: &'static str,
    fixture: Arc<Fixture>,
    /// Media time sent per wall-clock time.
    speed: u32,
    /// Session timeout announced (s); retina keeps alive at half of it.
    session_timeout: u32,
    /// What each connection (by its number) sends: a range of the fixture's units, rebased
    /// so the first sent is 0 ms (a rebooted camera's clock starts again), then it hangs up.
    plan: fn(usize, &[Unit]) -> Vec<Unit>,
    connections: AtomicUsize,
    keepalives: AtomicUsize,
    video_sent: AtomicUsize,
    audio_sent: AtomicUsize,
    /// Connections that sent all they had.
    streams_done: AtomicUsize,
}

fn everything(_: usize, units: &[Unit]) -> Vec<Unit> {
    units.to_vec()
}

impl Camera {
    fn new(mode: Mode) -> Camera {
        Camera::with(mode, fixture())
    }

    fn with(mode: Mode, fixture: Arc<Fixture>) -> Camera {
        Camera {
            mode,
            auth: None,
            path: "/cam/main",
            fixture,
            speed: 4,
            session_timeout: 60,
            plan: everything,
            connections: AtomicUsize::new(0),
            keepalives: AtomicUsize::new(0),
            video_sent: AtomicUsize::new(0),
            audio_sent: AtomicUsize::new(0),
            streams_done: AtomicUsize::new(0),
        }
    }

    async fn start(self) -> (Arc<Camera>, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let camera = Arc::new(self);
        let served = Arc::clone(&camera);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let n = served.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(Arc::clone(&served).session(stream, n));
            }
        });
        (camera, addr)
    }

    fn sdp(&self) -> String {
        let f = &self.fixture;
        let mut sdp =
            String::from("v=0\r\no=- 1 1 IN IP4 10.9.9.9\r\ns=Camera\r\nt=0 0\r\na=control:*\r\n");
        if self.mode == Mode::MjpegOnly {
            sdp += "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n";
        } else if f.hevc {
            sdp += &format!(
                "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=fmtp:96 sprop-vps={};sprop-sps={};sprop-pps={}\r\na=control:trackID=0\r\n",
                B64.encode(&f.params[0]),
                B64.encode(&f.params[1]),
                B64.encode(&f.params[2])
            );
        } else {
            let sps = &f.params[0];
            sdp += &format!(
                "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id={:02X}{:02X}{:02X};sprop-parameter-sets={},{}\r\na=control:trackID=0\r\n",
                sps[1],
                sps[2],
                sps[3],
                B64.encode(sps),
                B64.encode(&f.params[1])
            );
        }
        if self.mode != Mode::MjpegOnly {
            sdp += &format!(
                "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/{}/1\r\na=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config={}\r\na=control:trackID=1\r\n",
                f.rate,
                f.asc.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
        }
        sdp += "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=2\r\n";
        sdp
    }

    async fn session(self: Arc<Camera>, stream: TcpStream, n: usize) {
        let (rd, wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        let wr = Arc::new(Mutex::new(wr));
        let mut channels: HashMap<u8, u8> = HashMap::new();
        let mut playing = false;
        while let Some((method, uri, headers)) = read_request(&mut rd).await {
            let cseq = headers.get("cseq").cloned().unwrap_or_default();
            let mut w = wr.lock().await;
            if self.mode == Mode::Garbage {
                let _ = w
                    .write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01\xfe\xff junk\r\n\r\n")
                    .await;
                return;
            }
            if let Some((user, password)) = self.auth {
                let want = format!("Basic {}", B64.encode(format!("{user}:{password}")));
                if headers.get("authorization") != Some(&want) {
                    let _ = w
                        .write_all(
                            format!("RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Basic realm=\"camera\"\r\n\r\n")
                                .as_bytes(),
                        )
                        .await;
                    continue;
                }
            }
            let session = format!("Session: 4F2A;timeout={}\r\n", self.session_timeout);
            let answer = match method.as_str() {
                "OPTIONS" | "GET_PARAMETER" | "SET_PARAMETER" => {
                    if playing {
                        self.keepalives.fetch_add(1, Ordering::SeqCst);
                    }
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n"
                    )
                }
                "DESCRIBE" if !uri.ends_with(self.path) => {
                    format!("RTSP/1.0 404 Not Found\r\nCSeq: {cseq}\r\n\r\n")
                }
                "DESCRIBE" => {
                    let sdp = self.sdp();
                    // A camera behind NAT names its private address.
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Base: rtsp://10.9.9.9{}/\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                        self.path,
                        sdp.len()
                    )
                }
                "SETUP" => {
                    let transport = headers.get("transport").cloned().unwrap_or_default();
                    match transport
                        .split(';')
                        .find_map(|p| p.strip_prefix("interleaved="))
                    {
                        Some(ch) if transport.starts_with("RTP/AVP/TCP") => {
                            let first: u8 = ch.split('-').next().unwrap().parse().unwrap();
                            let track: u8 = uri.rsplit('=').next().unwrap().parse().unwrap();
                            channels.insert(track, first);
                            format!(
                                "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{session}Transport: RTP/AVP/TCP;unicast;interleaved={ch}\r\n\r\n"
                            )
                        }
                        _ => format!("RTSP/1.0 461 Unsupported Transport\r\nCSeq: {cseq}\r\n\r\n"),
                    }
                }
                "PLAY" => {
                    playing = true;
                    let camera = Arc::clone(&self);
                    let (wr, channels) = (Arc::clone(&wr), channels.clone());
                    tokio::spawn(async move { camera.stream(wr, channels, n).await });
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{session}RTP-Info: url=rtsp://10.9.9.9{p}/trackID=0;seq=1;rtptime={VIDEO_BASE},url=rtsp://10.9.9.9{p}/trackID=1;seq=1;rtptime={AUDIO_BASE}\r\n\r\n",
                        p = self.path
                    )
                }
                "TEARDOWN" => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n"),
                _ => format!("RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n\r\n"),
            };
            if w.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// RTP over the connection at `speed`, then a hang-up.
    async fn stream(&self, wr: Arc<Mutex<OwnedWriteHalf>>, channels: HashMap<u8, u8>, n: usize) {
        let units = match self.mode {
            Mode::NoKeyframes => {
                // Ten times over, never a keyframe.
                let one: Vec<Unit> = self
                    .fixture
                    .units
                    .iter()
                    .filter(|u| u.video && !u.keyframe)
                    .cloned()
                    .collect();
                let span = self.fixture.units.last().unwrap().ms + 40;
                (0..10)
                    .flat_map(|i| {
                        one.iter().map(move |u| Unit {
                            ms: u.ms + i * span,
                            ..u.clone()
                        })
                    })
                    .collect()
            }
            _ => (self.plan)(n, &self.fixture.units),
        };
        let origin = units.first().map_or(0, |u| u.ms);
        let started = tokio::time::Instant::now();
        let (mut vseq, mut aseq) = (0u16, 0u16);
        for unit in units {
            let ms = unit.ms - origin;
            if ms < 0 {
                continue;
            }
            tokio::time::sleep_until(started + Duration::from_millis(ms as u64) / self.speed).await;
            let mut out = Vec::new();
            if unit.video {
                let ts = VIDEO_BASE.wrapping_add((ms * 90) as u32);
                let payloads = if self.fixture.hevc {
                    h265_payloads(&unit.data, 1200)
                } else {
                    h264_payloads(&unit.data, 1200)
                };
                let last = payloads.len() - 1;
                for (i, p) in payloads.iter().enumerate() {
                    vseq = vseq.wrapping_add(1);
                    interleave(
                        &mut out,
                        channels[&0],
                        &rtp(96, i == last, vseq, ts, 0x1111, p),
                    );
                }
                self.video_sent.fetch_add(1, Ordering::SeqCst);
            } else if let Some(&ch) = channels.get(&1) {
                let ts = AUDIO_BASE.wrapping_add((ms * i64::from(self.fixture.rate) / 1000) as u32);
                let size = unit.data.len() as u16;
                let mut p = vec![0x00, 0x10, (size >> 5) as u8, ((size & 0x1f) << 3) as u8];
                p.extend_from_slice(&unit.data);
                aseq = aseq.wrapping_add(1);
                interleave(&mut out, ch, &rtp(97, true, aseq, ts, 0x2222, &p));
                self.audio_sent.fetch_add(1, Ordering::SeqCst);
            }
            if wr.lock().await.write_all(&out).await.is_err() {
                return;
            }
        }
        // The camera goes away (a reboot).
        self.streams_done.fetch_add(1, Ordering::SeqCst);
        let _ = wr.lock().await.shutdown().await;
    }
}

/// An RTSP request: method, URI, headers (names lower-cased). Bodies are not expected.
async fn read_request(
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Option<(String, String, HashMap<String, String>)> {
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let uri = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if rd.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        let mut body = vec![0; len];
        rd.read_exact(&mut body).await.ok()?;
    }
    Some((method, uri, headers))
}

/// RFC 6184 payloads of one AVCC access unit: single NAL unit packets, FU-A (5.8) for NAL
/// units longer than `max`.
fn h264_payloads(au: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for nal in nal_units(au) {
        if nal.len() <= max {
            out.push(nal.to_vec());
            continue;
        }
        let chunks: Vec<&[u8]> = nal[1..].chunks(max - 2).collect();
        for (k, chunk) in chunks.iter().enumerate() {
            let start = if k == 0 { 0x80 } else { 0 };
            let end = if k == chunks.len() - 1 { 0x40 } else { 0 };
            let mut p = vec![(nal[0] & 0xe0) | 28, start | end | (nal[0] & 0x1f)];
            p.extend_from_slice(chunk);
            out.push(p);
        }
    }
    out
}

/// RFC 7798 payloads of one HVCC access unit: single NAL unit packets, fragmentation units
/// (4.4.3, type 49) for NAL units longer than `max`.
fn h265_payloads(au: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for nal in nal_units(au) {
        if nal.len() <= max {
            out.push(nal.to_vec());
            continue;
        }
        let kind = (nal[0] >> 1) & 0x3f;
        let chunks: Vec<&[u8]> = nal[2..].chunks(max - 3).collect();
        for (k, chunk) in chunks.iter().enumerate() {
            let start = if k == 0 { 0x80 } else { 0 };
            let end = if k == chunks.len() - 1 { 0x40 } else { 0 };
            let mut p = vec![(nal[0] & 0x81) | (49 << 1), nal[1], start | end | kind];
            p.extend_from_slice(chunk);
            out.push(p);
        }
    }
    out
}

/// The NAL units of a 4-byte-length-prefixed access unit.
fn nal_units(au: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= au.len() {
        let n = u32::from_be_bytes(au[i..i + 4].try_into().unwrap()) as usize;
        out.push(&au[i + 4..i + 4 + n]);
        i += 4 + n;
    }
    out
}

/// An RTP packet (RFC 3550 5.1).
fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// RFC 2326 10.12 interleaved binary data.
fn interleave(out: &mut Vec<u8>, channel: u8, packet: &[u8]) {
    out.push(b'$');
    out.push(channel);
    out.extend_from_slice(&(packet.len() as u16).to_be_bytes());
    out.extend_from_slice(packet);
}

fn world() -> (Arc<MemoryNetwork>, Arc<StreamHub>) {
    MemoryNetwork::with_default_ingest(Arc::new(AllowAll))
}

fn relay(url: &str, net: &Arc<MemoryNetwork>, grace: Duration) -> Relay {
    let mut config = RelayConfig::new(url, DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(net)),
        connect_timeout: Duration::from_secs(2),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(1);
    config.grace = grace;
    Relay::spawn(config).unwrap()
}

async fn failure(relay: Relay) -> RelayError {
    tokio::time::timeout(Duration::from_secs(20), relay.wait())
        .await
        .expect("the relay ends")
        .unwrap_err()
}

/// The first connection: 3 s of the fixture; after the "reboot", from the keyframe at 4 s to
/// the end, on a clock that starts again.
fn reboot_plan(n: usize, units: &[Unit]) -> Vec<Unit> {
    if n == 0 {
        return units.iter().filter(|u| u.ms < 3_000).cloned().collect();
    }
    let from = units
        .iter()
        .position(|u| u.video && u.keyframe && u.ms >= 4_000)
        .unwrap();
    units[from..].to_vec()
}

#[tokio::test]
async fn h264_and_aac_are_relayed_in_one_session_across_a_camera_reboot() {
    let (net, hub) = world();
    let mut camera = Camera::new(Mode::Serve);
    camera.auth = Some(("admin", "p@ss:word"));
    camera.plan = reboot_plan;
    let (camera, addr) = camera.start().await;
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let url = format!("rtsp://admin:p%40ss%3Aword@{addr}/cam/main");
    let relay = relay(&url, &net, Duration::from_secs(10));
    let started = Instant::now();
    let run = async {
        // 0.75 s + reconnect + 1 s of sending at 4× speed.
        while camera.streams_done.load(Ordering::SeqCst) < 2
            && started.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // What the second connection sent reaches the destination (the relay calls the
        // camera again only after its backoff, 0.5 s).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let status = relay.status();
        relay.stop();
        assert_eq!(relay.wait().await, Ok(()));
        status
    };
    let (frames, status) = tokio::join!(observe(&sub, Duration::from_secs(15)), run);
    assert_eq!(status.destination_sessions, 1, "{status:?}");
    assert_eq!(status.source_connections, 2, "{status:?}");
    assert_eq!(
        status.source_transport.as_ref().map(|t| t.protocol),
        Some("rtsp")
    );
    let last = status.last_error.expect("the reboot is recorded").error;
    assert_eq!(
        (last.side, last.kind),
        (Side::Source, ErrorKind::Disconnected),
        "{last}"
    );
    assert!(!format!("{last}").contains("p@ss"), "{last}");
    let (video, audio) = (
        media(&frames, TagType::Video),
        media(&frames, TagType::Audio),
    );
    let sent_video = camera.video_sent.load(Ordering::SeqCst);
    let sent_audio = camera.audio_sent.load(Ordering::SeqCst);
    assert_eq!(video.len(), sent_video, "every video frame");
    assert!(
        audio.len() + 2 >= sent_audio,
        "{} of {sent_audio} audio frames",
        audio.len()
    );
    assert!(video[0].keyframe);
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not strictly increasing"
        );
    }
    // 25 fps: 40 ms apart within each connection, across the 32-bit RTP wrap.
    let steps: Vec<i64> = video.windows(2).map(|w| w[1].dts - w[0].dts).collect();
    assert!(
        steps.iter().filter(|&&s| s == 40).count() >= steps.len() - 2,
        "{steps:?}"
    );
    let configs = frames.iter().filter(|(_, f)| f.config).count();
    assert!(configs >= 2, "AVC and AAC sequence headers");
    assert!(
        (video[0].dts - audio[0].dts).abs() <= 100,
        "A/V start together"
    );
}

#[tokio::test]
async fn h265_is_relayed_as_enhanced_rtmp_with_its_aac() {
    let (net, hub) = world();
    let (camera, addr) = Camera::with(Mode::Serve, hevc_fixture()).start().await;
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let relay = relay(
        &format!("rtsp://{addr}/cam/main"),
        &net,
        Duration::from_secs(10),
    );
    let run = async {
        while camera.streams_done.load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        relay.stop();
        assert_eq!(relay.wait().await, Ok(()));
    };
    let (frames, ()) = tokio::join!(observe(&sub, Duration::from_secs(15)), run);
    let video = media(&frames, TagType::Video);
    assert_eq!(video.len(), camera.video_sent.load(Ordering::SeqCst));
    assert_eq!(video.len(), 50, "two seconds at 25 fps");
    let audio = media(&frames, TagType::Audio);
    assert!(audio.len() + 2 >= camera.audio_sent.load(Ordering::SeqCst));
    // Enhanced RTMP: the hvcC as SequenceStart, frames as CodedFramesX (no B-frames).
    let config = frames
        .iter()
        .map(|(_, f)| f)
        .find(|f| f.kind == TagType::Video && f.config)
        .expect("a video sequence header");
    assert_eq!(&config.payload[..5], b"\x90hvc1");
    let header = parse_video_tag_header(&config.payload).unwrap();
    assert_eq!(header.codec, VideoCodec::Hevc);
    assert_eq!(
        hvcc_params(&config.payload[header.payload_offset..]),
        camera.fixture.params
    );
    assert!(video[0].keyframe && video[0].payload.starts_with(b"\x93hvc1"));
    assert!(
        video[1..]
            .iter()
            .all(|f| f.payload.starts_with(b"\xa3hvc1") || f.keyframe)
    );
    let steps: Vec<i64> = video.windows(2).map(|w| w[1].dts - w[0].dts).collect();
    assert!(steps.iter().all(|&s| s == 40), "{steps:?}");
}

#[tokio::test]
async fn credentials_wrong_or_missing_are_a_named_refusal() {
    let (net, _hub) = world();
    let mut camera = Camera::new(Mode::Serve);
    camera.auth = Some(("admin", "right"));
    let (_camera, addr) = camera.start().await;
    let started = Instant::now();
    let e = failure(relay(
        &format!("rtsp://admin:wrong-one@{addr}/cam/main"),
        &net,
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(
        (e.side, e.kind, e.retryable),
        (Side::Source, ErrorKind::Refused, false),
        "{e}"
    );
    assert!(
        e.message
            .contains("credentials in the URL were refused (401"),
        "{e}"
    );
    assert!(!e.message.contains("wrong-one"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "not retried");
    let e = failure(relay(
        &format!("rtsp://{addr}/cam/main"),
        &net,
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(
        e.message
            .contains("asks for credentials and the URL has none"),
        "{e}"
    );
}

#[tokio::test]
async fn a_path_the_camera_does_not_have_is_not_found_and_retried_within_the_grace() {
    let (net, _hub) = world();
    let (camera, addr) = Camera::new(Mode::Serve).start().await;
    let e = failure(relay(
        &format!("rtsp://{addr}/cam/other"),
        &net,
        Duration::from_secs(2),
    ))
    .await;
    assert_eq!(
        (e.side, e.kind, e.retryable),
        (Side::Source, ErrorKind::NotFound, true),
        "{e}"
    );
    assert!(
        e.message.contains("no stream at this path (404 Not Found)"),
        "{e}"
    );
    assert!(camera.connections.load(Ordering::SeqCst) >= 2, "retried");
}

#[tokio::test]
async fn garbage_a_refused_transport_and_a_closed_port_are_named() {
    let (net, _hub) = world();
    let (_garbage, addr) = Camera::new(Mode::Garbage).start().await;
    let e = failure(relay(
        &format!("rtsp://{addr}/cam/main"),
        &net,
        Duration::from_secs(1),
    ))
    .await;
    assert_eq!((e.side, e.kind), (Side::Source, ErrorKind::Protocol), "{e}");
    assert!(e.message.contains("sent what Baton cannot read"), "{e}");
    // The camera serves TCP only: 461 is a refusal, not retried.
    let (_camera, addr) = Camera::new(Mode::Serve).start().await;
    let e = failure(relay(
        &format!("rtsp://{addr}/cam/main?transport=udp"),
        &net,
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!((e.kind, e.retryable), (ErrorKind::Refused, false), "{e}");
    assert!(e.message.contains("461"), "{e}");
    // Nothing listens: retried, then the grace period ends it.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = failure(relay(
        &format!("rtsp://127.0.0.1:{port}/cam"),
        &net,
        Duration::from_secs(1),
    ))
    .await;
    assert_eq!((e.kind, e.retryable), (ErrorKind::Connect, true), "{e}");
}

#[tokio::test]
async fn a_camera_without_h264_or_h265_video_is_refused_naming_its_streams() {
    let (net, _hub) = world();
    let (_camera, addr) = Camera::new(Mode::MjpegOnly).start().await;
    let e = failure(relay(
        &format!("rtsp://{addr}/cam/main"),
        &net,
        Duration::from_secs(10),
    ))
    .await;
    assert_eq!(
        (e.kind, e.retryable),
        (ErrorKind::Unsupported, false),
        "{e}"
    );
    assert!(
        e.message.contains("video jpeg/90000, audio pcma/8000"),
        "{e}"
    );
}

fn url(addr: SocketAddr) -> RtspUrl {
    RtspUrl::parse(&format!("rtsp://{addr}/cam/main")).unwrap()
}

#[tokio::test]
async fn video_without_a_keyframe_fails_named_after_the_limit() {
    let (_camera, addr) = Camera::new(Mode::NoKeyframes).start().await;
    let limits = RtspLimits {
        no_keyframe: Duration::from_millis(800),
        ..RtspLimits::default()
    };
    let mut conn = RtspConnection::connect_with(
        &url(addr),
        &Egress::unrestricted(),
        Duration::from_secs(2),
        limits,
    )
    .await
    .unwrap();
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(5), conn.next_frame())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(e, RtspError::NoKeyframe { dropped, .. } if dropped > 5),
        "{e}"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(baton_relay::rtsp::from_rtsp(&e).kind, ErrorKind::Timeout);
}

#[tokio::test]
async fn keepalives_hold_a_session_longer_than_its_timeout_and_other_streams_are_noted() {
    let mut camera = Camera::new(Mode::Serve);
    camera.speed = 1;
    camera.session_timeout = 2;
    let (camera, addr) = camera.start().await;
    let mut conn =
        RtspConnection::connect(&url(addr), &Egress::unrestricted(), Duration::from_secs(2))
            .await
            .unwrap();
    let notes = conn.take_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("audio pcma/8000): not relayed"),
        "{notes:?}"
    );
    let started = Instant::now();
    let mut frames = 0;
    while started.elapsed() < Duration::from_millis(3_500) {
        conn.next_frame().await.unwrap();
        frames += 1;
    }
    // retina keeps alive every half timeout: 1 s.
    let keepalives = camera.keepalives.load(Ordering::SeqCst);
    assert!(keepalives >= 2, "{keepalives} keep-alives");
    assert!(frames > 200, "{frames} frames");
    assert!(conn.bytes_in() > 10_000);
}

#[tokio::test]
async fn the_camera_is_reached_only_where_the_accounts_egress_allows() {
    use baton_net::egress::EgressPolicy;
    let (camera, addr) = Camera::new(Mode::Serve).start().await;
    let policy = Arc::new(EgressPolicy::new(
        Some("root"),
        Default::default(),
        Default::default(),
    ));
    // A tenant may not reach loopback: refused before anything is sent.
    let tenant = Egress::new(Arc::clone(&policy), "acme");
    let e = RtspConnection::connect(&url(addr), &tenant, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, RtspError::EgressDenied(m) if m.contains("loopback")),
        "{e}"
    );
    assert!(!e.is_retryable());
    // Nor receive RTP over UDP, wherever the camera is.
    let udp = RtspUrl::parse("rtsp://cam.example/s?transport=udp").unwrap();
    let e = RtspConnection::connect(&udp, &tenant, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, RtspError::EgressDenied(m) if m.contains("over UDP")),
        "{e}"
    );
    assert_eq!(camera.connections.load(Ordering::SeqCst), 0);
    // The root account may reach it: connected to the address checked.
    let root = Egress::new(policy, "root");
    let conn = RtspConnection::connect(&url(addr), &root, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(conn.peer(), addr);
    assert_eq!(camera.connections.load(Ordering::SeqCst), 1);
}

/// Bytes changed at random: a few flipped, a piece cut off, or garbage inserted.
fn mutate(bytes: &mut Vec<u8>, rng: &mut rand::rngs::StdRng) {
    use rand::Rng;
    if bytes.is_empty() {
        return;
    }
    match rng.random_range(0..3) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
        }
        1 => bytes.truncate(rng.random_range(0..bytes.len())),
        _ => {
            let at = rng.random_range(0..bytes.len());
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            bytes.splice(at..at, junk);
        }
    }
}

/// A camera that follows the script of a good one (DESCRIBE, SETUP ×2, PLAY, then RTP) with
/// one step's bytes mutated (`step` 0–3; 4: none), then hangs up.
async fn mutated_camera(
    listener: TcpListener,
    sdp: String,
    fixture: Arc<Fixture>,
    step: u32,
    seed: u64,
) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Ok((stream, _)) = listener.accept().await else {
        return;
    };
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut setups = 0;
    // A client that waits for the rest of a truncated answer is hung up on soon.
    while let Ok(Some((method, uri, headers))) =
        tokio::time::timeout(Duration::from_millis(200), read_request(&mut rd)).await
    {
        let cseq = headers.get("cseq").cloned().unwrap_or_default();
        let (answer, kind) = match method.as_str() {
            "DESCRIBE" => (
                format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Base: {uri}/\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                ),
                0,
            ),
            "SETUP" => {
                let ch = setups * 2;
                setups += 1;
                (
                    format!(
                        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 77;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved={ch}-{}\r\n\r\n",
                        ch + 1
                    ),
                    1,
                )
            }
            "PLAY" => (
                format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: 77\r\nRTP-Info: url={uri}trackID=0;seq=1;rtptime=0\r\n\r\n"
                ),
                2,
            ),
            _ => (format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n"), 9),
        };
        let mut bytes = answer.into_bytes();
        if kind == step {
            mutate(&mut bytes, &mut rng);
        }
        if kind == 2 {
            let (mut vseq, mut aseq) = (0u16, 0u16);
            for unit in fixture.units.iter().take(60) {
                let mut packet = Vec::new();
                if unit.video {
                    let payloads = h264_payloads(&unit.data, 1200);
                    let last = payloads.len() - 1;
                    for (i, p) in payloads.iter().enumerate() {
                        vseq = vseq.wrapping_add(1);
                        let ts = (unit.ms * 90) as u32;
                        interleave(&mut packet, 0, &rtp(96, i == last, vseq, ts, 1, p));
                    }
                } else {
                    let size = unit.data.len() as u16;
                    let mut p = vec![0x00, 0x10, (size >> 5) as u8, ((size & 0x1f) << 3) as u8];
                    p.extend_from_slice(&unit.data);
                    aseq = aseq.wrapping_add(1);
                    let ts = (unit.ms * 48) as u32;
                    interleave(&mut packet, 2, &rtp(97, true, aseq, ts, 2, &p));
                }
                if step == 3 && rng.random_ratio(1, 8) {
                    mutate(&mut packet, &mut rng);
                }
                bytes.extend_from_slice(&packet);
            }
        }
        if wr.write_all(&bytes).await.is_err() || kind == 2 {
            // After the media, the camera hangs up.
            return;
        }
    }
}

#[tokio::test]
async fn mutated_answers_and_rtp_are_errors_never_panics() {
    use rand::{Rng, SeedableRng};
    let fixture = fixture();
    let sdp = Camera::new(Mode::Serve).sdp();
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let (mut connected, mut failed, mut frames) = (0, 0, 0);
    for _ in 0..200 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (step, seed) = (rng.random_range(0..5), rng.random());
        let camera = tokio::spawn(mutated_camera(
            listener,
            sdp.clone(),
            Arc::clone(&fixture),
            step,
            seed,
        ));
        let attempt = async {
            match RtspConnection::connect(
                &url(addr),
                &Egress::unrestricted(),
                Duration::from_secs(1),
            )
            .await
            {
                Ok(mut conn) => {
                    connected += 1;
                    while let Ok(Ok(_)) =
                        tokio::time::timeout(Duration::from_millis(300), conn.next_frame()).await
                    {
                        frames += 1;
                    }
                }
                Err(_) => failed += 1,
            }
        };
        tokio::time::timeout(Duration::from_secs(3), attempt)
            .await
            .expect("bounded");
        camera.abort();
    }
    eprintln!("{connected} sessions played ({frames} frames), {failed} refused");
    assert!(connected > 20 && failed > 20, "{connected} / {failed}");
}
