//! A minimal HTTP/1.1 client for the benchmarks: one keep-alive connection, one request in
//! flight, Content-Length bodies — so the load generator costs little of the cores it shares
//! with the server.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A keep-alive HTTP/1.1 connection, one request at a time.
pub struct Http {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> Result<Http> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            host: addr.to_string(),
            buf: Vec::with_capacity(4096),
        })
    }

    /// `GET /?query`: status and body.
    pub async fn get(&mut self, query: &str) -> Result<(u16, String)> {
        let request = format!("GET /?{query} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.exchange(request).await
    }

    pub async fn exchange(&mut self, request: String) -> Result<(u16, String)> {
        self.stream.write_all(request.as_bytes()).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the connection");
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("response head")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .context("no Content-Length")?;
        while self.buf.len() < head_end + length {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the connection mid-body");
            }
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + length]).into_owned();
        Ok((status, body))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
