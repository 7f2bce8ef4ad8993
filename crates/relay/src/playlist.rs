//! Playlists: files played one after another as one live stream (SourceType `url` / `vod`).
//!
//! A [`Playlist`] is the list and the position in it, shared by every connection of one
//! relay: when an item cannot be fetched for a moment the relay reconnects its source like any
//! other, and the new [`Player`] resumes at the saved item and position (at the keyframe at or
//! before it). The player
//!
//! * reads each item by offset ([`baton_net::fetch`]: HTTP range requests or a local file),
//!   never the whole file; FLV is demuxed as it is read, MP4 from its `moov` sample tables;
//! * puts every item on one continuous timeline ([`Timeline`], one segment per item, gap 0):
//!   each item's first second is read ahead ([`SegmentLookahead`]) to learn where its tracks
//!   start being presented, and the item is placed so that presentation continues where the
//!   previous one ended ([`Timeline::begin_seamless_segment`]: with B-frames the first frame
//!   decodes a lead before it shows, so placing by decode time would freeze the picture that
//!   long at every boundary); one offset per item keeps audio and video as the file has them,
//!   so loops never drift;
//! * paces frames against the clock (`-re`): a frame leaves when the wall clock reaches its
//!   timestamp, at most [`PlayerConfig::lead`] early, never in bursts;
//! * skips an item that cannot be played (unsupported codec, corrupt, missing) with a log line
//!   naming the URL and the reason; a list where every item fails is a non-retryable source
//!   failure (PullStreamFailed);
//! * plays an MP4 item without the audio/video tracks it cannot carry (Opus, MP3, AV1, a
//!   second video track...) and notes each such track ([`ItemNoteKind::TrackDropped`]) the
//!   first time the item is opened in the run.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_flv::{DemuxLimits, FlvDemuxer};
use baton_media::timeline::{SegmentLookahead, Timeline, TimelineConfig};
use baton_media::{Frame, TagType};
use baton_mp4::{BoxHeader, MAX_MOOV_SIZE, Movie, OwnedSampleCursor, TrackKind};
use baton_net::egress::Egress;
use baton_net::fetch::{FetchError, HttpFile, HttpFileConfig, LocalFile, MediaFile};
use bytes::{Bytes, BytesMut};
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use crate::error::{ErrorKind, RelayError, Side};

/// Bytes read from an FLV item at a time.
const FLV_READ: usize = 64 << 10;

/// Where the list stands: what a crash or a reconnect resumes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlaylistProgress {
    /// The item playing (0-based; CurrentFileIndex).
    pub file_index: u32,
    /// Position in that item, milliseconds (CurrentOffset is this in seconds).
    pub offset_ms: u64,
    /// Completed passes over the list.
    pub loops_done: u32,
    /// The list is done (RepeatNumber included).
    pub finished: bool,
}

/// Something that happened to an item, for the task's callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemNote {
    pub kind: ItemNoteKind,
    pub file_index: u32,
    /// Why an item was skipped.
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemNoteKind {
    Started,
    Finished,
    Skipped,
    /// The item plays without one of its tracks (`detail` names the track, its codec and
    /// why). Noted once per item per run: the file does not change between passes.
    TrackDropped,
}

/// Item notes kept for the supervisor at most (the oldest are dropped beyond).
const MAX_NOTES: usize = 256;

/// A list of files and the position in it.
#[derive(Debug)]
pub struct Playlist {
    items: Vec<String>,
    notes: Mutex<VecDeque<ItemNote>>,
    noted: tokio::sync::Notify,
    /// 0: once; -1: forever; N: N more times. Changes while playing (UpdateLivePullToPush).
    repeat: AtomicI32,
    cursor: Mutex<Cursor>,
    /// Items whose dropped tracks were noted (one flag per item: bounded by the list).
    dropped_noted: Mutex<Vec<bool>>,
}

#[derive(Clone, Copy, Debug)]
struct Cursor {
    progress: PlaylistProgress,
    /// Items skipped one after another without any playing (all failing → give up).
    skipped_in_a_row: usize,
}

impl Playlist {
    /// A list of `items` (http(s) URLs or local paths, already resolved and allowed),
    /// starting at item `start_index`, `start_offset_ms` into it, after `loops_done` passes.
    pub fn new(
        items: Vec<String>,
        repeat: i32,
        start_index: u32,
        start_offset_ms: u64,
        loops_done: u32,
    ) -> Result<Arc<Playlist>, RelayError> {
        if items.is_empty() {
            return Err(RelayError::new(
                Side::Source,
                ErrorKind::InvalidUrl,
                "the playlist is empty",
            ));
        }
        let index = usize::try_from(start_index).unwrap_or(usize::MAX);
        if index >= items.len() {
            return Err(RelayError::new(
                Side::Source,
                ErrorKind::InvalidUrl,
                format!(
                    "FileIndex {start_index} is past the list's last item ({})",
                    items.len() - 1
                ),
            ));
        }
        Ok(Arc::new(Playlist {
            dropped_noted: Mutex::new(vec![false; items.len()]),
            items,
            notes: Mutex::new(VecDeque::new()),
            noted: tokio::sync::Notify::new(),
            repeat: AtomicI32::new(repeat),
            cursor: Mutex::new(Cursor {
                progress: PlaylistProgress {
                    file_index: start_index,
                    offset_ms: start_offset_ms,
                    loops_done,
                    finished: false,
                },
                skipped_in_a_row: 0,
            }),
        }))
    }

    /// Where the list stands now.
    pub fn progress(&self) -> PlaylistProgress {
        self.cursor().progress
    }

    pub fn items(&self) -> &[String] {
        &self.items
    }

    /// Item notes since the last call, oldest first.
    pub fn take_notes(&self) -> Vec<ItemNote> {
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        notes.drain(..).collect()
    }

    /// Resolves when a note may be waiting (see [`Playlist::take_notes`]).
    pub async fn noted(&self) {
        self.noted.notified().await;
    }

    fn note(&self, kind: ItemNoteKind, file_index: u32, detail: Option<String>) {
        {
            let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
            if notes.len() >= MAX_NOTES {
                notes.pop_front();
            }
            notes.push_back(ItemNote {
                kind,
                file_index,
                detail,
            });
        }
        self.noted.notify_one();
    }

    /// Whether the dropped tracks of item `index` are to be noted now: only the first time.
    fn first_drop_note(&self, index: u32) -> bool {
        let mut noted = self.dropped_noted.lock().unwrap_or_else(|e| e.into_inner());
        noted
            .get_mut(index as usize)
            .is_some_and(|seen| !std::mem::replace(seen, true))
    }

    /// RepeatNumber changed while playing: counts from the passes already done.
    pub fn set_repeat(&self, repeat: i32) {
        self.repeat.store(repeat, Ordering::Relaxed);
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to the next item (next pass, or finished). Returns the new index, `None` when
    /// the list is done.
    fn advance(&self) -> Option<usize> {
        let mut c = self.cursor();
        let next = c.progress.file_index as usize + 1;
        c.progress.offset_ms = 0;
        if next < self.items.len() {
            c.progress.file_index = next as u32;
            return Some(next);
        }
        c.progress.loops_done = c.progress.loops_done.saturating_add(1);
        let repeat = self.repeat.load(Ordering::Relaxed);
        let more = repeat < 0 || i64::from(c.progress.loops_done) <= i64::from(repeat);
        if more {
            c.progress.file_index = 0;
            Some(0)
        } else {
            c.progress.finished = true;
            None
        }
    }
}

/// Settings of a [`Player`].
#[derive(Clone, Debug)]
pub struct PlayerConfig {
    /// How far ahead of the clock frames may leave.
    pub lead: Duration,
    pub http: HttpFileConfig,
    pub timeline: TimelineConfig,
    /// Files held in memory, named `mem:NAME` in a list (tests; generated content).
    pub memory: Arc<HashMap<String, Bytes>>,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        PlayerConfig {
            lead: Duration::from_millis(500),
            http: HttpFileConfig::default(),
            timeline: TimelineConfig::default(),
            memory: Arc::default(),
        }
    }
}

/// Plays a [`Playlist`] from its saved position: frames on one continuous timeline, paced.
pub struct Player {
    playlist: Arc<Playlist>,
    /// Where item requests may go (the task's account's egress).
    egress: Egress,
    config: PlayerConfig,
    timeline: Timeline,
    item: Option<Item>,
    /// The open item's first frames, until where its tracks start is known (then the item's
    /// segment begins and they are mapped).
    lookahead: Option<SegmentLookahead>,
    ready: VecDeque<Frame>,
    /// Wall instant ↔ output DTS of the first frame paced.
    pace: Option<(Instant, i64)>,
    bytes_in_done: u64,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("progress", &self.playlist.progress())
            .finish_non_exhaustive()
    }
}

/// What [`Player::next`] yields.
#[derive(Debug)]
pub enum PlayerEvent {
    Frame(Frame),
    /// The list is done.
    Finished,
}

impl Player {
    /// A player at the playlist's saved position; the item is opened by the first
    /// [`next`](Player::next).
    pub fn new(playlist: Arc<Playlist>, egress: Egress, config: PlayerConfig) -> Player {
        Player {
            timeline: Timeline::new(config.timeline.clone()),
            playlist,
            egress,
            config,
            item: None,
            lookahead: None,
            ready: VecDeque::new(),
            pace: None,
            bytes_in_done: 0,
        }
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in_done + self.item.as_ref().map_or(0, Item::bytes_in)
    }

    /// The next frame, when its time has come. Cancel-safe: a frame is only taken off the
    /// queue once its time has come, and item reads advance only when they complete.
    pub async fn next(&mut self) -> Result<PlayerEvent, RelayError> {
        loop {
            if let Some(dts) = self.ready.front().map(|f| f.dts) {
                let due = self.due(dts);
                sleep_until(due).await;
                if let Some(frame) = self.ready.pop_front() {
                    return Ok(PlayerEvent::Frame(frame));
                }
                continue;
            }
            if self.playlist.progress().finished {
                return Ok(PlayerEvent::Finished);
            }
            self.fill().await?;
        }
    }

    /// When a frame with output `dts` may leave.
    fn due(&mut self, dts: i64) -> Instant {
        let (start, first) = *self.pace.get_or_insert((Instant::now(), dts));
        let ahead = u64::try_from(dts.saturating_sub(first)).unwrap_or(0);
        (start + Duration::from_millis(ahead))
            .checked_sub(self.config.lead)
            .unwrap_or(start)
    }

    /// Reads until at least one frame is ready, the list finished, or an error.
    async fn fill(&mut self) -> Result<(), RelayError> {
        while self.ready.is_empty() {
            if self.item.is_none() {
                if !self.open_current().await? {
                    return Ok(()); // finished
                }
                continue;
            }
            let Some(item) = self.item.as_mut() else {
                continue;
            };
            match item.next_frame().await {
                Ok(Some(frame)) => match self.lookahead.as_mut() {
                    Some(ahead) => {
                        ahead.push(frame);
                        if ahead.is_complete() {
                            self.begin_item();
                        }
                    }
                    None => self.emit(frame),
                },
                Ok(None) => {
                    self.begin_item();
                    self.close_item();
                    let index = self.playlist.progress().file_index;
                    self.playlist.note(ItemNoteKind::Finished, index, None);
                    let finished = self.playlist.advance().is_none();
                    if finished {
                        info!("playlist finished");
                        return Ok(());
                    }
                }
                Err(ItemError::Fetch(e)) if e.is_retryable() => {
                    self.close_item();
                    return Err(fetch_error(self.current_url(), &e));
                }
                Err(e) => {
                    self.close_item();
                    self.skip(&e)?;
                }
            }
        }
        Ok(())
    }

    /// The open item's start is known (or the item ended first): begins its segment and
    /// maps the frames read ahead.
    fn begin_item(&mut self) {
        let Some(ahead) = self.lookahead.take() else {
            return;
        };
        let (start, frames) = ahead.finish();
        self.timeline.begin_seamless_segment(&start);
        for frame in frames {
            self.emit(frame);
        }
    }

    /// Maps a frame of the open item onto the output and queues it.
    fn emit(&mut self, mut frame: Frame) {
        let local = frame.dts;
        self.timeline.map(&mut frame);
        if !frame.config && frame.kind != TagType::Script {
            let mut c = self.playlist.cursor();
            c.progress.offset_ms = u64::try_from(local).unwrap_or(0);
            c.skipped_in_a_row = 0;
        }
        self.ready.push_back(frame);
    }

    fn current_url(&self) -> String {
        let index = self.playlist.progress().file_index as usize;
        self.playlist.items.get(index).cloned().unwrap_or_default()
    }

    /// Opens the item under the cursor at its saved offset. `false` when the list finished
    /// (every remaining item skipped).
    async fn open_current(&mut self) -> Result<bool, RelayError> {
        loop {
            let progress = self.playlist.progress();
            if progress.finished {
                return Ok(false);
            }
            let url = self.current_url();
            match Item::open(&self.egress, &url, progress.offset_ms, &self.config).await {
                Ok(item) => {
                    info!(item = progress.file_index, url = %url, offset_ms = progress.offset_ms, "playlist item");
                    self.playlist
                        .note(ItemNoteKind::Started, progress.file_index, None);
                    let dropped = item.dropped_tracks();
                    if !dropped.is_empty() && self.playlist.first_drop_note(progress.file_index) {
                        for track in dropped {
                            warn!(item = progress.file_index, url = %url, track = %track, "playlist item plays without a track");
                            self.playlist.note(
                                ItemNoteKind::TrackDropped,
                                progress.file_index,
                                Some(track),
                            );
                        }
                    }
                    self.lookahead = Some(SegmentLookahead::new());
                    self.item = Some(item);
                    return Ok(true);
                }
                Err(ItemError::Fetch(e)) if e.is_retryable() => {
                    return Err(fetch_error(url, &e));
                }
                Err(e) => {
                    self.skip(&e)?;
                }
            }
        }
    }

    /// Skips the current item after `e`; fails when every item failed in a row.
    fn skip(&mut self, e: &ItemError) -> Result<(), RelayError> {
        let url = self.current_url();
        warn!(url = %url, reason = %e, "playlist item skipped");
        let index = self.playlist.progress().file_index;
        self.playlist
            .note(ItemNoteKind::Skipped, index, Some(e.to_string()));
        let in_a_row = {
            let mut c = self.playlist.cursor();
            c.skipped_in_a_row += 1;
            c.skipped_in_a_row
        };
        if in_a_row >= self.playlist.items.len() {
            let kind = match e {
                ItemError::Fetch(FetchError::Egress(_)) => ErrorKind::EgressDenied,
                _ => ErrorKind::Unsupported,
            };
            return Err(RelayError::new(
                Side::Source,
                kind,
                format!("no item of the playlist can be played (last: {url}: {e})"),
            ));
        }
        self.playlist.advance();
        Ok(())
    }

    fn close_item(&mut self) {
        // Frames read ahead of an item that failed were never sent: the item is skipped or
        // read again from the saved position.
        self.lookahead = None;
        if let Some(item) = self.item.take() {
            self.bytes_in_done += item.bytes_in();
        }
    }
}

fn fetch_error(url: String, e: &FetchError) -> RelayError {
    let kind = match e {
        FetchError::Timeout => ErrorKind::Timeout,
        FetchError::Transport(_) => ErrorKind::Connect,
        _ => ErrorKind::Disconnected,
    };
    RelayError::new(Side::Source, kind, format!("{url}: {e}"))
}

/// Why an item cannot be played.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ItemError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Format(String),
}

/// One open item.
enum Item {
    Flv(Box<FlvItem>),
    Mp4(Box<Mp4Item>),
}

impl Item {
    async fn open(
        egress: &Egress,
        url: &str,
        offset_ms: u64,
        config: &PlayerConfig,
    ) -> Result<Item, ItemError> {
        let mut file = open_file(egress, url, config).await?;
        let head = file.read_at(0, 16).await?;
        if head.starts_with(b"FLV") {
            return Ok(Item::Flv(Box::new(FlvItem::new(file, offset_ms))));
        }
        if head.len() >= 8 && MP4_FIRST_BOXES.contains(&&head[4..8]) {
            return Ok(Item::Mp4(Box::new(Mp4Item::open(file, offset_ms).await?)));
        }
        Err(ItemError::Format(format!(
            "not an FLV or MP4 file (starts with {:02x?})",
            &head[..head.len().min(8)]
        )))
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>, ItemError> {
        match self {
            Item::Flv(item) => item.next_frame().await,
            Item::Mp4(item) => item.next_frame().await,
        }
    }

    fn bytes_in(&self) -> u64 {
        match self {
            Item::Flv(item) => item.file.bytes_in(),
            Item::Mp4(item) => item.file.bytes_in(),
        }
    }

    /// The audio/video tracks the item plays without, described (MP4 tracks whose codec
    /// cannot be carried; FLV tags are all passed through).
    fn dropped_tracks(&self) -> Vec<String> {
        match self {
            Item::Flv(_) => Vec::new(),
            Item::Mp4(item) => item.dropped.clone(),
        }
    }
}

async fn open_file(
    egress: &Egress,
    url: &str,
    config: &PlayerConfig,
) -> Result<MediaFile, FetchError> {
    let lower = url.to_ascii_lowercase();
    if let Some(name) = url.strip_prefix("mem:") {
        return match config.memory.get(name) {
            Some(bytes) => Ok(MediaFile::Memory(bytes.clone())),
            None => Err(FetchError::Status(404)),
        };
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let file = HttpFile::open(egress.clone(), url, config.http.clone()).await?;
        Ok(MediaFile::Http(file))
    } else {
        let path = url.strip_prefix("file://").unwrap_or(url);
        Ok(MediaFile::Local(LocalFile::open(path).await?))
    }
}

/// Box types an MP4 file starts with.
const MP4_FIRST_BOXES: [&[u8]; 6] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"];

/// Top-level boxes looked at to find `moov`, at most.
const MAX_TOP_LEVEL_BOXES: usize = 1024;

/// An MP4 item: `moov` read and parsed once, then each sample read by offset (range reads of
/// the `mdat`, in decode order) and sent with its FLV tag-body prefix.
struct Mp4Item {
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
struct FlvItem {
    file: MediaFile,
    pos: u64,
    eof: bool,
    demux: FlvDemuxer,
    /// Frames held while seeking: everything since the last video keyframe before the offset.
    seek: Option<(i64, Vec<Frame>)>,
    out: VecDeque<Frame>,
}

impl FlvItem {
    fn new(file: MediaFile, offset_ms: u64) -> FlvItem {
        FlvItem {
            file,
            pos: 0,
            eof: false,
            demux: FlvDemuxer::new(DemuxLimits::default()),
            seek: (offset_ms > 0)
                .then(|| (i64::try_from(offset_ms).unwrap_or(i64::MAX), Vec::new())),
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
                    self.place(frame);
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

    /// Queues `frame`, or holds it while seeking to the keyframe at or before the offset:
    /// sequence headers and metadata pass; a video keyframe at or before the offset starts a
    /// new held GOP, later frames join it; the first frame at or past the offset releases the
    /// held GOP (or, with none held, starts the item there if it is audio or a keyframe).
    fn place(&mut self, frame: Frame) {
        let Some((target, held)) = self.seek.as_mut() else {
            self.out.push_back(frame);
            return;
        };
        if frame.config || frame.kind == TagType::Script {
            self.out.push_back(frame);
            return;
        }
        let video_key = frame.kind == TagType::Video && frame.keyframe;
        if frame.dts < *target {
            if video_key {
                held.clear();
                held.push(frame);
            } else if !held.is_empty() {
                held.push(frame);
            }
            return;
        }
        if video_key {
            // A keyframe right at the offset: start there.
            held.clear();
        } else if held.is_empty() && frame.kind != TagType::Audio {
            return;
        }
        let held = std::mem::take(held);
        self.seek = None;
        self.out.extend(held);
        self.out.push_back(frame);
    }
}
