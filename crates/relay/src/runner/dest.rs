//! One destination of a relay: its session, its own out queue (drop-to-keyframe), GOP buffer
//! while it is away, backoff, grace and counters. The runner keeps a `Vec` of these and feeds
//! every one the same frames (a `Frame` clone is an `Arc`/`Bytes` clone); nothing one
//! destination does waits on another (see the runner's module docs for the rules).

use baton_media::config::ConfigTracker;
use baton_media::gop::GopCache;
use baton_media::queue::SubscriberQueue;
use baton_media::{Frame, TagType};
use baton_net::srt_client::SrtSendStats;
use tokio::time::Instant;

use super::{BoxFuture, OUT_HIGH_WATER};
use crate::RelayConfig;
use crate::backoff::Backoff;
use crate::destination::{Destination, DestinationUrl, Sent};
use crate::error::RelayError;
use crate::resume::is_media;
use crate::status::{DestinationId, DestinationState, DestinationStatus, ErrorRecord, Transport};

pub(super) enum DstState {
    /// Not connected yet: the destination is opened when the first source frame arrives.
    Idle,
    Connecting(BoxFuture<Result<Destination, RelayError>>),
    Waiting(Instant),
    Live(Destination),
    /// Failed for good (a refusal, or down for the whole grace period): never retried; its
    /// last error stays in its status.
    Failed,
}

/// Counters of one destination, kept on the hot path and published once per tick.
#[derive(Default)]
pub(super) struct DestCounters {
    /// Bytes of sessions already closed.
    pub(super) bytes_out_done: u64,
    pub(super) frames_out: u64,
    pub(super) video_frames_out: u64,
    /// Frames skipped while a new session waited for a keyframe (or, SRT, for the sequence
    /// header the TS muxer needs).
    pub(super) skipped: u64,
    /// Frames an SRT destination's TS muxer could not read (dropped).
    pub(super) unreadable: u64,
    pub(super) sessions: u64,
}

pub(super) struct Dest {
    pub(super) id: DestinationId,
    /// The URL as configured, for logs and the status.
    pub(super) name: String,
    pub(super) url: DestinationUrl,
    pub(super) state: DstState,
    /// Headers sent to the current session.
    pub(super) configs: ConfigTracker,
    /// Frames kept while the session is (re)connecting: the latest GOP.
    pub(super) buffer: GopCache,
    /// Frames waiting for the session (full: drop to the next keyframe).
    pub(super) out: SubscriberQueue,
    pub(super) backoff: Backoff,
    pub(super) down_since: Option<Instant>,
    pub(super) last_error: Option<RelayError>,
    pub(super) last_error_at: Option<ErrorRecord>,
    /// Audio/video was written to the current session since the source last came back (what
    /// the relay's `Forwarding` means).
    pub(super) media_out: bool,
    /// Audio/video was written to the current session at all (what this destination's own
    /// `Forwarding` means).
    pub(super) session_media: bool,
    /// The session is new: media waits for a video keyframe (decoders can't start
    /// elsewhere), audio too so that both tracks start together.
    pub(super) await_keyframe: bool,
    pub(super) counters: DestCounters,
    pub(super) transport: Option<Transport>,
    pub(super) srt: Option<SrtSendStats>,
    /// Bytes out at the last published tick, for the bitrate.
    pub(super) last_tick_bytes: u64,
    /// Video frames out at the last published tick, for the frame rate.
    pub(super) last_tick_video: u64,
    pub(super) bitrate_out: u64,
}

/// What [`Dest::pump`] did.
pub(super) struct Pumped {
    /// Media reached this session for the first time since the source came back.
    pub(super) began: bool,
    /// Media reached this session for the first time (its own state is now `Forwarding`).
    pub(super) first_media: bool,
    pub(super) failure: Option<RelayError>,
}

impl Dest {
    pub(super) fn new(
        id: DestinationId,
        name: String,
        url: DestinationUrl,
        config: &RelayConfig,
    ) -> Dest {
        Dest {
            id,
            name,
            url,
            state: DstState::Idle,
            configs: ConfigTracker::new(),
            buffer: GopCache::new(config.buffer.clone()),
            out: SubscriberQueue::new(config.queue.clone()),
            backoff: Backoff::new(config.destination_backoff.clone()),
            down_since: None,
            last_error: None,
            last_error_at: None,
            media_out: false,
            session_media: false,
            await_keyframe: true,
            counters: DestCounters::default(),
            transport: None,
            srt: None,
            last_tick_bytes: 0,
            last_tick_video: 0,
            bitrate_out: 0,
        }
    }

    pub(super) fn is_failed(&self) -> bool {
        matches!(self.state, DstState::Failed)
    }

    /// Takes one source frame (already on the relay's timeline). Returns `true` when the
    /// destination is idle and should now be connected.
    pub(super) fn accept(&mut self, frame: Frame) -> bool {
        match self.state {
            DstState::Live(_) => {
                self.out.push(frame);
                false
            }
            DstState::Idle => {
                self.buffer.push(&frame);
                true
            }
            DstState::Connecting(_) | DstState::Waiting(_) => {
                self.buffer.push(&frame);
                false
            }
            DstState::Failed => false,
        }
    }

    /// Moves frames from the out queue into the session while it keeps up.
    /// `has_video`: the source has a video sequence header (audio then waits for a keyframe
    /// too).
    pub(super) fn pump(&mut self, has_video: bool) -> Pumped {
        let mut pumped = Pumped {
            began: false,
            first_media: false,
            failure: None,
        };
        let DstState::Live(conn) = &mut self.state else {
            return pumped;
        };
        while conn.queued_bytes() < OUT_HIGH_WATER {
            let Some(frame) = self.out.pop() else { break };
            if !self.configs.should_forward(&frame) {
                continue;
            }
            if self.await_keyframe && !frame.config && frame.kind != TagType::Script {
                if frame.keyframe {
                    self.await_keyframe = false;
                } else if frame.kind == TagType::Video || has_video {
                    self.counters.skipped += 1;
                    continue;
                }
            }
            match conn.send(&frame) {
                Ok(Sent::Queued) => {}
                Ok(Sent::Skipped) => {
                    self.counters.skipped += 1;
                    continue;
                }
                Ok(Sent::Dropped) => {
                    self.counters.unreadable += 1;
                    continue;
                }
                Err(e) => {
                    pumped.failure = Some(e);
                    break;
                }
            }
            self.counters.frames_out += 1;
            if frame.kind == TagType::Video && !frame.config {
                self.counters.video_frames_out += 1;
            }
            if !self.media_out && is_media(&frame) {
                self.media_out = true;
                pumped.began = true;
                pumped.first_media = !self.session_media;
                self.session_media = true;
            }
        }
        pumped
    }

    /// The session is up: it starts with the latest headers, then what was buffered.
    pub(super) fn connected(&mut self, conn: Destination, headers: &ConfigTracker) {
        self.transport = Some(conn.transport());
        // A new session's counters start at zero; the last one's go.
        self.srt = None;
        self.state = DstState::Live(conn);
        self.counters.sessions += 1;
        self.down_since = None;
        self.backoff.reset();
        self.configs.reset();
        self.await_keyframe = true;
        self.media_out = false;
        self.session_media = false;
        // The latest headers from the source first (the buffer's own copies are then
        // skipped as repeats), then the latest GOP.
        let latest = [
            headers.metadata(),
            headers.video_config(),
            headers.audio_config(),
        ];
        for frame in latest.into_iter().flatten().chain(self.buffer.replay()) {
            self.out.push(frame.clone());
        }
        self.buffer.clear();
    }

    /// The session ended (or never opened): counts what it wrote and keeps its last SRT
    /// statistics. Returns the session, if it was live.
    pub(super) fn take_session(&mut self) -> Option<Destination> {
        match std::mem::replace(&mut self.state, DstState::Idle) {
            DstState::Live(mut conn) => {
                self.counters.bytes_out_done += conn.bytes_out();
                if let Some(srt) = conn.srt_stats() {
                    self.srt = Some(srt);
                }
                Some(conn)
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// What the old session did not get is kept GOP-wise for the next one.
    pub(super) fn requeue_for_next_session(&mut self) {
        while let Some(frame) = self.out.pop() {
            self.buffer.push(&frame);
        }
    }

    /// Failed for good: nothing is kept for it any more.
    pub(super) fn fail(&mut self) {
        self.state = DstState::Failed;
        self.down_since = None;
        self.media_out = false;
        self.session_media = false;
        self.buffer.clear();
        while self.out.pop().is_some() {}
    }

    pub(super) fn bytes_out(&self) -> u64 {
        let live = match &self.state {
            DstState::Live(c) => c.bytes_out(),
            _ => 0,
        };
        self.counters.bytes_out_done + live
    }

    /// Frames this destination lost: its queue's drops, frames skipped waiting for a keyframe
    /// or a header, frames its muxer could not read.
    pub(super) fn dropped(&self) -> u64 {
        self.out.dropped() + self.counters.skipped + self.counters.unreadable
    }

    pub(super) fn state(&self) -> DestinationState {
        match self.state {
            DstState::Failed => DestinationState::Failed,
            _ if self.down_since.is_some() => DestinationState::Reconnecting,
            DstState::Live(_) if self.session_media => DestinationState::Forwarding,
            _ => DestinationState::Connecting,
        }
    }

    /// Refreshes the SRT statistics of a live session.
    pub(super) fn poll_srt(&mut self) {
        if let DstState::Live(conn) = &mut self.state
            && let Some(srt) = conn.srt_stats()
        {
            self.srt = Some(srt);
        }
    }

    pub(super) fn status(&self) -> DestinationStatus {
        DestinationStatus {
            id: self.id,
            url: self.name.clone(),
            state: self.state(),
            bytes_out: self.bytes_out(),
            bitrate_out: self.bitrate_out,
            frames_out: self.counters.frames_out,
            frames_dropped: self.dropped(),
            sessions: self.counters.sessions,
            transport: self.transport.clone(),
            srt: self.srt,
            last_error: self.last_error_at.clone(),
        }
    }
}
