//! The HTTP listener's limits over loopback (issue 11 §6): a connection cap that refuses the
//! surplus without touching the connections it has or another listener, slowloris and idle
//! sockets closed after the header timeout, and a long response kept while bytes flow.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use baton_net::http_listener::{HttpLimits, serve};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

fn router() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        .route(
            "/stream",
            get(|| async {
                // 12 chunks, one every 100 ms: 1.2 s, four times the idle timeout.
                let chunks = futures_util::stream::unfold(0u32, |n| async move {
                    if n == 12 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1000])),
                        n + 1,
                    ))
                });
                Body::from_stream(chunks)
            }),
        )
}

async fn start(limits: HttpLimits, cancel: &CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, router(), limits, cancel.clone()));
    addr
}

/// A complete GET on a new connection; the whole response, or `None` if the connection
/// ended without one within 2 s.
async fn get_once(addr: SocketAddr, path: &str) -> Option<String> {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// Whether the server closed `s` (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test]
async fn the_cap_refuses_new_connections_not_existing_ones_or_other_listeners() {
    let cancel = CancellationToken::new();
    let limits = HttpLimits {
        max_connections: 4,
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
    };
    let flooded = start(limits, &cancel).await;
    let other = start(limits, &cancel).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(flooded).await.unwrap());
    }
    // Let the server accept them all before the surplus arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut surplus = Vec::new();
    for _ in 0..20 {
        surplus.push(TcpStream::connect(flooded).await.unwrap());
    }
    for s in &mut surplus {
        assert!(
            closed_within(s, Duration::from_secs(2)).await,
            "a connection beyond the cap is closed at once"
        );
    }
    assert_eq!(get_once(flooded, "/healthz").await, None, "the cap holds");
    // The other listener is untouched.
    let answer = get_once(other, "/peer")
        .await
        .expect("the other listener answers");
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("127.0.0.1"),
        "{answer}"
    );
    // A held connection still works.
    let s = &mut idle[0];
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Freed slots are used again.
    idle.truncate(1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(get_once(flooded, "/healthz").await.is_some());
    cancel.cancel();
}

#[tokio::test]
async fn slowloris_and_idle_sockets_are_closed_after_the_header_timeout() {
    let cancel = CancellationToken::new();
    let limits = HttpLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_secs(30),
    };
    let addr = start(limits, &cancel).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        // A header line every 100 ms never completes the request in time.
        for i in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow
                .write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    };
    trickle.await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(1)).await,
        "slowloris"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(1)).await,
        "silent"
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    // Kept-alive but idle after a response: closed too.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut kept, Duration::from_secs(2)).await,
        "idle keep-alive"
    );
    // A prompt request is served.
    assert!(get_once(addr, "/healthz").await.is_some());
    cancel.cancel();
}

#[tokio::test]
async fn a_response_that_keeps_flowing_outlives_the_idle_timeout() {
    let cancel = CancellationToken::new();
    let limits = HttpLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_millis(300),
    };
    let addr = start(limits, &cancel).await;
    let body = get_once_long(addr, "/stream").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert_eq!(body.matches('x').count(), 12_000, "every chunk arrived");
    cancel.cancel();
}

async fn get_once_long(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
