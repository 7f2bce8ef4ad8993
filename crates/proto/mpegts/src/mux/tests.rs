//! The muxer against Baton's own demuxer, and the packet-level rules of 13818-1 checked on its
//! output.

use baton_codec::aac::AudioSpecificConfig;
use baton_codec::avc::AvcDecoderConfig;
use baton_codec::hevc::HevcDecoderConfig;
use baton_flv::body::{
    AAC_RAW_PREFIX, BodyVideoCodec, aac_sequence_header, mp3_header, video_frame_prefix,
    video_sequence_header,
};
use proptest::prelude::*;

use super::*;
use crate::tests::builder::{avc_params, avcc, demux_with, hevc_params, units};
use crate::{DemuxerConfig, Event};

const DELAY: i64 = 500 * 90;

/// A frame as the relay has it.
#[derive(Clone, Debug)]
struct In {
    kind: TagType,
    dts: i64,
    body: Vec<u8>,
}

fn video_seq(codec: BodyVideoCodec, record: &[u8], dts: i64) -> In {
    In {
        kind: TagType::Video,
        dts,
        body: video_sequence_header(codec, record),
    }
}

fn video(codec: BodyVideoCodec, key: bool, dts: i64, cts: i32, nals: &[&[u8]]) -> In {
    let mut body = video_frame_prefix(codec, key, cts).to_vec();
    body.extend(avcc(nals));
    In {
        kind: TagType::Video,
        dts,
        body,
    }
}

fn aac(dts: i64, raw: &[u8]) -> In {
    let mut body = AAC_RAW_PREFIX.to_vec();
    body.extend_from_slice(raw);
    In {
        kind: TagType::Audio,
        dts,
        body,
    }
}

/// An MPEG-1 layer III frame, 128 kb/s, 44.1 kHz, mono: 417 bytes.
fn mp3_frame(fill: u8) -> Vec<u8> {
    let mut f = vec![0xff, 0xfb, 0x90, 0xc4];
    f.resize(417, fill);
    f
}

/// NAL unit bytes without zeros (no start code emulation, no trailing zero).
fn nal(header: &[u8], seed: u8, len: usize) -> Vec<u8> {
    let mut n = header.to_vec();
    n.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1));
    n
}

fn mux(frames: &[In]) -> Vec<u8> {
    let mut m = TsMuxer::default();
    for f in frames {
        m.push(f.kind, f.dts, &f.body).unwrap();
    }
    m.poll_bytes().map(|b| b.to_vec()).unwrap_or_default()
}

/// H.264 with B-frames (composition times) and AAC: 2 GOPs of 10 pictures at 40 ms, AAC
/// frames every 21 ms.
fn h264_aac() -> (Vec<In>, (Vec<u8>, Vec<u8>)) {
    let params = avc_params(0);
    let record = AvcDecoderConfig::from_parameter_sets(&params.0, &params.1)
        .unwrap()
        .encode();
    let asc = AudioSpecificConfig::new(2, 48_000, 2).encode();
    let mut frames = vec![
        video_seq(BodyVideoCodec::Avc, &record, 0),
        In {
            kind: TagType::Audio,
            dts: 0,
            body: aac_sequence_header(&asc),
        },
    ];
    let mut audio_t = 0;
    for i in 0..20i64 {
        let dts = i * 40;
        while audio_t <= dts {
            frames.push(aac(
                audio_t,
                &nal(&[0x21], audio_t as u8, 60 + (audio_t % 7) as usize),
            ));
            audio_t += 21;
        }
        let key = i % 10 == 0;
        let cts = if key {
            80
        } else {
            [80, 0, 0][(i % 3) as usize]
        };
        let slice = if key {
            nal(&[0x65, 0x88], i as u8, 900)
        } else {
            nal(&[0x41, 0x9a], i as u8, 150 + i as usize * 13)
        };
        let sei = nal(&[0x06, 0x05], 3, 10);
        frames.push(video(BodyVideoCodec::Avc, key, dts, cts, &[&sei, &slice]));
    }
    (frames, params)
}

#[test]
fn h264_and_aac_come_back_from_the_demuxer() {
    let (frames, params) = h264_aac();
    let ts = mux(&frames);
    assert_eq!(ts.len() % PACKET_LEN, 0);
    for chunk in [PACKET_LEN, 1316, 1000, ts.len()] {
        let events = demux_with(DemuxerConfig::default(), &ts, chunk);
        assert!(
            !events.iter().any(|e| matches!(
                e,
                Event::Dropped { .. } | Event::Discontinuity { .. } | Event::SyncLost { .. }
            )),
            "{events:?}"
        );
        let configs: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Config(c) => Some(c),
                _ => None,
            })
            .collect();
        // One record per track: the parameter sets repeat unchanged at the second keyframe.
        assert_eq!(configs.len(), 2, "{configs:?}");
        let record = |track| &configs.iter().find(|c| c.track == track).unwrap().record;
        let avc = AvcDecoderConfig::parse(record(Track::Video)).unwrap();
        assert_eq!((avc.sps[0].to_vec(), avc.pps[0].to_vec()), params);
        assert_eq!(
            AudioSpecificConfig::parse(record(Track::Audio)).unwrap(),
            AudioSpecificConfig::new(2, 48_000, 2)
        );
        let got = units(&events);
        let coded: Vec<_> = frames
            .iter()
            .filter(|f| !matches!(f.body.get(1), Some(0)))
            .collect();
        assert_eq!(got.len(), coded.len());
        for f in &coded {
            let track = if f.kind == TagType::Video {
                Track::Video
            } else {
                Track::Audio
            };
            let u = got
                .iter()
                .find(|u| u.track == track && u.dts == f.dts * 90 + DELAY)
                .unwrap_or_else(|| panic!("no unit for {track} at {}", f.dts));
            match track {
                Track::Video => {
                    let h = parse_video_tag_header(&f.body).unwrap();
                    assert_eq!(u.pts, (f.dts + i64::from(h.composition_time)) * 90 + DELAY);
                    assert_eq!(u.keyframe, h.keyframe);
                    assert_eq!(u.random_access, h.keyframe);
                    assert_eq!(u.data, f.body[5..]);
                }
                Track::Audio => {
                    assert_eq!(u.pts, u.dts);
                    assert_eq!(u.data, f.body[2..]);
                }
            }
        }
    }
}

#[test]
fn h265_and_mp3_come_back_from_the_demuxer() {
    let [vps, sps, pps] = hevc_params();
    let record = HevcDecoderConfig::from_parameter_sets(&vps, &sps, &pps)
        .unwrap()
        .encode();
    let mut frames = vec![video_seq(BodyVideoCodec::Hevc, &record, 0)];
    for i in 0..12i64 {
        let key = i % 6 == 0;
        // IDR_W_RADL (19) or TRAIL_R (1), two-byte NAL headers.
        let slice = if key {
            nal(&[19 << 1, 1], i as u8, 700)
        } else {
            nal(&[1 << 1, 1], i as u8, 120)
        };
        frames.push(video(
            BodyVideoCodec::Hevc,
            key,
            i * 40,
            if key { 0 } else { 40 },
            &[&slice],
        ));
        let mut body = vec![mp3_header(44_100, 1)];
        body.extend(mp3_frame(i as u8 | 0x10));
        frames.push(In {
            kind: TagType::Audio,
            dts: i * 40 + 5,
            body,
        });
    }
    let ts = mux(&frames);
    let events = demux_with(DemuxerConfig::default(), &ts, 1316);
    let added: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::StreamAdded { .. }))
        .collect();
    assert_eq!(
        added,
        [
            &Event::StreamAdded {
                pid: PID_VIDEO,
                codec: Codec::H265
            },
            &Event::StreamAdded {
                pid: PID_AUDIO,
                codec: Codec::Mp3
            }
        ]
    );
    let got = units(&events);
    assert_eq!(got.len(), 24);
    for f in &frames[1..] {
        let u = got
            .iter()
            .find(|u| u.dts == f.dts * 90 + DELAY)
            .unwrap_or_else(|| panic!("no unit at {}", f.dts));
        if f.kind == TagType::Video {
            let h = parse_video_tag_header(&f.body).unwrap();
            assert_eq!(u.codec, Codec::H265);
            assert_eq!(u.keyframe, h.keyframe);
            assert_eq!(u.pts, (f.dts + i64::from(h.composition_time)) * 90 + DELAY);
            assert_eq!(u.data, f.body[h.payload_offset..]);
        } else {
            assert_eq!(u.codec, Codec::Mp3);
            assert_eq!(u.data, f.body[1..]);
        }
    }
}

/// One parsed packet of the muxer's output.
#[derive(Debug)]
struct Pkt {
    pid: u16,
    pusi: bool,
    has_payload: bool,
    cc: u8,
    discontinuity: bool,
    random_access: bool,
    pcr: Option<i64>,
    payload: Vec<u8>,
}

fn packets(ts: &[u8]) -> Vec<Pkt> {
    assert_eq!(ts.len() % PACKET_LEN, 0);
    ts.chunks(PACKET_LEN)
        .map(|p| {
            assert_eq!(p[0], SYNC_BYTE);
            assert_eq!(p[1] & 0x80, 0, "transport_error_indicator");
            assert_eq!(p[3] >> 6, 0, "scrambled");
            let control = (p[3] >> 4) & 3;
            assert_ne!(control, 0, "reserved adaptation_field_control");
            let mut start = 4;
            let (mut discontinuity, mut random_access, mut pcr) = (false, false, None);
            if control & 2 != 0 {
                let len = usize::from(p[4]);
                assert!(
                    len <= if control == 2 { 183 } else { 182 },
                    "AF length {len}"
                );
                if len > 0 {
                    discontinuity = p[5] & 0x80 != 0;
                    random_access = p[5] & 0x40 != 0;
                    if p[5] & 0x10 != 0 {
                        let b = &p[6..12];
                        let base = (u64::from(b[0]) << 25)
                            | (u64::from(b[1]) << 17)
                            | (u64::from(b[2]) << 9)
                            | (u64::from(b[3]) << 1)
                            | u64::from(b[4] >> 7);
                        pcr = Some(base as i64);
                    }
                    // Stuffing after the fields used.
                    let used = 1 + if pcr.is_some() { 6 } else { 0 };
                    assert!(p[5 + used..5 + len].iter().all(|&b| b == 0xff));
                }
                start = 5 + len;
            }
            Pkt {
                pid: u16::from_be_bytes([p[1], p[2]]) & 0x1fff,
                pusi: p[1] & 0x40 != 0,
                has_payload: control & 1 != 0,
                cc: p[3] & 0x0f,
                discontinuity,
                random_access,
                pcr,
                payload: if control & 1 != 0 {
                    p[start..].to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// 2.4.3.3: payload packets count up by one per PID; others repeat the last counter.
fn check_continuity(pkts: &[Pkt]) {
    let mut last: std::collections::HashMap<u16, u8> = Default::default();
    for p in pkts {
        match last.get(&p.pid) {
            Some(&l) if p.has_payload => assert_eq!(p.cc, (l + 1) & 0x0f, "PID {:#x}", p.pid),
            Some(&l) => assert_eq!(p.cc, l, "PID {:#x}", p.pid),
            None => {}
        }
        last.insert(p.pid, p.cc);
    }
}

#[test]
fn packets_follow_the_rules_of_13818_1() {
    let (frames, _) = h264_aac();
    let ts = mux(&frames);
    let pkts = packets(&ts);
    check_continuity(&pkts);
    // PAT and PMT come first, then before every keyframe.
    assert_eq!((pkts[0].pid, pkts[1].pid), (0, PID_PMT));
    let mut keyframes = 0;
    for (i, p) in pkts.iter().enumerate() {
        if p.pid == PID_VIDEO && p.pusi && p.random_access {
            // Only PCR-only packets (no payload) may stand between the PSI and the keyframe.
            let before: Vec<u16> = pkts[..i]
                .iter()
                .rev()
                .filter(|p| p.has_payload)
                .take(2)
                .map(|p| p.pid)
                .collect();
            assert_eq!(
                before,
                [PID_PMT, 0],
                "no PSI right before the keyframe at packet {i}"
            );
            keyframes += 1;
        }
        // random_access_indicator only on keyframes' first packets.
        if p.random_access {
            assert!(p.pusi && p.pid == PID_VIDEO);
        }
    }
    // The PCR is on the video PID, never decreases, and is never more than 40 ms stale;
    // every PES's DTS is at or after the PCR before it.
    let mut last_pcr = None;
    let mut psi_at = Vec::new();
    for p in &pkts {
        if let Some(pcr) = p.pcr {
            assert_eq!(p.pid, PID_VIDEO);
            if let Some(last) = last_pcr {
                assert!(
                    pcr >= last && pcr - last <= PCR_INTERVAL_MS * 90,
                    "{last} → {pcr}"
                );
            }
            last_pcr = Some(pcr);
        }
        if p.pid == PID_PMT {
            psi_at.push(last_pcr.unwrap_or(0));
        }
        if p.pusi && (p.pid == PID_VIDEO || p.pid == PID_AUDIO) {
            let pes = &p.payload;
            let flags = pes[7] >> 6;
            let ts_at = if flags == 3 { 14 } else { 9 };
            let b = &pes[ts_at..ts_at + 5];
            let dts = (i64::from(b[0] >> 1 & 7) << 30)
                | (i64::from(b[1]) << 22)
                | (i64::from(b[2] >> 1) << 15)
                | (i64::from(b[3]) << 7)
                | i64::from(b[4] >> 1);
            assert!(dts >= last_pcr.unwrap() + DELAY - 40 * 90);
        }
    }
    assert_eq!(keyframes, 2);
    for w in psi_at.windows(2) {
        assert!(w[1] - w[0] <= PSI_INTERVAL_MS * 90 + PCR_INTERVAL_MS * 90);
    }
    // The PMT lists both streams from the start: both sequence headers came before the
    // first PES.
    let pmt = &pkts[1].payload;
    let section_len = usize::from(u16::from_be_bytes([pmt[2], pmt[3]]) & 0x0fff);
    assert_eq!(section_len, 9 + 4 + 2 * 5);
    assert_eq!(crate::psi::crc32_mpeg2(&pmt[1..4 + section_len]), 0);
}

#[test]
fn chunks_are_seven_packets_and_flush_lets_the_rest_out() {
    let (frames, _) = h264_aac();
    let mut m = TsMuxer::default();
    let mut whole = Vec::new();
    let mut chunks = Vec::new();
    for f in &frames {
        m.push(f.kind, f.dts, &f.body).unwrap();
        while let Some(c) = m.poll_chunk() {
            chunks.push(c.len());
            whole.extend_from_slice(&c);
        }
        assert!(m.queued() < CHUNK_LEN && m.queued() % PACKET_LEN == 0);
    }
    assert!(chunks.iter().all(|&l| l == CHUNK_LEN));
    m.flush();
    let tail = m.poll_chunk().unwrap();
    assert!(tail.len() < CHUNK_LEN && tail.len() % PACKET_LEN == 0);
    whole.extend_from_slice(&tail);
    assert_eq!(m.poll_chunk(), None);
    assert_eq!(whole, mux(&frames));
    assert_eq!(m.stats().packets as usize * PACKET_LEN, whole.len());
}

#[test]
fn unsupported_codecs_are_refused_by_name_and_write_nothing() {
    let mut m = TsMuxer::default();
    let mut av1 = vec![0x80 | 0x10 | 1];
    av1.extend_from_slice(b"av01");
    av1.extend_from_slice(&[1, 2, 3]);
    let mut opus = vec![0x91];
    opus.extend_from_slice(b"Opus");
    opus.push(0xfc);
    let cases: [(TagType, Vec<u8>, &str); 5] = [
        (TagType::Video, av1, "AV1"),
        (TagType::Video, vec![0x22, 1, 2], "Sorenson H.263"),
        (TagType::Audio, opus, "Opus"),
        (TagType::Audio, vec![0xb6, 1, 2], "Speex"),
        (TagType::Audio, vec![0x7e, 1, 2], "G.711 A-law"),
    ];
    for (kind, body, name) in cases {
        let err = m.push(kind, 0, &body).unwrap_err();
        assert!(
            matches!(&err, MuxError::Unsupported { name: n, .. } if n == name),
            "{err}"
        );
        assert!(err.to_string().contains(name));
    }
    // AAC-LD has no ADTS form: refused at its sequence header.
    let ld = AudioSpecificConfig::new(23, 48_000, 1).encode();
    assert!(matches!(
        m.push(TagType::Audio, 0, &aac_sequence_header(&ld)),
        Err(MuxError::Unsupported { .. })
    ));
    // Frames before their sequence headers.
    assert_eq!(
        m.push(TagType::Audio, 0, &aac(0, &[1, 2]).body),
        Err(MuxError::NoConfig {
            track: Track::Audio
        })
    );
    assert_eq!(
        m.push(
            TagType::Video,
            0,
            &video(BodyVideoCodec::Avc, true, 0, 0, &[&[0x65, 1]]).body
        ),
        Err(MuxError::NoConfig {
            track: Track::Video
        })
    );
    // Bad records and frames are named too.
    assert!(matches!(
        m.push(TagType::Video, 0, &[0x17, 0, 0, 0, 0, 1, 2]),
        Err(MuxError::BadConfig { .. })
    ));
    assert!(
        m.push(TagType::Script, 0, b"\x02\x00\x0aonMetaData")
            .is_ok()
    );
    assert_eq!(m.queued(), 0);
    assert_eq!(m.stats(), MuxStats::default());
}

#[test]
fn a_codec_change_bumps_the_pmt_and_sends_the_new_parameter_sets() {
    let avc = avc_params(0);
    let avc_record = AvcDecoderConfig::from_parameter_sets(&avc.0, &avc.1)
        .unwrap()
        .encode();
    let [vps, sps, pps] = hevc_params();
    let hevc_record = HevcDecoderConfig::from_parameter_sets(&vps, &sps, &pps)
        .unwrap()
        .encode();
    let frames = [
        video_seq(BodyVideoCodec::Avc, &avc_record, 0),
        video(BodyVideoCodec::Avc, true, 0, 0, &[&nal(&[0x65], 1, 50)]),
        video(BodyVideoCodec::Avc, false, 40, 0, &[&nal(&[0x41], 2, 50)]),
        video_seq(BodyVideoCodec::Hevc, &hevc_record, 80),
        video(
            BodyVideoCodec::Hevc,
            true,
            80,
            0,
            &[&nal(&[19 << 1, 1], 3, 50)],
        ),
    ];
    let mut m = TsMuxer::default();
    for f in &frames {
        m.push(f.kind, f.dts, &f.body).unwrap();
    }
    // An H.264 frame now has no record in force.
    assert_eq!(
        m.push(TagType::Video, 120, &frames[2].body),
        Err(MuxError::NoConfig {
            track: Track::Video
        })
    );
    assert_eq!(m.stats().pmt_changes, 1);
    let ts = m.poll_bytes().unwrap();
    let events = demux_with(DemuxerConfig::default(), &ts, PACKET_LEN);
    let codecs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::StreamAdded { codec, .. } => Some(*codec),
            Event::Config(c) => Some(c.codec),
            _ => None,
        })
        .collect();
    assert_eq!(codecs, [Codec::H264, Codec::H264, Codec::H265, Codec::H265]);
    let got = units(&events);
    assert_eq!(got.len(), 3);
    assert!(got[2].keyframe && got[2].codec == Codec::H265);
}

#[test]
fn audio_only_carries_the_pcr_and_time_wraps_at_33_bits() {
    let asc = AudioSpecificConfig::new(2, 44_100, 2).encode();
    // 2^33 ticks is 95_443_717.69 ms: start 300 ms (plus the delay) before the wrap.
    let start = (1i64 << 33) / 90 - 800;
    let mut frames = vec![In {
        kind: TagType::Audio,
        dts: start,
        body: aac_sequence_header(&asc),
    }];
    // 64 ms apart: the PCR needs filling in between.
    frames.extend((0..20).map(|i| aac(start + i * 64, &nal(&[0x21], i as u8, 40))));
    let ts = mux(&frames);
    let pkts = packets(&ts);
    check_continuity(&pkts);
    let pcrs: Vec<_> = pkts
        .iter()
        .filter_map(|p| p.pcr.map(|c| (p.pid, c)))
        .collect();
    assert!(pcrs.iter().all(|(pid, _)| *pid == PID_AUDIO));
    for w in pcrs.windows(2) {
        let step = (w[1].1 - w[0].1).rem_euclid(1 << 33);
        assert!(step > 0 && step <= PCR_INTERVAL_MS * 90, "{w:?}");
    }
    let events = demux_with(DemuxerConfig::default(), &ts, 1316);
    let got = units(&events);
    assert_eq!(got.len(), 20);
    for (u, f) in got.iter().zip(&frames[1..]) {
        // The demuxer unwraps onto one timeline from the first raw value.
        assert_eq!(u.data, f.body[2..]);
        assert_eq!(u.dts - got[0].dts, (f.dts - start) * 90);
    }
}

#[test]
fn a_timeline_jump_is_a_signalled_discontinuity() {
    let (mut frames, _) = h264_aac();
    for f in frames.iter_mut().skip(30) {
        f.dts += 60_000;
    }
    let ts = mux(&frames);
    let pkts = packets(&ts);
    check_continuity(&pkts);
    let signalled: Vec<_> = pkts.iter().filter(|p| p.discontinuity).collect();
    assert_eq!(signalled.len(), 1);
    assert!(signalled[0].pcr.is_some());
    // No filler PCRs over the jump.
    assert!(pkts.iter().filter(|p| !p.has_payload).count() < 5);
}

fn arbitrary_frame() -> impl Strategy<Value = (bool, i64, Vec<u8>)> {
    let avc = avc_params(1);
    let record = AvcDecoderConfig::from_parameter_sets(&avc.0, &avc.1)
        .unwrap()
        .encode();
    let asc = AudioSpecificConfig::new(2, 48_000, 2).encode();
    prop_oneof![
        Just((true, 0, video_sequence_header(BodyVideoCodec::Avc, &record))),
        Just((false, 0, aac_sequence_header(&asc))),
        (
            any::<bool>(),
            -50i64..2000,
            proptest::collection::vec(any::<u8>(), 0..600)
        ),
        (
            any::<bool>(),
            -50i64..2000,
            proptest::collection::vec(any::<u8>(), 0..3)
        )
            .prop_map(|(v, d, tail)| {
                let mut body = if v {
                    vec![0x17, 1, 0, 0, 0, 0, 0, 0, 3, 0x65]
                } else {
                    vec![0xaf, 1]
                };
                body.extend(tail);
                (v, d, body)
            }),
        (0i64..3000, proptest::collection::vec(any::<u8>(), 0..5000)).prop_map(|(d, mut nal)| {
            let mut body = vec![0x27, 1, 0, 0, 40];
            if !nal.is_empty() {
                nal[0] = 0x41;
            }
            body.extend((nal.len() as u32).to_be_bytes());
            body.extend(nal);
            (true, d, body)
        }),
    ]
}

proptest! {
    #[test]
    fn any_frames_give_whole_packets_with_sync_and_counters(
        frames in proptest::collection::vec(arbitrary_frame(), 0..60),
        chunked in any::<bool>(),
    ) {
        let mut m = TsMuxer::default();
        let mut ts = Vec::new();
        let mut dts = 0;
        for (is_video, step, body) in frames {
            dts += step;
            let kind = if is_video { TagType::Video } else { TagType::Audio };
            let _ = m.push(kind, dts, &body);
            if chunked {
                while let Some(c) = m.poll_chunk() {
                    prop_assert_eq!(c.len(), CHUNK_LEN);
                    ts.extend_from_slice(&c);
                }
            }
        }
        m.flush();
        while let Some(c) = m.poll_chunk() {
            prop_assert!(c.len() <= CHUNK_LEN && c.len() % PACKET_LEN == 0);
            ts.extend_from_slice(&c);
        }
        prop_assert_eq!(m.queued(), 0);
        let pkts = packets(&ts);
        check_continuity(&pkts);
        // Our own demuxer finds nothing wrong with the packets or sections.
        let events = demux_with(DemuxerConfig::default(), &ts, 1316);
        for e in &events {
            let bad = matches!(
                e,
                Event::SyncLost { .. }
                    | Event::Discontinuity { cause: crate::Discontinuity::ContinuityError { .. }, .. }
                    | Event::Dropped { reason: crate::DropReason::BadSection(_) | crate::DropReason::BadPesHeader | crate::DropReason::PesTruncated, .. }
            );
            prop_assert!(!bad, "{:?}", e);
        }
    }
}
