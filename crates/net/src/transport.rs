//! Byte-stream transports behind one interface, so that client connections can run over TCP
//! and in-memory pipes in tests (where paused tokio time drives every timeout, backoff and
//! grace period deterministically). TLS (`rtmps://`) is layered on whatever stream a dialer
//! opens, by the client ([`crate::tls`]), so the egress check and the tests' pipes apply to
//! it unchanged.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The read half of a connection.
pub type BoxReader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection.
pub type BoxWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// A future returned by [`Dialer::dial`].
pub type DialFuture = Pin<Box<dyn Future<Output = io::Result<(BoxReader, BoxWriter)>> + Send>>;

/// Opens byte streams to `host:port`.
pub trait Dialer: Send + Sync + std::fmt::Debug + 'static {
    fn dial(&self, host: &str, port: u16) -> DialFuture;
}

/// Plain TCP with `TCP_NODELAY` (RTMP messages are latency-sensitive and already batched).
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpDialer;

impl Dialer for TcpDialer {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        let target = host_port(host, port);
        Box::pin(async move {
            let socket = TcpStream::connect(target).await?;
            let _ = socket.set_nodelay(true);
            let (r, w) = socket.into_split();
            Ok((Box::new(r) as BoxReader, Box::new(w) as BoxWriter))
        })
    }
}

/// `host:port` for `TcpStream::connect`, bracketing IPv6 literals.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_literals_are_bracketed() {
        assert_eq!(host_port("::1", 1935), "[::1]:1935");
        assert_eq!(host_port("[::1]", 1935), "[::1]:1935");
        assert_eq!(host_port("example.com", 1935), "example.com:1935");
    }
}
