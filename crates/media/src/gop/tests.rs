use super::*;
use crate::testutil::{
    audio, audio_config, audio_sized, cue_point, metadata, video, video_config, video_sized,
};
use proptest::prelude::*;

fn cache(max_frames: usize, max_bytes: usize) -> GopCache {
    GopCache::new(GopCacheConfig {
        max_bytes,
        max_frames,
    })
}

fn replayed(c: &GopCache) -> Vec<Frame> {
    c.replay().cloned().collect()
}

#[test]
fn empty_cache() {
    let c = GopCache::new(GopCacheConfig::default());
    assert!(c.is_empty());
    assert_eq!((c.len(), c.bytes()), (0, 0));
    assert_eq!(c.replay().count(), 0);
}

#[test]
fn replay_order_headers_then_gop_from_keyframe() {
    let mut c = GopCache::new(GopCacheConfig::default());
    let frames = [
        video(0, true, 0),
        audio(10),
        audio_config(0, 0x10),
        video(40, false, 0),
        metadata(0, 1),
        video_config(0, 1),
        video(80, true, 0),
        audio(90),
        cue_point(95),
        video(120, false, 40),
    ];
    for f in &frames {
        c.push(f);
    }
    let expected = vec![
        metadata(0, 1),
        video_config(0, 1),
        audio_config(0, 0x10),
        video(80, true, 0),
        audio(90),
        cue_point(95),
        video(120, false, 40),
    ];
    assert_eq!(replayed(&c), expected);
    assert_eq!(c.len(), 7);
    assert_eq!(c.bytes(), expected.iter().map(|f| f.payload.len()).sum());
}

#[test]
fn frames_before_the_first_keyframe_are_not_cached() {
    let mut c = GopCache::new(GopCacheConfig::default());
    c.push(&video_config(0, 1));
    c.push(&audio(0));
    c.push(&video(0, false, 0));
    c.push(&audio(23));
    assert_eq!(replayed(&c), vec![video_config(0, 1)]);
    c.push(&video(40, true, 0));
    c.push(&audio(46));
    assert_eq!(
        replayed(&c),
        vec![video_config(0, 1), video(40, true, 0), audio(46)]
    );
}

#[test]
fn headers_are_replaced_and_a_changed_one_drops_the_gop() {
    let mut c = GopCache::new(GopCacheConfig::default());
    c.push(&video_config(0, 1));
    c.push(&video(0, true, 0));
    c.push(&audio(5));
    // Same header re-sent: the GOP stays.
    c.push(&video_config(10, 1));
    assert_eq!(c.len(), 3);
    assert_eq!(replayed(&c)[0], video_config(10, 1));
    // New SPS: old frames are useless to a new subscriber.
    c.push(&video_config(20, 2));
    c.push(&video(40, false, 0));
    assert_eq!(replayed(&c), vec![video_config(20, 2)]);
    c.push(&video(80, true, 0));
    assert_eq!(c.len(), 2);
    // Metadata replaces without touching the GOP.
    c.push(&metadata(0, 1));
    c.push(&metadata(0, 2));
    assert_eq!(replayed(&c)[0], metadata(0, 2));
    assert_eq!(c.len(), 3);
}

#[test]
fn gop_over_frame_limit_is_dropped_until_next_keyframe() {
    let mut c = cache(3, 1 << 20);
    c.push(&audio_config(0, 0x10));
    c.push(&video(0, true, 0));
    c.push(&video(40, false, 0));
    c.push(&video(80, false, 0));
    assert_eq!(c.len(), 4);
    c.push(&video(120, false, 0));
    assert_eq!(replayed(&c), vec![audio_config(0, 0x10)]);
    c.push(&video(160, false, 0));
    c.push(&audio(170));
    assert_eq!(c.len(), 1);
    c.push(&video(200, true, 0));
    assert_eq!(
        replayed(&c),
        vec![audio_config(0, 0x10), video(200, true, 0)]
    );
}

#[test]
fn gop_over_byte_limit_is_dropped() {
    let mut c = cache(100, 100);
    c.push(&video_sized(0, true, 0, 60));
    c.push(&audio_sized(10, 40));
    assert_eq!(c.bytes(), 100);
    c.push(&audio_sized(20, 1));
    assert!(c.is_empty());
    // A keyframe larger than the limit on its own is not kept either.
    c.push(&video_sized(40, true, 0, 101));
    assert!(c.is_empty());
    c.push(&video_sized(80, true, 0, 100));
    assert_eq!(c.bytes(), 100);
}

#[test]
fn audio_only_keeps_a_bounded_window() {
    let mut c = cache(4, 1 << 20);
    c.push(&audio_config(0, 0x10));
    for i in 0..10 {
        c.push(&audio(i * 23));
    }
    let expected: Vec<Frame> = std::iter::once(audio_config(0, 0x10))
        .chain((6..10).map(|i| audio(i * 23)))
        .collect();
    assert_eq!(replayed(&c), expected);

    let mut c = cache(100, 25);
    for i in 0..10 {
        c.push(&audio_sized(i, 10));
    }
    assert_eq!(replayed(&c), vec![audio_sized(8, 10), audio_sized(9, 10)]);
    c.push(&audio_sized(10, 30));
    assert!(c.is_empty());
}

#[test]
fn first_video_frame_switches_to_gop_mode() {
    let mut c = GopCache::new(GopCacheConfig::default());
    c.push(&audio(0));
    c.push(&audio(23));
    c.push(&video_config(30, 1));
    assert_eq!(replayed(&c), vec![video_config(30, 1)]);
    c.push(&audio(46));
    assert_eq!(c.len(), 1);
    c.push(&video(50, true, 0));
    c.push(&audio(69));
    assert_eq!(c.len(), 3);
}

#[test]
fn clear_forgets_everything() {
    let mut c = GopCache::new(GopCacheConfig::default());
    c.push(&metadata(0, 1));
    c.push(&video_config(0, 1));
    c.push(&video(0, true, 0));
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.bytes(), 0);
    // Back to audio-only mode until video shows up again.
    c.push(&audio(0));
    assert_eq!(c.len(), 1);
}

/// One frame of a random stream: (kind 0..8, payload size).
fn arb_stream() -> impl Strategy<Value = Vec<(u8, usize)>> {
    proptest::collection::vec((0u8..8, 6usize..200), 0..300)
}

fn make(i: usize, (kind, size): (u8, usize)) -> Frame {
    let dts = i as i64 * 10;
    match kind {
        0 => video_sized(dts, true, 0, size),
        1 | 2 => video_sized(dts, false, 0, size),
        3 | 4 => audio_sized(dts, size),
        5 => video_config(dts, (size % 2) as u8),
        6 => audio_config(dts, (size % 2) as u8),
        _ => metadata(dts, (size % 3) as u8),
    }
}

proptest! {
    /// Whatever the stream: headers come first in their fixed order, the cached frames are a
    /// contiguous run of the pushed media ending at the latest one, start at a keyframe once
    /// video was seen, and respect the limits.
    #[test]
    fn replay_invariants(stream in arb_stream(), max_frames in 1usize..40, max_bytes in 50usize..3000) {
        let mut c = cache(max_frames, max_bytes);
        let mut media: Vec<Frame> = Vec::new();
        let mut video_seen = false;
        for (i, spec) in stream.into_iter().enumerate() {
            let f = make(i, spec);
            video_seen |= f.is_video();
            c.push(&f);
            if !f.config && !f.is_metadata() {
                media.push(f);
            }
            let all = replayed(&c);
            prop_assert_eq!(all.len(), c.len());
            prop_assert_eq!(all.iter().map(|f| f.payload.len()).sum::<usize>(), c.bytes());
            let headers = all.iter().take_while(|f| f.config || f.is_metadata()).count();
            let rank = |f: &Frame| if f.is_metadata() { 0 } else if f.is_video() { 1 } else { 2 };
            prop_assert!(all[..headers].windows(2).all(|w| rank(&w[0]) < rank(&w[1])));
            let gop = &all[headers..];
            prop_assert!(gop.iter().all(|f| !f.config && !f.is_metadata()));
            prop_assert!(gop.len() <= max_frames);
            prop_assert!(gop.iter().map(|f| f.payload.len()).sum::<usize>() <= max_bytes);
            if let Some(first) = gop.first() {
                if video_seen {
                    prop_assert!(first.is_video() && first.keyframe);
                }
                prop_assert!(media.ends_with(gop));
            }
        }
    }
}
