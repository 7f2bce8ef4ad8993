//! A VOD HLS playlist as one item of a list: its segments (MPEG-TS, or fMP4 with EXT-X-MAP;
//! AES-128 or clear) read one after another and demuxed into one run of frames on the item's
//! own timeline, as a `.ts` item is.
//!
//! * **What plays.** A media playlist that is complete (EXT-X-ENDLIST, or
//!   EXT-X-PLAYLIST-TYPE:VOD), or a master playlist's best variant
//!   ([`baton_hls::VariantPreference::Best`]). A live playlist is refused by name (it is a
//!   live source, not a file), and so is what is not built for items yet: EXT-X-DISCONTINUITY
//!   between fMP4 segments, a second initialisation section, audio in a separate rendition
//!   playlist.
//! * **Discontinuities** (MPEG-TS segments): the run before it is finished and a new demuxer
//!   starts at the segment's place on the item's timeline (the sum of the EXTINF durations
//!   before it), so an item whose timestamps start over mid-way still plays forward.
//! * **Where from.** The playlist and its segments are read like any item (HTTP through the
//!   egress with range requests, a local path, `file://`); segment URIs are resolved against
//!   the playlist's.
//! * **Offset.** Whole segments before the offset (by their EXTINF durations) are not
//!   fetched; the item's clock starts at the sum of their durations, and the rest is found
//!   as for a `.ts` item (the video keyframe at or before the offset).
//! * **Memory.** One segment at a time ([`MAX_SEGMENT_BYTES`]).

use std::collections::VecDeque;
use std::sync::Arc;

use baton_hls::{
    ByteRange, InitSection, MediaPlaylist, Playlist as HlsPlaylist, PlaylistType, Segment,
    SegmentKey, VariantPreference, choose_variant,
};
use baton_media::Frame;
use baton_mp4::InitSegment;
use baton_net::egress::Egress;
use baton_net::fetch::FetchError;
use bytes::Bytes;
use reqwest::Url;
use tracing::info;

use super::PlayerConfig;
use super::file::{ItemError, open_file};
use super::seek::KeyframeSeek;
use crate::hls::{
    Demux, MAX_INIT_BYTES, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, aes_key, decrypt_segment,
};

/// A VOD HLS playlist being played. See the module docs.
pub(super) struct HlsItem {
    egress: Egress,
    config: PlayerConfig,
    /// The playlist's URL: what its segments may be read beside ([`reachable`]).
    base: Url,
    /// Segments not fetched yet, each with its start on the item's timeline (ms, from the
    /// EXTINF durations before it).
    segments: VecDeque<(Segment, i64)>,
    /// Whether a segment was fed to the demuxer yet.
    fed: bool,
    demux: Demux,
    /// The AES-128 key last used, by URI.
    key: Option<(Url, [u8; 16])>,
    /// Where the current run (the first segment fetched, or the segment after the last
    /// discontinuity) starts on the item's timeline (ms).
    shift_ms: i64,
    seek: KeyframeSeek,
    out: VecDeque<Frame>,
    eof: bool,
    pub(super) bytes_in: u64,
    /// Audio/video streams not played: found while opening (taken by the player), then
    /// those a later run meets until `next_frame` logs them.
    pub(super) dropped: Vec<String>,
}

impl HlsItem {
    pub(super) async fn open(
        egress: &Egress,
        url: &str,
        offset_ms: u64,
        config: &PlayerConfig,
    ) -> Result<HlsItem, ItemError> {
        let base = base_url(url)?;
        let mut bytes_in = 0;
        let playlist = match load(egress, config, &base, &base, &mut bytes_in).await? {
            HlsPlaylist::Media(media) => media,
            HlsPlaylist::Master(master) => {
                let variant = choose_variant(&master, VariantPreference::Best)
                    .map_err(|e| ItemError::Format(format!("HLS master playlist: {e}")))?;
                if master.audio_rendition(variant).is_some() {
                    return Err(unsupported(
                        "separate audio renditions (the variant's audio is its own playlist) are",
                    ));
                }
                match load(egress, config, &base, &variant.uri, &mut bytes_in).await? {
                    HlsPlaylist::Media(media) => media,
                    HlsPlaylist::Master(_) => {
                        return Err(ItemError::Format(format!(
                            "HLS variant {} is a master playlist",
                            variant.uri
                        )));
                    }
                }
            }
        };
        let mut key = None;
        let demux = match check(&playlist)? {
            Some(map) => {
                let init =
                    init_segment(egress, config, &base, &map, &mut key, &mut bytes_in).await?;
                Demux::new(Some(Arc::new(init)))
            }
            None => Demux::new(None),
        };
        // Whole segments before the offset are not fetched.
        let mut start = 0i64;
        let mut segments: VecDeque<(Segment, i64)> = VecDeque::new();
        for segment in playlist.segments {
            let duration = i64::try_from(segment.duration.as_millis()).unwrap_or(i64::MAX);
            segments.push_back((segment, start));
            start = start.saturating_add(duration);
        }
        let offset = i64::try_from(offset_ms).unwrap_or(i64::MAX);
        while segments.len() > 1 && segments.get(1).is_some_and(|(_, start)| *start <= offset) {
            segments.pop_front();
        }
        let shift_ms = segments.front().map_or(0, |(_, start)| *start);
        let mut item = HlsItem {
            egress: egress.clone(),
            config: config.clone(),
            base: base.clone(),
            segments,
            fed: false,
            demux,
            key,
            shift_ms,
            seek: KeyframeSeek::new(offset_ms),
            out: VecDeque::new(),
            eof: false,
            bytes_in,
            dropped: Vec::new(),
        };
        if !item.fill().await? {
            return Err(ItemError::Format(
                "HLS playlist: no audio or video Baton can play".into(),
            ));
        }
        // After what a discontinuity met while opening already moved there (`new_run`).
        let dropped = item.demux.take_dropped();
        item.dropped.extend(dropped);
        Ok(item)
    }

    pub(super) async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        if !self.fill().await? {
            return Ok(None);
        }
        // Streams met after opening (the player took `dropped` when the item opened): logged,
        // as a `.ts` item does.
        let late: Vec<String> = std::mem::take(&mut self.dropped)
            .into_iter()
            .chain(self.demux.take_dropped())
            .collect();
        for stream in late {
            info!(stream = %stream, "HLS item stream not played");
        }
        Ok(self.out.pop_front())
    }

    /// Reads until a frame is queued; `false` at the end of the playlist.
    async fn fill(&mut self) -> Result<bool, ItemError> {
        loop {
            if !self.out.is_empty() {
                return Ok(true);
            }
            if let Some(mut frame) = self.demux.poll_frame() {
                frame.dts = frame.dts.saturating_add(self.shift_ms);
                self.seek.place(frame, &mut self.out);
                continue;
            }
            if self.eof {
                return Ok(false);
            }
            let Some((segment, start)) = self.segments.pop_front() else {
                self.demux.finish();
                self.eof = true;
                continue;
            };
            if segment.discontinuity && self.fed {
                self.new_run(start);
            }
            let data = self.segment(&segment).await?;
            self.fed = true;
            match &mut self.demux {
                Demux::Ts(ts) => ts.push(&data),
                Demux::Fmp4(_, f) => f.push(&data).map_err(|e| {
                    ItemError::Format(format!("HLS fMP4 segment {}: {e}", segment.uri))
                })?,
            }
        }
    }

    /// At a discontinuity between MPEG-TS segments: the current run's last frames are
    /// queued, then a new demuxer's frames are placed from `start`.
    fn new_run(&mut self, start: i64) {
        let Demux::Ts(ts) = &mut self.demux else {
            return;
        };
        ts.finish();
        while let Some(mut frame) = ts.poll_frame() {
            frame.dts = frame.dts.saturating_add(self.shift_ms);
            self.seek.place(frame, &mut self.out);
        }
        self.dropped.extend(ts.take_dropped());
        self.demux = self.demux.restarted();
        self.shift_ms = start;
    }

    /// A segment's bytes, decrypted.
    async fn segment(&mut self, segment: &Segment) -> Result<Bytes, ItemError> {
        let data = read(
            &self.egress,
            &self.config,
            &self.base,
            &segment.uri,
            segment.byte_range,
            MAX_SEGMENT_BYTES,
            &mut self.bytes_in,
        )
        .await?;
        let Some(key) = &segment.key else {
            return Ok(data);
        };
        let bytes = key_bytes(
            &self.egress,
            &self.config,
            &self.base,
            key,
            &mut self.key,
            &mut self.bytes_in,
        )
        .await?;
        decrypt_segment(&bytes, &key.iv, &data, segment.map.is_none())
            .map_err(|e| undecryptable(&segment.uri, key, &e))
    }
}

/// What a VOD playlist needs, checked before anything is fetched: its initialisation
/// section, if its segments are fMP4.
fn check(playlist: &MediaPlaylist) -> Result<Option<InitSection>, ItemError> {
    if !playlist.ended && playlist.playlist_type != Some(PlaylistType::Vod) {
        return Err(ItemError::Format(
            "a live HLS playlist (no EXT-X-ENDLIST) is not a file: relay it as a live source \
             (SourceType live, SourceProtocol hls)"
                .into(),
        ));
    }
    let Some(first) = playlist.segments.first() else {
        return Err(ItemError::Format("HLS playlist without segments".into()));
    };
    if first.map.is_some() && playlist.segments.iter().skip(1).any(|s| s.discontinuity) {
        return Err(unsupported(
            "EXT-X-DISCONTINUITY between fMP4 segments in a playlist item is",
        ));
    }
    if playlist.segments.iter().any(|s| s.map != first.map) {
        return Err(unsupported(
            "more than one initialisation section (EXT-X-MAP) in a playlist item is",
        ));
    }
    Ok(first.map.clone())
}

/// `what` ends in "is" or "are": "… is not supported yet".
fn unsupported(what: &str) -> ItemError {
    ItemError::Format(format!("HLS: {what} not supported yet"))
}

fn undecryptable(uri: &Url, key: &SegmentKey, e: &dyn std::fmt::Display) -> ItemError {
    ItemError::Format(format!(
        "HLS segment {uri}: cannot decrypt with the AES-128 key {}: {e}",
        key.uri
    ))
}

/// The URL segment URIs are resolved against: the item's URL, or a local path as `file://`.
fn base_url(url: &str) -> Result<Url, ItemError> {
    if let Ok(u) = Url::parse(url) {
        return Ok(u);
    }
    let path = std::path::absolute(url).map_err(|e| ItemError::Format(format!("{url}: {e}")))?;
    Url::from_file_path(&path).map_err(|()| ItemError::Format(format!("{url}: not a path")))
}

/// Loads and parses a playlist.
async fn load(
    egress: &Egress,
    config: &PlayerConfig,
    base: &Url,
    url: &Url,
    bytes_in: &mut u64,
) -> Result<HlsPlaylist, ItemError> {
    let text = read(
        egress,
        config,
        base,
        url,
        None,
        baton_hls::MAX_PLAYLIST_BYTES,
        bytes_in,
    )
    .await?;
    baton_hls::parse(&String::from_utf8_lossy(&text), url)
        .map_err(|e| ItemError::Format(format!("HLS playlist {url}: {e}")))
}

/// The initialisation section `map` names, decrypted (its key kept in `cache`) and parsed.
async fn init_segment(
    egress: &Egress,
    config: &PlayerConfig,
    base: &Url,
    map: &InitSection,
    cache: &mut Option<(Url, [u8; 16])>,
    bytes_in: &mut u64,
) -> Result<InitSegment, ItemError> {
    let mut data = read(
        egress,
        config,
        base,
        &map.uri,
        map.byte_range,
        MAX_INIT_BYTES,
        bytes_in,
    )
    .await?;
    if let Some(key) = &map.key {
        let bytes = key_bytes(egress, config, base, key, cache, bytes_in).await?;
        data = decrypt_segment(&bytes, &key.iv, &data, false)
            .map_err(|e| undecryptable(&map.uri, key, &e))?;
    }
    InitSegment::parse(&data)
        .map_err(|e| ItemError::Format(format!("HLS initialisation section {}: {e}", map.uri)))
}

/// The 16-byte key `key` names: the one in `cache` when it has that URI, else read (and
/// kept there).
async fn key_bytes(
    egress: &Egress,
    config: &PlayerConfig,
    base: &Url,
    key: &SegmentKey,
    cache: &mut Option<(Url, [u8; 16])>,
    bytes_in: &mut u64,
) -> Result<[u8; 16], ItemError> {
    if let Some((uri, bytes)) = cache
        && *uri == key.uri
    {
        return Ok(*bytes);
    }
    let data = read(
        egress,
        config,
        base,
        &key.uri,
        None,
        MAX_KEY_BYTES,
        bytes_in,
    )
    .await?;
    let bytes =
        aes_key(&data).map_err(|e| ItemError::Format(format!("HLS key {}: {e}", key.uri)))?;
    *cache = Some((key.uri.clone(), bytes));
    Ok(bytes)
}

/// `url` (only `range` of it), at most `limit` bytes, read as items are read, if the
/// playlist at `base` may name it ([`reachable`]).
async fn read(
    egress: &Egress,
    config: &PlayerConfig,
    base: &Url,
    url: &Url,
    range: Option<ByteRange>,
    limit: usize,
    bytes_in: &mut u64,
) -> Result<Bytes, ItemError> {
    reachable(base, url)?;
    let location = match url.scheme() {
        "file" => url
            .to_file_path()
            .map_err(|()| ItemError::Format(format!("{url}: not a local path")))?
            .display()
            .to_string(),
        _ => url.as_str().to_string(),
    };
    let mut file = open_file(egress, &location, config).await?;
    // Without a size, up to the limit (a larger resource is cut there).
    let (offset, len) = match range {
        Some(r) => (r.offset, r.length),
        None => (0, file.size().unwrap_or(limit as u64)),
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > limit {
        return Err(ItemError::Format(format!(
            "{url}: larger than {limit} bytes"
        )));
    }
    let result = file.read_at(offset, len).await;
    *bytes_in += file.bytes_in();
    match result {
        Ok(data) if range.is_some() && data.len() < len => Err(FetchError::Eof(offset).into()),
        Ok(data) => Ok(data),
        Err(e) => Err(e.into()),
    }
}

/// What a playlist at `base` may make the player read: over HTTP(S), HTTP(S) resources
/// (through the account's egress, like any item); a local playlist, files in its own
/// directory and below (it was allowed by `local_roots`; what it names must not reach
/// elsewhere on the disk); an in-memory one, in-memory resources.
fn reachable(base: &Url, url: &Url) -> Result<(), ItemError> {
    let ok = match base.scheme() {
        "http" | "https" => matches!(url.scheme(), "http" | "https"),
        "file" => {
            let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
            url.scheme() == "file"
                && url.host() == base.host()
                && url.path().starts_with(&format!("{dir}/"))
                && !url.path().contains("/../")
        }
        scheme => url.scheme() == scheme,
    };
    if ok {
        return Ok(());
    }
    Err(ItemError::Format(format!(
        "HLS playlist {base}: {url} is not something the playlist may read (over HTTP only \
         http(s) URLs; a local playlist only files beside or below it)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_reads_only_beside_itself() {
        let url = |s: &str| Url::parse(s).unwrap();
        let web = url("https://cdn.example/vod/index.m3u8");
        assert!(reachable(&web, &url("https://other.example/seg0.ts")).is_ok());
        assert!(reachable(&web, &url("file:///etc/passwd")).is_err());
        let local = url("file:///srv/media/show/index.m3u8");
        assert!(reachable(&local, &local.join("seg0.ts").unwrap()).is_ok());
        assert!(reachable(&local, &local.join("hd/seg0.ts").unwrap()).is_ok());
        assert!(reachable(&local, &local.join("../other/seg0.ts").unwrap()).is_err());
        assert!(reachable(&local, &url("file:///etc/passwd")).is_err());
        assert!(reachable(&local, &url("file:///srv/media/showtime/a.ts")).is_err());
        assert!(reachable(&local, &url("https://cdn.example/seg0.ts")).is_err());
        let mem = url("mem:vod.m3u8");
        assert!(reachable(&mem, &url("mem:seg0.ts")).is_ok());
        assert!(reachable(&mem, &url("file:///etc/passwd")).is_err());
    }
}
