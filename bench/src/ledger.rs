//! What the load generator sent and what the sink got back, per stream.
//!
//! The generator records every audio/video coded frame it writes (its DTS on the generator's
//! timeline, a content fingerprint and the send instant). The sink looks each received frame
//! up by DTS. Systems under test shift timestamps differently (Baton rebases its output to 0,
//! nginx-rtmp passes them through, ffmpeg starts at 0; any of them may join mid-stream), so
//! each track is *synchronised* once: the first received frame is found among the pending
//! records by its fingerprint, which fixes that track's offset; later frames match by
//! `received DTS + offset` alone.
//!
//! Frames are counted in a measurement [`Window`] by their *send* time: a frame sent in the
//! window and never matched is lost. Sequence headers and metadata are not counted (systems
//! under test legitimately re-send or rewrite them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::histogram::Histogram;

/// Unmatched records kept per track; older ones are discarded (they are lost anyway). At
/// ~47 audio frames/s this is over a minute.
const MAX_PENDING: usize = 4096;

/// An audio or video track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    Audio = 0,
    Video = 1,
}

/// Microseconds since the bench started: compact timestamps shared by generator and sink.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    pub fn micros(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }

    pub fn now(&self) -> u64 {
        self.micros(Instant::now())
    }
}

/// The measurement window, by send time (µs on a [`Clock`]). Unset bounds are open.
#[derive(Debug)]
pub struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Window {
    fn new() -> Window {
        Window {
            start: AtomicU64::new(u64::MAX),
            end: AtomicU64::new(u64::MAX),
        }
    }

    pub fn open(&self, at: u64) {
        self.start.store(at, Ordering::Release);
    }

    pub fn close(&self, at: u64) {
        self.end.store(at, Ordering::Release);
    }

    pub fn contains(&self, at: u64) -> bool {
        at >= self.start.load(Ordering::Acquire) && at < self.end.load(Ordering::Acquire)
    }
}

/// A 64-bit FNV-1a fingerprint of a payload's length, first 64 and last 32 bytes: enough to
/// tell the frames of a clip apart (coded data differs within its first bytes) without hashing
/// megabytes per second.
pub fn fingerprint(payload: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(&(payload.len() as u64).to_le_bytes());
    eat(&payload[..payload.len().min(64)]);
    eat(&payload[payload.len().saturating_sub(32)..]);
    h
}

#[derive(Clone, Copy, Debug)]
struct Sent {
    dts: i64,
    fingerprint: u64,
    at: u64,
}

/// Counters of one stream. "Window" counts refer to frames *sent* in the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub sent: u64,
    pub received: u64,
    /// Payload bytes of the frames sent in the window (audio + video coded frames).
    pub bytes_sent: u64,
    /// Frames the generator could not even queue because the system under test stopped
    /// reading (its socket and the generator's backlog were full). Counted as lost too.
    pub backlogged: u64,
    /// Received frames that matched nothing pending: duplicates, reordered or altered frames.
    pub unexpected: u64,
    /// Received frames that arrived before their track could be synchronised.
    pub unsynced: u64,
}

/// How a received frame was accounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Matched a frame sent at `sent_at`; `latency` µs after it.
    Matched {
        latency: u64,
        in_window: bool,
    },
    Unexpected,
    Unsynced,
}

/// One stream's records and results.
#[derive(Debug, Default)]
pub struct StreamLedger {
    pending: [VecDeque<Sent>; 2],
    /// Per track: generator DTS − received DTS, once synchronised.
    offset: [Option<i64>; 2],
    pub counters: StreamCounters,
    pub latency: Histogram,
}

impl StreamLedger {
    /// Records a frame the generator is about to write.
    pub fn on_sent(
        &mut self,
        track: Track,
        dts: i64,
        fingerprint: u64,
        len: usize,
        at: u64,
        window: &Window,
    ) {
        if window.contains(at) {
            self.counters.sent += 1;
            self.counters.bytes_sent += len as u64;
        }
        let queue = &mut self.pending[track as usize];
        if queue.len() == MAX_PENDING {
            queue.pop_front();
        }
        queue.push_back(Sent {
            dts,
            fingerprint,
            at,
        });
    }

    /// Records a frame the generator had to drop because the system under test was not
    /// reading. It is sent in the sense of "due", so it counts as sent (and thus lost).
    pub fn on_backlogged(&mut self, len: usize, at: u64, window: &Window) {
        if window.contains(at) {
            self.counters.sent += 1;
            self.counters.bytes_sent += len as u64;
            self.counters.backlogged += 1;
        }
    }

    /// Accounts a frame received at `at` with wire DTS `dts`.
    pub fn on_received(
        &mut self,
        track: Track,
        dts: i64,
        payload: &[u8],
        at: u64,
        window: &Window,
    ) -> Outcome {
        let t = track as usize;
        let queue = &mut self.pending[t];
        let offset = match self.offset[t] {
            Some(o) => o,
            None => {
                let fp = fingerprint(payload);
                let Some(pos) = queue.iter().position(|s| s.fingerprint == fp) else {
                    self.counters.unsynced += 1;
                    return Outcome::Unsynced;
                };
                // Everything before the match was sent before this system under test was
                // attached to the stream.
                queue.drain(..pos);
                let o = queue[0].dts - dts;
                self.offset[t] = Some(o);
                o
            }
        };
        let expected = dts + offset;
        while queue.front().is_some_and(|s| s.dts < expected) {
            queue.pop_front();
        }
        match queue.front() {
            Some(s) if s.dts == expected => {
                let s = *s;
                queue.pop_front();
                let latency = at.saturating_sub(s.at);
                let in_window = window.contains(s.at);
                if in_window {
                    self.counters.received += 1;
                    self.latency.record(latency);
                }
                Outcome::Matched { latency, in_window }
            }
            _ => {
                self.counters.unexpected += 1;
                Outcome::Unexpected
            }
        }
    }

    /// Both tracks synchronised (the stream flows through the system under test).
    pub fn synced(&self) -> bool {
        self.offset.iter().all(Option::is_some)
    }

    /// Video offset minus audio offset: how far the system under test moved audio against
    /// video (ms). 0 for a faithful remux.
    pub fn track_skew(&self) -> Option<i64> {
        Some(self.offset[Track::Video as usize]? - self.offset[Track::Audio as usize]?)
    }
}

/// All streams of one measurement.
#[derive(Debug)]
pub struct Ledgers {
    streams: Box<[Mutex<StreamLedger>]>,
    /// Streams the generator sends (`len() / fan_out`): a frame sent on stream i is expected
    /// on streams i, i + sources, … (one per destination of a relay fanning out).
    sources: usize,
    fan_out: usize,
    pub window: Window,
    pub clock: Clock,
}

/// Totals over all streams.
#[derive(Debug, Default)]
pub struct Summary {
    pub streams: usize,
    pub synced: usize,
    pub counters: StreamCounters,
    pub latency: Histogram,
    /// The worst per-stream p99 (µs).
    pub worst_stream_p99: Option<u64>,
    /// Streams whose audio/video offsets differ, and the largest skew seen (ms).
    pub skewed_streams: usize,
    pub max_skew_ms: i64,
}

impl Ledgers {
    pub fn new(streams: usize, clock: Clock) -> Ledgers {
        Ledgers::fanned(streams, 1, clock)
    }

    /// `sources × fan_out` streams: every frame the generator sends on stream i is expected
    /// at the sink on each of i + d·sources, d = 0..fan_out (a relay pushing to `fan_out`
    /// destinations), so each destination stream has its own loss and latency.
    pub fn fanned(sources: usize, fan_out: usize, clock: Clock) -> Ledgers {
        let fan_out = fan_out.max(1);
        Ledgers {
            streams: (0..sources * fan_out)
                .map(|_| Mutex::new(StreamLedger::default()))
                .collect(),
            sources,
            fan_out,
            window: Window::new(),
            clock,
        }
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Streams the generator sends.
    pub fn sources(&self) -> usize {
        self.sources
    }

    /// The ledgers expecting what the generator sends on stream `source`, locked in index
    /// order (empty if there is no such stream).
    pub fn copies(&self, source: usize) -> Vec<MutexGuard<'_, StreamLedger>> {
        if source >= self.sources {
            return Vec::new();
        }
        (0..self.fan_out)
            .filter_map(|d| self.stream(source + d * self.sources))
            .collect()
    }

    /// The ledger of stream `index`. Lock order: a connection's state, then a ledger.
    pub fn stream(&self, index: usize) -> Option<MutexGuard<'_, StreamLedger>> {
        // A panic while holding a ledger cannot leave it in a state worse than its numbers.
        self.streams
            .get(index)
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn synced(&self) -> usize {
        (0..self.len())
            .filter(|&i| self.stream(i).is_some_and(|s| s.synced()))
            .count()
    }

    pub fn summary(&self) -> Summary {
        let mut sum = Summary {
            streams: self.len(),
            ..Summary::default()
        };
        for i in 0..self.len() {
            let Some(s) = self.stream(i) else { continue };
            sum.synced += usize::from(s.synced());
            let c = &s.counters;
            let t = &mut sum.counters;
            t.sent += c.sent;
            t.received += c.received;
            t.bytes_sent += c.bytes_sent;
            t.backlogged += c.backlogged;
            t.unexpected += c.unexpected;
            t.unsynced += c.unsynced;
            sum.latency.merge(&s.latency);
            if let Some(p99) = s.latency.quantile(0.99) {
                sum.worst_stream_p99 = Some(sum.worst_stream_p99.map_or(p99, |w| w.max(p99)));
            }
            if let Some(skew) = s.track_skew().filter(|&k| k != 0) {
                sum.skewed_streams += 1;
                sum.max_skew_ms = sum.max_skew_ms.max(skew.abs());
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_window() -> Window {
        let w = Window::new();
        w.open(0);
        w
    }

    fn send(l: &mut StreamLedger, w: &Window, track: Track, dts: i64, at: u64) {
        let payload = payload_for(track, dts);
        l.on_sent(track, dts, fingerprint(&payload), payload.len(), at, w);
    }

    fn payload_for(track: Track, dts: i64) -> Vec<u8> {
        let mut p = vec![track as u8; 100];
        p[1..9].copy_from_slice(&dts.to_le_bytes());
        p
    }

    #[test]
    fn syncs_on_fingerprint_then_matches_by_offset() {
        let w = open_window();
        let mut l = StreamLedger::default();
        for i in 0..10 {
            send(&mut l, &w, Track::Video, 1000 + i * 33, 10 + i as u64);
            send(&mut l, &w, Track::Audio, 1000 + i * 21, 10 + i as u64);
        }
        // The system under test joined at the 3rd video frame and rebased it to 0.
        for i in 2..10 {
            let out = l.on_received(
                Track::Video,
                (i - 2) * 33,
                &payload_for(Track::Video, 1000 + i * 33),
                100,
                &w,
            );
            assert!(
                matches!(
                    out,
                    Outcome::Matched {
                        in_window: true,
                        ..
                    }
                ),
                "{out:?}"
            );
            let out = l.on_received(
                Track::Audio,
                1000 + i * 21 - 1066,
                &payload_for(Track::Audio, 1000 + i * 21),
                100,
                &w,
            );
            assert!(matches!(out, Outcome::Matched { .. }), "{out:?}");
        }
        assert!(l.synced());
        assert_eq!(l.track_skew(), Some(0));
        assert_eq!(l.counters.sent, 20);
        assert_eq!(l.counters.received, 16);
        assert_eq!(l.latency.count(), 16);
    }

    #[test]
    fn lost_duplicate_and_unknown_frames() {
        let w = open_window();
        let mut l = StreamLedger::default();
        for i in 0..5 {
            send(&mut l, &w, Track::Video, i * 33, 0);
        }
        let p = |i: i64| payload_for(Track::Video, i * 33);
        assert!(matches!(
            l.on_received(Track::Video, 0, &p(0), 5, &w),
            Outcome::Matched { latency: 5, .. }
        ));
        // Frame 1 lost; frame 2 arrives.
        assert!(matches!(
            l.on_received(Track::Video, 66, &p(2), 5, &w),
            Outcome::Matched { .. }
        ));
        // Frame 2 again: nothing pending has that DTS any more.
        assert_eq!(
            l.on_received(Track::Video, 66, &p(2), 5, &w),
            Outcome::Unexpected
        );
        assert_eq!(l.counters.sent - l.counters.received, 3);
        assert_eq!(l.counters.unexpected, 1);
    }

    #[test]
    fn unknown_first_frame_is_unsynced() {
        let w = open_window();
        let mut l = StreamLedger::default();
        send(&mut l, &w, Track::Audio, 0, 0);
        assert_eq!(
            l.on_received(Track::Audio, 0, b"nope", 1, &w),
            Outcome::Unsynced
        );
        assert!(!l.synced());
    }

    #[test]
    fn only_frames_sent_in_the_window_count() {
        let w = Window::new();
        w.open(100);
        w.close(200);
        let mut l = StreamLedger::default();
        send(&mut l, &w, Track::Audio, 0, 50);
        send(&mut l, &w, Track::Audio, 21, 150);
        send(&mut l, &w, Track::Audio, 42, 250);
        l.on_backlogged(10, 160, &w);
        for (i, dts) in [0i64, 21, 42].into_iter().enumerate() {
            let out = l.on_received(Track::Audio, dts, &payload_for(Track::Audio, dts), 300, &w);
            assert!(matches!(out, Outcome::Matched { in_window, .. } if in_window == (i == 1)));
        }
        assert_eq!(l.counters.sent, 2);
        assert_eq!(l.counters.received, 1);
        assert_eq!(l.counters.backlogged, 1);
    }

    #[test]
    fn pending_records_are_bounded() {
        let w = open_window();
        let mut l = StreamLedger::default();
        for i in 0..(MAX_PENDING as i64 + 10) {
            send(&mut l, &w, Track::Audio, i, 0);
        }
        assert_eq!(l.pending[0].len(), MAX_PENDING);
    }

    #[test]
    fn summary_adds_streams_and_finds_skew() {
        let ledgers = Ledgers::new(2, Clock::new());
        ledgers.window.open(0);
        for i in 0..2 {
            let mut l = ledgers.stream(i).expect("stream exists");
            send(&mut l, &ledgers.window, Track::Video, 0, 0);
            send(&mut l, &ledgers.window, Track::Audio, 0, 0);
            l.on_received(
                Track::Video,
                0,
                &payload_for(Track::Video, 0),
                1000,
                &ledgers.window,
            );
            let shift = if i == 1 { 5 } else { 0 };
            l.on_received(
                Track::Audio,
                shift,
                &payload_for(Track::Audio, 0),
                2000,
                &ledgers.window,
            );
        }
        let s = ledgers.summary();
        assert_eq!((s.streams, s.synced), (2, 2));
        assert_eq!((s.counters.sent, s.counters.received), (4, 4));
        assert_eq!((s.skewed_streams, s.max_skew_ms), (1, 5));
        assert_eq!(s.latency.quantile(1.0), Some(2000));
        assert!(ledgers.stream(2).is_none());
    }

    #[test]
    fn a_fanned_source_is_expected_on_every_destination_stream() {
        let ledgers = Ledgers::fanned(2, 3, Clock::new());
        assert_eq!((ledgers.len(), ledgers.sources()), (6, 2));
        ledgers.window.open(0);
        for mut l in ledgers.copies(1) {
            send(&mut l, &ledgers.window, Track::Video, 0, 1);
        }
        assert!(ledgers.copies(2).is_empty());
        let s = ledgers.summary();
        // Source 1's destination streams are 1, 3 and 5; each lost the frame until received.
        assert_eq!(s.counters.sent, 3);
        for i in [1, 3, 5] {
            assert_eq!(ledgers.stream(i).unwrap().counters.sent, 1);
        }
        let mut l = ledgers.stream(3).unwrap();
        let p = payload_for(Track::Video, 0);
        assert!(matches!(
            l.on_received(Track::Video, 0, &p, 5, &ledgers.window),
            Outcome::Matched { .. }
        ));
    }
}
