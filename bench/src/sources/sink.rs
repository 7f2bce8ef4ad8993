//! The sources benchmark's sink: an RTMP server accepting the publishes of `live/s{i}` and
//! counting, per stream, the video and audio frames, the payload bytes and the DTS that go
//! backwards on a track (a relay that broke the destination's timeline).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use baton_rtmp::session::MediaKind;
use tokio::time::Instant;

use crate::sink::Receiver;

/// What one stream delivered (a snapshot, or the difference of two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub video: u64,
    pub audio: u64,
    pub bytes: u64,
    pub dts_regressions: u64,
}

impl Counts {
    /// What arrived between `earlier` and `self`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            video: self.video.saturating_sub(earlier.video),
            audio: self.audio.saturating_sub(earlier.audio),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            dts_regressions: self.dts_regressions.saturating_sub(earlier.dts_regressions),
        }
    }
}

#[derive(Debug)]
struct Stream {
    video: AtomicU64,
    audio: AtomicU64,
    bytes: AtomicU64,
    dts_regressions: AtomicU64,
    last_dts: [AtomicI64; 2],
}

/// The counters of every stream.
#[derive(Debug)]
pub struct Streams(Vec<Stream>);

impl Streams {
    pub fn new(n: usize) -> Streams {
        Streams(
            (0..n)
                .map(|_| Stream {
                    video: AtomicU64::new(0),
                    audio: AtomicU64::new(0),
                    bytes: AtomicU64::new(0),
                    dts_regressions: AtomicU64::new(0),
                    last_dts: [AtomicI64::new(i64::MIN), AtomicI64::new(i64::MIN)],
                })
                .collect(),
        )
    }

    /// Streams that have delivered video.
    pub fn flowing(&self) -> usize {
        self.0
            .iter()
            .filter(|s| s.video.load(Ordering::Relaxed) > 0)
            .count()
    }

    pub fn snapshot(&self) -> Vec<Counts> {
        self.0
            .iter()
            .map(|s| Counts {
                video: s.video.load(Ordering::Relaxed),
                audio: s.audio.load(Ordering::Relaxed),
                bytes: s.bytes.load(Ordering::Relaxed),
                dts_regressions: s.dts_regressions.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn record(&self, index: usize, kind: MediaKind, timestamp: u32, len: usize) {
        let Some(s) = self.0.get(index) else { return };
        let track = match kind {
            MediaKind::Video => {
                s.video.fetch_add(1, Ordering::Relaxed);
                0
            }
            MediaKind::Audio => {
                s.audio.fetch_add(1, Ordering::Relaxed);
                1
            }
            MediaKind::Data => return,
        };
        s.bytes.fetch_add(len as u64, Ordering::Relaxed);
        let dts = i64::from(timestamp);
        let before = s.last_dts[track].swap(dts, Ordering::Relaxed);
        if dts < before {
            s.dts_regressions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A new publish of stream `index` starts its own timeline.
    fn restart(&self, index: usize) {
        if let Some(s) = self.0.get(index) {
            for last in &s.last_dts {
                last.store(i64::MIN, Ordering::Relaxed);
            }
        }
    }
}

/// The sources benchmark's sink: what each stream delivered, counted.
impl Receiver for Streams {
    fn streams(&self) -> usize {
        self.0.len()
    }

    fn published(&self, index: usize) {
        self.restart(index);
    }

    fn media(&self, index: usize, kind: MediaKind, timestamp: u32, payload: &[u8], _: Instant) {
        self.record(index, kind, timestamp, payload.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_and_backwards_dts_per_track() {
        let s = Streams::new(2);
        s.record(0, MediaKind::Video, 0, 100);
        s.record(0, MediaKind::Audio, 5, 10);
        s.record(0, MediaKind::Video, 33, 100);
        s.record(0, MediaKind::Audio, 3, 10);
        s.record(0, MediaKind::Data, 0, 50);
        s.record(9, MediaKind::Video, 0, 100);
        let snap = s.snapshot();
        assert_eq!(
            snap[0],
            Counts {
                video: 2,
                audio: 2,
                bytes: 220,
                dts_regressions: 1
            }
        );
        assert_eq!(s.flowing(), 1);
        s.restart(0);
        s.record(0, MediaKind::Video, 0, 1);
        assert_eq!(s.snapshot()[0].dts_regressions, 1);
        assert_eq!(s.snapshot()[0].since(&snap[0]).video, 1);
    }
}
