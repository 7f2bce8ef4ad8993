//! Random-access reads of media files over HTTP(S) range requests or from local disk, for
//! playlists: box headers and `moov` by offset, then samples in roughly increasing offsets.
//!
//! Never the whole file in memory: [`HttpFile`] keeps one streaming response open from the
//! current position and a bounded window of the bytes it has read, so the small back-and-forth
//! of interleaved audio/video chunks is served from the window and a long jump opens a new
//! range request. Servers that ignore `Range` (200 instead of 206) are read from the start and
//! skipped forward — still streamed, still bounded.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::egress::http::{HttpError, MAX_REDIRECTS};
use crate::egress::{self, Egress, EgressRefusal};

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection, TLS or protocol failure: retrying may help.
    #[error("{0}")]
    Transport(String),
    /// The server answered with an error status (404, 403, 500 ...).
    #[error("HTTP {0}")]
    Status(u16),
    /// The file is shorter than a read needed.
    #[error("unexpected end of file at byte {0}")]
    Eof(u64),
    /// No response or no bytes within the timeout.
    #[error("timed out")]
    Timeout,
    /// Local file errors (not found, permission ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The account may not reach the address (nothing was sent to it).
    #[error(transparent)]
    Egress(#[from] EgressRefusal),
    /// A URL or redirect that cannot be followed (bad target, too many redirects).
    #[error("{0}")]
    Redirect(String),
    /// The HTTPS server's certificate was rejected (the message says why).
    #[error("{0}")]
    Certificate(String),
}

impl FetchError {
    /// Whether trying again later can help (a 404 or a short file will stay so; a 5xx or a
    /// dropped connection may not).
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Transport(_) | FetchError::Timeout => true,
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            FetchError::Eof(_)
            | FetchError::Egress(_)
            | FetchError::Redirect(_)
            | FetchError::Certificate(_) => false,
            FetchError::Io(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
        }
    }
}

impl From<HttpError> for FetchError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Egress(r) => FetchError::Egress(r),
            HttpError::Http(e) => e.into(),
            HttpError::Certificate(e) => FetchError::Certificate(e.to_string()),
            HttpError::Lookup(m) => FetchError::Transport(m),
            HttpError::Url(m) | HttpError::Redirect(m) => FetchError::Redirect(m),
        }
    }
}

impl From<reqwest::Error> for FetchError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            FetchError::Timeout
        } else {
            FetchError::Transport(e.to_string())
        }
    }
}

/// A media file read by offset.
#[derive(Debug)]
pub enum MediaFile {
    Http(HttpFile),
    Local(LocalFile),
    /// Bytes already in memory (tests, generated content).
    Memory(Bytes),
}

impl MediaFile {
    /// `len` bytes at `offset` (fewer only at the end of the file: [`FetchError::Eof`] if
    /// none of them exist).
    pub async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, FetchError> {
        match self {
            MediaFile::Http(f) => f.read_at(offset, len).await,
            MediaFile::Local(f) => f.read_at(offset, len).await,
            MediaFile::Memory(b) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                if start >= b.len() {
                    return Err(FetchError::Eof(offset));
                }
                Ok(b.slice(start..b.len().min(start.saturating_add(len))))
            }
        }
    }

    /// The file's size, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            MediaFile::Http(f) => f.len,
            MediaFile::Local(f) => Some(f.len),
            MediaFile::Memory(b) => Some(b.len() as u64),
        }
    }

    /// Bytes read from the network or disk so far.
    pub fn bytes_in(&self) -> u64 {
        match self {
            MediaFile::Http(f) => f.bytes_in,
            MediaFile::Local(f) => f.bytes_in,
            MediaFile::Memory(_) => 0,
        }
    }
}

/// A local file.
pub struct LocalFile {
    path: PathBuf,
    file: tokio::fs::File,
    len: u64,
    bytes_in: u64,
}

impl fmt::Debug for LocalFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl LocalFile {
    pub async fn open(path: impl Into<PathBuf>) -> Result<LocalFile, FetchError> {
        let path = path.into();
        let file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        Ok(LocalFile {
            path,
            file,
            len,
            bytes_in: 0,
        })
    }

    async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, FetchError> {
        if offset >= self.len {
            return Err(FetchError::Eof(offset));
        }
        let len = len.min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.file.seek(std::io::SeekFrom::Start(offset)).await?;
        let mut buf = vec![0; len];
        self.file.read_exact(&mut buf).await?;
        self.bytes_in += len as u64;
        Ok(Bytes::from(buf))
    }
}

/// Settings of [`HttpFile`].
#[derive(Clone, Debug)]
pub struct HttpFileConfig {
    /// Bytes kept around the read position for reads that step back a little. A read behind
    /// the window doubles it (up to `max_window`): the window grows to the file's interleaving
    /// instead of re-requesting the same bytes over and over.
    pub window: usize,
    pub max_window: usize,
    /// A read this far ahead of the position is served by reading on (and discarding);
    /// further ahead opens a new range request.
    pub max_skip: u64,
    /// Time allowed for a response's headers, and between two body chunks.
    pub timeout: Duration,
}

impl Default for HttpFileConfig {
    fn default() -> Self {
        HttpFileConfig {
            // Enough for the back-and-forth of interleaved audio/video chunks of ordinary
            // files; a longer step back costs one more range request, not correctness.
            window: 256 << 10,
            max_window: 32 << 20,
            max_skip: 512 << 10,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A file over HTTP(S), read with range requests, each sent only where the account's egress
/// allows (redirects included).
pub struct HttpFile {
    egress: Egress,
    url: String,
    config: HttpFileConfig,
    len: Option<u64>,
    /// The open response and the file offset of its next byte.
    body: Option<(reqwest::Response, u64)>,
    /// Bytes `[window_start, window_start + window.len())` of the file, read last.
    window: BytesMut,
    window_start: u64,
    bytes_in: u64,
    requests: u64,
}

impl fmt::Debug for HttpFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFile")
            .field("url", &self.url)
            .field("len", &self.len)
            .field("requests", &self.requests)
            .finish()
    }
}

impl HttpFile {
    /// Opens `url` with a first range request from byte 0 (which also tells the size).
    pub async fn open(
        egress: Egress,
        url: impl Into<String>,
        config: HttpFileConfig,
    ) -> Result<HttpFile, FetchError> {
        let mut file = HttpFile {
            egress,
            url: url.into(),
            config,
            len: None,
            body: None,
            window: BytesMut::new(),
            window_start: 0,
            bytes_in: 0,
            requests: 0,
        };
        file.request(0).await?;
        Ok(file)
    }

    /// Range requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Opens a response positioned at `offset` (a range request; from 0 and skipping when
    /// the server ignores ranges). Resets the window to start at `offset`.
    async fn request(&mut self, offset: u64) -> Result<(), FetchError> {
        self.body = None;
        self.requests += 1;
        let range = format!("bytes={offset}-");
        let send = egress::http::send(&self.egress, &self.url, MAX_REDIRECTS, |c, u| {
            c.get(u).header(reqwest::header::RANGE, &range)
        });
        let response = tokio::time::timeout(self.config.timeout, send)
            .await
            .map_err(|_| FetchError::Timeout)??;
        let status = response.status().as_u16();
        let start = match status {
            206 => {
                if self.len.is_none() {
                    self.len = content_range_total(&response);
                }
                content_range_start(&response).unwrap_or(offset)
            }
            200 => {
                self.len = response.content_length();
                0
            }
            416 => return Err(FetchError::Eof(offset)),
            _ => return Err(FetchError::Status(status)),
        };
        self.body = Some((response, start));
        self.window.clear();
        self.window_start = start;
        // A server that ignored the range: read on to `offset`.
        if start < offset {
            self.fill_to(offset, offset).await?;
            let drop = usize::try_from(offset - self.window_start).unwrap_or(usize::MAX);
            let _ = self.window.split_to(drop.min(self.window.len()));
            self.window_start = offset;
        }
        Ok(())
    }

    /// Reads from the response until the window reaches file offset `end` (or the file ends),
    /// keeping every byte from `keep_from` on.
    async fn fill_to(&mut self, keep_from: u64, end: u64) -> Result<(), FetchError> {
        while self.window_start + (self.window.len() as u64) < end {
            let Some((response, pos)) = self.body.as_mut() else {
                return Err(FetchError::Eof(
                    self.window_start + self.window.len() as u64,
                ));
            };
            let chunk = tokio::time::timeout(self.config.timeout, response.chunk())
                .await
                .map_err(|_| FetchError::Timeout)??;
            match chunk {
                Some(chunk) => {
                    *pos += chunk.len() as u64;
                    self.bytes_in += chunk.len() as u64;
                    // Trim first, so the buffer never grows past about twice the window.
                    self.trim(keep_from, chunk.len());
                    self.window.extend_from_slice(&chunk);
                }
                None => {
                    self.body = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Makes room for `incoming` bytes when the buffer would pass twice the window: drops the
    /// oldest bytes down to about one window, but none from `keep_from` on and at least half
    /// a window before it (rare, and one step each time).
    fn trim(&mut self, keep_from: u64, incoming: usize) {
        if self.window.len() + incoming > 2 * self.config.window {
            let pinned = usize::try_from(keep_from.saturating_sub(self.window_start))
                .unwrap_or(usize::MAX)
                .saturating_sub(self.config.window / 2);
            let drop = self
                .window
                .len()
                .saturating_sub(self.config.window)
                .min(pinned);
            let _ = self.window.split_to(drop);
            self.window_start += drop as u64;
        }
    }

    async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, FetchError> {
        if let Some(total) = self.len
            && offset >= total
        {
            return Err(FetchError::Eof(offset));
        }
        let end = offset.saturating_add(len as u64);
        let window_end = self.window_start + self.window.len() as u64;
        let reachable = self.body.is_some() || end <= window_end;
        if offset < self.window_start && self.config.window < self.config.max_window {
            // Stepped back past the window: the file interleaves its tracks more widely.
            self.config.window = (self.config.window * 2).min(self.config.max_window);
            tracing::debug!(url = %self.url, window = self.config.window, "read window grown");
        }
        // Reading through to a position ahead is cheaper than a new request up to the larger
        // of max_skip and the window (which has grown to the file's interleaving).
        let skip = self.config.max_skip.max(self.config.window as u64);
        let in_window =
            offset >= self.window_start && offset <= window_end.saturating_add(skip) && reachable;
        if !in_window || (end > window_end && self.body.is_none()) {
            self.request(offset).await?;
        }
        self.fill_to(offset, end).await?;
        let window_end = self.window_start + self.window.len() as u64;
        if offset < self.window_start || offset >= window_end {
            return Err(FetchError::Eof(offset));
        }
        let from = usize::try_from(offset - self.window_start).unwrap_or(usize::MAX);
        let to = usize::try_from(end.min(window_end) - self.window_start).unwrap_or(usize::MAX);
        Ok(Bytes::copy_from_slice(&self.window[from..to]))
    }
}

/// `bytes START-END/TOTAL` → START.
fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let range = value.strip_prefix("bytes ")?;
    range.split(['-', '/']).next()?.trim().parse().ok()
}

/// `bytes START-END/TOTAL` → TOTAL (unless `*`).
fn content_range_total(response: &reqwest::Response) -> Option<u64> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    value.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    struct Served {
        data: Vec<u8>,
        honour_ranges: bool,
        requests: AtomicU64,
    }

    async fn serve(State(s): State<Arc<Served>>, headers: HeaderMap) -> impl IntoResponse {
        s.requests.fetch_add(1, Ordering::SeqCst);
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.strip_suffix('-'))
            .and_then(|v| v.parse::<usize>().ok());
        match range {
            Some(start) if s.honour_ranges => {
                if start >= s.data.len() {
                    return (
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        HeaderMap::new(),
                        Vec::new(),
                    );
                }
                let mut h = HeaderMap::new();
                let value = format!("bytes {start}-{}/{}", s.data.len() - 1, s.data.len());
                h.insert(header::CONTENT_RANGE, value.parse().unwrap());
                (StatusCode::PARTIAL_CONTENT, h, s.data[start..].to_vec())
            }
            _ => (StatusCode::OK, HeaderMap::new(), s.data.clone()),
        }
    }

    async fn server(data: Vec<u8>, honour_ranges: bool) -> (String, Arc<Served>) {
        let served = Arc::new(Served {
            data,
            honour_ranges,
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/f.mp4", get(serve))
            .route(
                "/missing.mp4",
                get(|| async { (StatusCode::NOT_FOUND, "no") }),
            )
            .with_state(Arc::clone(&served));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), served)
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn small_window() -> HttpFileConfig {
        HttpFileConfig {
            window: 64 << 10,
            max_window: 64 << 10,
            max_skip: 16 << 10,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn range_reads_forward_back_and_far() {
        let bytes = data(3 << 20);
        let (base, served) = server(bytes.clone(), true).await;
        let mut f = HttpFile::open(
            Egress::unrestricted(),
            format!("{base}/f.mp4"),
            small_window(),
        )
        .await
        .unwrap();
        assert_eq!(f.len, Some(bytes.len() as u64));
        // Forward in small steps with little steps back: one request.
        let mut offset = 0u64;
        while offset < 500_000 {
            let got = f.read_at(offset, 1000).await.unwrap();
            assert_eq!(&got[..], &bytes[offset as usize..offset as usize + 1000]);
            let back = offset.saturating_sub(3000);
            let got = f.read_at(back, 10).await.unwrap();
            assert_eq!(&got[..], &bytes[back as usize..back as usize + 10]);
            offset += 4000;
        }
        assert_eq!(f.requests(), 1);
        // Far ahead: a new range request; far back: another.
        let got = f.read_at(2_000_000, 100).await.unwrap();
        assert_eq!(&got[..], &bytes[2_000_000..2_000_100]);
        let got = f.read_at(10, 100).await.unwrap();
        assert_eq!(&got[..], &bytes[10..110]);
        assert_eq!(f.requests(), 3);
        assert_eq!(served.requests.load(Ordering::SeqCst), 3);
        // The end: a short read, then Eof.
        let len = bytes.len() as u64;
        assert_eq!(f.read_at(len - 5, 100).await.unwrap().len(), 5);
        assert!(matches!(f.read_at(len, 1).await, Err(FetchError::Eof(_))));
        // Memory stays bounded by the window.
        assert!(f.window.len() <= 2 * (64 << 10) + (1 << 16));
    }

    #[tokio::test]
    async fn the_window_grows_to_the_files_interleaving() {
        let bytes = data(4 << 20);
        let (base, served) = server(bytes.clone(), true).await;
        let config = HttpFileConfig {
            window: 16 << 10,
            max_window: 1 << 20,
            ..small_window()
        };
        let mut f = HttpFile::open(Egress::unrestricted(), format!("{base}/f.mp4"), config)
            .await
            .unwrap();
        // Two tracks 200 KB apart, read in turns: each step back is 200 KB.
        for i in 0..200u64 {
            for track in [0u64, 200_000] {
                let offset = 1_000 + track + i * 4_000;
                let got = f.read_at(offset, 3_000).await.unwrap();
                assert_eq!(&got[..], &bytes[offset as usize..offset as usize + 3_000]);
            }
        }
        // A few misses while the window grows (16 → 32 → ... → 512 KiB), then none.
        let requests = served.requests.load(Ordering::SeqCst);
        assert!(requests <= 16, "{requests} requests");
        assert!(f.config.window <= 1 << 20);
    }

    #[tokio::test]
    async fn servers_that_ignore_ranges_are_streamed_from_the_start() {
        let bytes = data(300_000);
        let (base, _) = server(bytes.clone(), false).await;
        let mut f = HttpFile::open(
            Egress::unrestricted(),
            format!("{base}/f.mp4"),
            small_window(),
        )
        .await
        .unwrap();
        let got = f.read_at(250_000, 1000).await.unwrap();
        assert_eq!(&got[..], &bytes[250_000..251_000]);
        let got = f.read_at(100, 50).await.unwrap();
        assert_eq!(&got[..], &bytes[100..150]);
    }

    #[tokio::test]
    async fn errors_say_whether_to_retry() {
        let (base, _) = server(data(10), true).await;
        let e = HttpFile::open(
            Egress::unrestricted(),
            format!("{base}/missing.mp4"),
            small_window(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, FetchError::Status(404)) && !e.is_retryable(),
            "{e}"
        );
        let e = HttpFile::open(
            Egress::unrestricted(),
            "http://127.0.0.1:9/nothing.mp4",
            small_window(),
        )
        .await
        .unwrap_err();
        assert!(e.is_retryable(), "{e}");
    }

    #[tokio::test]
    async fn local_files() {
        let dir = std::env::temp_dir().join(format!("baton-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let bytes = data(10_000);
        std::fs::write(&path, &bytes).unwrap();
        let mut f = MediaFile::Local(LocalFile::open(&path).await.unwrap());
        assert_eq!(f.size(), Some(10_000));
        assert_eq!(
            &f.read_at(9_000, 10).await.unwrap()[..],
            &bytes[9_000..9_010]
        );
        assert_eq!(f.read_at(9_995, 10).await.unwrap().len(), 5);
        assert!(matches!(
            f.read_at(10_000, 1).await,
            Err(FetchError::Eof(_))
        ));
        let e = LocalFile::open(dir.join("missing")).await.unwrap_err();
        assert!(!e.is_retryable());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
