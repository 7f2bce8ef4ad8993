//! Interop: what [`TsMuxer`] writes, read by FFmpeg. Needs `ffmpeg` and `ffprobe` on the PATH
//! (with libx264 and libmp3lame to make one input), hence `#[ignore]`:
//! `cargo test -p baton-mpegts --test ffprobe -- --ignored`.
//!
//! Three inputs: the FLV fixture of baton-flv (H.264 + AAC), an FLV ffmpeg writes in the test
//! (H.264 with B-frames + MP3), and the H.265 + MP3 transport stream fixture demuxed into
//! FLV bodies. For each, ffprobe must see the codecs, every frame as a packet, DTS rising
//! on each stream, the key flags the frames had; and `ffmpeg -c copy` and a full decode must
//! report no error.

use std::path::{Path, PathBuf};
use std::process::Command;

use baton_flv::body::{
    AAC_RAW_PREFIX, BodyVideoCodec, aac_sequence_header, video_frame_prefix, video_sequence_header,
};
use baton_flv::{DemuxLimits, FlvDemuxer, TagType, VideoPacket, parse_video_tag_header};
use baton_mpegts::{Codec, Demuxer, Event, MuxerConfig, TsMuxer};

/// A frame as the relay has it, and whether it is a coded (not configuration) frame.
struct In {
    kind: TagType,
    dts: i64,
    body: Vec<u8>,
}

fn flv_frames(flv: &[u8]) -> Vec<In> {
    let mut d = FlvDemuxer::new(DemuxLimits::default());
    d.push(flv);
    let mut out = Vec::new();
    while let Some(tag) = d.poll_tag().unwrap() {
        out.push(In {
            kind: tag.tag_type,
            dts: i64::from(tag.timestamp),
            body: tag.data.to_vec(),
        });
    }
    out
}

/// The demuxer's units as FLV bodies (what `baton_net::ts::TsFrames` does, without its merge).
fn ts_frames(ts: &[u8]) -> Vec<In> {
    let mut d = Demuxer::default();
    d.push(ts);
    d.finish();
    let mut out = Vec::new();
    let mut origin = None;
    for e in d.events() {
        match e {
            Event::Config(c) => {
                let body = match c.codec {
                    Codec::H264 => video_sequence_header(BodyVideoCodec::Avc, &c.record),
                    Codec::H265 => video_sequence_header(BodyVideoCodec::Hevc, &c.record),
                    Codec::Aac => aac_sequence_header(&c.record),
                    Codec::Mp3 => continue,
                };
                let kind = match c.track {
                    baton_mpegts::Track::Video => TagType::Video,
                    baton_mpegts::Track::Audio => TagType::Audio,
                };
                out.push(In { kind, dts: 0, body });
            }
            Event::Unit(u) => {
                let origin = *origin.get_or_insert(u.dts);
                let dts = (u.dts - origin).div_euclid(90);
                let cts = ((u.pts - origin).div_euclid(90) - dts) as i32;
                let (kind, mut body) = match u.codec {
                    Codec::H264 => (
                        TagType::Video,
                        video_frame_prefix(BodyVideoCodec::Avc, u.keyframe, cts).to_vec(),
                    ),
                    Codec::H265 => (
                        TagType::Video,
                        video_frame_prefix(BodyVideoCodec::Hevc, u.keyframe, cts).to_vec(),
                    ),
                    Codec::Aac => (TagType::Audio, AAC_RAW_PREFIX.to_vec()),
                    // SoundFormat 2 (MP3); the rest of the byte is not read by the muxer.
                    Codec::Mp3 => (TagType::Audio, vec![0x2f]),
                };
                body.extend_from_slice(&u.data);
                out.push(In { kind, dts, body });
            }
            _ => {}
        }
    }
    out
}

/// What ffprobe should list: per stream (video, audio) the DTS in 90 kHz ticks (None: not
/// checked exactly) and the key flag (video).
fn expected(frames: &[In], delay: i64, exact: bool) -> [Vec<(Option<i64>, bool)>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for f in frames {
        let dts = exact.then_some((f.dts + delay) * 90);
        match f.kind {
            TagType::Video => {
                let h = parse_video_tag_header(&f.body).unwrap();
                if h.packet == VideoPacket::Coded {
                    out[0].push((dts, h.keyframe));
                }
            }
            TagType::Audio if f.body.get(1) != Some(&0) || f.body[0] >> 4 == 2 => {
                out[1].push((dts, true))
            }
            _ => {}
        }
    }
    out
}

fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is FFmpeg installed?)"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?}: {}\n{stderr}", out.status);
    (stdout, stderr)
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split('|')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Muxes `frames`, writes `name`, and checks it with ffprobe and ffmpeg.
fn check(dir: &Path, name: &str, frames: &[In], codecs: [&str; 2], exact: bool) {
    let config = MuxerConfig::default();
    let mut muxer = TsMuxer::new(config);
    for f in frames {
        muxer.push(f.kind, f.dts, &f.body).unwrap();
    }
    let ts = muxer.poll_bytes().unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &ts).unwrap();

    let (probe, _) = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_packets",
            "-of",
            "compact",
        ])
        .arg(&path));
    let streams: Vec<&str> = probe.lines().filter(|l| l.starts_with("stream|")).collect();
    let names: Vec<&str> = streams
        .iter()
        .filter_map(|l| field(l, "codec_name"))
        .collect();
    assert_eq!(names, codecs, "{name}: streams");
    let want = expected(frames, i64::from(config.delay_ms), exact);
    for (index, want) in want.iter().enumerate() {
        let packets: Vec<(i64, bool)> = probe
            .lines()
            .filter(|l| l.starts_with("packet|"))
            .filter(|l| field(l, "stream_index") == Some(&index.to_string()))
            .map(|l| {
                (
                    field(l, "dts").unwrap().parse().unwrap(),
                    field(l, "flags").unwrap().starts_with('K'),
                )
            })
            .collect();
        assert_eq!(
            packets.len(),
            want.len(),
            "{name}: packets of stream {index}"
        );
        for w in packets.windows(2) {
            assert!(
                w[0].0 < w[1].0,
                "{name}: stream {index} DTS not rising: {w:?}"
            );
        }
        for (i, ((dts, key), (want_dts, want_key))) in packets.iter().zip(want).enumerate() {
            if let Some(want_dts) = want_dts {
                assert_eq!(dts, want_dts, "{name}: stream {index} packet {i} DTS");
            }
            if index == 0 {
                assert_eq!(key, want_key, "{name}: video packet {i} key flag");
            }
        }
    }
    for args in [&["-c", "copy"][..], &[][..]] {
        let (_, errors) = run(Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
            .arg(&path)
            .args(args)
            .args(["-f", "null", "-"]));
        assert!(
            errors.trim().is_empty(),
            "{name}: ffmpeg {args:?}: {errors}"
        );
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-tsmux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs ffmpeg and ffprobe"]
fn ffprobe_reads_every_frame_of_what_the_muxer_writes() {
    let dir = scratch();
    let root = env!("CARGO_MANIFEST_DIR");

    let fixture = std::fs::read(format!("{root}/../flv/testdata/h264_aac_160x120.flv")).unwrap();
    check(
        &dir,
        "fixture.ts",
        &flv_frames(&fixture),
        ["h264", "aac"],
        true,
    );

    let flv = dir.join("bframes.flv");
    run(Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
        ])
        .args([
            "-g",
            "25",
            "-bf",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-f",
            "flv",
        ])
        .arg(&flv));
    let frames = flv_frames(&std::fs::read(&flv).unwrap());
    assert!(frames.iter().any(|f| f.kind == TagType::Video
        && parse_video_tag_header(&f.body).is_ok_and(|h| h.composition_time > 0)));
    check(&dir, "bframes.ts", &frames, ["h264", "mp3"], true);

    let hevc = std::fs::read(format!("{root}/tests/fixtures/h265_mp3.ts")).unwrap();
    check(&dir, "hevc.ts", &ts_frames(&hevc), ["hevc", "mp3"], false);

    std::fs::remove_dir_all(&dir).unwrap();
}
