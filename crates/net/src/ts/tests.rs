//! The adapter on the transport streams of `crates/proto/mpegts/tests/fixtures` (ffmpeg:
//! 2 s, 25 fps, a keyframe every 25 frames, B-frames; AAC 48 kHz / MP3 44.1 kHz mono).

use baton_flv::{
    AudioCodec, VideoCodec, VideoPacket, parse_audio_tag_header, parse_video_tag_header,
};

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../proto/mpegts/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every frame of `ts` fed in pieces of `chunk` bytes.
fn frames(ts: &[u8], chunk: usize) -> Vec<Frame> {
    let mut adapter = TsFrames::default();
    let mut out = Vec::new();
    for piece in ts.chunks(chunk) {
        adapter.push(piece);
        out.extend(std::iter::from_fn(|| adapter.poll_frame()));
    }
    adapter.finish();
    out.extend(std::iter::from_fn(|| adapter.poll_frame()));
    assert_eq!(adapter.frames_out(), out.len() as u64);
    out
}

fn of(frames: &[Frame], kind: TagType) -> Vec<&Frame> {
    frames.iter().filter(|f| f.kind == kind).collect()
}

/// Checks what both fixtures share: a record first on each track, 50 pictures 40 ms apart
/// from 0, a keyframe every 25, B-frames' composition times, frames merged in DTS order.
fn check_common(frames: &[Frame], video_codec: VideoCodec) -> (Vec<&Frame>, Vec<&Frame>) {
    let video = of(frames, TagType::Video);
    let audio = of(frames, TagType::Audio);
    assert!(video[0].config, "the video record comes first");
    let record = parse_video_tag_header(&video[0].payload).unwrap();
    assert_eq!(
        (record.codec, record.packet),
        (video_codec, VideoPacket::SequenceHeader)
    );
    let pictures: Vec<&Frame> = video.iter().copied().filter(|f| !f.config).collect();
    assert_eq!(pictures.len(), 50);
    assert_eq!(pictures[0].dts, 0, "the first unit's DTS is 0 ms");
    assert_eq!(
        video[0].dts, pictures[0].dts,
        "the record takes its unit's time"
    );
    for (i, f) in pictures.iter().enumerate() {
        assert_eq!(f.dts, 40 * i as i64, "picture {i}");
        assert_eq!(f.keyframe, i % 25 == 0, "keyframe flag of picture {i}");
        assert!(f.composition_time() >= 0);
        assert_eq!(
            parse_video_tag_header(&f.payload).unwrap().codec,
            video_codec
        );
    }
    assert!(
        pictures.iter().any(|f| f.composition_time() > 0),
        "B-frames: pictures presented after they decode"
    );
    for pair in frames.windows(2) {
        assert!(
            pair[0].dts <= pair[1].dts,
            "not merged by DTS: {} then {}",
            pair[0].dts,
            pair[1].dts
        );
    }
    (video, audio)
}

#[test]
fn h264_and_aac_become_legacy_flv_bodies() {
    let ts = fixture("h264_aac.ts");
    let frames = frames(&ts, 1 << 16);
    let (_, audio) = check_common(&frames, VideoCodec::Avc);
    assert!(audio[0].config);
    let asc = parse_audio_tag_header(&audio[0].payload).unwrap();
    assert_eq!((asc.codec, asc.sequence_header), (AudioCodec::Aac, true));
    assert_eq!(&audio[0].payload[..2], &[0xaf, 0x00]);
    let raw: Vec<&&Frame> = audio.iter().filter(|f| !f.config).collect();
    assert_eq!(raw.len(), 95);
    assert!(raw.iter().all(|f| f.payload[..2] == [0xaf, 0x01]));
    // 1024 samples at 48 kHz: 21.33 ms, floored per frame, no drift.
    let span = raw.last().unwrap().dts - raw[0].dts;
    assert!(
        (2005..=2006).contains(&span),
        "94 frames: 2005.3 ms, got {span}"
    );
}

#[test]
fn h265_is_enhanced_rtmp_and_mp3_has_its_rate_and_channels() {
    let ts = fixture("h265_mp3.ts");
    let frames = frames(&ts, 1 << 16);
    let (video, audio) = check_common(&frames, VideoCodec::Hevc);
    assert_eq!(&video[0].payload[..5], &[0x90, b'h', b'v', b'c', b'1']);
    assert_eq!(audio.len(), 78, "MP3 needs no record");
    for f in &audio {
        assert_eq!(
            parse_audio_tag_header(&f.payload).unwrap().codec,
            AudioCodec::Mp3
        );
        // SoundFormat 2, 44 kHz, 16-bit, mono.
        assert_eq!(f.payload[0], 0x2e);
        assert_eq!(
            f.payload[1], 0xff,
            "the MP3 frame follows, its header included"
        );
    }
}

#[test]
fn frames_do_not_depend_on_how_the_bytes_are_cut() {
    for name in ["h264_aac.ts", "h265_mp3.ts"] {
        let ts = fixture(name);
        let whole = frames(&ts, ts.len());
        for chunk in [1, 187, 188 * 7, 1000] {
            assert_eq!(frames(&ts, chunk), whole, "{name} in pieces of {chunk}");
        }
    }
}

#[test]
fn random_bytes_give_no_frame_and_say_why() {
    // A xorshift stream: deterministic noise.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut adapter = TsFrames::default();
    adapter.push(&noise);
    adapter.finish();
    assert_eq!(adapter.poll_frame(), None);
    let why = adapter.why_empty();
    assert!(why.starts_with("no transport stream packets"), "{why}");
}

#[test]
fn a_cut_off_program_table_says_so() {
    // Only the packets after the PAT and PMT: packets, but no program.
    let ts = fixture("h264_aac.ts");
    let mut adapter = TsFrames::default();
    let video_pid_packets: Vec<u8> = ts
        .chunks(188)
        .filter(|p| {
            let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
            pid != 0 && pid != 0x1000
        })
        .flatten()
        .copied()
        .collect();
    adapter.push(&video_pid_packets);
    adapter.finish();
    assert_eq!(adapter.poll_frame(), None);
    assert!(
        adapter.why_empty().contains("no program"),
        "{}",
        adapter.why_empty()
    );
}

#[test]
fn mp3_headers() {
    // MPEG-1 layer III 44.1 kHz joint stereo; MPEG-2 22.05 kHz mono; MPEG-1 48 kHz mono.
    assert_eq!(
        mp3_rate_and_channels(&[0xff, 0xfb, 0x90, 0x44]),
        (44_100, 2)
    );
    assert_eq!(
        mp3_rate_and_channels(&[0xff, 0xf3, 0x90, 0xc4]),
        (22_050, 1)
    );
    assert_eq!(
        mp3_rate_and_channels(&[0xff, 0xfb, 0x94, 0xc0]),
        (48_000, 1)
    );
    assert_eq!(mp3_rate_and_channels(&[0xff]), (44_100, 2));
}

/// The muxer is this adapter's inverse: the fixtures' frames muxed again by
/// [`baton_mpegts::TsMuxer`] (in SRT-sized chunks) come back frame for frame — same order,
/// kinds, payloads (records, AVCC units, ADTS-stripped AAC, MP3), key flags and composition
/// times, and the same DTS up to the one offset a new stream's first unit sets.
#[test]
fn muxed_again_the_frames_come_back_the_same() {
    for name in ["h264_aac.ts", "h265_mp3.ts"] {
        let first = frames(&fixture(name), 1 << 16);
        let mut muxer = baton_mpegts::TsMuxer::default();
        let mut ts = Vec::new();
        for f in &first {
            muxer.push(f.kind, f.dts, &f.payload).unwrap();
            muxer.flush();
            while let Some(chunk) = muxer.poll_chunk() {
                assert!(chunk.len() <= baton_mpegts::CHUNK_LEN);
                ts.extend_from_slice(&chunk);
            }
        }
        let again = frames(&ts, baton_mpegts::CHUNK_LEN);
        assert_eq!(again.len(), first.len(), "{name}");
        let shift = again[0].dts - first[0].dts;
        for (i, (a, b)) in first.iter().zip(&again).enumerate() {
            assert_eq!(
                (
                    a.kind,
                    a.dts + shift,
                    a.keyframe,
                    a.config,
                    a.composition_time()
                ),
                (b.kind, b.dts, b.keyframe, b.config, b.composition_time()),
                "{name} frame {i}"
            );
            assert_eq!(a.payload, b.payload, "{name} frame {i} payload");
        }
    }
}
