//! Samples in milliseconds, their FLV tag-body prefixes, and the cursor that merges the audio
//! and video tracks in decode order.

use std::sync::Arc;

use baton_flv::body::TagPrefix;

use crate::movie::{Codec, Movie, Track, TrackKind};
use crate::table::{RawSample, Walker, WalkerPos};

/// Converts a track's media times to the movie's milliseconds (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Track units per second (`mdhd`), never 0.
    pub(crate) timescale: u32,
    /// Movie units per second (`mvhd`), never 0.
    pub(crate) movie_timescale: u32,
    /// Leading empty edits, movie units.
    pub(crate) empty_duration: u64,
    /// First media edit's media_time, track units.
    pub(crate) media_time: i64,
    /// Decode times move earlier by this many track units (the largest negative `ctts`).
    pub(crate) dts_shift: u32,
    /// The movie's 0 on the edit-list timeline, ms.
    pub(crate) origin_ms: i64,
}

impl Timing {
    /// Media time `t` (track units) on the edit-list timeline, in ms rounded to the nearest:
    /// `empty_duration / movie_timescale + (t − media_time) / timescale`, computed exactly.
    pub(crate) fn ms(&self, t: i128) -> i64 {
        self.ms_i64(t).unwrap_or_else(|| self.ms_i128(t))
    }

    /// [`Timing::ms`] in 64-bit arithmetic, `None` where it would overflow (128-bit division
    /// is several times slower, and this runs three times per sample).
    fn ms_i64(&self, t: i128) -> Option<i64> {
        let tt = i64::from(self.timescale);
        let tm = i64::from(self.movie_timescale);
        let rel = i64::try_from(t - i128::from(self.media_time)).ok()?;
        let empty = i64::try_from(self.empty_duration).ok()?;
        let num = rel
            .checked_mul(1000 * tm)?
            .checked_add(empty.checked_mul(1000 * tt)?)?;
        let den = tt.checked_mul(tm)?;
        Some(
            num.checked_mul(2)?
                .checked_add(den)?
                .div_euclid(den.checked_mul(2)?),
        )
    }

    fn ms_i128(&self, t: i128) -> i64 {
        let tt = i128::from(self.timescale);
        let tm = i128::from(self.movie_timescale);
        // |t − media_time| < 2^65, × 1000 × 2^32 < 2^107; same for the empty edit: no overflow.
        let num = (t - i128::from(self.media_time)) * 1000 * tm
            + i128::from(self.empty_duration) * 1000 * tt;
        let den = tt * tm;
        let ms = (2 * num + den).div_euclid(2 * den);
        ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// A sample decoded at `dts` (track units), presented `offset` later, lasting `delta`:
    /// its decode time (ms from the movie's 0, moved earlier by `dts_shift`), composition
    /// offset and duration (ms, clamped to their types).
    pub(crate) fn times(&self, dts: u64, offset: i64, delta: u32) -> SampleTimes {
        let pts = i128::from(dts) + i128::from(offset);
        let dts = i128::from(dts) - i128::from(self.dts_shift);
        let dts_ms = self.ms(dts);
        let pts_ms = self.ms(pts);
        let end_ms = self.ms(dts + i128::from(delta));
        SampleTimes {
            dts_ms: dts_ms.saturating_sub(self.origin_ms),
            cts_ms: clamp_i32(i128::from(pts_ms) - i128::from(dts_ms)),
            duration_ms: u32::try_from(end_ms.saturating_sub(dts_ms)).unwrap_or(u32::MAX),
        }
    }

    fn sample(&self, codec: Codec, raw: RawSample) -> Sample {
        let times = self.times(raw.dts, i64::from(raw.composition_offset), raw.delta);
        Sample {
            kind: codec.kind(),
            codec,
            index: raw.index,
            dts_ms: times.dts_ms,
            cts_ms: times.cts_ms,
            keyframe: raw.sync,
            offset: raw.offset,
            size: raw.size,
            duration_ms: times.duration_ms,
        }
    }
}

/// What [`Timing::times`] says of a sample, in ms.
pub(crate) struct SampleTimes {
    pub(crate) dts_ms: i64,
    pub(crate) cts_ms: i32,
    pub(crate) duration_ms: u32,
}

fn clamp_i32(v: i128) -> i32 {
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// One sample: where its bytes are and when it is decoded and presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub kind: TrackKind,
    pub codec: Codec,
    /// 0-based position in its track.
    pub index: u32,
    /// Decode time, ms on the movie timeline (may be negative, see the crate docs).
    pub dts_ms: i64,
    /// Composition offset, ms: PTS − DTS. Never negative for files whose `ctts` is, thanks to
    /// the DTS shift; may be for others.
    pub cts_ms: i32,
    /// A sync sample (`stss`; every sample without one).
    pub keyframe: bool,
    /// File offset of the sample's bytes.
    pub offset: u64,
    pub size: u32,
    /// Until the next sample's DTS (from `stts`), ms.
    pub duration_ms: u32,
}

impl Sample {
    /// Presentation time, ms.
    pub fn pts_ms(&self) -> i64 {
        self.dts_ms.saturating_add(i64::from(self.cts_ms))
    }

    /// The FLV tag-body header to put before the sample's bytes: AVC
    /// `[0x17|0x27, 0x01, cts(SI24)]`; HEVC as Enhanced RTMP `CodedFrames` with FourCC `hvc1`
    /// and the cts, or `CodedFramesX` (no cts field) when cts is 0; AAC `[0xAF, 0x01]`. A cts
    /// beyond the SI24 range is clamped.
    pub fn flv_prefix(&self) -> FlvPrefix {
        self.codec.flv_prefix(self.keyframe, self.cts_ms)
    }
}

/// The FLV tag-body header of a sample (at most 8 bytes, no allocation); derefs to the bytes.
pub type FlvPrefix = TagPrefix;

/// The samples of one track in decode order ([`Track::samples`]).
#[derive(Clone, Debug)]
pub struct TrackSamples<'a> {
    track: &'a Track,
    walker: Walker<'a>,
}

impl Iterator for TrackSamples<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let raw = self.walker.next()?;
        Some(self.track.timing.sample(self.track.codec, raw))
    }
}

impl Track {
    /// All samples of this track in decode order, from the first.
    pub fn samples(&self) -> TrackSamples<'_> {
        TrackSamples {
            track: self,
            walker: Walker::new(&self.table),
        }
    }

    /// The samples from a position taken from one of this track's iterators.
    fn samples_at(&self, pos: WalkerPos) -> TrackSamples<'_> {
        TrackSamples {
            track: self,
            walker: Walker::at(&self.table, pos),
        }
    }

    /// Positioned at the last sync sample presented at or before `start_ms` (the first sync
    /// sample if none is; the first sample if there are no sync samples). Also returns that
    /// sample's DTS. Scans from the start: O(samples before the position).
    fn seek_sync(&self, start_ms: i64) -> (TrackSamples<'_>, i64) {
        let mut it = self.samples();
        let mut best: Option<(TrackSamples<'_>, i64)> = None;
        let mut first_sync: Option<(TrackSamples<'_>, i64)> = None;
        loop {
            let here = it.clone();
            let Some(s) = it.next() else { break };
            if s.keyframe {
                if s.pts_ms() <= start_ms {
                    best = Some((here, s.dts_ms));
                } else if first_sync.is_none() {
                    first_sync = Some((here, s.dts_ms));
                }
            }
            // Later samples decode later and are presented no earlier than they decode.
            if s.dts_ms > start_ms && (best.is_some() || first_sync.is_some()) {
                break;
            }
        }
        best.or(first_sync).unwrap_or_else(|| {
            let it = self.samples();
            let dts = it.clone().next().map_or(0, |s| s.dts_ms);
            (it, dts)
        })
    }

    /// Positioned at the first sample decoded at or after `dts_ms`.
    fn seek_dts(&self, dts_ms: i64) -> TrackSamples<'_> {
        let mut it = self.samples();
        loop {
            let here = it.clone();
            match it.next() {
                Some(s) if s.dts_ms < dts_ms => {}
                _ => return here,
            }
        }
    }
}

/// The samples of the used tracks merged in decode order ([`Movie::samples_from`]): by
/// `dts_ms`, and at equal DTS video before audio, so that a GOP begins with its key frame.
#[derive(Clone, Debug)]
pub struct SampleCursor<'a> {
    video: Option<TrackSamples<'a>>,
    audio: Option<TrackSamples<'a>>,
    next_video: Option<Sample>,
    next_audio: Option<Sample>,
}

impl<'a> SampleCursor<'a> {
    fn new(video: Option<TrackSamples<'a>>, audio: Option<TrackSamples<'a>>) -> Self {
        let mut cursor = SampleCursor {
            video,
            audio,
            next_video: None,
            next_audio: None,
        };
        cursor.next_video = cursor.video.as_mut().and_then(Iterator::next);
        cursor.next_audio = cursor.audio.as_mut().and_then(Iterator::next);
        cursor
    }

    /// The sample `next` will return, without advancing.
    pub fn peek(&self) -> Option<&Sample> {
        match (&self.next_video, &self.next_audio) {
            (Some(v), Some(a)) if a.dts_ms < v.dts_ms => Some(a),
            (Some(v), _) => Some(v),
            (None, a) => a.as_ref(),
        }
    }
}

impl Iterator for SampleCursor<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let take_audio = match (&self.next_video, &self.next_audio) {
            (Some(v), Some(a)) => a.dts_ms < v.dts_ms,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if take_audio {
            let next = self.audio.as_mut().and_then(Iterator::next);
            std::mem::replace(&mut self.next_audio, next)
        } else {
            let next = self.video.as_mut().and_then(Iterator::next);
            std::mem::replace(&mut self.next_video, next)
        }
    }
}

/// A [`SampleCursor`] that owns its movie (`Arc`), for a player that keeps its position
/// between reads: the same samples in the same order, O(1) per sample, nothing allocated per
/// sample.
#[derive(Clone, Debug)]
pub struct OwnedSampleCursor {
    movie: Arc<Movie>,
    video: Option<WalkerPos>,
    audio: Option<WalkerPos>,
    next_video: Option<Sample>,
    next_audio: Option<Sample>,
}

impl OwnedSampleCursor {
    pub fn movie(&self) -> &Arc<Movie> {
        &self.movie
    }

    /// The sample `next` will return, without advancing.
    pub fn peek(&self) -> Option<&Sample> {
        match (&self.next_video, &self.next_audio) {
            (Some(v), Some(a)) if a.dts_ms < v.dts_ms => Some(a),
            (Some(v), _) => Some(v),
            (None, a) => a.as_ref(),
        }
    }
}

impl Iterator for OwnedSampleCursor {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let take_audio = match (&self.next_video, &self.next_audio) {
            (Some(v), Some(a)) => a.dts_ms < v.dts_ms,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let (track, pos, slot) = if take_audio {
            (self.movie.audio(), &mut self.audio, &mut self.next_audio)
        } else {
            (self.movie.video(), &mut self.video, &mut self.next_video)
        };
        let next = match (track, pos.as_mut()) {
            (Some(track), Some(pos)) => {
                let mut it = track.samples_at(*pos);
                let sample = it.next();
                *pos = it.walker.pos();
                sample
            }
            _ => None,
        };
        std::mem::replace(slot, next)
    }
}

impl Movie {
    /// [`Movie::samples_from`] as an [`OwnedSampleCursor`].
    pub fn owned_samples_from(self: &Arc<Movie>, start_ms: u64) -> OwnedSampleCursor {
        let cursor = self.samples_from(start_ms);
        OwnedSampleCursor {
            video: cursor.video.as_ref().map(|t| t.walker.pos()),
            audio: cursor.audio.as_ref().map(|t| t.walker.pos()),
            next_video: cursor.next_video,
            next_audio: cursor.next_audio,
            movie: Arc::clone(self),
        }
    }

    /// The samples of the used tracks merged in decode order (see [`SampleCursor`]), starting
    /// at the video key frame presented at or before `start_ms` (the first key frame when none
    /// is), with audio from that key frame's DTS on. Without video: from the audio sync sample
    /// presented at or before `start_ms`. A `start_ms` past the end starts at the last key
    /// frame. Finding the position scans the tables from the start; iterating allocates
    /// nothing.
    pub fn samples_from(&self, start_ms: u64) -> SampleCursor<'_> {
        let start = i64::try_from(start_ms).unwrap_or(i64::MAX);
        match (self.video(), self.audio()) {
            (Some(video), audio) => {
                let (video, dts) = video.seek_sync(start);
                SampleCursor::new(Some(video), audio.map(|a| a.seek_dts(dts)))
            }
            (None, Some(audio)) => SampleCursor::new(None, Some(audio.seek_sync(start).0)),
            (None, None) => SampleCursor::new(None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            timescale: 44100,
            movie_timescale: 1000,
            empty_duration: 0,
            media_time: 1024,
            dts_shift: 0,
            origin_ms: 0,
        }
    }

    #[test]
    fn conversion_is_exact_per_sample_and_rounds_to_nearest() {
        let t = timing();
        assert_eq!(t.ms(1024), 0);
        assert_eq!(t.ms(0), -23); // −23.22 ms
        assert_eq!(t.ms(2048), 23);
        // 1000 AAC frames later: 23219.95 ms, not 1000 × 23.
        assert_eq!(t.ms(1024 + 1000 * 1024), 23220);
        let delayed = Timing {
            empty_duration: 476,
            media_time: 0,
            ..t
        };
        assert_eq!(delayed.ms(0), 476);
        assert_eq!(delayed.ms(1024), 499);
        let huge = Timing {
            timescale: 1,
            movie_timescale: 1,
            empty_duration: u64::MAX,
            media_time: i64::MIN,
            ..t
        };
        assert_eq!(huge.ms(i128::from(u64::MAX)), i64::MAX);
        // Both paths agree where both apply.
        for t in [
            -5_000_000i128,
            -1025,
            -1024,
            -513,
            -512,
            -511,
            0,
            1,
            511,
            512,
            1 << 40,
        ] {
            for timing in [t_with(12800, 1000, 0, 1024), t_with(44100, 600, 476, 0)] {
                assert_eq!(timing.ms_i64(t), Some(timing.ms_i128(t)), "{t} {timing:?}");
            }
        }
    }

    fn t_with(
        timescale: u32,
        movie_timescale: u32,
        empty_duration: u64,
        media_time: i64,
    ) -> Timing {
        Timing {
            timescale,
            movie_timescale,
            empty_duration,
            media_time,
            ..timing()
        }
    }

    fn sample(codec: Codec, keyframe: bool, cts_ms: i32) -> Sample {
        Sample {
            kind: codec.kind(),
            codec,
            index: 0,
            dts_ms: 0,
            cts_ms,
            keyframe,
            offset: 0,
            size: 1,
            duration_ms: 40,
        }
    }

    #[test]
    fn flv_prefixes() {
        assert_eq!(
            &*sample(Codec::Avc, true, 80).flv_prefix(),
            &[0x17, 1, 0, 0, 80]
        );
        assert_eq!(
            &*sample(Codec::Avc, false, -2).flv_prefix(),
            &[0x27, 1, 0xff, 0xff, 0xfe]
        );
        assert_eq!(
            &*sample(Codec::Avc, false, i32::MAX).flv_prefix(),
            &[0x27, 1, 0x7f, 0xff, 0xff]
        );
        assert_eq!(
            &*sample(Codec::Hevc, true, 0).flv_prefix(),
            &[0x93, b'h', b'v', b'c', b'1']
        );
        assert_eq!(
            &*sample(Codec::Hevc, false, 40).flv_prefix(),
            &[0xa1, b'h', b'v', b'c', b'1', 0, 0, 40]
        );
        assert_eq!(&*sample(Codec::Aac, true, 0).flv_prefix(), &[0xaf, 1]);
    }
}
