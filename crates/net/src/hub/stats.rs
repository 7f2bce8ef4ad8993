//! What the hub knows about a publish, for "what is live" (`/v1/streams`,
//! DescribeLiveStreamsOnlineList): who publishes (protocol, remote address), since when, the
//! codecs from the sequence headers, and the recent input rate.
//!
//! Hot path: [`PublishStats::record`] runs under the stream's lock for every frame. It adds to
//! integer counters and compares a sequence header with the stored one (a reference-counted
//! buffer, no copy); a header is parsed (with `baton_codec::describe`) only when it changed, or
//! for the first frame of a track that has none (legacy codecs such as MP3 are described by
//! every tag's flags). No allocation, no lock of its own.
//!
//! Rates: frames and bytes are counted in two one-second buckets keyed by the second (since the
//! publish started) they fell in. A reading covers the current second and the one before it
//! (1–2 s of input); buckets older than that are ignored, so a publisher that stops sending
//! shows 0 bytes/s and 0 fps within two seconds rather than its last rate. Time is
//! `tokio::time::Instant`, so tests drive it with paused time.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use baton_codec::describe::{AudioParams, VideoParams, audio_params, video_params};
use baton_media::Frame;
use bytes::Bytes;
use tokio::time::Instant;

/// The protocol a publisher came in over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestProtocol {
    Rtmp,
    Srt,
}

impl IngestProtocol {
    /// `"rtmp"` or `"srt"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestProtocol::Rtmp => "rtmp",
            IngestProtocol::Srt => "srt",
        }
    }
}

impl fmt::Display for IngestProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a publish comes from, as the ingest that claimed it saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishOrigin {
    pub protocol: IngestProtocol,
    /// The publisher's address (the TCP peer, or the SRT caller's UDP address).
    pub remote: SocketAddr,
}

/// A snapshot of one publish.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishInfo {
    /// `None` for publishers inside the process (tests, in-memory relays).
    pub origin: Option<PublishOrigin>,
    /// How long the publish has lasted.
    pub uptime: Duration,
    /// From the latest video sequence header (or the first video tag's flags).
    pub video: Option<VideoParams>,
    /// From the latest audio sequence header (or the first audio tag's flags).
    pub audio: Option<AudioParams>,
    /// Video frames per second over the last 1–2 s (sequence headers not counted).
    pub fps: f64,
    /// Payload bits per second in (audio, video and data tag bodies) over the last 1–2 s.
    pub bitrate_bps: u64,
    /// The video tag bodies' share of it.
    pub video_bitrate_bps: u64,
    /// The audio tag bodies' share of it.
    pub audio_bitrate_bps: u64,
}

/// The counters of one publish, kept in the stream's state.
#[derive(Debug)]
pub(super) struct PublishStats {
    origin: Option<PublishOrigin>,
    started: Instant,
    video_header: Option<Bytes>,
    audio_header: Option<Bytes>,
    video: Option<VideoParams>,
    audio: Option<AudioParams>,
    rate: RateWindow,
}

impl PublishStats {
    pub(super) fn new(origin: Option<PublishOrigin>, now: Instant) -> PublishStats {
        PublishStats {
            origin,
            started: now,
            video_header: None,
            audio_header: None,
            video: None,
            audio: None,
            rate: RateWindow::new(now),
        }
    }

    /// Counts one frame; describes the track again when its sequence header changed.
    pub(super) fn record(&mut self, frame: &Frame, now: Instant) {
        self.rate.record(now, frame);
        if frame.is_video() {
            if describe_again(&mut self.video_header, self.video.is_some(), frame) {
                self.video = video_params(&frame.payload);
            }
        } else if frame.is_audio()
            && describe_again(&mut self.audio_header, self.audio.is_some(), frame)
        {
            self.audio = audio_params(&frame.payload);
        }
    }

    pub(super) fn info(&self, now: Instant) -> PublishInfo {
        let rates = self.rate.rates(now);
        PublishInfo {
            origin: self.origin,
            uptime: now.saturating_duration_since(self.started),
            video: self.video.clone(),
            audio: self.audio.clone(),
            fps: rates.fps,
            bitrate_bps: rates.bps,
            video_bitrate_bps: rates.video_bps,
            audio_bitrate_bps: rates.audio_bps,
        }
    }
}

/// Whether a track's description must be made (again) from `frame`: a sequence header that
/// differs from the stored one (which it replaces), or any frame of a track not described yet.
fn describe_again(stored: &mut Option<Bytes>, described: bool, frame: &Frame) -> bool {
    if frame.config {
        if stored.as_ref() == Some(&frame.payload) {
            return false;
        }
        // A clone of `Bytes` shares the buffer: no allocation.
        *stored = Some(frame.payload.clone());
        return true;
    }
    !described
}

/// One second of input.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Seconds since the window's origin; `u64::MAX` for a bucket never used.
    second: u64,
    bytes: u64,
    video_bytes: u64,
    audio_bytes: u64,
    /// Coded video frames (sequence headers not counted).
    video_frames: u64,
}

const EMPTY: Bucket = Bucket {
    second: u64::MAX,
    bytes: 0,
    video_bytes: 0,
    audio_bytes: 0,
    video_frames: 0,
};

/// A reading of a [`RateWindow`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rates {
    bps: u64,
    video_bps: u64,
    audio_bps: u64,
    fps: f64,
}

/// Input over the current and the previous second (see the module documentation).
#[derive(Debug)]
struct RateWindow {
    origin: Instant,
    buckets: [Bucket; 2],
}

impl RateWindow {
    fn new(origin: Instant) -> RateWindow {
        RateWindow {
            origin,
            buckets: [EMPTY; 2],
        }
    }

    fn record(&mut self, now: Instant, frame: &Frame) {
        let bytes = frame.payload.len() as u64;
        let second = now.saturating_duration_since(self.origin).as_secs();
        let bucket = &mut self.buckets[(second % 2) as usize];
        if bucket.second != second {
            *bucket = Bucket { second, ..EMPTY };
        }
        bucket.bytes += bytes;
        if frame.is_video() {
            bucket.video_bytes += bytes;
            bucket.video_frames += u64::from(!frame.config);
        } else if frame.is_audio() {
            bucket.audio_bytes += bytes;
        }
    }

    /// Bits per second and video frames per second since the start of the previous second.
    /// The span is at least one second, so the first second of a publish reads low rather
    /// than wildly high (a keyframe over a few milliseconds).
    fn rates(&self, now: Instant) -> Rates {
        let elapsed = now.saturating_duration_since(self.origin);
        let second = elapsed.as_secs();
        let window_start = Duration::from_secs(second.saturating_sub(1));
        let span = (elapsed - window_start)
            .max(Duration::from_secs(1))
            .as_secs_f64();
        let mut sum = EMPTY;
        for b in self
            .buckets
            .iter()
            .filter(|b| b.second <= second && b.second + 1 >= second)
        {
            sum.bytes += b.bytes;
            sum.video_bytes += b.video_bytes;
            sum.audio_bytes += b.audio_bytes;
            sum.video_frames += b.video_frames;
        }
        let bps = |bytes: u64| (bytes as f64 * 8.0 / span) as u64;
        Rates {
            bps: bps(sum.bytes),
            video_bps: bps(sum.video_bytes),
            audio_bps: bps(sum.audio_bytes),
            fps: sum.video_frames as f64 / span,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_media::TagType;

    fn coded(size: usize) -> Frame {
        let mut body = vec![0x27, 1, 0, 0, 0];
        body.resize(size, 0xaa);
        Frame::new(TagType::Video, 0, Bytes::from(body))
    }

    #[tokio::test(start_paused = true)]
    async fn rates_cover_the_last_two_seconds_and_fall_to_zero_when_input_stops() {
        let mut stats = PublishStats::new(None, Instant::now());
        // 25 fps of 1,000-byte frames for three seconds.
        for _ in 0..75 {
            stats.record(&coded(1000), Instant::now());
            tokio::time::advance(Duration::from_millis(40)).await;
        }
        let info = stats.info(Instant::now());
        assert!((info.fps - 25.0).abs() < 1.5, "{}", info.fps);
        assert!(
            (190_000..=210_000).contains(&info.bitrate_bps),
            "{}",
            info.bitrate_bps
        );
        assert_eq!(info.video_bitrate_bps, info.bitrate_bps);
        assert_eq!(info.audio_bitrate_bps, 0);
        assert_eq!(info.uptime, Duration::from_secs(3));
        // Silence: within two seconds the old rate is gone.
        tokio::time::advance(Duration::from_secs(2)).await;
        let info = stats.info(Instant::now());
        assert_eq!((info.bitrate_bps, info.fps), (0, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_second_reads_low_not_high() {
        let mut stats = PublishStats::new(None, Instant::now());
        stats.record(&coded(50_000), Instant::now());
        tokio::time::advance(Duration::from_millis(10)).await;
        let info = stats.info(Instant::now());
        assert_eq!(info.bitrate_bps, 400_000);
        assert_eq!(info.fps, 1.0);
    }

    #[test]
    fn codecs_come_from_the_sequence_headers_and_follow_their_changes() {
        let now = Instant::now();
        let mut stats = PublishStats::new(None, now);
        // AAC LC, 44.1 kHz, stereo: AudioSpecificConfig 0x12 0x10.
        let aac = Frame::new(
            TagType::Audio,
            0,
            Bytes::from_static(&[0xaf, 0x00, 0x12, 0x10]),
        );
        stats.record(&aac, now);
        let audio = stats.info(now).audio.unwrap();
        assert_eq!(
            (audio.codec, audio.sample_rate, audio.channels),
            ("aac", Some(44100), Some(2))
        );
        // 48 kHz mono (0x11 0x88) replaces it.
        let aac48 = Frame::new(
            TagType::Audio,
            0,
            Bytes::from_static(&[0xaf, 0x00, 0x11, 0x88]),
        );
        stats.record(&aac48, now);
        let audio = stats.info(now).audio.unwrap();
        assert_eq!((audio.sample_rate, audio.channels), (Some(48000), Some(1)));
        // A coded video frame before any header names the codec alone.
        stats.record(&coded(10), now);
        let video = stats.info(now).video.unwrap();
        assert_eq!((video.codec, video.width), ("h264", None));
    }
}
