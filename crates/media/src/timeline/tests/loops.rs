//! A fixed A/V clip played back to back: the output must not drift audio against video.

use super::super::*;
use crate::testutil::{audio, audio_config, metadata, video, video_config};

/// A 10 s clip: 300 video frames at 30 fps and `audio_frames` AAC frames (1024 samples at
/// 44.1 kHz, 43.07 fps), in arrival order (by DTS, audio or video first on ties), headers
/// first. 431 audio frames end ~8 ms after the video; 430 end ~16 ms before it.
fn clip(audio_frames: i64, audio_first: bool) -> Vec<Frame> {
    let mut media: Vec<Frame> = (0..300)
        .map(|i| video((i * 1000 + 15) / 30, i % 60 == 0, 0))
        .chain((0..audio_frames).map(|j| audio((j * 1024 * 1000 + 22_050) / 44_100)))
        .collect();
    media.sort_by_key(|f| (f.dts, f.is_video() == audio_first));
    let mut frames = vec![metadata(0, 0), video_config(0, 1), audio_config(0, 0x10)];
    frames.extend(media);
    frames
}

/// Output end of each track (last DTS + the duration the timeline measured).
fn ends(out: &[Frame]) -> (i64, i64) {
    let last = |video: bool| {
        let mut it = out
            .iter()
            .filter(|f| f.is_video() == video && !f.config && !f.is_metadata());
        let last = it.next_back().map(|f| f.dts).unwrap_or_default();
        let prev = it.next_back().map(|f| f.dts).unwrap_or_default();
        last + (last - prev)
    };
    (last(false), last(true))
}

fn play(audio_frames: i64, audio_first: bool) {
    let source = clip(audio_frames, audio_first);
    let mut t = Timeline::new(TimelineConfig::default());
    let mut first_loop_drift = None;
    let mut previous_base = None;
    for n in 0..100 {
        t.begin_segment(0);
        let base = t.next_base();
        let out: Vec<Frame> = source
            .iter()
            .map(|f| {
                let mut f = f.clone();
                t.map(&mut f);
                f
            })
            .collect();
        // One offset for every frame of the loop: A/V alignment is exactly the source's.
        for (src, dst) in source.iter().zip(&out) {
            assert_eq!(dst.dts, src.dts + base, "loop {n}: {src:?}");
        }
        let (audio_end, video_end) = ends(&out);
        if let Some(previous) = previous_base {
            // Every loop advances the timeline by the same amount: the end of the track that
            // ends last (10 009 ms with 431 audio frames, 10 001 with 430).
            assert_eq!(base - previous, audio_end.max(video_end) - base);
        }
        previous_base = Some(base);
        let drift = audio_end - video_end;
        let first = *first_loop_drift.get_or_insert(drift);
        assert!(
            (drift - first).abs() < 23,
            "loop {n}: drift {drift} vs {first}"
        );
    }
    let c = t.counters();
    assert_eq!((c.segments, c.rebases), (100, 99));
    assert_eq!((c.dts_corrections, c.discontinuities), (0, 0));
}

#[test]
fn loops_audio_ending_after_video() {
    play(431, false);
    play(431, true);
}

#[test]
fn loops_audio_ending_before_video() {
    play(430, false);
    play(430, true);
}
