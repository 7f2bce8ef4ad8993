//! The tracker's state and transitions. The policy is described on the parent module.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use url::Url;

use super::{Discontinuity, SegmentRequest, SkipReason, StallError, TrackerConfig, TrackerEvent};
use crate::playlist::{ByteRange, MediaPlaylist};

/// How many fetched segments' URIs are remembered for resuming after a sequence reset.
const RECENT: usize = 32;

/// Reload interval before any playlist gave a target duration (after failed first loads).
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Follows one live media playlist: which segment to fetch next, when to reload. See the
/// module documentation for the calling order and the policy.
#[derive(Debug)]
pub struct LiveTracker {
    config: TrackerConfig,
    playlist: Option<MediaPlaylist>,
    /// The sequence number to hand out next.
    next: u64,
    in_flight: Option<InFlight>,
    /// Fetched segments, newest last: (sequence, URI, byte range).
    recent: VecDeque<(u64, Url, Option<ByteRange>)>,
    pending_break: Option<Discontinuity>,
    last_change: Instant,
    failed_loads: u32,
    events: VecDeque<TrackerEvent>,
    /// [`TrackerEvent::Ended`] was reported and nothing newer is listed yet.
    ended: bool,
    /// [`TrackerEvent::Stalled`] was reported: nothing follows.
    finished: bool,
}

#[derive(Debug)]
struct InFlight {
    request: SegmentRequest,
    retried: bool,
}

impl LiveTracker {
    /// A tracker that has loaded nothing yet. `now` starts the stall clock.
    pub fn new(config: TrackerConfig, now: Instant) -> Self {
        Self {
            config,
            playlist: None,
            next: 0,
            in_flight: None,
            recent: VecDeque::with_capacity(RECENT),
            pending_break: None,
            last_change: now,
            failed_loads: 0,
            events: VecDeque::new(),
            ended: false,
            finished: false,
        }
    }

    /// A playlist was loaded; the request for it began at `requested_at`.
    pub fn handle_playlist(&mut self, playlist: MediaPlaylist, requested_at: Instant) {
        if self.finished {
            return;
        }
        let changed = self
            .playlist
            .as_ref()
            .is_none_or(|old| differs(old, &playlist));
        if changed {
            self.last_change = requested_at;
            self.failed_loads = 0;
        } else if !self.ended
            && !playlist.ended
            && self.stalled(playlist.target_duration, requested_at)
        {
            return;
        }
        match self.playlist.take() {
            Some(old) if self.ended => {
                if changed {
                    self.after_end(&old, &playlist);
                }
            }
            Some(old) if !self.recent.is_empty() => self.follow(&old, &playlist),
            // Nothing fetched yet: (re)choose the start on every load.
            _ => {
                self.next = if playlist.ended && self.config.play_ended {
                    playlist.media_sequence
                } else if playlist.ended {
                    playlist.end_sequence()
                } else {
                    self.live_start(&playlist)
                }
            }
        }
        // Reloads go on after EXT-X-ENDLIST: a restarted producer continues the playlist.
        let wait = if changed {
            playlist.target_duration
        } else {
            playlist.target_duration / 2
        };
        self.events
            .push_back(TrackerEvent::ReloadAt(requested_at + wait));
        self.playlist = Some(playlist);
    }

    /// Loading the playlist failed (network error, HTTP error, [`crate::ParseError`]); the
    /// request began at `requested_at`. Retried after half a target duration until the stall
    /// limit.
    pub fn handle_playlist_failed(&mut self, requested_at: Instant) {
        if self.finished {
            return;
        }
        self.failed_loads = self.failed_loads.saturating_add(1);
        let target = self.playlist.as_ref().map(|p| p.target_duration);
        // After EXT-X-ENDLIST the source is already down: how long to wait for it is the
        // caller's grace, not a stall.
        if !self.ended && self.stalled(target.unwrap_or(Duration::ZERO), requested_at) {
            return;
        }
        let wait = target.map_or(FIRST_RETRY, |t| t / 2);
        self.events
            .push_back(TrackerEvent::ReloadAt(requested_at + wait));
    }

    /// The segment of the last [`TrackerEvent::Fetch`] was fetched (and handed to the demuxer).
    pub fn segment_done(&mut self) {
        self.in_flight = None;
    }

    /// The segment of the last [`TrackerEvent::Fetch`] could not be fetched (404, timeout,
    /// decryption failure). The first failure asks for it again; the second skips it.
    pub fn segment_failed(&mut self) {
        let Some(mut in_flight) = self.in_flight.take() else {
            return;
        };
        if self.finished {
            return;
        }
        if in_flight.retried {
            self.events.push_back(TrackerEvent::Skipped {
                first: in_flight.request.sequence,
                count: 1,
                reason: SkipReason::Failed,
            });
            self.pending_break = Some(Discontinuity::SegmentSkipped);
        } else {
            in_flight.retried = true;
            in_flight.request.retry = true;
            self.events
                .push_back(TrackerEvent::Fetch(Box::new(in_flight.request.clone())));
            self.in_flight = Some(in_flight);
        }
    }

    /// The next thing to do or know, `None` when the tracker waits for the caller.
    pub fn poll_event(&mut self) -> Option<TrackerEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if self.finished || self.in_flight.is_some() {
            return None;
        }
        let playlist = self.playlist.as_ref()?;
        if let Some(segment) = playlist.segment(self.next) {
            // A break before the first segment fetched means nothing: no timeline yet.
            let pending = self.pending_break.take();
            let discontinuity = if self.recent.is_empty() {
                None
            } else {
                pending.or(segment.discontinuity.then_some(Discontinuity::Tag))
            };
            let request = SegmentRequest {
                sequence: segment.sequence,
                uri: segment.uri.clone(),
                byte_range: segment.byte_range,
                key: segment.key.clone(),
                map: segment.map.clone(),
                duration: segment.duration,
                discontinuity,
                retry: false,
            };
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent
                .push_back((segment.sequence, segment.uri.clone(), segment.byte_range));
            self.next = segment.sequence.saturating_add(1);
            self.in_flight = Some(InFlight {
                request: request.clone(),
                retried: false,
            });
            return Some(TrackerEvent::Fetch(Box::new(request)));
        }
        if playlist.ended && !self.ended && self.next >= playlist.end_sequence() {
            self.ended = true;
            return Some(TrackerEvent::Ended);
        }
        None
    }

    /// Whether [`TrackerEvent::Stalled`] was reported: the tracker does nothing more.
    pub fn is_finished(&self) -> bool {
        self.finished && self.events.is_empty()
    }

    /// Whether [`TrackerEvent::Ended`] was reported and no newer segment is listed yet.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The sequence number the tracker will hand out next.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }

    /// Applies a reloaded playlist to the position: reset, expiry and skip-ahead.
    fn follow(&mut self, old: &MediaPlaylist, new: &MediaPlaylist) {
        let renumbered = self.recent.iter().any(|(sequence, uri, range)| {
            new.segment(*sequence)
                .is_some_and(|s| s.uri != *uri || s.byte_range != *range)
        });
        if new.media_sequence < old.media_sequence || renumbered {
            // Resume after the newest listed segment that was fetched recently.
            let resume = new.segments.iter().rev().find(|s| {
                self.recent
                    .iter()
                    .any(|(_, uri, range)| s.uri == *uri && s.byte_range == *range)
            });
            self.next = match resume {
                Some(segment) => segment.sequence.saturating_add(1),
                None => self.live_start(new),
            };
            self.events.push_back(TrackerEvent::Reset {
                previous_sequence: old.media_sequence,
                sequence: new.media_sequence,
                resumed_by_uri: resume.is_some(),
            });
            self.pending_break = Some(Discontinuity::SequenceReset);
            // Forget the old numbering: it must not be compared with the new one.
            for entry in &mut self.recent {
                entry.0 = u64::MAX;
            }
            return;
        }
        let reason = if self.next < new.media_sequence {
            SkipReason::Expired
        } else if new.end_sequence().saturating_sub(self.next) > self.config.max_behind {
            SkipReason::Behind
        } else {
            return;
        };
        let start = self.live_start(new).max(new.media_sequence);
        if start > self.next {
            self.events.push_back(TrackerEvent::Skipped {
                first: self.next,
                count: start - self.next,
                reason,
            });
            self.next = start;
            self.pending_break = Some(Discontinuity::SkippedAhead);
        }
    }

    /// A playlist that changed after [`TrackerEvent::Ended`]: what it lists after the end is
    /// a new run of the producer. Appended to the old numbering (`append_list`), it continues
    /// after the last segment fetched; numbered anew (a restart), or renumbered, it starts at
    /// its first segment — the old run's URIs mean nothing any more, so nothing is resumed by
    /// URI — or at the live start position when more than [`TrackerConfig::max_behind`]
    /// segments are listed. A stale copy of the ended playlist lists nothing new.
    fn after_end(&mut self, old: &MediaPlaylist, new: &MediaPlaylist) {
        let renumbered = self.recent.iter().any(|(sequence, uri, range)| {
            new.segment(*sequence)
                .is_some_and(|s| s.uri != *uri || s.byte_range != *range)
        });
        let reset = new.media_sequence < old.media_sequence || renumbered;
        let start = if !reset && self.next >= new.media_sequence {
            // The old numbering goes on: continue after the last segment fetched.
            self.next
        } else if new.segments.len() as u64 > self.config.max_behind {
            self.live_start(new)
        } else {
            new.media_sequence
        };
        if start >= new.end_sequence() {
            // Nothing newer than the end: the source is still down.
            if reset {
                self.next = new.end_sequence();
            }
            return;
        }
        if reset {
            self.events.push_back(TrackerEvent::Reset {
                previous_sequence: old.media_sequence,
                sequence: new.media_sequence,
                resumed_by_uri: false,
            });
        }
        for entry in &mut self.recent {
            entry.0 = u64::MAX;
        }
        self.next = start;
        self.ended = false;
        self.pending_break = Some(Discontinuity::Restart);
    }

    /// The live start position: the last segment starting at least `start_target_durations`
    /// target durations before the end, else the first.
    fn live_start(&self, playlist: &MediaPlaylist) -> u64 {
        let distance = playlist
            .target_duration
            .saturating_mul(self.config.start_target_durations);
        let mut from_end = Duration::ZERO;
        for segment in playlist.segments.iter().rev() {
            from_end = from_end.saturating_add(segment.duration);
            if from_end >= distance {
                return segment.sequence;
            }
        }
        playlist.media_sequence
    }

    /// Reports a stall and finishes if the playlist has been unchanged too long at `now`.
    fn stalled(&mut self, target_duration: Duration, now: Instant) -> bool {
        let unchanged_for = now.saturating_duration_since(self.last_change);
        let limit = self.config.stall_limit(target_duration);
        if unchanged_for <= limit {
            return false;
        }
        self.events.push_back(TrackerEvent::Stalled(StallError {
            unchanged_for,
            limit,
            failed_loads: self.failed_loads,
        }));
        self.finished = true;
        true
    }
}

/// Whether a reload brought anything new (§6.3.4 "has changed"): other segments or an end.
fn differs(old: &MediaPlaylist, new: &MediaPlaylist) -> bool {
    old.media_sequence != new.media_sequence
        || old.segments.len() != new.segments.len()
        || old.ended != new.ended
        || old.segments.last().map(|s| (&s.uri, s.byte_range))
            != new.segments.last().map(|s| (&s.uri, s.byte_range))
}
