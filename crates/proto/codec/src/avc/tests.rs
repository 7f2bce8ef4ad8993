use super::*;
use crate::bits::BitWriter;
use proptest::prelude::*;

/// Records cut from FLV files ffmpeg/libx264 wrote (see testdata/README.md), with what
/// ffprobe and the trace_headers bitstream filter report for them.
struct Vector {
    record: &'static [u8],
    profile: u8,
    profile_name: &'static str,
    level: &'static str,
    width: u32,
    height: u32,
    chroma: u8,
    frame_mbs_only: bool,
    fps: f64,
}

const VECTORS: &[Vector] = &[
    Vector {
        record: include_bytes!("../../testdata/h264_720p.avcc"),
        profile: 100,
        profile_name: "High",
        level: "3.1",
        width: 1280,
        height: 720,
        chroma: 1,
        frame_mbs_only: true,
        fps: 30.0,
    },
    Vector {
        record: include_bytes!("../../testdata/h264_1080p_main.avcc"),
        profile: 77,
        profile_name: "Main",
        level: "4",
        width: 1920,
        height: 1080,
        chroma: 1,
        frame_mbs_only: true,
        fps: 25.0,
    },
    Vector {
        record: include_bytes!("../../testdata/h264_444.avcc"),
        profile: 244,
        profile_name: "High 4:4:4 Predictive",
        level: "3",
        width: 640,
        height: 360,
        chroma: 3,
        frame_mbs_only: true,
        fps: 30000.0 / 1001.0,
    },
    Vector {
        record: include_bytes!("../../testdata/h264_interlaced.avcc"),
        profile: 77,
        profile_name: "Main",
        level: "3",
        width: 720,
        height: 576,
        chroma: 1,
        frame_mbs_only: false,
        fps: 25.0,
    },
    Vector {
        record: include_bytes!("../../testdata/h264_baseline.avcc"),
        profile: 66,
        profile_name: "Constrained Baseline",
        level: "1.2",
        width: 320,
        height: 240,
        chroma: 1,
        frame_mbs_only: true,
        fps: 15.0,
    },
];

#[test]
fn ffmpeg_records_parse_to_ffprobe_values() {
    for v in VECTORS {
        let config = AvcDecoderConfig::parse(v.record).unwrap();
        assert_eq!(config.profile, v.profile);
        assert_eq!(config.nal_length_size, 4);
        assert_eq!((config.sps.len(), config.pps.len()), (1, 1));
        assert_eq!(
            profile_name(config.profile, config.compatibility),
            Some(v.profile_name)
        );
        assert_eq!(
            level_name(config.profile, config.compatibility, config.level),
            v.level
        );
        let sps = config.first_sps().unwrap().unwrap();
        assert_eq!(
            (sps.width, sps.height),
            (v.width, v.height),
            "{}",
            v.profile
        );
        assert_eq!(sps.chroma_format_idc, v.chroma);
        assert_eq!(sps.frame_mbs_only, v.frame_mbs_only);
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (8, 8));
        let fps = sps.frame_rate.unwrap();
        assert!((fps - v.fps).abs() < 1e-9, "{fps} != {}", v.fps);
        assert_eq!(sps.profile_idc, config.profile);
        assert_eq!(sps.level_idc, config.level);
    }
}

#[test]
fn ffmpeg_records_re_encode_byte_identical() {
    for v in VECTORS {
        let config = AvcDecoderConfig::parse(v.record).unwrap();
        assert_eq!(config.encode(), v.record, "profile {}", v.profile);
    }
}

#[test]
fn high_profile_tail_is_read() {
    let config = AvcDecoderConfig::parse(VECTORS[0].record).unwrap();
    assert_eq!(
        config.high_profile,
        Some(AvcHighProfileExt {
            chroma_format: 1,
            bit_depth_luma: 8,
            bit_depth_chroma: 8,
            sps_ext: vec![],
        })
    );
    // Encoders that leave the tail out are common.
    let without_tail = &VECTORS[0].record[..VECTORS[0].record.len() - 4];
    assert_eq!(
        AvcDecoderConfig::parse(without_tail).unwrap().high_profile,
        None
    );
}

#[test]
fn from_parameter_sets_rebuilds_the_record() {
    for v in VECTORS {
        let config = AvcDecoderConfig::parse(v.record).unwrap();
        let rebuilt =
            AvcDecoderConfig::from_parameter_sets(&config.sps[0], &config.pps[0]).unwrap();
        assert_eq!(rebuilt, config);
    }
    let sps = &AvcDecoderConfig::parse(VECTORS[0].record).unwrap().sps[0];
    assert!(matches!(
        AvcDecoderConfig::from_parameter_sets(sps, sps),
        Err(CodecError::NalType {
            expected: 8,
            found: 7,
            ..
        })
    ));
}

#[test]
fn bad_records_are_errors() {
    assert_eq!(
        AvcDecoderConfig::parse(&[]),
        Err(CodecError::Truncated(RECORD))
    );
    assert_eq!(
        AvcDecoderConfig::parse(&[0, 0x64, 0, 0x1f, 0xff, 0xe1]),
        Err(CodecError::UnsupportedVersion {
            record: RECORD,
            version: 0
        })
    );
    // One SPS announced with 0x1a bytes, fewer present.
    assert_eq!(
        AvcDecoderConfig::parse(&VECTORS[0].record[..20]),
        Err(CodecError::Truncated(RECORD))
    );
    assert!(matches!(
        Sps::parse(&[0x68, 0xee]),
        Err(CodecError::NalType {
            expected: 7,
            found: 8,
            ..
        })
    ));
    assert!(Sps::parse(&[]).is_err());
}

#[test]
fn level_names() {
    assert_eq!(level_name(100, 0, 9), "1b");
    assert_eq!(level_name(66, 0x10, 11), "1b");
    assert_eq!(level_name(100, 0x10, 11), "1.1");
    assert_eq!(level_name(100, 0, 51), "5.1");
    assert_eq!(level_name(100, 0, 60), "6");
}

/// Inputs for a synthetic SPS.
#[derive(Clone, Debug)]
struct SpsFields {
    profile_idc: u8,
    chroma_format_idc: u32,
    scaling_lists: Vec<Option<Vec<i32>>>,
    poc_type: u32,
    poc_cycle: Vec<i32>,
    width_mbs: u32,
    height_map_units: u32,
    frame_mbs_only: bool,
    crop: Option<[u32; 4]>,
    sar_idc: Option<u8>,
    timing: Option<(u32, u32)>,
}

/// Writes an SPS NAL unit (with emulation prevention) from `f`.
fn write_sps(f: &SpsFields) -> Vec<u8> {
    let mut w = BitWriter::new();
    w.write_bits(u64::from(f.profile_idc), 8);
    w.write_bits(0, 8);
    w.write_bits(40, 8);
    w.write_ue(0);
    if has_chroma_info_for_test(f.profile_idc) {
        w.write_ue(f.chroma_format_idc);
        if f.chroma_format_idc == 3 {
            w.write_bit(false);
        }
        w.write_ue(0);
        w.write_ue(0);
        w.write_bit(false);
        w.write_bit(true);
        let lists = if f.chroma_format_idc == 3 { 12 } else { 8 };
        for i in 0..lists {
            match f.scaling_lists.get(i).cloned().flatten() {
                Some(deltas) => {
                    w.write_bit(true);
                    let size = if i < 6 { 16 } else { 64 };
                    let mut last = 8i32;
                    let mut next = 8i32;
                    for j in 0..size {
                        if next != 0 {
                            let d = deltas.get(j).copied().unwrap_or(0);
                            w.write_se(d);
                            next = (last + d).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
                None => w.write_bit(false),
            }
        }
    }
    w.write_ue(0);
    w.write_ue(f.poc_type);
    match f.poc_type {
        0 => w.write_ue(2),
        1 => {
            w.write_bit(false);
            w.write_se(-3);
            w.write_se(5);
            w.write_ue(f.poc_cycle.len() as u32);
            for &o in &f.poc_cycle {
                w.write_se(o);
            }
        }
        _ => {}
    }
    w.write_ue(4);
    w.write_bit(false);
    w.write_ue(f.width_mbs - 1);
    w.write_ue(f.height_map_units - 1);
    w.write_bit(f.frame_mbs_only);
    if !f.frame_mbs_only {
        w.write_bit(true);
    }
    w.write_bit(true);
    match f.crop {
        Some(c) => {
            w.write_bit(true);
            for v in c {
                w.write_ue(v);
            }
        }
        None => w.write_bit(false),
    }
    let vui = f.sar_idc.is_some() || f.timing.is_some();
    w.write_bit(vui);
    if vui {
        w.write_bit(f.sar_idc.is_some());
        if let Some(idc) = f.sar_idc {
            w.write_bits(u64::from(idc), 8);
            if idc == 255 {
                w.write_bits(4, 16);
                w.write_bits(3, 16);
            }
        }
        w.write_bits(0, 3); // overscan, video signal type, chroma loc
        w.write_bit(f.timing.is_some());
        if let Some((units, scale)) = f.timing {
            w.write_bits(u64::from(units), 32);
            w.write_bits(u64::from(scale), 32);
            w.write_bit(true);
        }
        w.write_bits(0, 5);
    }
    w.write_bit(true); // rbsp_stop_one_bit
    let mut nal = vec![0x67];
    nal.extend(crate::bits::escape_rbsp(&w.finish()));
    nal
}

fn has_chroma_info_for_test(profile: u8) -> bool {
    matches!(profile, 100 | 110 | 122 | 244)
}

#[test]
fn synthetic_sps_with_scaling_lists_cropping_and_extended_sar() {
    let mut lists = vec![None; 12];
    lists[0] = Some(vec![5, -3, 0, 7]);
    lists[7] = Some(vec![-8]); // next_scale 0: the rest of the list repeats
    lists[11] = Some(vec![100, -100, 1]);
    let f = SpsFields {
        profile_idc: 244,
        chroma_format_idc: 3,
        scaling_lists: lists,
        poc_type: 1,
        poc_cycle: vec![1, -1, 2],
        width_mbs: 120,
        height_map_units: 34,
        frame_mbs_only: false,
        crop: Some([1, 2, 3, 4]),
        sar_idc: Some(255),
        timing: Some((1001, 120_000)),
    };
    let sps = Sps::parse(&write_sps(&f)).unwrap();
    // 4:4:4: crop unit 1 horizontally, 1 × 2 (fields) vertically.
    assert_eq!(sps.width, 120 * 16 - 3);
    assert_eq!(sps.height, 34 * 16 * 2 - 2 * 7);
    assert_eq!(sps.chroma_format_idc, 3);
    assert_eq!(sps.sample_aspect_ratio, Some((4, 3)));
    assert!((sps.frame_rate.unwrap() - 59.94).abs() < 0.01);
}

#[test]
fn truncated_vui_keeps_the_picture_size() {
    let f = SpsFields {
        profile_idc: 77,
        chroma_format_idc: 1,
        scaling_lists: vec![],
        poc_type: 2,
        poc_cycle: vec![],
        width_mbs: 80,
        height_map_units: 45,
        frame_mbs_only: true,
        crop: None,
        sar_idc: Some(1),
        timing: Some((1, 50)),
    };
    let nal = write_sps(&f);
    let full = Sps::parse(&nal).unwrap();
    assert_eq!(full.frame_rate, Some(25.0));
    let cut = Sps::parse(&nal[..nal.len() - 5]).unwrap();
    assert_eq!((cut.width, cut.height), (1280, 720));
    assert_eq!(cut.sample_aspect_ratio, Some((1, 1)));
    assert_eq!(cut.frame_rate, None);
}

#[test]
fn crop_larger_than_picture_is_an_error() {
    let f = SpsFields {
        profile_idc: 66,
        chroma_format_idc: 1,
        scaling_lists: vec![],
        poc_type: 0,
        poc_cycle: vec![],
        width_mbs: 1,
        height_map_units: 1,
        frame_mbs_only: true,
        crop: Some([4, 4, 0, 0]),
        sar_idc: None,
        timing: None,
    };
    assert!(matches!(
        Sps::parse(&write_sps(&f)),
        Err(CodecError::InvalidValue {
            field: "frame width",
            ..
        })
    ));
}

fn arb_sps_fields() -> impl Strategy<Value = SpsFields> {
    (
        prop_oneof![
            Just(66u8),
            Just(77),
            Just(100),
            Just(110),
            Just(122),
            Just(244)
        ],
        0u32..=3,
        prop::collection::vec(
            prop::option::of(prop::collection::vec(-128i32..=127, 0..64)),
            12,
        ),
        0u32..=2,
        prop::collection::vec(-1000i32..1000, 0..5),
        1u32..400,
        1u32..300,
        any::<bool>(),
        prop::option::of([0u32..8, 0u32..8, 0u32..8, 0u32..8]),
        prop::option::of(prop_oneof![0u8..=16, Just(255)]),
        prop::option::of((1u32..100_000, 1u32..1_000_000)),
    )
        .prop_map(
            |(profile, chroma, lists, poc, cycle, w, h, fmo, crop, sar, timing)| SpsFields {
                profile_idc: profile,
                chroma_format_idc: if has_chroma_info_for_test(profile) {
                    chroma
                } else {
                    1
                },
                scaling_lists: lists,
                poc_type: poc,
                poc_cycle: cycle,
                width_mbs: w,
                height_map_units: h,
                frame_mbs_only: fmo,
                crop,
                sar_idc: sar,
                timing,
            },
        )
}

proptest! {
    #[test]
    fn synthetic_sps_round_trip(f in arb_sps_fields()) {
        let (sub_w, sub_h) = match f.chroma_format_idc { 1 => (2, 2), 2 => (2, 1), _ => (1, 1) };
        let fields: i64 = if f.frame_mbs_only { 1 } else { 2 };
        let c = f.crop.unwrap_or([0; 4]);
        let w = i64::from(f.width_mbs) * 16 - i64::from(sub_w * (c[0] + c[1]));
        let h = i64::from(f.height_map_units) * 16 * fields - i64::from(sub_h * (c[2] + c[3])) * fields;
        match Sps::parse(&write_sps(&f)) {
            Ok(sps) => {
                prop_assert_eq!(i64::from(sps.width), w);
                prop_assert_eq!(i64::from(sps.height), h);
                prop_assert_eq!(sps.frame_mbs_only, f.frame_mbs_only);
                prop_assert_eq!(sps.frame_rate, f.timing.map(|(u, s)| f64::from(s) / (2.0 * f64::from(u))));
            }
            Err(CodecError::InvalidValue { .. }) => prop_assert!(w <= 0 || h <= 0),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn record_encode_parse_round_trip(
        profile in prop_oneof![Just(66u8), Just(77), Just(100), Just(244)],
        compat: u8,
        level: u8,
        len_size in prop_oneof![Just(1u8), Just(2), Just(4)],
        sps in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4),
        pps in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..10), 0..4),
        ext in prop::option::of((0u8..4, 8u8..16, 8u8..16)),
    ) {
        let config = AvcDecoderConfig {
            profile,
            compatibility: compat,
            level,
            nal_length_size: len_size,
            sps: sps.into_iter().map(Bytes::from).collect(),
            pps: pps.into_iter().map(Bytes::from).collect(),
            high_profile: ext.filter(|_| has_high_profile_ext(profile)).map(|(c, l, ch)| AvcHighProfileExt {
                chroma_format: c,
                bit_depth_luma: l,
                bit_depth_chroma: ch,
                sps_ext: vec![Bytes::from_static(&[0x6d, 1])],
            }),
        };
        prop_assert_eq!(AvcDecoderConfig::parse(&config.encode()), Ok(config));
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = AvcDecoderConfig::parse(&data);
        let mut nal = vec![0x67];
        nal.extend_from_slice(&data);
        if let Ok(sps) = Sps::parse(&nal) {
            prop_assert!(sps.width > 0 && sps.height > 0);
        }
    }

    #[test]
    fn mutated_real_sps_never_panics(at in 0usize..64, byte: u8, vector in 0usize..5) {
        let config = AvcDecoderConfig::parse(VECTORS[vector].record).unwrap();
        let mut sps = config.sps[0].to_vec();
        let i = at % sps.len();
        sps[i] = byte;
        let _ = Sps::parse(&sps);
        let _ = Sps::parse(&sps[..i]);
    }
}
