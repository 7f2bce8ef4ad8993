use super::*;
use proptest::prelude::*;

const AVC_720P: &[u8] = include_bytes!("../../testdata/h264_720p.avcc");
const HEVC_1080P_MAIN10: &[u8] = include_bytes!("../../testdata/hevc_1080p_main10.hvcc");
const AV1_720P: &[u8] = include_bytes!("../../testdata/av1_720p.av1c");
const AAC_44K: &[u8] = include_bytes!("../../testdata/aac_44k_stereo.asc");

fn body(prefix: &[u8], record: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(record);
    v
}

#[test]
fn legacy_avc_sequence_header() {
    let p = video_params(&body(&[0x17, 0, 0, 0, 0], AVC_720P)).unwrap();
    assert_eq!(
        p,
        VideoParams {
            codec: "h264",
            width: Some(1280),
            height: Some(720),
            profile: Some("High".into()),
            level: Some("3.1".into()),
            frame_rate: Some(30.0),
        }
    );
    // The same record behind an Enhanced RTMP ex-header.
    let enhanced = video_params(&body(&[0x90, b'a', b'v', b'c', b'1'], AVC_720P)).unwrap();
    assert_eq!(enhanced, p);
}

#[test]
fn hevc_legacy_id_12_and_enhanced_hvc1() {
    let legacy = video_params(&body(&[0x1c, 0, 0, 0, 0], HEVC_1080P_MAIN10)).unwrap();
    assert_eq!(legacy.codec, "hevc");
    assert_eq!((legacy.width, legacy.height), (Some(1920), Some(1080)));
    assert_eq!(legacy.profile.as_deref(), Some("Main 10"));
    assert_eq!(legacy.level.as_deref(), Some("4"));
    let enhanced = video_params(&body(&[0x90, b'h', b'v', b'c', b'1'], HEVC_1080P_MAIN10)).unwrap();
    assert_eq!(enhanced, legacy);
}

#[test]
fn enhanced_av1() {
    let p = video_params(&body(&[0x90, b'a', b'v', b'0', b'1'], AV1_720P)).unwrap();
    assert_eq!(p.codec, "av1");
    assert_eq!((p.width, p.height), (Some(1280), Some(720)));
    assert_eq!(p.profile.as_deref(), Some("Main"));
    assert_eq!(p.level.as_deref(), Some("3.1"));
}

#[test]
fn non_config_bodies_give_the_codec_only() {
    let coded = video_params(&[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]).unwrap();
    assert_eq!(coded.codec, "h264");
    assert_eq!(coded.width, None);
    assert_eq!(video_params(&[0x22, 0, 0]).unwrap().codec, "h263");
    let vp9 = video_params(&[0x90, b'v', b'p', b'0', b'9', 1]).unwrap();
    assert_eq!(vp9.codec, "vp9");
    // A corrupt record still names the codec.
    let broken = video_params(&[0x17, 0, 0, 0, 0, 1, 0x64]).unwrap();
    assert_eq!((broken.codec, broken.profile), ("h264", None));
    assert_eq!(video_params(&[]), None);
    assert_eq!(video_params(&[0x17]), None);
}

#[test]
fn aac_and_legacy_audio() {
    let p = audio_params(&body(&[0xaf, 0], AAC_44K)).unwrap();
    assert_eq!(
        p,
        AudioParams {
            codec: "aac",
            sample_rate: Some(44100),
            channels: Some(2),
            profile: Some("LC".into()),
        }
    );
    let he = audio_params(&[0xaf, 0, 0x2b, 0x92, 0x08, 0x00]).unwrap();
    assert_eq!(he.sample_rate, Some(44100));
    assert_eq!(he.profile.as_deref(), Some("HE-AAC"));
    // A raw AAC frame: codec only (its flags always say 44 kHz stereo).
    let raw = audio_params(&[0xaf, 1, 0x21]).unwrap();
    assert_eq!((raw.codec, raw.sample_rate), ("aac", None));
    // MP3, 22 kHz (SoundRate 2), 16-bit, mono.
    let mp3 = audio_params(&[0x2a, 0xff, 0xfb]).unwrap();
    assert_eq!(
        (mp3.codec, mp3.sample_rate, mp3.channels),
        ("mp3", Some(22050), Some(1))
    );
    // G.711 A-law, always 8 kHz in practice but flagged 5.5 kHz mono: report the flags.
    assert_eq!(audio_params(&[0x72, 0]).unwrap().codec, "g711a");
    assert_eq!(audio_params(&[0x52, 0]).unwrap().sample_rate, Some(8000));
    assert_eq!(audio_params(&[]), None);
}

#[test]
fn enhanced_opus() {
    let mut head = b"OpusHead".to_vec();
    head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    let p = audio_params(&body(&[0x90, b'O', b'p', b'u', b's'], &head)).unwrap();
    assert_eq!(
        (p.codec, p.sample_rate, p.channels),
        ("opus", Some(48000), Some(2))
    );
}

proptest! {
    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..100)) {
        let _ = video_params(&data);
        let _ = audio_params(&data);
        // Behind valid sequence-header prefixes, so the record parsers see the garbage.
        for prefix in [&[0x17u8, 0, 0, 0, 0][..], &[0x1c, 0, 0, 0, 0], b"\x90av01", b"\x90hvc1"] {
            let p = video_params(&body(prefix, &data)).unwrap();
            prop_assert!(p.width.is_none() || p.width > Some(0));
        }
        prop_assert!(audio_params(&body(&[0xaf, 0], &data)).is_some());
    }
}
