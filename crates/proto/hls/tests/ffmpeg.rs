//! Playlists written by ffmpeg's HLS muxer (ffmpeg 5.1, `-f hls`), captured while it ran:
//! live TS and fMP4 (`-hls_time 1 -hls_list_size 5 -hls_flags delete_segments`, with and
//! without `-hls_segment_type fmp4`), a master playlist (`-master_pl_name`, `-var_stream_map`
//! with an audio group), single-file byte ranges (`-hls_flags single_file`), AES-128
//! (`-hls_key_info_file`) and a restart appended to a finished list
//! (`-hls_flags append_list+discont_start`).

use std::time::Duration;

use baton_hls::{
    ByteRange, MediaPlaylist, Playlist, Resolution, VariantPreference, choose_variant, parse,
};
use url::Url;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn base() -> Url {
    Url::parse("http://127.0.0.1:8080/hls/live.m3u8").unwrap()
}

fn media(name: &str) -> MediaPlaylist {
    match parse(&fixture(name), &base()).unwrap() {
        Playlist::Media(m) => m,
        other => panic!("{name}: {other:?}"),
    }
}

fn names(m: &MediaPlaylist) -> Vec<&str> {
    m.segments
        .iter()
        .map(|s| s.uri.path().rsplit('/').next().unwrap())
        .collect()
}

#[test]
fn live_ts_playlists_slide() {
    let first = media("ffmpeg_ts_live_3.m3u8");
    assert_eq!(first.target_duration, Duration::from_secs(1));
    assert_eq!(
        (first.media_sequence, names(&first)),
        (0, vec!["live0.ts", "live1.ts"])
    );
    assert!(!first.ended);
    let mut previous_end = first.end_sequence();
    for n in [5, 6, 7, 8] {
        let m = media(&format!("ffmpeg_ts_live_{n}.m3u8"));
        assert!(m.segments.len() <= 5, "hls_list_size 5");
        assert!(m.end_sequence() >= previous_end);
        for s in &m.segments {
            assert_eq!(
                s.uri.as_str(),
                format!("http://127.0.0.1:8080/hls/live{}.ts", s.sequence)
            );
            assert_eq!(s.duration, Duration::from_secs(1));
            assert!(s.key.is_none() && s.map.is_none() && s.byte_range.is_none());
        }
        previous_end = m.end_sequence();
    }
    let end = media("ffmpeg_ts_live_end.m3u8");
    assert!(end.ended);
    assert_eq!(
        names(&end),
        ["live6.ts", "live7.ts", "live8.ts", "live9.ts", "live10.ts"]
    );
}

#[test]
fn live_fmp4_playlists_carry_the_init_section() {
    for name in [
        "ffmpeg_fmp4_live_4.m3u8",
        "ffmpeg_fmp4_live_8.m3u8",
        "ffmpeg_fmp4_live_end.m3u8",
    ] {
        let m = media(name);
        assert!(!m.segments.is_empty());
        for s in &m.segments {
            let map = s.map.as_ref().expect("EXT-X-MAP applies to every segment");
            assert_eq!(map.uri.as_str(), "http://127.0.0.1:8080/hls/init.mp4");
            assert_eq!(map.byte_range, None);
            assert!(s.uri.path().ends_with(".m4s"));
        }
    }
    assert!(media("ffmpeg_fmp4_live_end.m3u8").ended);
}

#[test]
fn master_playlist_and_its_audio_group() {
    let Playlist::Master(master) = parse(&fixture("ffmpeg_master.m3u8"), &base()).unwrap() else {
        panic!("not a master playlist");
    };
    assert_eq!(master.variants.len(), 2);
    let best = choose_variant(&master, VariantPreference::Best).unwrap();
    assert_eq!(best.uri.as_str(), "http://127.0.0.1:8080/hls/stream_0.m3u8");
    assert_eq!(best.bandwidth, 950_400);
    assert_eq!(
        best.resolution,
        Some(Resolution {
            width: 320,
            height: 240
        })
    );
    let small = Resolution {
        width: 160,
        height: 120,
    };
    let named = choose_variant(&master, VariantPreference::Resolution(small)).unwrap();
    assert_eq!(
        named.uri.as_str(),
        "http://127.0.0.1:8080/hls/stream_1.m3u8"
    );
    let audio = master.audio_rendition(best).unwrap();
    assert_eq!(
        audio.uri.as_ref().unwrap().as_str(),
        "http://127.0.0.1:8080/hls/stream_audio.m3u8"
    );
    let audio_playlist = media("ffmpeg_master_audio.m3u8");
    assert_eq!(
        audio_playlist.segments[0].duration,
        Duration::from_nanos(1_021_678_000)
    );
    assert!(audio_playlist.ended);
}

#[test]
fn single_file_byte_ranges() {
    let m = media("ffmpeg_single_file_byterange.m3u8");
    let ranges: Vec<_> = m.segments.iter().map(|s| s.byte_range.unwrap()).collect();
    assert_eq!(
        ranges[0],
        ByteRange {
            offset: 0,
            length: 40232
        }
    );
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].end(), pair[1].offset, "contiguous");
    }
    assert!(m.segments.iter().all(|s| s.uri.path() == "/hls/live.ts"));
}

#[test]
fn aes128_with_explicit_iv() {
    let m = media("ffmpeg_aes128.m3u8");
    for s in &m.segments {
        let key = s.key.as_ref().unwrap();
        assert_eq!(key.uri.as_str(), "https://keys.example/k.bin");
        assert_eq!(
            key.iv,
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef_u128.to_be_bytes()
        );
    }
}

#[test]
fn restart_appended_with_a_discontinuity() {
    let m = media("ffmpeg_restart_append_discont.m3u8");
    assert_eq!(m.media_sequence, 3);
    let flags: Vec<_> = m.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, true, false, false, false]);
}
