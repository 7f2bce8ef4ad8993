//! The items a [`Player`](super::Player) opens: FLV demuxed as it is read, MP4 from its
//! `moov` sample tables, MPEG-TS through [`crate::ts`], VOD HLS playlists through
//! [`super::hls`].

use std::collections::VecDeque;
use std::sync::Arc;

use baton_flv::{DemuxLimits, FlvDemuxer};
use baton_media::{Frame, TagType};
use baton_mp4::{BoxHeader, MAX_MOOV_SIZE, Movie, OwnedSampleCursor, TrackKind};
use baton_net::egress::Egress;
use baton_net::fetch::{FetchError, MediaFile};
use bytes::{Bytes, BytesMut};
use tracing::info;

use baton_mpegts::{PACKET_LEN, SYNC_BYTE};

use super::PlayerConfig;
use super::file::{ItemError, open_file};
use super::hls::HlsItem;
use super::seek::KeyframeSeek;
use crate::ts::TsFrames;

/// Bytes read from an FLV item at a time.
const FLV_READ: usize = 64 << 10;

/// One open item.
pub(super) enum Item {
    Flv(Box<FlvItem>),
    Mp4(Box<Mp4Item>),
    Ts(Box<TsItem>),
    Hls(Box<HlsItem>),
}

impl Item {
    pub(super) async fn open(
        egress: &Egress,
        url: &str,
        offset_ms: u64,
        config: &PlayerConfig,
    ) -> Result<Item, ItemError> {
        if has_extension(url, ".m3u8") {
            return Ok(Item::Hls(Box::new(
                HlsItem::open(egress, url, offset_ms, config).await?,
            )));
        }
        let mut file = open_file(egress, url, config).await?;
        let head = file.read_at(0, 16).await?;
        if head.starts_with(b"#EXTM3U") {
            return Ok(Item::Hls(Box::new(
                HlsItem::open(egress, url, offset_ms, config).await?,
            )));
        }
        if head.starts_with(b"FLV") {
            return Ok(Item::Flv(Box::new(FlvItem::new(file, offset_ms))));
        }
        if head.len() >= 8 && MP4_FIRST_BOXES.contains(&&head[4..8]) {
            return Ok(Item::Mp4(Box::new(Mp4Item::open(file, offset_ms).await?)));
        }
        if head.first() == Some(&SYNC_BYTE) || has_extension(url, ".ts") {
            return Ok(Item::Ts(Box::new(TsItem::open(file, offset_ms).await?)));
        }
        Err(ItemError::Format(format!(
            "not an FLV, MP4 or MPEG-TS file (starts with {:02x?})",
            &head[..head.len().min(8)]
        )))
    }

    pub(super) async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        match self {
            Item::Flv(item) => item.next_frame().await,
            Item::Mp4(item) => item.next_frame().await,
            Item::Ts(item) => item.next_frame().await,
            Item::Hls(item) => item.next_frame().await,
        }
    }

    pub(super) fn bytes_in(&self) -> u64 {
        match self {
            Item::Flv(item) => item.file.bytes_in(),
            Item::Mp4(item) => item.file.bytes_in(),
            Item::Ts(item) => item.file.bytes_in(),
            Item::Hls(item) => item.bytes_in,
        }
    }

    /// The audio/video tracks the item plays without, described (MP4 tracks whose codec
    /// cannot be carried; MPEG-TS streams found before the first frame that are not carried,
    /// see [`TsFrames::take_dropped`]; FLV tags are all passed through).
    pub(super) fn dropped_tracks(&self) -> Vec<String> {
        match self {
            Item::Flv(_) => Vec::new(),
            Item::Mp4(item) => item.dropped.clone(),
            Item::Ts(item) => item.dropped.clone(),
            Item::Hls(item) => item.dropped.clone(),
        }
    }
}

/// Box types an MP4 file starts with.
const MP4_FIRST_BOXES: [&[u8]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"];

/// Top-level boxes looked at to find `moov`, at most.
const MAX_TOP_LEVEL_BOXES: usize = 1024;

/// An MP4 item: `moov` read and parsed once, then each sample read by offset (range reads of
/// the `mdat`, in decode order) and sent with its FLV tag-body prefix.
pub(super) struct Mp4Item {
    file: MediaFile,
    samples: OwnedSampleCursor,
    out: VecDeque<Frame>,
    /// Audio/video tracks not played (see [`SkippedTrack`](baton_mp4::SkippedTrack)).
    dropped: Vec<String>,
}

impl Mp4Item {
    async fn open(mut file: MediaFile, offset_ms: u64) -> Result<Mp4Item, ItemError> {
        let moov = find_moov(&mut file).await?;
        let movie = Movie::parse(&moov).map_err(|e| ItemError::Format(format!("MP4: {e}")))?;
        let mut dropped = Vec::new();
        for skipped in movie.skipped_tracks() {
            if skipped.drops_media() {
                dropped.push(skipped.to_string());
            } else {
                info!(track = %skipped, "MP4 track not played");
            }
        }
        let movie = Arc::new(movie);
        let samples = movie.owned_samples_from(offset_ms);
        let start = samples.peek().map_or(0, |s| s.dts_ms);
        let mut out = VecDeque::new();
        let headers = [
            (TagType::Video, movie.video_sequence_header()),
            (TagType::Audio, movie.audio_sequence_header()),
        ];
        for (kind, header) in headers {
            if let Some(body) = header {
                out.push_back(Frame::new(kind, start, Bytes::from(body)));
            }
        }
        Ok(Mp4Item {
            file,
            samples,
            out,
            dropped,
        })
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        if let Some(frame) = self.out.pop_front() {
            return Ok(Some(frame));
        }
        // Peek, read, then advance: a read cancelled halfway (the relay loop selects over
        // its sources) leaves the sample to be read again.
        let Some(sample) = self.samples.peek().copied() else {
            return Ok(None);
        };
        let data = match self.file.read_at(sample.offset, sample.size as usize).await {
            Ok(data) if data.len() == sample.size as usize => data,
            Ok(_) | Err(FetchError::Eof(_)) => {
                return Err(ItemError::Format(format!(
                    "MP4: sample at byte {} ({} bytes) is past the end of the file",
                    sample.offset, sample.size
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.samples.next();
        let prefix = sample.flv_prefix();
        let mut body = BytesMut::with_capacity(prefix.len() + data.len());
        body.extend_from_slice(&prefix);
        body.extend_from_slice(&data);
        let kind = match sample.kind {
            TrackKind::Video => TagType::Video,
            TrackKind::Audio => TagType::Audio,
        };
        Ok(Some(Frame::new(kind, sample.dts_ms, body.freeze())))
    }
}

/// Reads the `moov` box: top-level box headers are read and skipped until it comes (before
/// or after `mdat`), then it is read whole (at most [`MAX_MOOV_SIZE`]).
async fn find_moov(file: &mut MediaFile) -> Result<Bytes, ItemError> {
    let mut offset = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        let head = match file.read_at(offset, 16).await {
            Ok(head) => head,
            Err(FetchError::Eof(_)) => break,
            Err(e) => return Err(e.into()),
        };
        let header = BoxHeader::parse(&head)
            .map_err(|e| ItemError::Format(format!("MP4: {e}")))?
            .ok_or_else(|| ItemError::Format("MP4: truncated box header".into()))?;
        let Some(size) = header.size else {
            break; // extends to the end of the file: nothing after it
        };
        if &header.kind == b"moov" {
            if size > MAX_MOOV_SIZE {
                return Err(ItemError::Format(format!(
                    "MP4: moov of {size} bytes is larger than {MAX_MOOV_SIZE}"
                )));
            }
            let moov = file.read_at(offset, size as usize).await?;
            if moov.len() as u64 != size {
                return Err(ItemError::Format("MP4: moov is cut short".into()));
            }
            return Ok(moov);
        }
        offset = offset
            .checked_add(size)
            .ok_or_else(|| ItemError::Format("MP4: box sizes overflow".into()))?;
    }
    Err(ItemError::Format("MP4: no moov box".into()))
}

/// An FLV item, demuxed as it is read. Seeking to an offset reads from the start and keeps
/// the frames from the last keyframe before the offset.
pub(super) struct FlvItem {
    file: MediaFile,
    pos: u64,
    eof: bool,
    demux: FlvDemuxer,
    seek: KeyframeSeek,
    out: VecDeque<Frame>,
}

impl FlvItem {
    fn new(file: MediaFile, offset_ms: u64) -> FlvItem {
        FlvItem {
            file,
            pos: 0,
            eof: false,
            demux: FlvDemuxer::new(DemuxLimits::default()),
            seek: KeyframeSeek::new(offset_ms),
            out: VecDeque::new(),
        }
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        loop {
            if let Some(frame) = self.out.pop_front() {
                return Ok(Some(frame));
            }
            match self
                .demux
                .poll_tag()
                .map_err(|e| ItemError::Format(format!("FLV: {e}")))?
            {
                Some(tag) => {
                    let frame = Frame::new(tag.tag_type, i64::from(tag.timestamp), tag.data);
                    self.seek.place(frame, &mut self.out);
                }
                None if self.eof => return Ok(None),
                None => match self.file.read_at(self.pos, FLV_READ).await {
                    Ok(chunk) => {
                        self.pos += chunk.len() as u64;
                        self.demux.push_bytes(chunk);
                    }
                    Err(FetchError::Eof(_)) => self.eof = true,
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
}

/// Bytes read from an MPEG-TS item at a time (348 packets).
const TS_READ: usize = 348 * PACKET_LEN;

/// Whether the URL's path ends in `extension` (ASCII case-insensitive; query and fragment
/// left out).
fn has_extension(url: &str, extension: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.to_ascii_lowercase().ends_with(extension)
}

/// An MPEG-TS item, demuxed as it is read ([`TsFrames`]). Opening reads until the first
/// frame, so that a file that is not a transport stream (or carries nothing Baton plays) is
/// refused with the reason and the streams it plays without are known. Seeking reads from
/// the start ([`KeyframeSeek`]): a transport stream has no index.
pub(super) struct TsItem {
    file: MediaFile,
    pos: u64,
    eof: bool,
    frames: TsFrames,
    seek: KeyframeSeek,
    out: VecDeque<Frame>,
    /// Audio/video streams not carried, found before the first frame.
    dropped: Vec<String>,
}

impl TsItem {
    async fn open(file: MediaFile, offset_ms: u64) -> Result<TsItem, ItemError> {
        let mut item = TsItem {
            file,
            pos: 0,
            eof: false,
            frames: TsFrames::default(),
            seek: KeyframeSeek::new(offset_ms),
            out: VecDeque::new(),
            dropped: Vec::new(),
        };
        if !item.fill().await? {
            return Err(ItemError::Format(format!(
                "MPEG-TS: {}",
                item.frames.why_empty()
            )));
        }
        item.dropped = item.frames.take_dropped();
        Ok(item)
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        if !self.fill().await? {
            return Ok(None);
        }
        for stream in self.frames.take_dropped() {
            info!(stream = %stream, "MPEG-TS stream not played");
        }
        Ok(self.out.pop_front())
    }

    /// Reads until a frame is queued; `false` at the end of the file.
    async fn fill(&mut self) -> Result<bool, ItemError> {
        loop {
            if !self.out.is_empty() {
                return Ok(true);
            }
            if let Some(frame) = self.frames.poll_frame() {
                self.seek.place(frame, &mut self.out);
                continue;
            }
            if self.eof {
                return Ok(false);
            }
            // Read, then advance: a read cancelled halfway is made again.
            match self.file.read_at(self.pos, TS_READ).await {
                Ok(chunk) if !chunk.is_empty() => {
                    self.pos += chunk.len() as u64;
                    self.frames.push(&chunk);
                }
                Ok(_) | Err(FetchError::Eof(_)) => {
                    self.eof = true;
                    self.frames.finish();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
