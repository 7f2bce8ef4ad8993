use super::*;
use crate::bits::BitWriter;
use proptest::prelude::*;

/// hvcC boxes cut from MP4 files ffmpeg/libx265 wrote (see testdata/README.md).
const HEVC_720P: &[u8] = include_bytes!("../../testdata/hevc_720p.hvcc");
const HEVC_1080P_MAIN10: &[u8] = include_bytes!("../../testdata/hevc_1080p_main10.hvcc");

#[test]
fn x265_main_720p() {
    let c = HevcDecoderConfig::parse(HEVC_720P).unwrap();
    assert_eq!(c.general_profile_idc, 1);
    assert_eq!(
        profile_name(c.general_profile_idc, c.general_profile_compatibility_flags),
        Some("Main")
    );
    assert!(!c.general_tier);
    assert_eq!(c.general_level_idc, 93);
    assert_eq!(level_name(c.general_level_idc), "3.1");
    assert_eq!(c.chroma_format, 1);
    assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (8, 8));
    assert_eq!(c.nal_length_size, 4);
    let types: Vec<u8> = c.arrays.iter().map(|a| a.nal_type).collect();
    assert_eq!(types, [NAL_VPS, NAL_SPS, NAL_PPS, NAL_SEI_PREFIX]);
    let sps = c.first_sps().unwrap().unwrap();
    assert_eq!((sps.width, sps.height), (1280, 720));
    assert_eq!(sps.profile_tier_level.profile_idc, 1);
    assert_eq!(sps.profile_tier_level.level_idc, 93);
    assert_eq!(
        sps.profile_tier_level.profile_compatibility_flags,
        c.general_profile_compatibility_flags
    );
    assert_eq!(
        sps.profile_tier_level.constraint_indicator_flags,
        c.general_constraint_indicator_flags
    );
}

#[test]
fn x265_main10_1080p_uses_the_conformance_window() {
    let c = HevcDecoderConfig::parse(HEVC_1080P_MAIN10).unwrap();
    assert_eq!(profile_name(c.general_profile_idc, 0), Some("Main 10"));
    assert_eq!(level_name(c.general_level_idc), "4");
    assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (10, 10));
    let sps = c.first_sps().unwrap().unwrap();
    // pic_height_in_luma_samples is 1088; conf_win_bottom_offset 4 × SubHeightC 2.
    assert_eq!((sps.width, sps.height), (1920, 1080));
    assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (10, 10));
}

#[test]
fn x265_records_re_encode_byte_identical() {
    for record in [HEVC_720P, HEVC_1080P_MAIN10] {
        let c = HevcDecoderConfig::parse(record).unwrap();
        assert_eq!(c.encode(), record);
    }
}

#[test]
fn from_parameter_sets_matches_the_encoder_record() {
    for record in [HEVC_720P, HEVC_1080P_MAIN10] {
        let c = HevcDecoderConfig::parse(record).unwrap();
        let first = |t| c.nals_of_type(t).next().unwrap().clone();
        let built = HevcDecoderConfig::from_parameter_sets(
            &first(NAL_VPS),
            &first(NAL_SPS),
            &first(NAL_PPS),
        )
        .unwrap();
        let without_sei = HevcDecoderConfig {
            arrays: c.arrays[..3].to_vec(),
            ..c.clone()
        };
        assert_eq!(built, without_sei);
        assert!(matches!(
            HevcDecoderConfig::from_parameter_sets(
                &first(NAL_SPS),
                &first(NAL_SPS),
                &first(NAL_PPS)
            ),
            Err(CodecError::NalType { what: "VPS", .. })
        ));
    }
}

#[test]
fn bad_records_are_errors() {
    assert_eq!(
        HevcDecoderConfig::parse(&[]),
        Err(CodecError::Truncated(RECORD))
    );
    let mut v2 = HEVC_720P.to_vec();
    v2[0] = 2;
    assert_eq!(
        HevcDecoderConfig::parse(&v2),
        Err(CodecError::UnsupportedVersion {
            record: RECORD,
            version: 2
        })
    );
    for len in 0..HEVC_720P.len() {
        assert!(
            HevcDecoderConfig::parse(&HEVC_720P[..len]).is_err(),
            "len {len}"
        );
    }
    assert!(HevcSps::parse(&[0x42]).is_err());
    assert!(matches!(
        HevcSps::parse(&[0x40, 0x01, 0x0c]),
        Err(CodecError::NalType {
            expected: 33,
            found: 32,
            ..
        })
    ));
}

#[test]
fn names() {
    assert_eq!(level_name(153), "5.1");
    assert_eq!(level_name(186), "6.2");
    assert_eq!(level_name(30), "1");
    assert_eq!(profile_name(0, 0x2000_0000), Some("Main 10"));
    assert_eq!(profile_name(0, 0), None);
    assert_eq!(profile_name(31, 0), None);
    assert!(is_irap(19) && is_irap(21) && !is_irap(1) && !is_irap(32));
}

/// Writes an SPS NAL unit up to the bit depths.
#[allow(clippy::too_many_arguments)]
fn write_sps(
    sub_layers_minus1: u8,
    sub_layer_flags: &[(bool, bool)],
    chroma: u32,
    width: u32,
    height: u32,
    window: Option<[u32; 4]>,
    depth_minus8: u32,
) -> Vec<u8> {
    let mut w = BitWriter::new();
    w.write_bits(0, 4);
    w.write_bits(u64::from(sub_layers_minus1), 3);
    w.write_bit(true);
    w.write_bits(0b0010_0010, 8); // profile_space 0, High tier, profile_idc 2
    w.write_bits(0x2000_0000, 32);
    w.write_bits(0x9000_0000_0000, 48);
    w.write_bits(120, 8);
    for i in 0..usize::from(sub_layers_minus1) {
        let (p, l) = sub_layer_flags.get(i).copied().unwrap_or_default();
        w.write_bit(p);
        w.write_bit(l);
    }
    if sub_layers_minus1 > 0 {
        w.write_bits(0, 2 * u32::from(8 - sub_layers_minus1));
    }
    for i in 0..usize::from(sub_layers_minus1) {
        let (p, l) = sub_layer_flags.get(i).copied().unwrap_or_default();
        if p {
            w.write_bits(0xffff_ffff_ffff, 48);
            w.write_bits(0x00ff_ffff_ffff, 40);
        }
        if l {
            w.write_bits(0xff, 8);
        }
    }
    w.write_ue(0);
    w.write_ue(chroma);
    if chroma == 3 {
        w.write_bit(false);
    }
    w.write_ue(width);
    w.write_ue(height);
    w.write_bit(window.is_some());
    for v in window
        .unwrap_or_default()
        .iter()
        .filter(|_| window.is_some())
    {
        w.write_ue(*v);
    }
    w.write_ue(depth_minus8);
    w.write_ue(depth_minus8);
    w.write_bits(0xff, 8);
    let mut nal = vec![0x42, 0x01];
    nal.extend(crate::bits::escape_rbsp(&w.finish()));
    nal
}

#[test]
fn sub_layers_and_422_window() {
    let nal = write_sps(
        3,
        &[(true, false), (false, true), (true, true)],
        2,
        1928,
        1090,
        Some([2, 2, 1, 1]),
        2,
    );
    let sps = HevcSps::parse(&nal).unwrap();
    assert_eq!(sps.max_sub_layers, 4);
    assert!(sps.profile_tier_level.tier);
    assert_eq!(sps.profile_tier_level.profile_idc, 2);
    assert_eq!(sps.profile_tier_level.level_idc, 120);
    assert_eq!(
        sps.profile_tier_level.constraint_indicator_flags,
        0x9000_0000_0000
    );
    // 4:2:2: SubWidthC 2, SubHeightC 1.
    assert_eq!((sps.width, sps.height), (1920, 1088));
    assert_eq!(sps.bit_depth_luma, 10);
}

proptest! {
    #[test]
    fn synthetic_sps_sizes(
        sub in 0u8..=6,
        flags in prop::collection::vec((any::<bool>(), any::<bool>()), 6),
        chroma in 0u32..=3,
        width in 1u32..10_000,
        height in 1u32..10_000,
        window in prop::option::of([0u32..20, 0u32..20, 0u32..20, 0u32..20]),
        depth in 0u32..=8,
    ) {
        let nal = write_sps(sub, &flags, chroma, width, height, window, depth);
        let (sw, sh) = match chroma { 1 => (2, 2), 2 => (2, 1), _ => (1, 1) };
        let win = window.unwrap_or_default();
        let w = i64::from(width) - i64::from(sw * (win[0] + win[1]));
        let h = i64::from(height) - i64::from(sh * (win[2] + win[3]));
        match HevcSps::parse(&nal) {
            Ok(sps) => {
                prop_assert_eq!(i64::from(sps.width), w);
                prop_assert_eq!(i64::from(sps.height), h);
                prop_assert_eq!(sps.max_sub_layers, sub + 1);
                prop_assert_eq!(u32::from(sps.bit_depth_chroma), depth + 8);
            }
            Err(CodecError::InvalidValue { .. }) => prop_assert!(w <= 0 || h <= 0),
            Err(e) => prop_assert!(false, "unexpected {e}"),
        }
    }

    #[test]
    fn record_round_trip(
        ptl in (0u8..4, any::<bool>(), 0u8..32, any::<u32>(), 0u64..(1 << 48), any::<u8>()),
        misc in (0u16..4096, 0u8..4, 0u8..4, 8u8..16, 8u8..16, any::<u16>(), 0u8..4, 0u8..8, any::<bool>()),
        len_size in prop_oneof![Just(1u8), Just(2), Just(4)],
        arrays in prop::collection::vec(
            (any::<bool>(), 0u8..64, prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..3)),
            0..5,
        ),
    ) {
        let c = HevcDecoderConfig {
            general_profile_space: ptl.0,
            general_tier: ptl.1,
            general_profile_idc: ptl.2,
            general_profile_compatibility_flags: ptl.3,
            general_constraint_indicator_flags: ptl.4,
            general_level_idc: ptl.5,
            min_spatial_segmentation_idc: misc.0,
            parallelism_type: misc.1,
            chroma_format: misc.2,
            bit_depth_luma: misc.3,
            bit_depth_chroma: misc.4,
            avg_frame_rate: misc.5,
            constant_frame_rate: misc.6,
            num_temporal_layers: misc.7,
            temporal_id_nested: misc.8,
            nal_length_size: len_size,
            arrays: arrays
                .into_iter()
                .map(|(complete, nal_type, nals)| NalArray {
                    complete,
                    nal_type,
                    nals: nals.into_iter().map(Bytes::from).collect(),
                })
                .collect(),
        };
        prop_assert_eq!(HevcDecoderConfig::parse(&c.encode()), Ok(c));
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = HevcDecoderConfig::parse(&data);
        let mut nal = vec![0x42, 0x01];
        nal.extend_from_slice(&data);
        if let Ok(sps) = HevcSps::parse(&nal) {
            prop_assert!(sps.width > 0 && sps.height > 0);
        }
    }

    #[test]
    fn mutated_real_sps_never_panics(at: prop::sample::Index, byte: u8) {
        let c = HevcDecoderConfig::parse(HEVC_1080P_MAIN10).unwrap();
        let mut sps = c.nals_of_type(NAL_SPS).next().unwrap().to_vec();
        let i = at.index(sps.len());
        sps[i] = byte;
        let _ = HevcSps::parse(&sps);
        let _ = HevcSps::parse(&sps[..i]);
    }
}
