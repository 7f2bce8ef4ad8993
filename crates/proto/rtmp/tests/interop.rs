//! Interoperability with real peers over loopback: ffmpeg (publisher, player, `-listen 1`
//! server both ways), rtmpdump (librtmp, which verifies the server's handshake digests) and
//! nginx-rtmp. Ignored by default because they need those programs; run with
//!
//! ```text
//! cargo test -p baton-rtmp --test interop -- --ignored --test-threads=1
//! ```
//!
//! The sessions are driven by a small blocking loop here: the crate itself does no I/O.
//! Every wait is bounded and every child process is killed by its own handle.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_rtmp::{
    ClientConfig, ClientEvent, ClientMode, ClientSession, MediaKind, RtmpUrl, ServerConfig,
    ServerEvent, ServerSession, SessionError,
};
use bytes::Bytes;

type Media = Vec<(MediaKind, u32, Bytes)>;

trait Session {
    fn input(&mut self, data: &[u8]) -> Result<(), SessionError>;
    fn output(&mut self) -> Option<Bytes>;
}

impl Session for ServerSession {
    fn input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        self.handle_input(data)
    }
    fn output(&mut self) -> Option<Bytes> {
        self.take_output()
    }
}

impl Session for ClientSession {
    fn input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        self.handle_input(data)
    }
    fn output(&mut self) -> Option<Bytes> {
        self.take_output()
    }
}

/// A session on a socket.
struct Link<S> {
    sock: TcpStream,
    session: S,
    open: bool,
}

impl<S: Session> Link<S> {
    fn new(sock: TcpStream, session: S) -> Link<S> {
        sock.set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        sock.set_nodelay(true).unwrap();
        Link {
            sock,
            session,
            open: true,
        }
    }

    /// Writes queued output, reads what is there.
    fn pump(&mut self) {
        if !self.open {
            return;
        }
        while let Some(bytes) = self.session.output() {
            if self.sock.write_all(&bytes).is_err() {
                self.open = false;
                return;
            }
        }
        let mut buf = [0u8; 16 * 1024];
        match self.sock.read(&mut buf) {
            Ok(0) => self.open = false,
            Ok(n) => self
                .session
                .input(&buf[..n])
                .expect("peer bytes are valid RTMP"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => self.open = false,
        }
    }

    fn close(&mut self) {
        self.pump();
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        self.open = false;
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn spawn(program: &str, args: &[&str]) -> Proc {
        Proc(
            Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{program}: {e}")),
        )
    }

    /// Waits for the exit status, at most `limit`.
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-rtmp-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn accept(l: &TcpListener, limit: Duration) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection in {limit:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn connect(port: u16, limit: Duration) -> TcpStream {
    let deadline = Instant::now() + limit;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("connect to {port}: {e}"),
        }
    }
}

const SOURCE: &[&str] = &[
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=320x240:rate=25",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=44100",
    "-t",
    "3",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "25",
    "-c:a",
    "aac",
    "-f",
    "flv",
];

/// Runs a server session accepting everything until the publisher leaves; returns its media.
fn serve_publisher(l: &TcpListener) -> (Media, bool) {
    let mut link = Link::new(
        accept(l, Duration::from_secs(10)),
        ServerSession::new(ServerConfig::default(), 7, Instant::now()),
    );
    let mut media = Vec::new();
    let mut finished = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while link.open && Instant::now() < deadline {
        link.pump();
        while let Some(event) = link.session.poll_event() {
            match event {
                ServerEvent::ConnectRequested {
                    request_id, app, ..
                } => {
                    assert_eq!(app, "live");
                    link.session.accept_connect(request_id).unwrap();
                }
                ServerEvent::PublishRequested {
                    request_id,
                    stream_name,
                    query,
                    ..
                } => {
                    assert_eq!(stream_name, "key");
                    assert_eq!(query.as_deref(), Some("tok=1"));
                    link.session.accept_publish(request_id).unwrap();
                }
                ServerEvent::Media {
                    kind,
                    timestamp,
                    payload,
                    ..
                } => media.push((kind, timestamp, payload)),
                ServerEvent::PublishFinished { .. } => finished = true,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (media, finished)
}

fn check_media(media: &Media) {
    let (meta, _, first) = &media[0];
    assert_eq!(*meta, MediaKind::Data);
    assert!(
        first.starts_with(b"\x02\x00\x0aonMetaData"),
        "metadata first"
    );
    let videos: Vec<&Bytes> = media
        .iter()
        .filter(|m| m.0 == MediaKind::Video)
        .map(|m| &m.2)
        .collect();
    let audios = media.iter().filter(|m| m.0 == MediaKind::Audio).count();
    assert_eq!(&videos[0][..2], &[0x17, 0x00], "AVC sequence header first");
    assert!(videos.len() >= 70, "{} video messages", videos.len());
    assert!(audios >= 100, "{audios} audio messages");
}

/// ffmpeg publishes 3 s of H.264/AAC to our server.
fn record_from_ffmpeg() -> Media {
    let (l, port) = listener();
    let url = format!("rtmp://127.0.0.1:{port}/live/key?tok=1");
    let mut args = SOURCE.to_vec();
    args.push(&url);
    let mut ffmpeg = Proc::spawn("ffmpeg", &args);
    let (media, finished) = serve_publisher(&l);
    assert!(ffmpeg.wait(Duration::from_secs(30)).success());
    assert!(finished, "FCUnpublish/deleteStream reported");
    check_media(&media);
    media
}

fn probe_streams(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Serves recorded media to one player, then tells it the publisher left.
fn serve_player(l: &TcpListener, media: &Media) {
    let mut link = Link::new(
        accept(l, Duration::from_secs(10)),
        ServerSession::new(ServerConfig::default(), 8, Instant::now()),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut playing = None;
    let mut sent = false;
    while link.open && Instant::now() < deadline {
        link.pump();
        while let Some(event) = link.session.poll_event() {
            match event {
                ServerEvent::ConnectRequested { request_id, .. } => {
                    link.session.accept_connect(request_id).unwrap()
                }
                ServerEvent::PlayRequested {
                    request_id,
                    stream_id,
                    stream_name,
                    ..
                } => {
                    assert_eq!(stream_name, "key");
                    link.session.accept_play(request_id).unwrap();
                    playing = Some(stream_id);
                }
                ServerEvent::PlayFinished { .. } => link.open = false,
                _ => {}
            }
        }
        if let (Some(sid), false) = (playing, sent) {
            for (kind, ts, payload) in media {
                link.session.send_media(sid, *kind, *ts, payload).unwrap();
            }
            link.session.send_unpublish_notify(sid).unwrap();
            sent = true;
        }
    }
    link.close();
}

#[test]
#[ignore = "needs ffmpeg"]
fn ffmpeg_publishes_to_our_server() {
    record_from_ffmpeg();
}

#[test]
#[ignore = "needs ffmpeg"]
fn ffmpeg_plays_from_our_server() {
    // ffmpeg as a player verifies the server's digest S1 and S2.
    let media = record_from_ffmpeg();
    let (l, port) = listener();
    let out = tmp("ffmpeg_play.flv");
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let out_s = out.to_str().unwrap();
    let mut ffmpeg = Proc::spawn(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            &url,
            "-c",
            "copy",
            "-f",
            "flv",
            out_s,
        ],
    );
    serve_player(&l, &media);
    assert!(ffmpeg.wait(Duration::from_secs(30)).success());
    assert_eq!(probe_streams(&out), "h264\naac\n");
}

#[test]
#[ignore = "needs ffmpeg and rtmpdump"]
fn rtmpdump_plays_from_our_server() {
    let media = record_from_ffmpeg();
    let (l, port) = listener();
    let out = tmp("rtmpdump.flv");
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let mut dump = Proc::spawn(
        "rtmpdump",
        &["-q", "--live", "-r", &url, "-o", out.to_str().unwrap()],
    );
    serve_player(&l, &media);
    let _ = dump.wait(Duration::from_secs(30));
    assert_eq!(probe_streams(&out), "h264\naac\n");
}

/// Publishes recorded media through our client on `sock`; returns after a clean close.
fn publish(sock: TcpStream, url: &str, media: &Media) {
    let config = ClientConfig::default_for(RtmpUrl::parse(url).unwrap(), ClientMode::Publish);
    let mut link = Link::new(sock, ClientSession::new(config, 9, Instant::now()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = false;
    while link.open && Instant::now() < deadline {
        link.pump();
        while let Some(event) = link.session.poll_event() {
            match event {
                ClientEvent::Publishing => {
                    for (kind, ts, payload) in media {
                        link.session.send_media(*kind, *ts, payload).unwrap();
                    }
                    link.session.close();
                    sent = true;
                }
                ClientEvent::Rejected { .. } => panic!("{event:?}"),
                _ => {}
            }
        }
        if sent {
            link.close();
        }
    }
    assert!(sent, "published");
}

#[test]
#[ignore = "needs ffmpeg"]
fn our_client_publishes_to_ffmpeg_listen() {
    let media = record_from_ffmpeg();
    let (l, port) = listener();
    drop(l); // free the port for ffmpeg
    let out = tmp("listen_in.flv");
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let mut ffmpeg = Proc::spawn(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-listen",
            "1",
            "-i",
            &url,
            "-c",
            "copy",
            "-f",
            "flv",
            out.to_str().unwrap(),
        ],
    );
    publish(connect(port, Duration::from_secs(10)), &url, &media);
    assert!(ffmpeg.wait(Duration::from_secs(30)).success());
    assert_eq!(probe_streams(&out), "h264\naac\n");
}

/// Plays `url` through our client on `sock` until the stream ends or the server closes.
fn play(sock: TcpStream, url: &str) -> Media {
    let config = ClientConfig::default_for(RtmpUrl::parse(url).unwrap(), ClientMode::Play);
    let mut link = Link::new(sock, ClientSession::new(config, 10, Instant::now()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut media = Vec::new();
    while link.open && Instant::now() < deadline {
        link.pump();
        while let Some(event) = link.session.poll_event() {
            match event {
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => media.push((kind, timestamp, payload)),
                ClientEvent::StreamEnded { .. } => link.open = false,
                ClientEvent::Rejected { .. } => panic!("{event:?}"),
                _ => {}
            }
        }
    }
    media
}

#[test]
#[ignore = "needs ffmpeg"]
fn our_client_plays_from_ffmpeg_listen() {
    let (l, port) = listener();
    drop(l);
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    let mut args = SOURCE.to_vec();
    args.extend(["-listen", "1", url.as_str()]);
    let mut ffmpeg = Proc::spawn("ffmpeg", &args);
    let media = play(connect(port, Duration::from_secs(10)), &url);
    let _ = ffmpeg.wait(Duration::from_secs(30));
    assert!(media.iter().filter(|m| m.0 == MediaKind::Video).count() >= 70);
    assert!(media.iter().any(|m| m.0 == MediaKind::Audio));
}

#[test]
#[ignore = "needs ffmpeg and nginx with the RTMP module"]
fn nginx_relays_between_our_client_sessions() {
    let media = record_from_ffmpeg();
    let (l, port) = listener();
    drop(l);
    let prefix = tmp("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n\
             daemon off; master_process off; pid {pid};\n\
             error_log {log} info;\n\
             events {{}}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4000;\n\
               application live {{ live on; wait_key on; }} }} }}\n",
            pid = prefix.join("nginx.pid").display(),
            log = prefix.join("logs/error.log").display(),
        ),
    )
    .unwrap();
    let _nginx = Proc::spawn(
        "nginx",
        &["-p", prefix.to_str().unwrap(), "-c", conf.to_str().unwrap()],
    );
    let url = format!("rtmp://127.0.0.1:{port}/live/key");

    // A player first, then the publisher, interleaved on one thread.
    let player_config = ClientConfig::default_for(RtmpUrl::parse(&url).unwrap(), ClientMode::Play);
    let mut player = Link::new(
        connect(port, Duration::from_secs(10)),
        ClientSession::new(player_config, 1, Instant::now()),
    );
    let publisher_config =
        ClientConfig::default_for(RtmpUrl::parse(&url).unwrap(), ClientMode::Publish);
    let mut publisher = Link::new(
        connect(port, Duration::from_secs(10)),
        ClientSession::new(publisher_config, 2, Instant::now()),
    );
    let mut got = Vec::new();
    let mut ended = false;
    let mut playing = false;
    let mut next = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ended && Instant::now() < deadline {
        player.pump();
        publisher.pump();
        while let Some(e) = player.session.poll_event() {
            match e {
                ClientEvent::Playing => playing = true,
                ClientEvent::Media {
                    kind,
                    timestamp,
                    payload,
                } => got.push((kind, timestamp, payload)),
                ClientEvent::StreamEnded { .. } => ended = true,
                ClientEvent::Rejected { .. } => panic!("player {e:?}"),
                _ => {}
            }
        }
        while let Some(e) = publisher.session.poll_event() {
            assert!(
                !matches!(e, ClientEvent::Rejected { .. }),
                "publisher {e:?}"
            );
        }
        // Publish once the player waits, a few messages per turn.
        if playing && publisher.session.state() == baton_rtmp::ClientState::Publishing {
            for (kind, ts, payload) in media.iter().skip(next).take(8) {
                publisher.session.send_media(*kind, *ts, payload).unwrap();
                next += 1;
            }
            if next == media.len() {
                publisher.session.close();
                publisher.close();
            }
        }
    }
    assert!(ended, "the player saw the end of the stream");
    let videos = got.iter().filter(|m| m.0 == MediaKind::Video).count();
    assert!(videos >= 70, "{videos} video messages relayed");
    assert!(
        got.iter()
            .any(|m| m.0 == MediaKind::Data && m.2.starts_with(b"\x02\x00\x0aonMetaData"))
    );
}
