use super::*;
use proptest::prelude::*;

/// ffmpeg's native AAC encoder (see testdata/README.md). It appends the backward-compatible
/// "no SBR" sync extension (0x2b7, object type 5, sbrPresentFlag 0) after the 2-byte config.
const LC_44K_STEREO: &[u8] = include_bytes!("../../testdata/aac_44k_stereo.asc");
const LC_48K_51: &[u8] = include_bytes!("../../testdata/aac_48k_51.asc");
/// The first three ADTS frames (219, 287, 164 bytes) of a 48 kHz mono AAC-LC stream.
const ADTS_48K_MONO: &[u8] = include_bytes!("../../testdata/aac_48k_mono.adts");

#[test]
fn ffmpeg_configs() {
    let asc = AudioSpecificConfig::parse(LC_44K_STEREO).unwrap();
    assert_eq!(asc, AudioSpecificConfig::new(AOT_AAC_LC, 44100, 2));
    assert_eq!(asc.sample_rate_index, 4);
    assert_eq!(asc.channels(), Some(2));
    assert_eq!(asc.profile_name(), "LC");
    assert!((asc.frame_duration_ms() - 1024.0 * 1000.0 / 44100.0).abs() < 1e-9);
    assert_eq!(asc.encode(), &LC_44K_STEREO[..2]);

    let asc = AudioSpecificConfig::parse(LC_48K_51).unwrap();
    assert_eq!(asc, AudioSpecificConfig::new(AOT_AAC_LC, 48000, 6));
    assert_eq!(asc.channels(), Some(6));
    assert_eq!(asc.encode(), &LC_48K_51[..2]);
}

#[test]
fn he_aac_explicit_and_backward_compatible_signalling() {
    // Explicit: AOT 5, 22050 Hz, stereo, SBR at 44100 Hz, core AOT 2.
    let explicit = [0x2b, 0x92, 0x08, 0x00];
    let asc = AudioSpecificConfig::parse(&explicit).unwrap();
    assert_eq!(asc.object_type, AOT_AAC_LC);
    assert_eq!(asc.sample_rate, 22050);
    assert_eq!(asc.sbr_sample_rate, Some(44100));
    assert_eq!(asc.output_sample_rate(), 44100);
    assert_eq!(asc.profile_name(), "HE-AAC");
    assert_eq!(asc.encode(), explicit);
    // 1024 core samples at 22050 Hz.
    assert!((asc.frame_duration_ms() - 46.439).abs() < 0.001);

    // Backward compatible: LC 22050 stereo, then 0x2b7, AOT 5, sbrPresentFlag 1, index 4
    // (44100), then 0x548 and psPresentFlag 1.
    let mut w = crate::bits::BitWriter::new();
    w.write_bits(2, 5);
    w.write_bits(7, 4);
    w.write_bits(1, 4);
    w.write_bits(0, 3);
    w.write_bits(0x2b7, 11);
    w.write_bits(5, 5);
    w.write_bit(true);
    w.write_bits(4, 4);
    w.write_bits(0x548, 11);
    w.write_bit(true);
    let asc = AudioSpecificConfig::parse(&w.finish()).unwrap();
    assert_eq!(asc.sbr_sample_rate, Some(44100));
    assert!(asc.ps);
    assert_eq!(asc.channels(), Some(2));
    assert_eq!(asc.profile_name(), "HE-AACv2");
    assert_eq!(AudioSpecificConfig::parse(&asc.encode()), Ok(asc));
}

#[test]
fn escaped_object_type_explicit_rate_and_960_frames() {
    let asc = AudioSpecificConfig {
        object_type: 42,
        sample_rate_index: EXPLICIT_SAMPLE_RATE,
        sample_rate: 12345,
        channel_config: 1,
        sbr_sample_rate: None,
        ps: false,
        frame_length_960: false,
    };
    assert_eq!(AudioSpecificConfig::parse(&asc.encode()), Ok(asc));
    let mut lc = AudioSpecificConfig::new(AOT_AAC_LC, 48000, 2);
    lc.frame_length_960 = true;
    assert_eq!(lc.samples_per_frame(), 960);
    assert!((lc.frame_duration_ms() - 20.0).abs() < 1e-9);
    assert_eq!(AudioSpecificConfig::parse(&lc.encode()), Ok(lc));
    assert_eq!(
        AudioSpecificConfig::new(AOT_ER_AAC_LD, 48000, 1).samples_per_frame(),
        512
    );
    assert_eq!(
        AudioSpecificConfig::new(AOT_AAC_LC, 44100, 7).channels(),
        Some(8)
    );
    assert_eq!(
        AudioSpecificConfig::new(AOT_AAC_LC, 44100, 0).channels(),
        None
    );
}

#[test]
fn bad_configs_are_errors() {
    assert_eq!(
        AudioSpecificConfig::parse(&[]),
        Err(CodecError::Truncated(WHAT))
    );
    assert_eq!(
        AudioSpecificConfig::parse(&[0x12]),
        Err(CodecError::Truncated(WHAT))
    );
    // samplingFrequencyIndex 13 is reserved.
    assert_eq!(
        AudioSpecificConfig::parse(&[0x16, 0x90]),
        Err(CodecError::InvalidValue {
            field: "samplingFrequencyIndex",
            value: 13
        })
    );
    // Explicit frequency 0.
    assert!(AudioSpecificConfig::parse(&[0x17, 0x80, 0, 0, 0x10]).is_err());
}

#[test]
fn ffmpeg_adts_stream() {
    let frames: Vec<_> = adts_frames(ADTS_48K_MONO)
        .collect::<Result<_, _>>()
        .unwrap();
    let lens: Vec<u16> = frames.iter().map(|(h, _)| h.frame_length).collect();
    assert_eq!(lens, [219, 287, 164]);
    let (h, payload) = frames[0];
    assert!(!h.mpeg2 && h.protection_absent);
    assert_eq!(
        (h.object_type, h.sample_rate(), h.channel_config),
        (2, 48000, 1)
    );
    assert_eq!(payload.len(), 219 - 7);
    assert_eq!(h.to_asc(), AudioSpecificConfig::new(AOT_AAC_LC, 48000, 1));
    // Re-framing a payload reproduces the header ffmpeg wrote.
    let mut out = Vec::new();
    write_adts(&h.to_asc(), payload.len(), &mut out).unwrap();
    assert_eq!(out, &ADTS_48K_MONO[..7]);
}

#[test]
fn adts_errors() {
    assert_eq!(
        AdtsHeader::parse(&[0xff, 0xf1, 0x4c]),
        Err(CodecError::Truncated("ADTS header"))
    );
    assert_eq!(
        AdtsHeader::parse(&[0xff, 0xe1, 0x4c, 0x40, 0, 0, 0]),
        Err(CodecError::AdtsSync)
    );
    // frame length 3 < header.
    assert!(AdtsHeader::parse(&[0xff, 0xf1, 0x4c, 0x40, 0x00, 0x7f, 0xfc]).is_err());
    let mut it = adts_frames(&ADTS_48K_MONO[..300]);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next(), Some(Err(CodecError::Truncated("ADTS frame"))));
    assert_eq!(it.next(), None);
    let mut out = vec![1];
    let he = AudioSpecificConfig::new(AOT_ER_AAC_LD, 48000, 2);
    assert!(write_adts(&he, 10, &mut out).is_err());
    let lc = AudioSpecificConfig::new(AOT_AAC_LC, 48000, 2);
    assert_eq!(
        write_adts(&lc, 8185, &mut out),
        Err(CodecError::TooLarge("ADTS aac_frame_length"))
    );
    assert_eq!(out, [1]);
}

proptest! {
    #[test]
    fn asc_round_trip(
        object_type in prop_oneof![1u8..=4, Just(17u8), Just(23), 32u8..=95],
        rate in prop_oneof![prop::sample::select(SAMPLE_RATES.to_vec()), 1u32..(1 << 24)],
        channel_config in 0u8..16,
        sbr in prop::option::of(prop::sample::select(SAMPLE_RATES.to_vec())),
        ps: bool,
        frame_length_960: bool,
    ) {
        let general = is_general_audio(object_type);
        let asc = AudioSpecificConfig {
            frame_length_960: frame_length_960 && general,
            sbr_sample_rate: sbr,
            ps: ps && sbr.is_some(),
            ..AudioSpecificConfig::new(object_type, rate, channel_config)
        };
        prop_assert_eq!(AudioSpecificConfig::parse(&asc.encode()), Ok(asc));
    }

    #[test]
    fn adts_round_trip(object_type in 1u8..=4, index in 0u8..13, channels in 0u8..8, len in 0usize..8185) {
        let asc = AudioSpecificConfig::new(object_type, SAMPLE_RATES[usize::from(index)], channels);
        let mut out = Vec::new();
        write_adts(&asc, len, &mut out).unwrap();
        out.resize(7 + len, 0xaa);
        let (h, payload) = adts_frames(&out).next().unwrap().unwrap();
        prop_assert_eq!(h.to_asc(), asc);
        prop_assert_eq!(payload.len(), len);
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = AudioSpecificConfig::parse(&data);
        let _ = AdtsHeader::parse(&data);
        for (h, payload) in adts_frames(&data).map_while(Result::ok) {
            prop_assert!(payload.len() <= data.len());
            prop_assert!(usize::from(h.frame_length) <= data.len());
        }
    }
}
