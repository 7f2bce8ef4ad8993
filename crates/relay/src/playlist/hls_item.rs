//! A VOD HLS playlist (`.m3u8` with EXT-X-ENDLIST) played as one item of a list: its MPEG-TS
//! segments read one after another (each as a [`MediaFile`], so HTTP range windows, local
//! paths and the egress policy apply as for any item) into [`TsFrames`], on the item's own
//! timeline.
//!
//! * **Timeline.** The item's time is the playlist's: a segment starts at the sum of the
//!   EXTINF durations before it. Segments that continue each other share one [`TsFrames`]
//!   (their timestamps run on); at EXT-X-DISCONTINUITY the demuxer is finished and a new one
//!   starts at the segment's playlist time. An offset starts at the segment holding it, then
//!   [`KeyframeSeek`] finds the keyframe at or before it, as for FLV and TS items.
//! * **Variants.** A master playlist plays its highest-bandwidth variant with video
//!   ([`VariantPreference::Best`]).
//! * **Refused by name:** a live playlist (no EXT-X-ENDLIST: relay it as a live source,
//!   `SourceProtocol=hls`), fMP4 segments (EXT-X-MAP), encrypted segments (EXT-X-KEY) and
//!   audio in a separate rendition — not built for items yet.
//!
//! Memory: the [`MediaFile`] window of the segment being read and the [`TsFrames`] bounds.

use std::collections::VecDeque;

use baton_hls::{Playlist, Segment, VariantPreference, choose_variant};
use baton_media::Frame;
use baton_mpegts::PACKET_LEN;
use baton_net::egress::Egress;
use baton_net::fetch::{FetchError, MediaFile};
use reqwest::Url;
use tracing::info;

use super::PlayerConfig;
use super::item::{ItemError, KeyframeSeek, open_file};
use crate::ts::TsFrames;

/// Bytes read from a segment at a time (348 packets).
const READ: usize = 348 * PACKET_LEN;

/// Whether `url`'s path ends in `.m3u8` (query and fragment left out).
pub(super) fn has_m3u8_extension(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.to_ascii_lowercase().ends_with(".m3u8")
}

/// The segment being read.
struct Reading {
    file: MediaFile,
    /// Next byte to read, and the first byte past the segment (its byte range's end).
    pos: u64,
    end: Option<u64>,
}

/// A VOD HLS playlist as an item.
pub(super) struct HlsItem {
    egress: Egress,
    config: PlayerConfig,
    /// Segments not started yet, each with its start on the item's timeline (ms).
    segments: VecDeque<(Segment, i64)>,
    reading: Option<Reading>,
    frames: TsFrames,
    /// Start (item ms) of the run the demuxer is in: its frames are placed from there.
    run_start: i64,
    seek: KeyframeSeek,
    out: VecDeque<Frame>,
    pub(super) dropped: Vec<String>,
    /// Bytes of segments (and playlists) already closed.
    bytes_done: u64,
    reading_bytes: u64,
    finished: bool,
}

impl HlsItem {
    /// Loads the playlist at `url` (a master playlist's best variant), checks it can be
    /// played, and reads until the first frame at or after `offset_ms`.
    pub(super) async fn open(
        egress: &Egress,
        url: &str,
        offset_ms: u64,
        config: &PlayerConfig,
    ) -> Result<HlsItem, ItemError> {
        let base = playlist_url(url)?;
        let (mut bytes_done, playlist) = load(egress, url, &base, config).await?;
        let (media_url, media) = match playlist {
            Playlist::Media(media) => (base, media),
            Playlist::Master(master) => {
                let variant = choose_variant(&master, VariantPreference::Best)
                    .map_err(|e| ItemError::Format(format!("HLS master playlist: {e}")))?;
                if master.audio_rendition(variant).is_some() {
                    return Err(ItemError::Format(
                        "HLS: the variant's audio is a separate playlist; separate audio renditions are not supported yet".into(),
                    ));
                }
                let media_url = variant.uri.clone();
                same_origin_kind(&base, &media_url)?;
                let (bytes, playlist) =
                    load(egress, media_url.as_str(), &media_url, config).await?;
                bytes_done += bytes;
                match playlist {
                    Playlist::Media(media) => (media_url, media),
                    Playlist::Master(_) => {
                        return Err(ItemError::Format(format!(
                            "HLS variant {media_url} is a master playlist, not a media playlist"
                        )));
                    }
                }
            }
        };
        if let Some(s) = media
            .segments
            .iter()
            .find(|s| same_origin_kind(&media_url, &s.uri).is_err())
        {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url}: segment {} is not {}",
                s.uri,
                origin_kind(&media_url)
            )));
        }
        if !media.ended {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url} is live (no EXT-X-ENDLIST): a playlist item must be a VOD playlist; relay a live playlist as a live source (SourceProtocol=hls)"
            )));
        }
        if let Some(s) = media.segments.iter().find(|s| s.map.is_some()) {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url}: fMP4 segments (EXT-X-MAP, {}) are not supported in playlist items yet",
                s.uri
            )));
        }
        if let Some(s) = media.segments.iter().find(|s| s.key.is_some()) {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url}: encrypted segments (EXT-X-KEY, {}) are not supported in playlist items yet",
                s.uri
            )));
        }
        let segments = place(media.segments, offset_ms);
        if segments.is_empty() {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url} has no segment at or after {offset_ms} ms"
            )));
        }
        let run_start = segments.front().map_or(0, |(_, start)| *start);
        let mut item = HlsItem {
            egress: egress.clone(),
            config: config.clone(),
            segments,
            reading: None,
            frames: TsFrames::default(),
            run_start,
            seek: KeyframeSeek::new(offset_ms),
            out: VecDeque::new(),
            dropped: Vec::new(),
            bytes_done,
            reading_bytes: 0,
            finished: false,
        };
        if !item.fill().await? {
            return Err(ItemError::Format(format!(
                "HLS playlist {media_url}: {}",
                item.frames.why_empty()
            )));
        }
        item.dropped = item.frames.take_dropped();
        Ok(item)
    }

    pub(super) async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        if !self.fill().await? {
            return Ok(None);
        }
        for stream in self.frames.take_dropped() {
            info!(stream = %stream, "MPEG-TS stream not played");
        }
        Ok(self.out.pop_front())
    }

    pub(super) fn bytes_in(&self) -> u64 {
        self.bytes_done + self.reading_bytes
    }

    /// Reads until a frame is queued; `false` when every segment has been played.
    async fn fill(&mut self) -> Result<bool, ItemError> {
        loop {
            if !self.out.is_empty() {
                return Ok(true);
            }
            if let Some(mut frame) = self.frames.poll_frame() {
                frame.dts = frame.dts.saturating_add(self.run_start);
                self.seek.place(frame, &mut self.out);
                continue;
            }
            if self.finished {
                return Ok(false);
            }
            let Some(reading) = self.reading.as_mut() else {
                self.next_segment().await?;
                continue;
            };
            let want = match reading.end {
                Some(end) => usize::try_from(end.saturating_sub(reading.pos))
                    .unwrap_or(READ)
                    .min(READ),
                None => READ,
            };
            let chunk = if want == 0 {
                Ok(bytes::Bytes::new())
            } else {
                reading.file.read_at(reading.pos, want).await
            };
            // Read, then advance: a read cancelled halfway is made again.
            match chunk {
                Ok(chunk) if !chunk.is_empty() => {
                    reading.pos += chunk.len() as u64;
                    self.reading_bytes = reading.file.bytes_in();
                    self.frames.push(&chunk);
                }
                Ok(_) | Err(FetchError::Eof(_)) => {
                    if reading.end.is_some_and(|end| reading.pos < end) {
                        return Err(ItemError::Format(format!(
                            "HLS segment ends at byte {} before its byte range",
                            reading.pos
                        )));
                    }
                    self.bytes_done += reading.file.bytes_in();
                    self.reading_bytes = 0;
                    self.reading = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Opens the next segment; at a discontinuity, first ends the current run. With none
    /// left, finishes the demuxer.
    async fn next_segment(&mut self) -> Result<(), ItemError> {
        let Some((segment, start)) = self.segments.pop_front() else {
            self.frames.finish();
            self.finished = true;
            return Ok(());
        };
        if segment.discontinuity && self.frames.frames_out() > 0 {
            // The run's last frames, then a new demuxer placed at the segment's time.
            self.frames.finish();
            while let Some(mut frame) = self.frames.poll_frame() {
                frame.dts = frame.dts.saturating_add(self.run_start);
                self.seek.place(frame, &mut self.out);
            }
            self.dropped.extend(self.frames.take_dropped());
            self.frames = TsFrames::default();
            self.run_start = start;
        }
        let file = open_file(&self.egress, segment.uri.as_str(), &self.config).await?;
        let (pos, end) = match segment.byte_range {
            Some(r) => (r.offset, Some(r.offset.saturating_add(r.length))),
            None => (0, None),
        };
        self.reading = Some(Reading { file, pos, end });
        Ok(())
    }
}

/// The playlist's URL as a base for its segments: a URL as it is, a local path as a
/// `file://` URL, a `mem:` name as an opaque URL (its segments named `mem:…` too).
fn playlist_url(url: &str) -> Result<Url, ItemError> {
    if let Ok(parsed) = Url::parse(url) {
        return Ok(parsed);
    }
    let path = std::path::absolute(url)
        .map_err(|e| ItemError::Format(format!("HLS playlist {url}: {e}")))?;
    Url::from_file_path(&path)
        .map_err(|()| ItemError::Format(format!("HLS playlist {url}: not a usable path")))
}

/// What a playlist may point at: a remote playlist's variants and segments are http(s)
/// URLs, never local files (a tenant's playlist must not read the server's disk); a local
/// playlist's are local paths or http(s); an in-memory one's are in memory.
fn same_origin_kind(playlist: &Url, target: &Url) -> Result<(), ItemError> {
    let ok = match playlist.scheme() {
        "http" | "https" => matches!(target.scheme(), "http" | "https"),
        "file" => matches!(target.scheme(), "file" | "http" | "https"),
        scheme => target.scheme() == scheme,
    };
    if ok {
        Ok(())
    } else {
        Err(ItemError::Format(format!(
            "HLS playlist {playlist}: {target} is not {}",
            origin_kind(playlist)
        )))
    }
}

fn origin_kind(playlist: &Url) -> &'static str {
    match playlist.scheme() {
        "http" | "https" => "an http(s) URL (a remote playlist cannot name local files)",
        "file" => "a local path or an http(s) URL",
        _ => "of the playlist's own kind",
    }
}

/// Reads and parses the playlist at `url` (`base` resolves its URIs). Returns the bytes read.
async fn load(
    egress: &Egress,
    url: &str,
    base: &Url,
    config: &PlayerConfig,
) -> Result<(u64, Playlist), ItemError> {
    let mut file = open_file(egress, url, config).await?;
    let text = match file.read_at(0, baton_hls::MAX_PLAYLIST_BYTES + 1).await {
        Ok(text) => text,
        Err(FetchError::Eof(_)) => bytes::Bytes::new(),
        Err(e) => return Err(e.into()),
    };
    if text.len() > baton_hls::MAX_PLAYLIST_BYTES {
        return Err(ItemError::Format(format!(
            "HLS playlist {url} is larger than {} bytes",
            baton_hls::MAX_PLAYLIST_BYTES
        )));
    }
    let playlist = baton_hls::parse(&String::from_utf8_lossy(&text), base)
        .map_err(|e| ItemError::Format(format!("HLS playlist {url}: {e}")))?;
    Ok((file.bytes_in(), playlist))
}

/// The segments to play for an item started at `offset_ms`, each with its start time: from
/// the one holding the offset (none when the offset is past the end).
fn place(segments: Vec<Segment>, offset_ms: u64) -> VecDeque<(Segment, i64)> {
    let offset = i64::try_from(offset_ms).unwrap_or(i64::MAX);
    let mut start = 0i64;
    let mut out = VecDeque::new();
    for segment in segments {
        let length = i64::try_from(segment.duration.as_millis()).unwrap_or(i64::MAX);
        let end = start.saturating_add(length);
        // A segment that ends at or before the offset is not needed.
        if end > offset || (length == 0 && start >= offset) {
            out.push_back((segment, start));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn segment(seq: u64, secs: f64) -> Segment {
        Segment {
            sequence: seq,
            uri: Url::parse(&format!("http://h/s{seq}.ts")).unwrap(),
            duration: Duration::from_secs_f64(secs),
            byte_range: None,
            discontinuity: false,
            key: None,
            map: None,
            program_date_time: None,
        }
    }

    #[test]
    fn an_offset_starts_at_the_segment_holding_it() {
        let segments = || (0..4).map(|i| segment(i, 2.0)).collect::<Vec<_>>();
        let starts = |offset| {
            place(segments(), offset)
                .iter()
                .map(|(s, start)| (s.sequence, *start))
                .collect::<Vec<_>>()
        };
        assert_eq!(starts(0), [(0, 0), (1, 2000), (2, 4000), (3, 6000)]);
        assert_eq!(starts(1999), [(0, 0), (1, 2000), (2, 4000), (3, 6000)]);
        assert_eq!(starts(2000), [(1, 2000), (2, 4000), (3, 6000)]);
        assert_eq!(starts(7000), [(3, 6000)]);
        assert!(starts(8000).is_empty());
    }

    #[test]
    fn m3u8_paths() {
        assert!(has_m3u8_extension("https://cdn/a/index.M3U8?token=1"));
        assert!(has_m3u8_extension("/srv/vod/index.m3u8"));
        assert!(!has_m3u8_extension("https://cdn/a.mp4?x=.m3u8"));
    }
}
