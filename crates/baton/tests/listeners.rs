//! Issue 11 §6 end to end: the real `baton serve` under a low open-file limit (`ulimit -n`),
//! its control API flooded with idle and slowloris sockets. RTMP ingest and HTTP-FLV keep
//! answering (the flood ends at the API listener's own cap, the caps fitted under the fd
//! limit), the flood's sockets are closed after the header timeout, and `/healthz` answers
//! again.

#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{Serve, TempDir, get, wait_until};

/// The open-file limit (soft and hard) the server runs under.
const FD_LIMIT: u32 = 600;
/// Sockets the flood opens: more than the whole fd limit.
const FLOOD: usize = 700;

fn healthz(addr: &str) -> bool {
    get(addr, "/healthz", None).0 == 200
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
fn http_flv_answers(addr: &str) -> bool {
    get(addr, "/live/none.flv", None).0 == 404
}

#[test]
fn an_api_flood_neither_starves_ingest_nor_playback_and_is_closed() {
    let dir = TempDir::new("listeners");
    let config = dir.0.join("baton.toml");
    std::fs::write(
        &config,
        "[http]\nheader_read_timeout = \"1s\"\n[ingest]\nhttp_flv_wait = \"1s\"\n",
    )
    .unwrap();
    let server = Serve {
        data_dir: Some(&dir.0.join("data")),
        args: &["--config", config.to_str().expect("UTF-8 temp dir")],
        fd_limit: Some(FD_LIMIT),
        ..Serve::default()
    }
    .start();
    let (api, rtmp, play) = (&server.api, &server.rtmp, &server.play);
    let addr = |a: &str| -> SocketAddr { a.parse().unwrap() };

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
    assert!(http_flv_answers(play), "HTTP-FLV starved");

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
    wait_until(Duration::from_secs(5), "/healthz did not come back", || {
        healthz(api)
    });
    assert!(rtmp_answers(addr(rtmp)));
    let log_text = server.stderr();
    assert!(log_text.contains("connection caps"), "{log_text}");
    drop(flood);
    drop(server);
}
