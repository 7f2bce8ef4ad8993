use super::*;
use crate::testutil::{audio, audio_config as acfg, metadata as meta, video, video_config as vcfg};
use bytes::Bytes;

fn video_config(dts: i64) -> Frame {
    vcfg(dts, 1)
}

fn audio_config(dts: i64) -> Frame {
    acfg(dts, 0x10)
}

fn metadata(dts: i64) -> Frame {
    meta(dts, 0)
}

/// Maps and returns the output DTS.
fn out(t: &mut Timeline, mut f: Frame) -> i64 {
    t.map(&mut f);
    f.dts
}

fn timeline() -> Timeline {
    Timeline::new(TimelineConfig::default())
}

#[test]
fn empty_timeline() {
    let t = timeline();
    assert_eq!(t.last_dts(), None);
    assert_eq!(t.next_base(), 0);
    assert_eq!(t.counters(), TimelineCounters::default());
}

#[test]
fn first_segment_starts_at_zero_whatever_the_source_start() {
    let mut t = timeline();
    let start = 0xFFFF_FF00_i64;
    assert_eq!(out(&mut t, metadata(0)), 0);
    assert_eq!(out(&mut t, video_config(0)), 0);
    assert_eq!(out(&mut t, video(start, true, 0)), 0);
    assert_eq!(out(&mut t, audio(start + 5)), 5);
    assert_eq!(out(&mut t, video(start + 40, false, 0)), 40);
    // Past the 32-bit wrap on the (unwrapped) input: nothing special.
    assert_eq!(out(&mut t, video(start + 0x200, false, 0)), 0x200);
    let c = t.counters();
    assert_eq!((c.segments, c.rebases, c.dts_corrections), (1, 0, 0));
    assert_eq!(c.discontinuities, 0);
}

#[test]
fn rebase_formula_after_reconnect() {
    let mut t = timeline();
    t.begin_segment(0);
    for i in 0..3 {
        out(&mut t, video(i * 40, i == 0, 0));
        out(&mut t, audio(i * 23));
    }
    // video: last 80, duration 40 → ends 120; audio: last 46, duration 23 → ends 69.
    assert_eq!(t.last_dts(), Some(80));
    assert_eq!(t.next_base(), 120);

    t.begin_segment(500);
    assert_eq!(out(&mut t, audio_config(0)), 620);
    assert_eq!(out(&mut t, audio(7777)), 620);
    assert_eq!(out(&mut t, video(7777, true, 0)), 620);
    assert_eq!(out(&mut t, video(7800, false, 0)), 643);
    assert_eq!(out(&mut t, audio(7800)), 643);
    let c = t.counters();
    assert_eq!((c.segments, c.rebases, c.dts_corrections), (2, 1, 0));
}

#[test]
fn audio_first_segment_keeps_alignment() {
    let mut t = timeline();
    for i in 0..10 {
        out(&mut t, video(i * 33, i == 0, 0));
        out(&mut t, audio(i * 23));
    }
    // video ends 297 + 33 = 330, audio 207 + 23 = 230.
    t.begin_segment(0);
    assert_eq!(out(&mut t, audio(5020)), 330);
    // Video starts 10 ms before the anchoring audio frame: alignment wins, still after the
    // previous video frame (297).
    assert_eq!(out(&mut t, video(5010, true, 0)), 320);
    assert_eq!(out(&mut t, video(5043, false, 0)), 353);
    assert_eq!(t.counters().dts_corrections, 0);
}

#[test]
fn leading_track_in_first_segment_never_goes_negative() {
    let mut t = timeline();
    assert_eq!(out(&mut t, audio(20)), 0);
    assert_eq!(out(&mut t, video(0, true, 0)), 0);
    assert_eq!(out(&mut t, video(33, false, 0)), 13);
    assert_eq!(t.counters().dts_corrections, 1);
}

#[test]
fn audio_only_segment_then_video_again() {
    let mut t = timeline();
    out(&mut t, video(0, true, 0));
    out(&mut t, video(33, false, 0));
    out(&mut t, audio(0));
    t.begin_segment(0);
    // video ends 66, audio 0 + 23: base 66.
    assert_eq!(out(&mut t, audio(900)), 66);
    assert_eq!(out(&mut t, audio(923)), 89);
    assert_eq!(out(&mut t, audio(946)), 112);
    t.begin_segment(100);
    // audio ends 135 > video's 66.
    assert_eq!(t.next_base(), 135);
    assert_eq!(out(&mut t, video(0, true, 0)), 235);
    assert_eq!(out(&mut t, audio(0)), 235);
}

#[test]
fn small_backward_step_is_corrected_not_a_discontinuity() {
    let mut t = timeline();
    out(&mut t, video(1000, true, 0));
    out(&mut t, video(1040, false, 0));
    assert_eq!(out(&mut t, video(1030, false, 0)), 41);
    assert_eq!(out(&mut t, video(1030, false, 0)), 42);
    assert_eq!(out(&mut t, video(1080, false, 0)), 80);
    let c = t.counters();
    assert_eq!((c.dts_corrections, c.discontinuities), (2, 0));
}

#[test]
fn forward_jump_reanchors_and_other_track_follows() {
    let mut t = timeline();
    for i in 0..5 {
        out(&mut t, video(i * 40, i == 0, 0));
        out(&mut t, audio(i * 40 + 10));
    }
    // video last 160 (+40 = 200), audio last 170 (+40 = 210).
    assert_eq!(out(&mut t, video(60_000, false, 0)), 210);
    assert_eq!(out(&mut t, audio(60_010)), 220);
    assert_eq!(out(&mut t, video(60_040, false, 0)), 250);
    let c = t.counters();
    assert_eq!((c.discontinuities, c.rebases, c.segments), (1, 1, 1));
}

#[test]
fn timestamp_reset_mid_segment_reanchors() {
    let mut t = timeline();
    for i in 0..5 {
        out(&mut t, video(50_000 + i * 40, i == 0, 0));
    }
    assert_eq!(out(&mut t, video(0, true, 0)), 200);
    assert_eq!(out(&mut t, video(40, false, 0)), 240);
    assert_eq!(t.counters().discontinuities, 1);
}

#[test]
fn paused_track_resuming_in_step_is_not_a_jump() {
    let mut t = timeline();
    out(&mut t, video(0, true, 0));
    for i in 0..700 {
        out(&mut t, audio(i * 23));
    }
    // Video was off for ~16 s but resumes in step with audio.
    assert_eq!(out(&mut t, video(16_100, true, 0)), 16_100);
    assert_eq!(t.counters().discontinuities, 0);
}

#[test]
fn negative_cts_is_rewritten_copy_on_write() {
    let mut t = timeline();
    let original = video(0, true, -40);
    let mut shared = original.clone();
    t.map(&mut shared);
    assert_eq!(shared.composition_time(), 0);
    assert_eq!(shared.pts(), shared.dts);
    // The other holder of the buffer still sees the source's bytes.
    assert_eq!(original.composition_time(), -40);
    assert_eq!(&shared.payload[..2], &original.payload[..2]);
    assert_eq!(&shared.payload[5..], &original.payload[5..]);

    let mut unique = video(40, false, -1);
    t.map(&mut unique);
    assert_eq!(unique.composition_time(), 0);
    let mut positive = video(80, false, 80);
    t.map(&mut positive);
    assert_eq!(positive.composition_time(), 80);
    assert_eq!(t.counters().cts_corrections, 2);
}

#[test]
fn negative_cts_in_enhanced_header_is_rewritten() {
    let mut body = vec![0x80 | 0x10 | 1];
    body.extend_from_slice(b"hvc1");
    body.extend_from_slice(&[0xff, 0xff, 0xf6, 0xaa]);
    let mut f = Frame::new(TagType::Video, 0, Bytes::from(body));
    assert_eq!(f.composition_time(), -10);
    let mut t = timeline();
    t.map(&mut f);
    assert_eq!(f.composition_time(), 0);
    assert_eq!(
        &f.payload[..],
        &[0x91, b'h', b'v', b'c', b'1', 0, 0, 0, 0xaa]
    );
}

#[test]
fn config_frames_do_not_push_last_dts() {
    let mut t = timeline();
    out(&mut t, video(1000, true, 0));
    out(&mut t, video(1040, false, 0));
    // Re-sent header with the current timestamp and one with 0: both stay within the output.
    assert_eq!(out(&mut t, video_config(1080)), 40);
    assert_eq!(out(&mut t, video_config(0)), 40);
    assert_eq!(out(&mut t, audio_config(5_000_000)), 40);
    assert_eq!(t.last_dts(), Some(40));
    assert_eq!(out(&mut t, video(1080, false, 0)), 80);
    assert_eq!(t.counters().dts_corrections, 0);
}

#[test]
fn late_header_of_a_leading_track_precedes_its_media() {
    let mut t = timeline();
    out(&mut t, video(0, true, 0));
    out(&mut t, audio(0));
    t.begin_segment(0);
    let base = t.next_base();
    assert_eq!(base, 33);
    // Video anchors at 100; audio (header, then media) starts 20 ms earlier on the source.
    assert_eq!(out(&mut t, video(100, true, 0)), base);
    assert_eq!(out(&mut t, audio_config(80)), base - 20);
    assert_eq!(out(&mut t, audio(80)), base - 20);
    // A track that appears for the first time: its header may also precede the anchor.
    let mut t = timeline();
    out(&mut t, audio(0));
    t.begin_segment(1000);
    assert_eq!(out(&mut t, audio(5000)), 1023);
    assert_eq!(out(&mut t, video_config(4990)), 1013);
    assert_eq!(out(&mut t, video(4990, true, 0)), 1013);
    assert_eq!(t.counters().dts_corrections, 0);
}

#[test]
fn script_frames_take_the_mapping_within_the_segment() {
    let mut t = timeline();
    out(&mut t, video(0, true, 0));
    out(&mut t, video(100, false, 0));
    t.begin_segment(0);
    // Before the segment's first media frame: the segment's base (100 + 100).
    assert_eq!(out(&mut t, metadata(0)), 200);
    out(&mut t, video(500_000, true, 0));
    out(&mut t, video(500_100, false, 0));
    assert_eq!(out(&mut t, metadata(500_050)), 250);
    // A metadata tag stamped 0 on a source that started elsewhere stays at the segment base.
    assert_eq!(out(&mut t, metadata(0)), 200);
}

#[test]
fn gap_and_repeated_begin() {
    let mut t = timeline();
    out(&mut t, audio(0));
    t.begin_segment(-500);
    assert_eq!(t.counters().segments, 2);
    t.begin_segment(1000);
    assert_eq!(out(&mut t, audio(77)), 1023);
    let c = t.counters();
    assert_eq!((c.segments, c.rebases), (3, 1));
}

#[test]
fn negative_gap_counts_as_zero() {
    let mut t = timeline();
    out(&mut t, audio(0));
    t.begin_segment(-500);
    assert_eq!(out(&mut t, audio(0)), 23);
}

#[test]
fn duration_is_last_positive_step() {
    let mut t = timeline();
    out(&mut t, video(0, true, 0));
    out(&mut t, video(50, false, 0));
    // A repeated DTS is not a duration.
    out(&mut t, video(50, false, 0));
    assert_eq!(t.last_dts(), Some(51));
    assert_eq!(t.next_base(), 101);
}

mod loops;
mod props;
mod seamless;
