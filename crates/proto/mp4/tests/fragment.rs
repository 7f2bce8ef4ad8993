//! Fragmented MP4 against ffprobe: every sample of ffmpeg's HLS fMP4 segments and of a
//! fragmented file with negative composition offsets (`trun` version 1) has ffprobe's
//! position, size, key flag and timestamps; and malformed fragments are named errors.

use baton_mp4::{Codec, FragmentReader, FragmentSample, InitSegment, Mp4Error, TrackKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/fragmented/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Packet {
    stream: u32,
    pts_ms: f64,
    dts_ms: f64,
    size: usize,
    pos: usize,
    key: bool,
}

fn probe(name: &str) -> Vec<Packet> {
    let text = String::from_utf8(fixture(name)).unwrap();
    text.lines()
        .filter(|l| l.starts_with("packet|"))
        .map(|line| {
            let get = |key: &str| {
                line.split('|')
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
                    .unwrap()
            };
            Packet {
                stream: get("stream_index").parse().unwrap(),
                pts_ms: get("pts_time").parse::<f64>().unwrap() * 1000.0,
                dts_ms: get("dts_time").parse::<f64>().unwrap() * 1000.0,
                size: get("size").parse().unwrap(),
                pos: get("pos").parse().unwrap(),
                key: get("flags").contains('K'),
            }
        })
        .collect()
}

/// Reads `segments` with the init segment `init`; each sample with its absolute position
/// (as if the files were concatenated) and its track id.
fn read(init: &[u8], segments: &[&[u8]]) -> (InitSegment, Vec<(u32, usize, FragmentSample)>) {
    let parsed = InitSegment::parse(init).unwrap();
    let mut reader = FragmentReader::new(parsed.clone());
    let mut out = Vec::new();
    let mut base = init.len();
    for segment in segments {
        for s in reader.parse(segment).unwrap() {
            let id = match s.kind {
                TrackKind::Video => parsed.video().unwrap().id,
                TrackKind::Audio => parsed.audio().unwrap().id,
            };
            out.push((id, base + s.range.start, s));
        }
        base += segment.len();
    }
    (parsed, out)
}

/// `video_lag_ms`: how much later than ISO 14496-12 ffprobe puts the video (see below).
fn check(samples: &[(u32, usize, FragmentSample)], packets: &[Packet], video_lag_ms: f64) {
    // One shift for every track: ffprobe's zero may differ from ours, never per track.
    let first = |id: u32| samples.iter().find(|(t, ..)| *t == id).unwrap();
    let (id0, _, s0) = first(1);
    let p0 = packets.iter().find(|p| p.stream == id0 - 1).unwrap();
    let shift = s0.dts_ms as f64 - (p0.dts_ms - video_lag_ms);
    for id in [1, 2] {
        let ours: Vec<_> = samples.iter().filter(|(t, ..)| *t == id).collect();
        let theirs: Vec<_> = packets.iter().filter(|p| p.stream == id - 1).collect();
        assert_eq!(ours.len(), theirs.len(), "track {id}");
        let lag = if id == 1 { video_lag_ms } else { 0.0 };
        for ((_, pos, s), p) in ours.iter().zip(theirs) {
            assert_eq!(*pos, p.pos, "track {id}");
            assert_eq!(s.range.len(), p.size, "track {id} at {pos}");
            assert_eq!(s.keyframe, p.key, "track {id} at {pos}");
            let dts = s.dts_ms as f64 - shift;
            let pts = (s.dts_ms + i64::from(s.cts_ms)) as f64 - shift;
            let (p_dts, p_pts) = (p.dts_ms - lag, p.pts_ms - lag);
            assert!(
                (dts - p_dts).abs() <= 1.0,
                "track {id} at {pos}: dts {dts} vs {p_dts}"
            );
            assert!(
                (pts - p_pts).abs() <= 1.0,
                "track {id} at {pos}: pts {pts} vs {p_pts}"
            );
            assert!(s.cts_ms >= 0, "PTS before DTS at {pos}");
        }
    }
    // Merged by DTS.
    assert!(samples.windows(2).all(|w| w[0].2.dts_ms <= w[1].2.dts_ms));
}

#[test]
fn ffmpeg_hls_fmp4_segments_match_ffprobe() {
    let init = fixture("fmp4_init.mp4");
    let (seg0, seg1) = (fixture("fmp4_0.m4s"), fixture("fmp4_1.m4s"));
    let (parsed, samples) = read(&init, &[&seg0, &seg1]);
    let video = parsed.video().unwrap();
    assert_eq!((video.codec, video.timescale), (Codec::Avc, 12800));
    assert_eq!((video.width, video.height), (64, 48));
    let audio = parsed.audio().unwrap();
    assert_eq!(
        (audio.codec, audio.timescale, audio.sample_rate),
        (Codec::Aac, 44100, 44100)
    );
    assert_eq!(video.flv_sequence_header()[..2], [0x17, 0x00]);
    assert_eq!(audio.flv_sequence_header()[..2], [0xaf, 0x00]);
    check(&samples, &probe("fmp4_hls.ffprobe.txt"), 0.0);
    // The second segment continues the first's timeline (tfdt).
    let videos: Vec<_> = samples.iter().filter(|(t, ..)| *t == 1).collect();
    assert_eq!(videos.len(), 50);
    assert!(
        videos
            .windows(2)
            .all(|w| w[1].2.dts_ms - w[0].2.dts_ms == 40)
    );
    assert_eq!(videos[0].2.flv_prefix()[..2], [0x17, 0x01]);
    assert_eq!(videos[1].2.flv_prefix()[..2], [0x27, 0x01]);
}

#[test]
fn negative_composition_offsets_shift_decode_times() {
    let file = fixture("frag_negative_cts.mp4");
    let split = 1253; // the first moof
    assert_eq!(&file[split + 4..split + 8], b"moof");
    let (_, samples) = read(&file[..split], &[&file[split..]]);
    // ffmpeg's demuxer makes a fragmented track's PTS ≥ DTS by moving its PTS 40 ms later (the
    // largest negative offset, 512/12800 s) rather than its DTS earlier: the video would lag
    // the audio by 40 ms. ISO 14496-12 presents a sample at DTS + offset, as Baton does.
    check(&samples, &probe("frag_negative_cts.ffprobe.txt"), 40.0);
    let video: Vec<_> = samples
        .iter()
        .filter(|(t, ..)| *t == 1)
        .map(|(.., s)| (s.dts_ms, s.cts_ms))
        .collect();
    assert_eq!(video[..3], [(-40, 40), (0, 120), (40, 0)]);
}

#[test]
fn bad_fragments_are_named_errors() {
    let init = fixture("fmp4_init.mp4");
    let seg = fixture("fmp4_0.m4s");
    let mut reader = FragmentReader::new(InitSegment::parse(&init).unwrap());
    // A segment cut inside its mdat: the samples past the end are refused.
    let cut = &seg[..seg.len() - 100];
    assert!(matches!(
        reader.parse(cut),
        Err(Mp4Error::Invalid {
            field: "sample end offset",
            ..
        })
    ));
    // Cut inside the moof.
    let moof = seg.windows(4).position(|w| w == b"moof").unwrap() - 4;
    assert!(reader.parse(&seg[..moof + 100]).is_err());
    // An init segment without mvex is not an init segment; a media segment is not one.
    let movie = std::fs::read(format!(
        "{}/tests/fixtures/faststart.mp4",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(matches!(
        InitSegment::parse(&movie),
        Err(Mp4Error::Missing { kind: "mvex", .. })
    ));
    assert!(InitSegment::parse(&seg).is_err());
    // More traks than MAX_TRACKS is a named limit, as for a progressive moov (never a silent
    // cut): 257 empty traks appended inside the moov, its size patched.
    let moov = init.windows(4).position(|w| w == b"moov").unwrap() - 4;
    let size = u32::from_be_bytes(init[moov..moov + 4].try_into().unwrap()) as usize;
    let mut many = init[..moov + size].to_vec();
    for _ in 0..=baton_mp4::MAX_TRACKS {
        many.extend_from_slice(&[0, 0, 0, 8, b't', b'r', b'a', b'k']);
    }
    let grown = (many.len() - moov) as u32;
    many[moov..moov + 4].copy_from_slice(&grown.to_be_bytes());
    assert!(matches!(
        InitSegment::parse(&many),
        Err(Mp4Error::Limit {
            what: "trak count",
            ..
        })
    ));
    // A trun claiming millions of samples.
    let mut big = seg.clone();
    let trun = big.windows(4).position(|w| w == b"trun").unwrap();
    big[trun + 8..trun + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(reader.parse(&big).is_err());
    // Random bytes never panic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let mut data = seg.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % data.len();
            data[i] = (x >> 32) as u8;
        }
        let _ = reader.parse(&data);
    }
}
