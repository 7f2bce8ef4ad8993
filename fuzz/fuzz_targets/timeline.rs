//! The output timeline under arbitrary input: random segments (live ones placed by decode
//! time, seamless ones by a start read ahead), gaps, timestamps (near the 32-bit wrap too),
//! B-frame composition times. Output DTS strictly increases per track and PTS ≥ DTS, whatever
//! comes in.
#![no_main]

use baton_media::timeline::{SegmentStart, Timeline, TimelineConfig, TimestampUnwrapper};
use baton_media::{Frame, TagType};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut timeline = Timeline::new(TimelineConfig::default());
    let mut unwrapper = TimestampUnwrapper::new();
    let mut last = [None::<i64>; 2];
    for op in data.chunks_exact(8) {
        let ts = u32::from_le_bytes([op[1], op[2], op[3], op[4]]);
        match op[0] % 8 {
            0 if op[7] & 1 == 1 => {
                // A start read ahead (whatever it says: it need not match what follows).
                unwrapper.reset();
                let mut start = SegmentStart::default();
                let cts = i32::from(i16::from_le_bytes([op[5], op[6]]));
                let [_, a, b, c] = cts.to_be_bytes();
                let dts = unwrapper.unwrap(ts);
                start.observe(&Frame::new(
                    TagType::Video,
                    dts,
                    Bytes::from(vec![0x17, 1, a, b, c]),
                ));
                if op[7] & 2 == 2 {
                    let audio = Frame::new(
                        TagType::Audio,
                        dts + i64::from(op[6]),
                        Bytes::from_static(&[0xaf, 1]),
                    );
                    start.observe(&audio);
                }
                timeline.begin_seamless_segment(&start);
                unwrapper.reset();
            }
            0 => {
                timeline.begin_segment(i64::from(op[5]) * 100);
                unwrapper.reset();
            }
            kind => {
                let video = kind % 2 == 0;
                // A signed 24-bit composition time, from 16 random bits.
                let cts = i32::from(i16::from_le_bytes([op[5], op[6]]));
                let payload = if video {
                    let [_, a, b, c] = cts.to_be_bytes();
                    let first = if op[7] & 1 == 1 { 0x17 } else { 0x27 };
                    Bytes::from(vec![first, 1, a, b, c, 0x65])
                } else {
                    Bytes::from(vec![0xaf, 1, op[7]])
                };
                let kind = if video {
                    TagType::Video
                } else {
                    TagType::Audio
                };
                let mut frame = Frame::new(kind, unwrapper.unwrap(ts), payload);
                timeline.map(&mut frame);
                assert!(frame.pts() >= frame.dts, "PTS < DTS");
                let slot = &mut last[usize::from(video)];
                if let Some(previous) = *slot {
                    assert!(frame.dts > previous, "DTS not increasing");
                }
                *slot = Some(frame.dts);
            }
        }
    }
});
