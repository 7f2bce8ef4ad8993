use super::*;
use crate::testutil::{
    audio, audio_config, audio_sized, cue_point, metadata, video, video_config, video_sized,
};
use proptest::prelude::*;

fn queue(max_frames: usize, max_bytes: usize) -> SubscriberQueue {
    SubscriberQueue::new(QueueConfig {
        max_frames,
        max_bytes,
    })
}

fn drain(q: &mut SubscriberQueue) -> Vec<Frame> {
    std::iter::from_fn(|| q.pop()).collect()
}

#[test]
fn fifo_within_bounds() {
    let mut q = queue(10, 1000);
    assert!(q.is_empty());
    assert_eq!(q.policy(), WhenFull::DropToKeyframe);
    let frames = [video(0, true, 0), audio(5), video(40, false, 0)];
    for f in &frames {
        assert_eq!(q.push(f.clone()), Pushed::Queued);
    }
    assert_eq!((q.len(), q.bytes()), (3, 15));
    assert_eq!(drain(&mut q), frames.to_vec());
    assert_eq!((q.len(), q.bytes(), q.dropped()), (0, 0, 0));
}

#[test]
fn overflow_flushes_media_keeps_headers_and_waits_for_keyframe() {
    let mut q = queue(5, 1000);
    q.push(metadata(0, 1));
    q.push(video_config(0, 1));
    q.push(video(0, true, 0));
    q.push(audio(10));
    q.push(video(40, false, 0));
    // Sixth frame: over max_frames. Three media frames + this one are dropped.
    assert_eq!(q.push(video(80, false, 0)), Pushed::Flushed { dropped: 4 });
    assert_eq!(q.len(), 2);
    assert_eq!(q.push(audio(90)), Pushed::Dropped);
    assert_eq!(q.push(video(120, false, 0)), Pushed::Dropped);
    // Headers still pass while waiting.
    assert_eq!(q.push(audio_config(0, 0x10)), Pushed::Queued);
    assert_eq!(q.push(video(160, true, 0)), Pushed::Queued);
    assert_eq!(q.push(audio(170)), Pushed::Queued);
    assert_eq!(q.dropped(), 6);
    assert_eq!(
        drain(&mut q),
        vec![
            metadata(0, 1),
            video_config(0, 1),
            audio_config(0, 0x10),
            video(160, true, 0),
            audio(170),
        ]
    );
}

#[test]
fn overflowing_keyframe_is_queued_after_the_flush() {
    let mut q = queue(3, 1000);
    q.push(video(0, true, 0));
    q.push(video(40, false, 0));
    q.push(video(80, false, 0));
    assert_eq!(q.push(video(120, true, 0)), Pushed::Flushed { dropped: 3 });
    assert_eq!(drain(&mut q), vec![video(120, true, 0)]);
}

#[test]
fn byte_bound_and_oversized_keyframe() {
    let mut q = queue(100, 100);
    q.push(video_sized(0, true, 0, 60));
    assert_eq!(
        q.push(video_sized(40, false, 0, 50)),
        Pushed::Flushed { dropped: 2 }
    );
    // A keyframe bigger than the whole bound still resumes the flow.
    assert_eq!(q.push(video_sized(80, true, 0, 500)), Pushed::Queued);
    assert_eq!(q.bytes(), 500);
    assert_eq!(
        q.push(video_sized(120, false, 0, 6)),
        Pushed::Flushed { dropped: 2 }
    );
    assert!(q.is_empty());
}

#[test]
fn audio_only_resumes_at_next_audio_frame() {
    let mut q = queue(3, 1000);
    q.push(audio_config(0, 0x10));
    q.push(audio(0));
    q.push(audio(23));
    assert_eq!(q.push(audio(46)), Pushed::Flushed { dropped: 2 });
    assert_eq!(q.push(cue_point(50)), Pushed::Queued);
    // The cue point is flushed with the audio it was queued among.
    assert_eq!(q.push(audio(69)), Pushed::Flushed { dropped: 2 });
    assert_eq!(drain(&mut q), vec![audio_config(0, 0x10), audio(69)]);
    assert_eq!(q.dropped(), 4);
}

#[test]
fn headers_replace_in_place_and_are_never_dropped() {
    let mut q = queue(4, 1000);
    q.push(video_config(0, 1));
    q.push(video(0, true, 0));
    q.push(audio(5));
    assert_eq!(q.push(video_config(10, 2)), Pushed::Replaced);
    assert_eq!(q.push(metadata(0, 1)), Pushed::Queued);
    // Full: a header that does not fit flushes the media but is itself queued.
    assert_eq!(
        q.push(audio_config(0, 0x10)),
        Pushed::Flushed { dropped: 2 }
    );
    assert_eq!(q.push(video(40, false, 0)), Pushed::Dropped);
    assert_eq!(q.push(metadata(0, 2)), Pushed::Replaced);
    assert_eq!(q.dropped(), 5);
    assert_eq!(
        drain(&mut q),
        vec![video_config(10, 2), metadata(0, 2), audio_config(0, 0x10)]
    );
}

#[test]
fn an_identical_header_re_sent_is_a_repeat_not_a_drop() {
    let mut q = queue(8, 1000);
    q.push(metadata(0, 1));
    q.push(video_config(0, 1));
    q.push(audio_config(0, 0x10));
    // A destination's start (the latest headers, then the GOP cache's copies) or a
    // reconnected source sends the same headers again.
    assert_eq!(q.push(metadata(0, 1)), Pushed::Repeated);
    assert_eq!(q.push(video_config(40, 1)), Pushed::Repeated);
    assert_eq!(q.push(audio_config(40, 0x10)), Pushed::Repeated);
    assert_eq!((q.dropped(), q.repeated(), q.len()), (0, 3, 3));
    // Different bytes: the new header replaces the old, which is never delivered.
    assert_eq!(q.push(video_config(80, 2)), Pushed::Replaced);
    assert_eq!((q.dropped(), q.repeated()), (1, 3));
    assert_eq!(
        drain(&mut q),
        vec![metadata(0, 1), video_config(80, 2), audio_config(0, 0x10)]
    );
}

#[test]
fn headers_alone_may_exceed_the_bounds() {
    let mut q = queue(1, 1);
    assert_eq!(q.push(metadata(0, 1)), Pushed::Queued);
    assert_eq!(q.push(video_config(0, 1)), Pushed::Queued);
    assert_eq!(q.push(audio_config(0, 1)), Pushed::Queued);
    assert_eq!(q.push(video(0, false, 0)), Pushed::Flushed { dropped: 1 });
    assert_eq!(q.push(video(0, true, 0)), Pushed::Queued);
    assert_eq!(q.len(), 4);
}

#[test]
fn zero_bounds_do_not_panic() {
    let mut q = queue(0, 0);
    assert_eq!(q.push(audio(0)), Pushed::Flushed { dropped: 0 });
    assert_eq!(q.push(video(0, false, 0)), Pushed::Flushed { dropped: 2 });
    assert_eq!(q.push(audio(1)), Pushed::Dropped);
    assert_eq!(q.dropped(), 3);
}

/// Something that happens to a queue: a frame pushed (kind 0..9, size), or some pops.
#[derive(Clone, Debug)]
enum Op {
    Push(u8, usize),
    Pop(usize),
}

fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0u8..9, 6usize..300).prop_map(|(k, s)| Op::Push(k, s)),
        1 => (0usize..8).prop_map(Op::Pop),
    ];
    proptest::collection::vec(op, 0..400)
}

/// Frame `id` of a random stream; media frames carry their push index as DTS.
fn make(id: usize, kind: u8, size: usize, audio_only: bool) -> Frame {
    let dts = id as i64;
    let kind = if audio_only && kind < 3 { 3 } else { kind };
    match kind {
        0 => video_sized(dts, true, 0, size),
        1 | 2 => video_sized(dts, false, 0, size),
        3 | 4 => audio_sized(dts, size),
        5 => video_config(dts, (size % 3) as u8),
        6 => audio_config(dts, (size % 3) as u8),
        7 => metadata(dts, (size % 3) as u8),
        _ => cue_point(dts),
    }
}

proptest! {
    /// Random streams and consumer speeds: counts add up exactly, bounds hold, delivery keeps
    /// push order, a non-key video frame is never delivered right after a dropped frame, and
    /// the latest header of each kind is always delivered.
    #[test]
    fn drop_to_keyframe_invariants(
        ops in arb_ops(),
        max_frames in 1usize..30,
        max_bytes in 10usize..3000,
        audio_only in any::<bool>(),
    ) {
        let mut q = queue(max_frames, max_bytes);
        let mut pushed: Vec<Frame> = Vec::new();
        let mut delivered: Vec<Frame> = Vec::new();
        let mut reported = 0u64;
        for op in ops {
            match op {
                Op::Push(kind, size) => {
                    let f = make(pushed.len(), kind, size, audio_only);
                    pushed.push(f.clone());
                    reported += match q.push(f) {
                        Pushed::Queued => 0,
                        Pushed::Dropped | Pushed::Replaced => 1,
                        Pushed::Repeated => 0,
                        Pushed::Flushed { dropped } => dropped as u64,
                    };
                }
                Op::Pop(n) => delivered.extend((0..n).map_while(|_| q.pop())),
            }
            prop_assert_eq!(
                pushed.len() as u64,
                delivered.len() as u64 + q.dropped() + q.repeated() + q.len() as u64
            );
            prop_assert_eq!(reported, q.dropped());
            let headers = q.frames.iter().filter(|f| HeaderKind::of(f).is_some()).count();
            prop_assert!(headers <= 3);
            let media = q.frames.len() - headers;
            // Past the bounds only with headers and at most one resuming frame.
            if q.len() > max_frames || q.bytes() > max_bytes {
                prop_assert!(media <= 1);
            }
            let queued_bytes: usize = q.frames.iter().map(|f| f.payload.len()).sum();
            prop_assert_eq!(q.bytes(), queued_bytes);
        }
        delivered.extend(drain(&mut q));
        prop_assert_eq!(pushed.len() as u64, delivered.len() as u64 + q.dropped() + q.repeated());

        let is_media = |f: &Frame| HeaderKind::of(f).is_none();
        let pushed_media: Vec<&Frame> = pushed.iter().filter(|f| is_media(f)).collect();
        let delivered_media: Vec<&Frame> = delivered.iter().filter(|f| is_media(f)).collect();
        // Media frames keep push order (their DTS is the push index).
        prop_assert!(delivered_media.windows(2).all(|w| w[0].dts < w[1].dts));
        // A delivered non-key video frame follows its predecessor in the stream directly.
        let mut next_pushed = 0;
        for f in &delivered_media {
            let at = pushed_media[next_pushed..].iter().position(|p| p == f);
            prop_assert!(at.is_some());
            let at = at.unwrap_or_default();
            if f.is_video() && !f.keyframe {
                prop_assert_eq!(at, 0, "non-key video {:?} delivered after a drop", f.dts);
            }
            next_pushed += at + 1;
        }
        // The last header of each kind pushed is the last delivered of that kind (its bytes:
        // a repeat leaves its identical twin, pushed earlier, in place).
        for kind in [HeaderKind::Metadata, HeaderKind::VideoConfig, HeaderKind::AudioConfig] {
            let last_pushed = pushed.iter().rfind(|f| HeaderKind::of(f) == Some(kind));
            let last_delivered = delivered.iter().rfind(|f| HeaderKind::of(f) == Some(kind));
            prop_assert_eq!(
                last_pushed.map(|f| &f.payload),
                last_delivered.map(|f| &f.payload)
            );
        }
    }
}
