//! Playlist and segment requests through the account's egress, bounded in time and size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use baton_hls::{ByteRange, MediaPlaylist, Playlist, VariantPreference, choose_variant};
use baton_net::egress::Egress;
use baton_net::egress::http::{MAX_REDIRECTS, send};
use baton_net::fetch::FetchError;
use bytes::{Bytes, BytesMut};
use reqwest::Url;

use crate::error::{ErrorKind, RelayError, Side};

/// Time allowed for a response's headers, and between two chunks of its body.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest segment read (a 6 s segment at 40 Mbit/s is 30 MB).
pub(crate) const MAX_SEGMENT_BYTES: usize = 64 << 20;

/// The largest fMP4 initialisation section read (ffmpeg's are about 1 KiB).
pub(crate) const MAX_INIT_BYTES: usize = 1 << 20;

/// The most bytes read of an AES-128 key resource (a key is 16; more is reported as wrong).
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// GETs `url` (only `range` of it, when given), at most `limit` bytes. A server that ignores
/// the `Range` header (200 instead of 206) is read up to the range's end and cut.
pub(super) async fn get(
    egress: &Egress,
    url: &Url,
    range: Option<ByteRange>,
    limit: usize,
    bytes_in: &AtomicU64,
) -> Result<Bytes, FetchError> {
    let header = range.and_then(|r| r.http_range());
    let request = send(egress, url.as_str(), MAX_REDIRECTS, |c, u| {
        let request = c.get(u);
        match &header {
            Some(h) => request.header(reqwest::header::RANGE, h),
            None => request,
        }
    });
    let mut response = tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| FetchError::Timeout)??;
    let status = response.status().as_u16();
    // Bytes of the body to skip and to keep (a 200 answer to a range request).
    let (skip, keep) = match (status, range) {
        (206, Some(r)) => (0, r.length),
        (200, Some(r)) => (r.offset, r.length),
        (200, None) => (0, u64::MAX),
        _ => return Err(FetchError::Status(status)),
    };
    let end = skip.saturating_add(keep);
    // Sized once from Content-Length (bounded by `limit`): growing a segment-sized buffer
    // by doubling copied it several times and was a tenth of an HLS relay's CPU.
    let expected = response.content_length().unwrap_or(0).min(keep);
    let mut body = BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0).min(limit));
    let mut pos = 0u64;
    while pos < end {
        let chunk = tokio::time::timeout(REQUEST_TIMEOUT, response.chunk())
            .await
            .map_err(|_| FetchError::Timeout)??;
        let Some(chunk) = chunk else { break };
        bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let from = usize::try_from(skip.saturating_sub(pos)).unwrap_or(usize::MAX);
        let to = usize::try_from(end.saturating_sub(pos)).unwrap_or(usize::MAX);
        pos = pos.saturating_add(chunk.len() as u64);
        if from < chunk.len() {
            body.extend_from_slice(&chunk[from..to.min(chunk.len())]);
        }
        if body.len() > limit {
            return Err(FetchError::Transport(format!(
                "{url}: larger than {limit} bytes"
            )));
        }
    }
    if let Some(r) = range
        && (body.len() as u64) < r.length
    {
        return Err(FetchError::Eof(r.offset.saturating_add(body.len() as u64)));
    }
    Ok(body.freeze())
}

/// Loads `url` and parses it as a playlist.
pub(super) async fn load(
    egress: &Egress,
    url: &Url,
    bytes_in: &AtomicU64,
) -> Result<Playlist, RelayError> {
    let text = get(egress, url, None, baton_hls::MAX_PLAYLIST_BYTES, bytes_in)
        .await
        .map_err(|e| fetch_error(url, "playlist", &e))?;
    let text = String::from_utf8_lossy(&text);
    baton_hls::parse(&text, url).map_err(|e| {
        let kind = match e {
            baton_hls::ParseError::UnsupportedEncryption { .. }
            | baton_hls::ParseError::Unsupported { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::Protocol,
        };
        RelayError::new(Side::Source, kind, format!("HLS playlist {url}: {e}"))
    })
}

/// Loads the media playlist `url` names: `url` itself, or the best variant of the master
/// playlist it is ([`VariantPreference::Best`]). Returns the media playlist's URL with it.
pub(super) async fn load_media(
    egress: &Egress,
    url: &Url,
    bytes_in: &AtomicU64,
) -> Result<(Url, MediaPlaylist), RelayError> {
    let master = match load(egress, url, bytes_in).await? {
        Playlist::Media(media) => return Ok((url.clone(), media)),
        Playlist::Master(master) => master,
    };
    let variant = choose_variant(&master, VariantPreference::Best).map_err(|e| {
        RelayError::new(
            Side::Source,
            ErrorKind::Protocol,
            format!("HLS master playlist {url}: {e}"),
        )
    })?;
    if let Some(audio) = master.audio_rendition(variant) {
        return Err(RelayError::new(
            Side::Source,
            ErrorKind::Unsupported,
            format!(
                "HLS master playlist {url}: the variant's audio is a separate playlist ({}); separate audio renditions are not supported yet",
                audio.uri.as_ref().map_or("", Url::as_str)
            ),
        ));
    }
    let media_url = variant.uri.clone();
    match load(egress, &media_url, bytes_in).await? {
        Playlist::Media(media) => Ok((media_url, media)),
        Playlist::Master(_) => Err(RelayError::new(
            Side::Source,
            ErrorKind::Protocol,
            format!("HLS variant {media_url} of {url} is a master playlist, not a media playlist"),
        )),
    }
}

/// A failed request as a source error naming what was requested.
pub(super) fn fetch_error(url: &Url, what: &str, e: &FetchError) -> RelayError {
    let kind = match e {
        FetchError::Status(404 | 410) => ErrorKind::NotFound,
        FetchError::Status(401 | 403) => ErrorKind::Refused,
        FetchError::Status(_) | FetchError::Transport(_) | FetchError::Io(_) => ErrorKind::Connect,
        FetchError::Timeout => ErrorKind::Timeout,
        FetchError::Egress(_) => ErrorKind::EgressDenied,
        FetchError::Certificate(_) => ErrorKind::Certificate,
        FetchError::Redirect(_) | FetchError::Eof(_) => ErrorKind::Protocol,
    };
    RelayError::new(Side::Source, kind, format!("HLS {what} {url}: {e}"))
}
