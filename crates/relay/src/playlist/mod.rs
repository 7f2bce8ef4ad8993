//! Playlists: files played one after another as one live stream (SourceType `url` / `vod`).
//!
//! A [`Playlist`] is the list and the position in it, shared by every connection of one
//! relay: when an item cannot be fetched for a moment the relay reconnects its source like any
//! other, and the new [`Player`] resumes at the saved item and position (at the keyframe at or
//! before it). The player
//!
//! * reads each item by offset ([`baton_net::fetch`]: HTTP range requests or a local file),
//!   never the whole file; FLV is demuxed as it is read, MP4 from its `moov` sample tables,
//!   MPEG-TS (a path ending in `.ts`, or a file starting with a sync byte) demuxed as it is
//!   read through [`crate::ts`]; a VOD HLS playlist (a path ending in `.m3u8`, or a file
//!   starting with `#EXTM3U`) segment by segment, MPEG-TS or fMP4, AES-128 or clear, as one
//!   item (`hls`: a live playlist, a discontinuity inside one, or a separate audio rendition
//!   is skipped naming why);
//! * starts an item at an offset (FileIndex/Offset, or a reconnect) at the video keyframe at
//!   or before it: MP4 from its sample tables; FLV and MPEG-TS, which have no index, by
//!   reading from the start and dropping what comes before that keyframe; HLS from the
//!   segment holding the offset (by EXTINF), then the same way;
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
//! * plays an MP4 or MPEG-TS item without the audio/video tracks it cannot carry (Opus,
//!   AV1, AC-3, MPEG audio layer II, a second video track...) and notes each such track
//!   ([`ItemNoteKind::TrackDropped`]) the first time the item is opened in the run.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_media::timeline::{SegmentLookahead, Timeline, TimelineConfig};
use baton_media::{Frame, TagType};
use baton_net::egress::Egress;
use baton_net::fetch::{FetchError, HttpFileConfig};
use bytes::Bytes;
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use crate::error::{ErrorKind, RelayError, Side};

mod file;
mod hls;
mod item;
mod seek;

use file::ItemError;
use item::Item;

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
        FetchError::Certificate(_) => ErrorKind::Certificate,
        _ => ErrorKind::Disconnected,
    };
    RelayError::new(Side::Source, kind, format!("{url}: {e}"))
}

/// Reads a whole file (FLV, MP4, MPEG-TS or VOD HLS; a local path or an http(s) URL through
/// `egress`) into frames, as an item would play them, refusing one with more than
/// `max_bytes` of frames or `max_frames` frames: what a slate is loaded with, once.
pub(crate) async fn read_whole(
    egress: &Egress,
    url: &str,
    max_bytes: usize,
    max_frames: usize,
) -> Result<Vec<Frame>, String> {
    let config = PlayerConfig::default();
    let mut item = Item::open(egress, url, 0, &config)
        .await
        .map_err(|e| e.to_string())?;
    let (mut frames, mut bytes) = (Vec::new(), 0usize);
    while let Some(frame) = item.next_frame().await.map_err(|e| e.to_string())? {
        bytes += frame.payload.len();
        if bytes > max_bytes || frames.len() >= max_frames {
            return Err(format!(
                "longer than a slate may be ({max_frames} frames, {max_bytes} bytes)"
            ));
        }
        frames.push(frame);
    }
    Ok(frames)
}
