//! Seamless segments (playlist items): presentation continues across item boundaries, with
//! B-frames, AAC priming, items of different frame rates and unbalanced tracks.

use super::super::*;
use crate::testutil::{audio, audio_config, video, video_config};
use proptest::prelude::*;

/// Presented frame indexes of an x264 mini-GOP of `n` frames after a reference, in decode
/// order: with B-pyramid (x264's default, 3 B-frames) a full one is P B b b presented as
/// +4 +2 +1 +3; the shorter one at the end of a clip is P then its B-frames in order.
fn mini_gop(n: i64) -> Vec<i64> {
    if n == 4 {
        vec![4, 2, 1, 3]
    } else {
        std::iter::once(n).chain(1..n).collect()
    }
}

/// An item as Baton reads an ffmpeg-default x264 + AAC MP4 (ms, edit lists applied, as
/// ffprobe shows it; compare `faststart.mp4` and `x264_default.mp4` in baton-mp4's fixtures):
/// `video` frames at 25 fps whose decoding starts 2 frames (80 ms) before PTS 0, one key
/// frame; AAC at 44.1 kHz from its priming frame at −23 ms, `audio` frames (the last one
/// padded past the end). Headers first (stamped like the first sample), then the samples by
/// DTS, video first on ties.
fn x264_item(video_frames: i64, audio_frames: i64) -> Vec<Frame> {
    let mut pts = vec![0];
    let mut done = 1;
    while done < video_frames {
        let n = (video_frames - done).min(4);
        pts.extend(mini_gop(n).into_iter().map(|p| done - 1 + p));
        done += n;
    }
    let mut media: Vec<Frame> = pts
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let dts = i as i64 * 40 - 80;
            video(dts, i == 0, (p * 40 - dts) as i32)
        })
        .chain((0..audio_frames).map(|j| audio(((j - 1) * 2_048_000 + 44_100).div_euclid(88_200))))
        .collect();
    media.sort_by_key(|f| (f.dts, !f.is_video()));
    let mut frames = vec![video_config(-80, 1), audio_config(-80, 0x10)];
    frames.extend(media);
    frames
}

/// A B-frame-free item: `video_frames` at `fps`, audio as long, both from 0.
fn plain_item(video_frames: i64, fps: i64, audio_frames: i64) -> Vec<Frame> {
    let mut media: Vec<Frame> = (0..video_frames)
        .map(|i| video(i * 1000 / fps, i == 0, 0))
        .chain((0..audio_frames).map(|j| audio(j * 1024 * 1000 / 44_100)))
        .collect();
    media.sort_by_key(|f| (f.dts, !f.is_video()));
    media
}

/// Plays `items` back to back, each begun as a seamless segment after a lookahead (or, with
/// `seamless` false, by decode time as before), and returns each item's output frames.
fn play(t: &mut Timeline, items: &[Vec<Frame>], seamless: bool) -> Vec<Vec<Frame>> {
    items
        .iter()
        .map(|item| {
            if seamless {
                let mut ahead = SegmentLookahead::new();
                for f in item {
                    if ahead.is_complete() {
                        break;
                    }
                    ahead.push(f.clone());
                }
                t.begin_seamless_segment(&ahead.finish().0);
            } else {
                t.begin_segment(0);
            }
            item.iter()
                .map(|f| {
                    let mut f = f.clone();
                    t.map(&mut f);
                    f
                })
                .collect()
        })
        .collect()
}

fn pts_of(frames: &[Frame], video: bool) -> Vec<i64> {
    frames
        .iter()
        .filter(|f| f.is_video() == video && !f.config && f.kind != TagType::Script)
        .map(Frame::pts)
        .collect()
}

/// The presentation hole between two consecutive items on one track: the next item's first
/// presented frame minus where the previous one's last presented frame ended.
fn hole(before: &[Frame], after: &[Frame], video: bool, duration: i64) -> i64 {
    let end = pts_of(before, video).into_iter().max().unwrap() + duration;
    pts_of(after, video).into_iter().min().unwrap() - end
}

fn check_monotonic(out: &[Vec<Frame>]) {
    for video in [false, true] {
        let dts: Vec<i64> = out
            .iter()
            .flatten()
            .filter(|f| f.is_video() == video && !f.config)
            .map(|f| f.dts)
            .collect();
        assert!(dts.windows(2).all(|w| w[0] < w[1]), "DTS not increasing");
    }
    assert!(out.iter().flatten().all(|f| f.pts() >= f.dts), "PTS < DTS");
}

#[test]
fn x264_items_continue_their_presentation() {
    // 2 s items: 50 frames; 88 AAC frames from −23 ms to 2020 ms.
    let item = x264_item(50, 88);
    let items = vec![item.clone(), item.clone(), item];

    let mut t = Timeline::new(TimelineConfig::default());
    let out = play(&mut t, &items, true);
    check_monotonic(&out);
    for pair in out.windows(2) {
        // Audio binds: no hole. Video waits for what the audio frames span beyond the
        // pictures: the priming frame (23 ms) and the padded last frame (20 ms).
        assert_eq!(hole(&pair[0], &pair[1], false, 23), 0);
        assert_eq!(hole(&pair[0], &pair[1], true, 40), 43);
    }
    // One offset per item: A/V exactly as in the file (video PTS 0 ↔ audio PTS 0).
    for (item, o) in items.iter().zip(&out) {
        let offset = o[2].dts - item[2].dts;
        assert!(
            item.iter()
                .zip(o)
                .skip(2)
                .all(|(i, o)| o.pts() == i.pts() + offset)
        );
    }
    assert_eq!(t.counters().dts_corrections, 0);
    assert_eq!(t.counters().rebases, 2);

    // Placed by decode time (what playlists did): the first picture comes a decode lead
    // late, after the previous item's audio; ~3 frames of freeze per boundary.
    let mut t = Timeline::new(TimelineConfig::default());
    let old = play(&mut t, &items, false);
    assert_eq!(hole(&old[0], &old[1], true, 40), 100);
    assert_eq!(hole(&old[0], &old[1], false, 23), 57);
}

#[test]
fn b_frames_after_a_b_frame_free_item_keep_their_pts() {
    // Video only: a B-frame-free item, then x264 items. The new item's first frames would
    // decode before the previous item's last: their DTS moves forward, their PTS does not.
    let plain = plain_item(30, 25, 0);
    let x264: Vec<Frame> = x264_item(50, 0);
    let items = vec![plain, x264.clone(), x264];
    let mut t = Timeline::new(TimelineConfig::default());
    let out = play(&mut t, &items, true);
    check_monotonic(&out);
    assert_eq!(hole(&out[0], &out[1], true, 40), 0);
    assert_eq!(hole(&out[1], &out[2], true, 40), 0);
    // Output PTS = input PTS + one offset, every frame: the presentation is untouched.
    let offset = out[1][1].pts() - items[1][1].pts();
    for (i, o) in items[1].iter().zip(&out[1]).skip(1) {
        assert_eq!(o.pts(), i.pts() + offset, "{i:?} → {o:?}");
    }
    let c = t.counters();
    assert_eq!((c.dts_corrections, c.cts_corrections), (2, 2));
}

#[test]
fn items_of_different_frame_rates() {
    // 30 fps then 25 fps with B-frames, video only: each item starts one frame of the
    // previous item's rate after its last picture.
    let items = vec![
        plain_item(60, 30, 0),
        x264_item(50, 0),
        plain_item(60, 30, 0),
    ];
    let mut t = Timeline::new(TimelineConfig::default());
    let out = play(&mut t, &items, true);
    check_monotonic(&out);
    assert_eq!(hole(&out[0], &out[1], true, 33), 0);
    assert_eq!(hole(&out[1], &out[2], true, 40), 0);
}

#[test]
fn an_item_whose_audio_outlasts_its_video() {
    // Item 1: 4 s of video, 5 s of audio. Item 2 continues after the audio: its video waits
    // (the first item's pictures end a second before its sound), its audio has no hole.
    let long_audio = plain_item(100, 25, 216);
    let items = vec![long_audio, x264_item(50, 88)];
    let mut t = Timeline::new(TimelineConfig::default());
    let out = play(&mut t, &items, true);
    check_monotonic(&out);
    assert_eq!(hole(&out[0], &out[1], false, 23), 0);
    let audio_end = 215 * 1024 * 1000 / 44_100 + 23;
    assert_eq!(hole(&out[0], &out[1], true, 40), audio_end - 4000 + 23);
}

#[test]
fn an_item_without_audio_starts_after_the_previous_audio() {
    let items = vec![plain_item(50, 25, 88), x264_item(50, 0), x264_item(50, 88)];
    let mut t = Timeline::new(TimelineConfig::default());
    let out = play(&mut t, &items, true);
    check_monotonic(&out);
    // The video-only item starts where the previous audio ended (its last frame, 2020 ms,
    // plus its last step, 24 ms), not over it.
    let audio = pts_of(&out[0], false);
    let audio_end = audio[audio.len() - 1] * 2 - audio[audio.len() - 2];
    assert_eq!(audio_end, 2044);
    assert_eq!(pts_of(&out[1], true).into_iter().min(), Some(audio_end));
    // The next item's audio continues the audio the timeline last had (item 0's) or later.
    assert!(hole(&out[1], &out[2], true, 40) >= 0);
}

#[test]
fn an_empty_start_begins_like_a_plain_segment() {
    let mut t = Timeline::new(TimelineConfig::default());
    let mut f = audio(0);
    t.map(&mut f);
    t.begin_seamless_segment(&SegmentStart::default());
    let mut f = audio(500);
    t.map(&mut f);
    assert_eq!(f.dts, 23);
    assert_eq!(t.counters().segments, 2);
}

#[test]
fn lookahead_is_bounded() {
    let mut ahead = SegmentLookahead::new();
    for i in 0..LOOKAHEAD_FRAMES as i64 - 1 {
        ahead.push(audio(i / 100));
        assert!(!ahead.is_complete());
    }
    ahead.push(audio(5));
    assert!(ahead.is_complete());
    let mut ahead = SegmentLookahead::new();
    ahead.push(video_config(0, 1));
    ahead.push(video(-80, true, 80));
    ahead.push(video(-40, false, 160));
    assert!(!ahead.is_complete());
    ahead.push(audio(920));
    assert!(ahead.is_complete());
    let (start, frames) = ahead.finish();
    assert_eq!(frames.len(), 4);
    let v = start.track(TagType::Video).unwrap();
    assert_eq!((v.first_dts, v.first_pts), (-80, 0));
    assert_eq!(start.first_dts(), Some(-80));
    assert_eq!(start.first_pts(), Some(0));
}

/// A random item: video at a frame rate with a B-frame structure (decode lead and
/// reordering), audio offset against it, either track possibly absent.
fn arb_item() -> impl Strategy<Value = Vec<Frame>> {
    (
        0i64..60,
        prop_oneof![Just(40i64), Just(33), Just(20), Just(42)],
        0usize..3,
        0i64..100,
        -60i64..60,
    )
        .prop_map(|(vn, step, lead, an, audio_at)| {
            let lead = lead as i64;
            let mut media: Vec<Frame> = (0..vn)
                .map(|i| {
                    // Decode order with `lead` frames of reordering: presented index of
                    // frame i is i + lead for references, cycling back for B-frames.
                    let p = if lead == 0 || i == 0 {
                        i
                    } else {
                        let g = (i - 1) / (lead + 1) * (lead + 1);
                        let pos = (i - 1) % (lead + 1);
                        let p = if pos == 0 { g + lead + 1 } else { g + pos };
                        p.min(vn - 1).max(i - lead)
                    };
                    let dts = (i - lead) * step;
                    video(dts, i == 0, ((p * step) - dts).max(0) as i32)
                })
                .chain((0..an).map(|j| audio(audio_at + j * 23)))
                .collect();
            media.sort_by_key(|f| (f.dts, !f.is_video()));
            media
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the items: DTS strictly increases and PTS ≥ DTS per track; every track's
    /// presentation starts at or after where it ended (no overlap; a track the item lacks
    /// counts with the item's first picture or sound), and the offset is the smallest with
    /// that property: some track continues with no hole, unless the item's decoding had to
    /// start at 0.
    #[test]
    fn seamless_items(items in proptest::collection::vec(arb_item(), 1..6)) {
        let mut t = Timeline::new(TimelineConfig::default());
        let out = play(&mut t, &items, true);
        let mut last_dts = [None::<i64>; 2];
        let mut max_pts = [None::<i64>; 2];
        let mut durations = [23i64, 33];
        for (item, o) in items.iter().zip(&out) {
            for (video, k) in [(false, 0usize), (true, 1)] {
                for f in o.iter().filter(|f| f.is_video() == video) {
                    prop_assert!(f.pts() >= f.dts);
                    prop_assert!(last_dts[k].is_none_or(|l| f.dts > l), "DTS {f:?}");
                    last_dts[k] = Some(f.dts);
                }
            }
            let Some(item_first) = o.iter().map(Frame::pts).min() else {
                continue;
            };
            let mut holes = Vec::new();
            for (video, k) in [(false, 0usize), (true, 1)] {
                let first = pts_of(o, video).into_iter().min().unwrap_or(item_first);
                if let Some(end) = max_pts[k].map(|p| p + durations[k]) {
                    prop_assert!(first >= end, "overlap: track {k} at {first} < {end}");
                    holes.push(first - end);
                }
            }
            // The offset: frames keep input PTS + offset unless the DTS rule moved them.
            let offset = item.iter().zip(o).map(|(i, o)| o.pts() - i.pts()).min().unwrap();
            let first_dts = item.iter().map(|f| f.dts).min().unwrap();
            prop_assert!(
                holes.is_empty() || holes.contains(&0) || offset == -first_dts,
                "no track continues: {holes:?}"
            );
            // Each track's end: its latest PTS plus its last DTS step (as the timeline
            // measures a frame's duration; kept from earlier items when this one has none).
            for (video, k) in [(false, 0usize), (true, 1)] {
                let dts: Vec<i64> = item.iter().filter(|f| f.is_video() == video).map(|f| f.dts).collect();
                if let Some(step) = dts.windows(2).rev().map(|w| w[1] - w[0]).find(|d| *d > 0) {
                    durations[k] = step;
                }
                if let Some(max) = pts_of(o, video).into_iter().max() {
                    max_pts[k] = Some(max_pts[k].map_or(max, |m| m.max(max)));
                }
            }
        }
    }
}
