//! What the loop publishes about itself: the relay's status (once per tick and on state
//! changes) with each destination's, and the last error.

use std::time::SystemTime;

use tokio::time::Instant;

use super::dest::Dest;
use super::{Runner, SrcState};
use crate::error::RelayError;
use crate::status::ErrorRecord;

impl Runner {
    /// Records `e` as the relay's last error and, for destination `dest`, as its own.
    pub(super) fn record_error(&mut self, dest: Option<usize>, e: &RelayError) {
        let record = ErrorRecord {
            error: e.clone(),
            at: SystemTime::now(),
        };
        if let Some(i) = dest {
            self.dests[i].last_error_at = Some(record.clone());
        }
        self.status.update(|s| s.last_error = Some(record));
    }

    fn bytes_in(&self) -> u64 {
        let live_in = match &self.src {
            SrcState::Live(s) => s.bytes_in(),
            _ => 0,
        };
        self.counters.bytes_in_done + live_in
    }

    pub(super) fn publish_status(&mut self, now: Instant) {
        let bytes_in = self.bytes_in();
        let (then, prev_in) = self.last_tick;
        let secs = (now - then).as_secs_f64();
        let rate = |delta: u64| {
            if secs > 0.0 {
                (delta as f64 * 8.0 / secs) as u64
            } else {
                0
            }
        };
        let bitrate_in = rate(bytes_in.saturating_sub(prev_in));
        // Frames per second: the busiest destination's (what one destination sends).
        let mut fps: f64 = 0.0;
        let (mut bytes_out, mut frames_out, mut dropped, mut sessions, mut bitrate_out) = (
            self.removed.bytes_out,
            self.removed.frames_out,
            self.removed.frames_dropped,
            self.removed.sessions,
            0,
        );
        for d in &mut self.dests {
            d.poll_srt();
            let out = d.bytes_out();
            if secs > 0.0 {
                fps = fps.max((d.counters.video_frames_out - d.last_tick_video) as f64 / secs);
            }
            if secs >= 0.5 {
                d.bitrate_out = rate(out.saturating_sub(d.last_tick_bytes));
                d.last_tick_bytes = out;
                d.last_tick_video = d.counters.video_frames_out;
            }
            bytes_out += out;
            bitrate_out += d.bitrate_out;
            frames_out += d.counters.frames_out;
            dropped += d.dropped();
            sessions += d.counters.sessions;
        }
        if secs >= 0.5 {
            self.last_tick = (now, bytes_in);
        }
        let c = &self.counters;
        let timeline = self.timeline.counters();
        let state = self.state;
        let first_forwarded = self.first_forwarded;
        let srt = match &mut self.src {
            SrcState::Live(source) => source.srt_stats(),
            _ => None,
        };
        let first = self.dests.first();
        let destination_transport = first.and_then(|d| d.transport.clone());
        let destination_srt = first.and_then(|d| d.srt);
        let destinations = self.dests.iter().map(Dest::status).collect();
        let sources = self.source_statuses();
        let (active_source, source_switches) = (self.active, self.switches);
        let (slate_active, slate_starts) = (self.slate.is_some(), self.slate_starts);
        self.status.update(|s| {
            s.slate_active = slate_active;
            s.slate_starts = slate_starts;
            s.active_source = active_source;
            s.source_switches = source_switches;
            s.sources = sources;
            if srt.is_some() {
                s.srt = srt;
            }
            s.destination_transport = destination_transport;
            s.destination_srt = destination_srt;
            s.state = state;
            s.first_forwarded = first_forwarded;
            s.bytes_in = bytes_in;
            s.bytes_out = bytes_out;
            if secs >= 0.5 {
                s.bitrate_in = bitrate_in;
                s.bitrate_out = bitrate_out;
                s.fps = fps;
            }
            s.frames_in = c.frames_in;
            s.frames_out = frames_out;
            s.frames_dropped = dropped;
            s.frames_deduplicated = c.deduplicated;
            s.destination_sessions = sessions;
            s.source_connections = c.source_connections;
            s.timeline = timeline;
            s.destinations = destinations;
        });
    }
}
