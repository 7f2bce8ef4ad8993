//! Issue 11 §6 end to end: the real `baton serve` under a low open-file limit (`ulimit -n`),
//! its control API flooded with idle and slowloris sockets. RTMP ingest and HTTP-FLV keep
//! answering (the flood ends at the API listener's own cap, the caps fitted under the fd
//! limit), the flood's sockets are closed after the header timeout, and `/healthz` answers
//! again.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_baton");
/// The open-file limit (soft and hard) the server runs under.
const FD_LIMIT: u32 = 600;
/// Sockets the flood opens: more than the whole fd limit.
const FLOOD: usize = 700;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- baton serve log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// The RTMP listener answers a handshake: C0 C1 in, S0 S1 out.
fn rtmp_answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut c0c1 = vec![3u8];
    c0c1.extend(std::iter::repeat_n(0u8, 1536));
    if s.write_all(&c0c1).is_err() {
        return false;
    }
    let mut s0s1 = [0u8; 1537];
    s.read_exact(&mut s0s1).is_ok() && s0s1[0] == 3
}

/// The HTTP-FLV listener answers (404: nothing is published there).
fn http_flv_answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /live/none.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 404")
}

#[test]
fn an_api_flood_neither_starves_ingest_nor_playback_and_is_closed() {
    let dir = std::env::temp_dir().join(format!("baton-listeners-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (api, rtmp, play) = (free_port(), free_port(), free_port());
    let config = dir.join("baton.toml");
    std::fs::write(
        &config,
        "[http]\nheader_read_timeout = \"1s\"\n[ingest]\nhttp_flv_wait = \"1s\"\n",
    )
    .unwrap();
    let log = dir.join("serve.log");
    let script = format!(
        "ulimit -n {FD_LIMIT} && exec \"$0\" serve --config {} --data-dir {} --api-listen 127.0.0.1:{api} --rtmp-listen 127.0.0.1:{rtmp} --play-listen 127.0.0.1:{play}",
        config.display(),
        dir.join("data").display()
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(BIN)
        .env("BATON_LOG", "info")
        .env_remove("BATON_CONFIG")
        .env_remove("BATON_DATA_DIR")
        .env_remove("BATON_ACCESS_KEY_ID")
        .env_remove("BATON_ACCESS_KEY_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
        ));
    let server = Server {
        child: cmd.spawn().unwrap(),
        dir: dir.clone(),
        log: log.clone(),
    };
    let addr = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().unwrap() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthz(addr(api)) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The flood: idle sockets, and slowloris ones that send half a request.
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let Ok(mut s) = TcpStream::connect_timeout(&addr(api), Duration::from_secs(1)) else {
            continue;
        };
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ");
        }
        flood.push(s);
    }
    assert!(
        flood.len() > FD_LIMIT as usize,
        "the flood got {} sockets",
        flood.len()
    );
    // Ingest and playback answer during the flood.
    assert!(rtmp_answers(addr(rtmp)), "RTMP ingest starved");
    assert!(http_flv_answers(addr(play)), "HTTP-FLV starved");

    // The flood's sockets the server held are closed after the header timeout (1 s) …
    let started = Instant::now();
    let mut open = 0;
    for s in &mut flood {
        let _ = s.set_read_timeout(Some(Duration::from_millis(2500)));
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Ok(_) => open += 1,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                open += 1
            }
            Err(_) => {} // reset: closed
        }
    }
    assert_eq!(open, 0, "flood sockets still open after the header timeout");
    assert!(started.elapsed() < Duration::from_secs(20));
    // … while the client still holds them: the API answers again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !healthz(addr(api)) {
        assert!(Instant::now() < deadline, "/healthz did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rtmp_answers(addr(rtmp)));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("connection caps"), "{log_text}");
    drop(flood);
    drop(server);
}
