//! End to end on transport streams written by ffmpeg (see fixtures/README.md for the commands):
//! every frame out, in order, with records baton-codec can parse.

use baton_codec::aac::AudioSpecificConfig;
use baton_codec::avc::AvcDecoderConfig;
use baton_codec::hevc::{self, HevcDecoderConfig};
use baton_codec::nal::avcc_nals;
use baton_mpegts::{AccessUnit, Codec, Config, Demuxer, Event, Track};

struct Demuxed {
    configs: Vec<Config>,
    video: Vec<AccessUnit>,
    audio: Vec<AccessUnit>,
    other: Vec<Event>,
}

fn demux(ts: &[u8], chunk: usize) -> (Vec<Event>, Demuxed) {
    let mut demuxer = Demuxer::default();
    let mut events = Vec::new();
    for piece in ts.chunks(chunk) {
        demuxer.push(piece);
        events.extend(demuxer.events());
    }
    demuxer.finish();
    events.extend(demuxer.events());
    let mut out = Demuxed {
        configs: Vec::new(),
        video: Vec::new(),
        audio: Vec::new(),
        other: Vec::new(),
    };
    for event in events.clone() {
        match event {
            Event::Config(c) => out.configs.push(c),
            Event::Unit(u) if u.track == Track::Video => out.video.push(u),
            Event::Unit(u) => out.audio.push(u),
            other => out.other.push(other),
        }
    }
    (events, out)
}

fn check_video(units: &[AccessUnit], count: usize, gop: usize, irap: fn(&[u8]) -> bool) {
    assert_eq!(units.len(), count);
    for pair in units.windows(2) {
        assert!(pair[1].dts > pair[0].dts, "DTS not increasing: {pair:?}");
    }
    for (i, unit) in units.iter().enumerate() {
        assert!(unit.pts >= unit.dts, "PTS < DTS at {i}");
        assert_eq!(unit.keyframe, i % gop == 0, "keyframe flag at frame {i}");
        let nals: Vec<&[u8]> = avcc_nals(&unit.data, 4).map(Result::unwrap).collect();
        assert!(!nals.is_empty());
        assert_eq!(nals.iter().any(|n| irap(n)), unit.keyframe);
    }
    // 25 fps: 3600 ticks a frame.
    let span = units.last().unwrap().dts - units[0].dts;
    assert_eq!(span, 3600 * (count as i64 - 1));
}

fn check_audio(units: &[AccessUnit], count: usize, ticks_per_frame: f64) {
    assert_eq!(units.len(), count);
    for (i, unit) in units.iter().enumerate() {
        assert_eq!(unit.pts, unit.dts);
        let expected = units[0].pts as f64 + i as f64 * ticks_per_frame;
        assert!(
            (unit.pts as f64 - expected).abs() <= 1.0,
            "audio pts at {i}"
        );
    }
}

#[test]
fn h264_aac_from_ffmpeg() {
    let ts = include_bytes!("fixtures/h264_aac.ts");
    let (events, d) = demux(ts, 188);
    assert_eq!(
        d.other,
        vec![
            Event::StreamAdded {
                pid: 256,
                codec: Codec::H264
            },
            Event::StreamAdded {
                pid: 257,
                codec: Codec::Aac
            },
        ]
    );
    assert_eq!(d.configs.len(), 2);
    let avc = AvcDecoderConfig::parse(&d.configs[0].record).unwrap();
    let sps = avc.first_sps().unwrap().unwrap();
    assert_eq!((sps.width, sps.height), (320, 240));
    let asc = AudioSpecificConfig::parse(&d.configs[1].record).unwrap();
    assert_eq!((asc.sample_rate, asc.channel_config), (48000, 1));
    check_video(&d.video, 50, 25, |n| {
        baton_codec::avc::nal_type(n) == Some(5)
    });
    // No parameter sets or delimiters left in the samples.
    for unit in &d.video {
        for nal in avcc_nals(&unit.data, 4) {
            let kind = baton_codec::avc::nal_type(nal.unwrap()).unwrap();
            assert!(![7, 8, 9].contains(&kind), "NAL type {kind} in a sample");
        }
    }
    check_audio(&d.audio, 95, 1920.0);
    // Each stream's config comes before its first unit.
    for pid in [256, 257] {
        let first_unit = events
            .iter()
            .position(|e| matches!(e, Event::Unit(u) if u.pid == pid))
            .unwrap();
        let config = events
            .iter()
            .position(|e| matches!(e, Event::Config(c) if c.pid == pid))
            .unwrap();
        assert!(config < first_unit, "pid {pid}");
    }
    // Chunking does not matter.
    for chunk in [1, 7, 1000, ts.len()] {
        assert_eq!(demux(ts, chunk).0, events, "chunk size {chunk}");
    }
}

#[test]
fn h265_mp3_from_ffmpeg() {
    let ts = include_bytes!("fixtures/h265_mp3.ts");
    let (events, d) = demux(ts, 188);
    assert_eq!(
        d.other,
        vec![
            Event::StreamAdded {
                pid: 256,
                codec: Codec::H265
            },
            Event::StreamAdded {
                pid: 257,
                codec: Codec::Mp3
            },
        ]
    );
    assert_eq!(d.configs.len(), 1);
    let hvc = HevcDecoderConfig::parse(&d.configs[0].record).unwrap();
    let sps = hvc.first_sps().unwrap().unwrap();
    assert_eq!((sps.width, sps.height), (320, 240));
    check_video(&d.video, 50, 25, |n| {
        hevc::nal_type(n).is_some_and(hevc::is_irap)
    });
    // MP3 at 44.1 kHz: 1152 samples a frame.
    check_audio(&d.audio, 78, 1152.0 * 90_000.0 / 44_100.0);
    for unit in &d.audio {
        assert_eq!(unit.codec, Codec::Mp3);
        assert_eq!(unit.data[0], 0xff);
    }
    assert_eq!(demux(ts, 13).0, events);
}
