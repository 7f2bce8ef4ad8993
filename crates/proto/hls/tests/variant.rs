//! `choose_variant` for each `VariantPreference`.

use baton_hls::{
    MasterPlaylist, Playlist, Resolution, VariantError, VariantPreference, choose_variant, parse,
};
use url::Url;

fn master(text: &str) -> MasterPlaylist {
    let base = Url::parse("http://origin.example/m.m3u8").unwrap();
    match parse(text, &base).unwrap() {
        Playlist::Master(m) => m,
        other => panic!("{other:?}"),
    }
}

const LADDER: &str = "#EXTM3U\n\
    #EXT-X-STREAM-INF:BANDWIDTH=9000000,CODECS=\"mp4a.40.2\"\naudio-only-but-huge.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=8000000,CODECS=\"av01.0.08M.08,mp4a.40.2\",RESOLUTION=3840x2160\nav1.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS=\"hvc1.1.6.L120.90,mp4a.40.2\",RESOLUTION=1920x1080\nhevc1080.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080\navc1080.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=1500000,CODECS=\"avc1.4d401f,mp4a.40.2\",RESOLUTION=1280x720\n720.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360.m3u8\n";

fn chosen(m: &MasterPlaylist, p: VariantPreference) -> Result<&str, VariantError> {
    choose_variant(m, p).map(|v| v.uri.path().trim_start_matches('/'))
}

#[test]
fn best_is_the_highest_bandwidth_with_video_baton_carries() {
    let m = master(LADDER);
    // Not the audio-only 9 Mbit/s one, not the AV1 one: HEVC 1080p.
    assert_eq!(chosen(&m, VariantPreference::Best), Ok("hevc1080.m3u8"));
    assert_eq!(
        chosen(&m, VariantPreference::default()),
        Ok("hevc1080.m3u8")
    );
}

#[test]
fn best_without_codecs_counts_as_video_and_ties_go_to_the_first() {
    let m = master(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100\na.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=200\nb.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=200\nc.m3u8\n",
    );
    assert_eq!(chosen(&m, VariantPreference::Best), Ok("b.m3u8"));
}

#[test]
fn best_falls_back_to_audio_only() {
    let m = master(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.5\"\nlow.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\nhigh.m3u8\n",
    );
    assert_eq!(chosen(&m, VariantPreference::Best), Ok("high.m3u8"));
}

#[test]
fn named_variants() {
    let m = master(LADDER);
    assert_eq!(chosen(&m, VariantPreference::Index(4)), Ok("720.m3u8"));
    assert_eq!(
        chosen(&m, VariantPreference::Index(6)),
        Err(VariantError::NoSuchIndex { index: 6, count: 6 })
    );
    let r1080 = Resolution {
        width: 1920,
        height: 1080,
    };
    assert_eq!(
        chosen(&m, VariantPreference::Resolution(r1080)),
        Ok("hevc1080.m3u8")
    );
    let r240 = Resolution {
        width: 320,
        height: 240,
    };
    assert_eq!(
        chosen(&m, VariantPreference::Resolution(r240)),
        Err(VariantError::NoSuchResolution(r240))
    );
    assert_eq!(
        chosen(&m, VariantPreference::MaxBandwidth(2_000_000)),
        Ok("720.m3u8")
    );
    assert_eq!(
        chosen(&m, VariantPreference::MaxBandwidth(800_000)),
        Ok("360.m3u8")
    );
    assert_eq!(
        chosen(&m, VariantPreference::MaxBandwidth(1000)),
        Err(VariantError::NothingWithinBandwidth(1000))
    );
}

#[test]
fn no_variants() {
    let m = master("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\",URI=\"a.m3u8\"\n");
    assert_eq!(
        chosen(&m, VariantPreference::Best),
        Err(VariantError::NoVariants)
    );
    assert_eq!(
        chosen(&m, VariantPreference::Index(0)),
        Err(VariantError::NoVariants)
    );
}
