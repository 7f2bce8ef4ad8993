//! Random segment sequences through the whole ingest path (wire u32 → unwrap → map).

use super::super::*;
use crate::testutil::{audio, audio_config, metadata, video, video_config};
use proptest::prelude::*;

/// One input segment as a source would send it.
#[derive(Clone, Debug)]
struct Segment {
    gap_ms: i64,
    /// Wire timestamp of the segment's first video frame.
    start: u32,
    video_frames: usize,
    video_step: i64,
    audio_frames: usize,
    audio_step: i64,
    /// Audio start relative to video start.
    audio_offset: i64,
    /// Composition times, cycled over the video frames (B-frames; negatives are source bugs).
    cts: Vec<i32>,
    /// How far a frame may arrive late relative to DTS order (A/V interleaving).
    interleave_ms: i64,
    /// Sequence headers and metadata first, stamped 0 instead of the segment start.
    headers_at_zero: bool,
}

fn arb_start() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        (0u32..20_000).prop_map(|d| u32::MAX - d),
        (0u32..20_000).prop_map(|d| 0x00FF_FFFF - d),
        any::<u32>(),
    ]
}

fn arb_segment() -> impl Strategy<Value = Segment> {
    (
        prop_oneof![Just(0i64), 0i64..5_000],
        arb_start(),
        (0usize..80, 15i64..60),
        (0usize..120, 20i64..27),
        -400i64..400,
        proptest::collection::vec(-80i32..200, 1..6),
        0i64..300,
        any::<bool>(),
    )
        .prop_map(
            |(gap_ms, start, (vn, vs), (an, step), audio_offset, cts, interleave_ms, z)| Segment {
                gap_ms,
                start,
                video_frames: vn,
                video_step: vs,
                audio_frames: an,
                audio_step: step,
                audio_offset,
                cts,
                interleave_ms,
                headers_at_zero: z,
            },
        )
}

/// The segment's frames in arrival order, with wire timestamps (as u32 stored in `dts`).
fn frames(s: &Segment, seed: u64) -> Vec<Frame> {
    let wire = |rel: i64| i64::from((i64::from(s.start) + rel) as u32);
    let mut media: Vec<(i64, Frame)> = Vec::new();
    let mut rng = seed;
    let mut late = || {
        // xorshift: deterministic per case, enough to shuffle arrival within the window.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % 1000) as i64 * s.interleave_ms / 1000
    };
    // Arrival times; each track's are kept non-decreasing so that the stable sort below only
    // moves tracks against each other (a track's own frames never overtake each other).
    let mut arrival = i64::MIN;
    for i in 0..s.video_frames {
        let rel = i as i64 * s.video_step;
        let cts = s.cts[i % s.cts.len()];
        arrival = arrival.max(rel + late());
        media.push((arrival, video(wire(rel), i % 30 == 0, cts)));
    }
    arrival = i64::MIN;
    for j in 0..s.audio_frames {
        let rel = s.audio_offset + j as i64 * s.audio_step;
        arrival = arrival.max(rel + late());
        media.push((arrival, audio(wire(rel))));
    }
    media.sort_by_key(|(arrival, _)| *arrival);
    let mut ordered: Vec<Frame> = media.into_iter().map(|(_, f)| f).collect();
    let header_ts = if s.headers_at_zero { 0 } else { wire(0) };
    let mut out = vec![
        metadata(header_ts, 0),
        video_config(header_ts, 1),
        audio_config(header_ts, 0x10),
    ];
    out.append(&mut ordered);
    out
}

/// Per-track output checks, carried across segments.
#[derive(Default)]
struct Checker {
    last: [Option<i64>; 2],
}

impl Checker {
    fn check(&mut self, f: &Frame) -> Result<(), TestCaseError> {
        if f.kind == TagType::Script {
            prop_assert!(f.dts >= 0);
            return Ok(());
        }
        prop_assert!(f.pts() >= f.dts, "PTS < DTS: {f:?}");
        let slot = &mut self.last[usize::from(f.is_video())];
        if f.config {
            prop_assert!(
                slot.is_none_or(|last| f.dts >= last),
                "config backwards {f:?}"
            );
            return Ok(());
        }
        prop_assert!(f.dts >= 0);
        prop_assert!(
            slot.is_none_or(|last| f.dts > last),
            "DTS not increasing: {f:?} after {slot:?}"
        );
        *slot = Some(f.dts);
        Ok(())
    }
}

/// Unwraps a segment's wire timestamps like an ingest connection does.
fn unwrap_segment(frames: &mut [Frame]) {
    let mut u = TimestampUnwrapper::new();
    for f in frames.iter_mut() {
        // Headers stamped 0 ahead of a start near the wrap would read as far in the past; an
        // ingest unwraps every message of the connection the same way, so do that.
        f.dts = u.unwrap(f.dts as u32);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Monotonic DTS per track, PTS ≥ DTS, non-negative output, whatever the segments.
    #[test]
    fn output_is_monotonic_per_track(segments in proptest::collection::vec(arb_segment(), 1..8), seed in 1u64..) {
        let mut t = Timeline::new(TimelineConfig::default());
        let mut checker = Checker::default();
        for (n, s) in segments.iter().enumerate() {
            if n > 0 || s.gap_ms > 0 {
                t.begin_segment(s.gap_ms);
            }
            let mut fs = frames(s, seed.wrapping_add(n as u64));
            unwrap_segment(&mut fs);
            for mut f in fs {
                t.map(&mut f);
                checker.check(&f)?;
            }
        }
        prop_assert_eq!(t.counters().segments, segments.len() as u64);
    }

    /// The rebase formula: a segment's first media frame lands at next_base() + gap, and every
    /// media frame is input + that offset unless counted as a DTS correction.
    #[test]
    fn rebase_formula(segments in proptest::collection::vec(arb_segment(), 1..6), seed in 1u64..) {
        let mut t = Timeline::new(TimelineConfig::default());
        // The first segment with media anchors the timeline; each later one rebases it.
        let mut anchored = false;
        for (n, s) in segments.iter().enumerate() {
            let base = if n == 0 { 0 } else { t.next_base() + s.gap_ms };
            t.begin_segment(if n == 0 { 0 } else { s.gap_ms });
            let mut fs = frames(s, seed.wrapping_add(n as u64));
            unwrap_segment(&mut fs);
            let before = t.counters();
            let mut offset = None;
            let mut off_formula = 0;
            for mut f in fs {
                let input = f.dts;
                let media = !f.config && f.kind != TagType::Script;
                t.map(&mut f);
                if !media {
                    continue;
                }
                let offset = *offset.get_or_insert(base - input);
                if f.dts != input + offset {
                    off_formula += 1;
                }
            }
            let after = t.counters();
            // Segments generated here never jump beyond the limits.
            prop_assert_eq!(after.discontinuities, before.discontinuities);
            prop_assert_eq!(after.dts_corrections - before.dts_corrections, off_formula);
            let has_media = s.video_frames + s.audio_frames > 0;
            prop_assert_eq!(after.rebases - before.rebases, u64::from(has_media && anchored));
            anchored |= has_media;
        }
    }

    /// Sources that glitch inside a segment (timestamp resets, jumps both ways, random junk)
    /// still produce a clean output.
    #[test]
    fn glitchy_sources_still_monotonic(
        steps in proptest::collection::vec((any::<bool>(), prop_oneof![
            4 => -30i64..60,
            1 => -100_000i64..100_000,
            1 => Just(i64::from(i32::MIN)),
        ], -50i32..50, any::<bool>()), 1..400),
        reconnects in proptest::collection::vec(0usize..400, 0..4),
    ) {
        let mut t = Timeline::new(TimelineConfig::default());
        let mut checker = Checker::default();
        let mut ts = 0i64;
        for (i, (is_video, step, cts, key)) in steps.into_iter().enumerate() {
            if reconnects.contains(&i) {
                t.begin_segment(i as i64 % 3 * 1000);
            }
            ts = ts.saturating_add(step);
            let mut f = if is_video { video(ts, key, cts) } else { audio(ts) };
            t.map(&mut f);
            checker.check(&f)?;
        }
    }
}
