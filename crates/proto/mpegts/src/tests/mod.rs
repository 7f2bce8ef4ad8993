//! The demuxer against hand-built streams.

pub(crate) mod builder;

use bytes::Bytes;
use proptest::prelude::*;

use self::builder::*;
use crate::timestamp::WRAP;
use crate::{
    AccessUnit, Codec, Config, DemuxerConfig, Discontinuity, DropReason, Event, PACKET_LEN, Track,
};

const SEI: &[u8] = &[0x06, 0x05, 0x01, 0xaa, 0x80];
const IDR: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x33];
const NON_IDR: &[u8] = &[0x41, 0x9a, 0x02, 0x11];
const AUD: &[u8] = &[0x09, 0xf0];

fn av_streams() -> Vec<(u8, u16, &'static [u8])> {
    vec![(0x1b, VIDEO_PID, &[]), (0x0f, AUDIO_PID, &[])]
}

fn configs(events: &[Event]) -> Vec<&Config> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Config(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// A keyframe access unit with AUD, SPS, PPS, SEI and an IDR slice.
fn keyframe(params: &(Vec<u8>, Vec<u8>)) -> Vec<u8> {
    annexb(&[AUD, &params.0, &params.1, SEI, IDR])
}

fn video_pes(w: &mut Writer, pts: u64, dts: u64, es: &[u8]) {
    w.pes(
        VIDEO_PID,
        &pes(0xe0, pts, Some(dts), es, false),
        Flags::default(),
    );
}

/// PAT, PMT, then `frames` video frames (the first a keyframe with parameter sets) and one AAC
/// PES of two frames per video frame.
fn av_stream(frames: u64) -> Vec<u8> {
    let params = avc_params(0);
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    for i in 0..frames {
        let es = if i == 0 {
            keyframe(&params)
        } else {
            annexb(&[AUD, NON_IDR])
        };
        video_pes(&mut w, 9000 + i * 3600, 5400 + i * 3600, &es);
        let mut audio = adts(&[i as u8; 20]);
        audio.extend(adts(&[i as u8; 30]));
        w.pes(
            AUDIO_PID,
            &pes(0xc0, 9000 + i * 3840, None, &audio, true),
            Flags::default(),
        );
    }
    w.out
}

#[test]
fn streams_are_announced_and_uncarried_or_doubled_ones_named_once() {
    let mut w = Writer::default();
    let teletext: &[u8] = &[0x56, 5, b'e', b'n', b'g', 0x09, 0x00];
    let streams = [
        (0x1b, VIDEO_PID, &[][..]),
        (0x86, 0x102, &[]),
        (0x06, 0x103, teletext),
        (0x0f, VIDEO_PID, &[]),
    ];
    w.pat_pmt(0, &streams);
    w.pat_pmt(0, &streams);
    let events = demux(&w.out);
    assert_eq!(
        events,
        vec![
            Event::StreamAdded {
                pid: VIDEO_PID,
                codec: Codec::H264
            },
            Event::StreamSkipped {
                pid: 0x102,
                stream_type: 0x86,
                name: "SCTE-35"
            },
            Event::StreamSkipped {
                pid: 0x103,
                stream_type: 0x06,
                name: "teletext"
            },
            Event::StreamSkipped {
                pid: VIDEO_PID,
                stream_type: 0x0f,
                name: "PID listed twice"
            },
        ]
    );
}

#[test]
fn a_pmt_spanning_packets_is_reassembled() {
    let mut w = Writer::default();
    // 60 descriptor bytes a stream: the section is well over one packet.
    let long: &[u8] = &[0x0a; 60];
    let streams = [
        (0x1b, VIDEO_PID, long),
        (0x86, 0x102, long),
        (0x0f, AUDIO_PID, long),
    ];
    w.pat_pmt(0, &streams);
    // The PAT in one packet, the PMT in two.
    assert_eq!(w.out.len(), 3 * PACKET_LEN);
    let added = demux(&w.out)
        .iter()
        .filter(|e| matches!(e, Event::StreamAdded { .. }))
        .count();
    assert_eq!(added, 2);
}

#[test]
fn a_section_with_a_bad_crc_is_dropped() {
    let mut w = Writer::default();
    let mut bad = pat(1, PMT_PID);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    w.section(0, &bad);
    w.section(PMT_PID, &pmt(1, 0, &av_streams()));
    assert_eq!(
        demux(&w.out),
        vec![Event::Dropped {
            pid: 0,
            reason: DropReason::BadSection("CRC_32 mismatch")
        }]
    );
}

#[test]
fn video_becomes_avcc_with_the_parameter_sets_in_the_record() {
    let events = demux(&av_stream(3));
    let params = avc_params(0);
    let c = configs(&events);
    assert_eq!(c.len(), 2);
    // The bounded audio PES completes at once, the unbounded video one at the next start.
    assert_eq!(
        (c[1].pid, c[1].codec, c[1].track),
        (VIDEO_PID, Codec::H264, Track::Video)
    );
    let record = baton_codec::avc::AvcDecoderConfig::parse(&c[1].record).unwrap();
    assert_eq!(
        (&record.sps[0][..], &record.pps[0][..]),
        (&params.0[..], &params.1[..])
    );
    let video: Vec<_> = units(&events)
        .into_iter()
        .filter(|u| u.track == Track::Video)
        .collect();
    assert_eq!(video.len(), 3);
    // AUD and parameter sets out, SEI kept, in order.
    assert_eq!(video[0].data, Bytes::from(avcc(&[SEI, IDR])));
    assert!(video[0].keyframe);
    assert_eq!(video[1].data, Bytes::from(avcc(&[NON_IDR])));
    assert!(!video[1].keyframe);
    assert_eq!((video[0].pts, video[0].dts), (9000, 5400));
    // The last (unbounded) PES ends at finish().
    assert_eq!((video[2].pts, video[2].dts), (9000 + 7200, 5400 + 7200));
}

#[test]
fn changed_parameter_sets_re_announce_the_record_and_repeats_do_not() {
    let (first, second) = (avc_params(0), avc_params(1));
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    for (i, params) in [&first, &first, &second, &second].into_iter().enumerate() {
        let t = 3600 * i as u64;
        video_pes(&mut w, t, t, &keyframe(params));
    }
    let events = demux(&w.out);
    let records: Vec<_> = configs(&events)
        .iter()
        .map(|c| {
            baton_codec::avc::AvcDecoderConfig::parse(&c.record)
                .unwrap()
                .sps[0]
                .clone()
        })
        .collect();
    assert_eq!(records, vec![Bytes::from(first.0), Bytes::from(second.0)]);
    assert_eq!(units(&events).len(), 4);
}

#[test]
fn video_before_any_record_is_dropped() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    video_pes(&mut w, 0, 0, &annexb(&[NON_IDR]));
    video_pes(&mut w, 3600, 3600, &keyframe(&avc_params(0)));
    let events = demux(&w.out);
    assert_eq!(
        events[2],
        Event::Dropped {
            pid: VIDEO_PID,
            reason: DropReason::BeforeConfig
        }
    );
    assert_eq!(units(&events).len(), 1);
}

#[test]
fn hevc_becomes_hvcc() {
    let [vps, sps, pps] = hevc_params();
    let idr: &[u8] = &[0x26, 0x01, 0xaf, 0x10];
    let aud: &[u8] = &[0x46, 0x01, 0x50];
    let mut w = Writer::default();
    w.pat_pmt(0, &[(0x24, VIDEO_PID, &[])]);
    video_pes(&mut w, 0, 0, &annexb(&[aud, &vps, &sps, &pps, idr]));
    let events = demux(&w.out);
    let c = configs(&events);
    assert_eq!(c[0].codec, Codec::H265);
    let record = baton_codec::hevc::HevcDecoderConfig::parse(&c[0].record).unwrap();
    assert_eq!(record.nals_of_type(33).next().unwrap()[..], sps[..]);
    let u = units(&events);
    assert_eq!(u[0].data, Bytes::from(avcc(&[idr])));
    assert!(u[0].keyframe);
}

#[test]
fn aac_frames_are_split_with_advancing_timestamps() {
    let events = demux(&av_stream(2));
    let c = configs(&events);
    assert_eq!(
        (c[0].pid, c[0].codec, c[0].track),
        (AUDIO_PID, Codec::Aac, Track::Audio)
    );
    let asc = baton_codec::aac::AudioSpecificConfig::parse(&c[0].record).unwrap();
    assert_eq!(
        (asc.object_type, asc.sample_rate, asc.channel_config),
        (2, 48000, 2)
    );
    let audio: Vec<_> = units(&events)
        .into_iter()
        .filter(|u| u.track == Track::Audio)
        .collect();
    let pts: Vec<_> = audio.iter().map(|u| u.pts).collect();
    // 1024 samples at 48 kHz: 1920 ticks.
    assert_eq!(
        pts,
        vec![9000, 9000 + 1920, 9000 + 3840, 9000 + 3840 + 1920]
    );
    assert_eq!(audio[1].data, Bytes::from(vec![0u8; 30]));
    assert!(
        audio
            .iter()
            .all(|u| u.keyframe && u.dts == u.pts && u.codec == Codec::Aac)
    );
}

#[test]
fn a_changed_adts_configuration_is_re_announced() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let at_44k = |payload: &[u8]| {
        let mut f = adts(payload);
        f[2] = 0x40 | 4 << 2; // sampling_frequency_index 4: 44.1 kHz
        f
    };
    w.pes(
        AUDIO_PID,
        &pes(
            0xc0,
            0,
            None,
            &[adts(&[1; 9]), adts(&[2; 9])].concat(),
            true,
        ),
        Flags::default(),
    );
    w.pes(
        AUDIO_PID,
        &pes(
            0xc0,
            3840,
            None,
            &[at_44k(&[3; 9]), at_44k(&[4; 9])].concat(),
            true,
        ),
        Flags::default(),
    );
    let events = demux(&w.out);
    let rates: Vec<_> = configs(&events)
        .iter()
        .map(|c| {
            baton_codec::aac::AudioSpecificConfig::parse(&c.record)
                .unwrap()
                .sample_rate
        })
        .collect();
    assert_eq!(rates, vec![48000, 44100]);
    // 1024 samples at 44.1 kHz: 2089.8 ticks, rounded down from the PES PTS.
    let pts: Vec<_> = units(&events).iter().map(|u| u.pts).collect();
    assert_eq!(pts, vec![0, 1920, 3840, 3840 + 2089]);
    // The config comes right before the first frame it describes.
    let second = events
        .iter()
        .rposition(|e| matches!(e, Event::Config(_)))
        .unwrap();
    assert!(matches!(&events[second + 1], Event::Unit(u) if u.pts == 3840));
}

#[test]
fn an_adts_frame_split_across_pes_is_carried_over() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let frames: Vec<u8> = [adts(&[1; 50]), adts(&[2; 50]), adts(&[3; 50])].concat();
    // The second frame starts in the first PES and ends in the second.
    let (a, b) = frames.split_at(57 + 20);
    w.pes(AUDIO_PID, &pes(0xc0, 1000, None, a, true), Flags::default());
    w.pes(
        AUDIO_PID,
        &pes(0xc0, 1000 + 2 * 1920, None, b, true),
        Flags::default(),
    );
    let events = demux(&w.out);
    let audio = units(&events);
    let got: Vec<_> = audio.iter().map(|u| (u.pts, u.data[0])).collect();
    assert_eq!(got, vec![(1000, 1), (1000 + 1920, 2), (1000 + 3840, 3)]);
}

#[test]
fn a_lost_packet_drops_the_pes_and_demuxing_resumes_at_the_next_start() {
    let params = avc_params(0);
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    // A 3-packet keyframe, a 3-packet frame whose middle packet is lost, a third frame.
    let big = |nal: &[u8]| -> Vec<u8> {
        let mut slice = nal.to_vec();
        slice.resize(400, 0x55);
        slice
    };
    video_pes(&mut w, 0, 0, &annexb(&[&params.0, &params.1, &big(IDR)]));
    let before = w.out.len();
    let lost = w.pes(
        VIDEO_PID,
        &pes(0xe0, 3600, Some(3600), &annexb(&[&big(NON_IDR)]), false),
        Flags::default(),
    );
    assert_eq!(lost.len(), 3);
    w.out.truncate(before);
    w.out.extend_from_slice(&lost[0]);
    w.out.extend_from_slice(&lost[2]);
    video_pes(&mut w, 7200, 7200, &annexb(&[NON_IDR]));
    let events = demux(&w.out);
    let cc = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Discontinuity {
                    pid: VIDEO_PID,
                    cause: Discontinuity::ContinuityError { .. }
                }
            )
        })
        .expect("a continuity error");
    let pts: Vec<_> = units(&events).iter().map(|u| u.pts).collect();
    assert_eq!(pts, vec![0, 7200]);
    // The first frame completes at the start of the damaged one, before the error.
    assert!(matches!(
        events[cc - 1],
        Event::Unit(AccessUnit { pts: 0, .. })
    ));
}

#[test]
fn a_duplicate_packet_is_ignored() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let packets = w.pes(
        VIDEO_PID,
        &pes(0xe0, 0, None, &keyframe(&avc_params(0)), false),
        Flags::default(),
    );
    w.out.extend_from_slice(packets.last().unwrap());
    let events = demux(&w.out);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Discontinuity { .. } | Event::Dropped { .. }))
    );
    assert_eq!(units(&events).len(), 1);
}

#[test]
fn a_signalled_discontinuity_is_reported_without_loss() {
    let params = avc_params(0);
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    video_pes(&mut w, 0, 0, &keyframe(&params));
    // The encoder restarted: the counter jumps, and it says so.
    w.out.extend(packet(
        VIDEO_PID,
        true,
        9,
        Flags {
            discontinuity: true,
            random_access: true,
        },
        &pes(0xe0, 500, None, &keyframe(&params), false),
    ));
    let events = demux(&w.out);
    assert!(events.contains(&Event::Discontinuity {
        pid: VIDEO_PID,
        cause: Discontinuity::Signalled
    }));
    let u = units(&events);
    assert_eq!(u.len(), 2);
    assert!(u[1].random_access && !u[0].random_access);
}

#[test]
fn a_random_access_i_picture_with_an_sps_is_a_keyframe() {
    let params = avc_params(0);
    let i_slice: &[u8] = &[0x21, 0x88, 0x80]; // non-IDR slice, nal_ref_idc 1
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    video_pes(&mut w, 0, 0, &keyframe(&params));
    let open_gop = annexb(&[AUD, &params.0, &params.1, SEI, i_slice]);
    let marked = Flags {
        random_access: true,
        ..Flags::default()
    };
    w.pes(VIDEO_PID, &pes(0xe0, 3600, None, &open_gop, false), marked);
    // Marked random access but without an SPS: not a place to start.
    w.pes(
        VIDEO_PID,
        &pes(0xe0, 7200, None, &annexb(&[i_slice]), false),
        marked,
    );
    // Carrying an SPS but not marked.
    video_pes(&mut w, 10800, 10800, &open_gop);
    let events = demux(&w.out);
    let keys: Vec<_> = units(&events).iter().map(|u| u.keyframe).collect();
    assert_eq!(keys, vec![true, true, false, false]);
}

#[test]
fn timestamps_unwrap_across_the_33_bit_wrap() {
    let params = avc_params(0);
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let start = (WRAP - 7200) as u64;
    for i in 0..4u64 {
        let t = (start + i * 3600) % WRAP as u64;
        video_pes(&mut w, t, t, &keyframe(&params));
    }
    let pts: Vec<_> = units(&demux(&w.out)).iter().map(|u| u.pts).collect();
    assert_eq!(pts, vec![WRAP - 7200, WRAP - 3600, WRAP, WRAP + 3600]);
}

#[test]
fn sync_is_found_again_after_garbage() {
    let clean = av_stream(4);
    let mut dirty = b"garbage before the first packet \x47".to_vec();
    let cut = PACKET_LEN * 5;
    dirty.extend_from_slice(&clean[..cut]);
    dirty.extend_from_slice(&[0x47; 100]);
    dirty.extend_from_slice(&clean[cut..]);
    let events = demux(&dirty);
    let lost: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::SyncLost { .. }))
        .collect();
    assert_eq!(
        lost,
        vec![
            &Event::SyncLost { skipped: 33 },
            &Event::SyncLost { skipped: 100 }
        ]
    );
    // Nothing was lost between packets: the same units as the clean stream.
    assert_eq!(units(&events), units(&demux(&clean)));
}

#[test]
fn an_oversized_pes_is_dropped() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let mut idr = IDR.to_vec();
    idr.resize(5000, 1);
    video_pes(
        &mut w,
        0,
        0,
        &annexb(&[&avc_params(0).0, &avc_params(0).1, &idr]),
    );
    video_pes(&mut w, 3600, 3600, &keyframe(&avc_params(0)));
    let config = DemuxerConfig {
        max_pes_bytes: 4096,
    };
    let events = demux_with(config, &w.out, 188);
    assert!(events.contains(&Event::Dropped {
        pid: VIDEO_PID,
        reason: DropReason::PesTooLarge { limit: 4096 }
    }));
    assert_eq!(
        units(&events).iter().map(|u| u.pts).collect::<Vec<_>>(),
        vec![3600]
    );
}

#[test]
fn a_bounded_pes_cut_short_is_dropped() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    let mut p = pes(
        0xc0,
        0,
        None,
        &[adts(&[0; 300]), adts(&[0; 300])].concat(),
        true,
    );
    p.truncate(400);
    w.pes(AUDIO_PID, &p, Flags::default());
    w.pes(
        AUDIO_PID,
        &pes(0xc0, 3840, None, &adts(&[7; 10]), true),
        Flags::default(),
    );
    let events = demux(&w.out);
    assert!(events.contains(&Event::Dropped {
        pid: AUDIO_PID,
        reason: DropReason::PesTruncated
    }));
    assert_eq!(
        units(&events).iter().map(|u| u.pts).collect::<Vec<_>>(),
        vec![3840]
    );
}

#[test]
fn a_pmt_that_changes_codecs_restarts_those_streams() {
    let params = avc_params(0);
    let [vps, sps, pps] = hevc_params();
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    video_pes(&mut w, 0, 0, &keyframe(&params));
    // Version 1: the same video, MP3 instead of AAC on the audio PID.
    w.pat_pmt(1, &[(0x1b, VIDEO_PID, &[]), (0x03, AUDIO_PID, &[])]);
    video_pes(&mut w, 3600, 3600, &annexb(&[NON_IDR]));
    // Version 2: H.265 on the video PID.
    w.pat_pmt(2, &[(0x24, VIDEO_PID, &[]), (0x03, AUDIO_PID, &[])]);
    video_pes(
        &mut w,
        7200,
        7200,
        &annexb(&[&vps, &sps, &pps, &[0x26, 0x01, 0xaf, 0x10]]),
    );
    let events = demux(&w.out);
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::StreamAdded { pid, codec } => format!("added {pid} {codec:?}"),
            Event::Config(c) => format!("config {:?}", c.codec),
            Event::Unit(u) => format!("unit {:?} {}", u.codec, u.pts),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "added 256 H264",
            "added 257 Aac",
            // The unbounded video PES ends at the next video PES start, after PMT version 1.
            "added 257 Mp3",
            "config H264",
            "unit H264 0",
            // The H.264 stream's last PES is completed before H.265 replaces it.
            "unit H264 3600",
            "added 256 H265",
            "config H265",
            "unit H265 7200",
        ]
    );
}

#[test]
fn mpeg_audio_layer_ii_is_skipped_and_named() {
    let mut w = Writer::default();
    w.pat_pmt(0, &[(0x04, AUDIO_PID, &[])]);
    // MPEG-1 layer II, 128 kb/s, 48 kHz.
    let mut frame = vec![0xff, 0xfd, 0x84, 0x00];
    frame.resize(384, 0);
    w.pes(
        AUDIO_PID,
        &pes(0xc0, 0, None, &frame, true),
        Flags::default(),
    );
    w.pes(
        AUDIO_PID,
        &pes(0xc0, 2880, None, &frame, true),
        Flags::default(),
    );
    assert_eq!(
        demux(&w.out),
        vec![
            Event::StreamAdded {
                pid: AUDIO_PID,
                codec: Codec::Mp3
            },
            Event::StreamSkipped {
                pid: AUDIO_PID,
                stream_type: 0x04,
                name: "MPEG audio layer II"
            },
        ]
    );
}

#[test]
fn scrambled_payloads_are_reported_once() {
    let mut w = Writer::default();
    w.pat_pmt(0, &av_streams());
    for cc in 0..3 {
        let mut p = packet(VIDEO_PID, true, cc, Flags::default(), &[0; 184]);
        p[3] |= 0x80;
        w.out.extend(p);
    }
    let events = demux(&w.out);
    let scrambled = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Dropped {
                    reason: DropReason::Scrambled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(scrambled, 1);
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut data = av_stream(3);
    for _ in 0..200 {
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % data.len();
            data[at] = (state >> 32) as u8;
        }
        let _ = demux(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The same bytes give the same events however they are split, garbage and lost packets
    /// included.
    #[test]
    fn chunking_does_not_change_the_events(
        cuts in proptest::collection::vec(1usize..400, 1..40),
        garbage_at in 0usize..20,
        garbage in proptest::collection::vec(any::<u8>(), 0..300),
        drop_packet in 0usize..20,
    ) {
        let clean = av_stream(5);
        let packets: Vec<&[u8]> = clean.chunks(PACKET_LEN).collect();
        let mut ts = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == garbage_at {
                ts.extend_from_slice(&garbage);
            }
            if i != drop_packet {
                ts.extend_from_slice(p);
            }
        }
        let whole = demux_with(DemuxerConfig::default(), &ts, ts.len());
        for chunk in [1, 7, 188] {
            prop_assert_eq!(&demux_with(DemuxerConfig::default(), &ts, chunk), &whole);
        }
        let mut d = crate::Demuxer::default();
        let mut events = Vec::new();
        let mut rest = &ts[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            d.push(piece);
            events.extend(d.events());
            rest = tail;
        }
        d.finish();
        events.extend(d.events());
        prop_assert_eq!(events, whole);
    }
}
