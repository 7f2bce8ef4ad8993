//! Malformed `moov` boxes: truncated at every length, randomly mutated. Never a panic; what
//! parses describes samples consistently.

use baton_mp4::{BoxHeader, Movie, Mp4Error, Sample, TrackKind};
use proptest::prelude::*;

fn moov(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.mp4", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::read(&path).unwrap();
    let mut at = 0usize;
    loop {
        let h = BoxHeader::parse(&file[at..]).unwrap().unwrap();
        let size = h.size.unwrap() as usize;
        if &h.kind == b"moov" {
            return file[at..at + size].to_vec();
        }
        at += size;
    }
}

const FIXTURES: [&str; 4] = ["faststart", "hevc", "mixed_tracks", "audio_delayed"];

/// Walks whatever parsed: bounded, DTS non-decreasing, every track's samples consistent.
fn exercise(movie: &Movie, start_ms: u64) {
    assert!(!movie.tracks.is_empty());
    assert!(movie.tracks.len() <= 2);
    let _ = movie.video_sequence_header();
    let _ = movie.audio_sequence_header();
    let mut last = i64::MIN;
    for s in movie.samples_from(start_ms).take(100_000) {
        assert!(s.dts_ms >= last, "{s:?} after {last}");
        last = s.dts_ms;
        let _ = s.flv_prefix();
    }
    for track in &movie.tracks {
        let mut n = 0u32;
        let mut previous: Option<Sample> = None;
        for s in track.samples().take(100_000) {
            assert_eq!(s.kind, track.kind);
            assert_eq!(s.index, n);
            if let Some(p) = previous {
                assert!(s.dts_ms >= p.dts_ms);
            }
            previous = Some(s);
            n += 1;
        }
        assert!(n == track.sample_count || n == 100_000);
    }
}

#[test]
fn truncated_moov_at_every_length() {
    for name in FIXTURES {
        let moov = moov(name);
        for len in 0..moov.len() {
            // As read: the size field says more than there is.
            let err = Movie::parse(&moov[..len]).unwrap_err();
            assert!(
                matches!(err, Mp4Error::Truncated(_)),
                "{name} at {len}: {err}"
            );
            // The size patched to the length: parsing runs into every box's truncation.
            if len >= 8 {
                let mut cut = moov[..len].to_vec();
                cut[..4].copy_from_slice(&(len as u32).to_be_bytes());
                if let Ok(movie) = Movie::parse(&cut) {
                    exercise(&movie, 0);
                }
            }
        }
    }
}

#[test]
fn a_moov_cut_inside_a_track_is_an_error() {
    let moov = moov("faststart");
    // The boxes of the moov: a cut exactly between two of them leaves a valid movie.
    let mut boundaries = vec![];
    let mut at = 8;
    while at < moov.len() {
        at += u32::from_be_bytes(moov[at..at + 4].try_into().unwrap()) as usize;
        boundaries.push(at);
    }
    let first_trak = moov.windows(4).position(|w| w == b"trak").unwrap() - 4;
    for len in (first_trak + 8..moov.len()).filter(|len| !boundaries.contains(len)) {
        let mut cut = moov[..len].to_vec();
        cut[..4].copy_from_slice(&(len as u32).to_be_bytes());
        assert!(Movie::parse(&cut).is_err(), "cut at {len}");
    }
}

/// Overwrites: a byte, or a 32-bit field with a value parsers trip on.
#[derive(Clone, Debug)]
enum Mutation {
    Byte(prop::sample::Index, u8),
    Word(prop::sample::Index, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(2),
                Just(0x7fff_ffff),
                Just(0x8000_0000),
                Just(0xffff_ffff),
                Just(10_000_000),
                Just(10_000_001),
                any::<u32>(),
            ]
        )
            .prop_map(|(i, w)| Mutation::Word(i, w)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_moov_never_panics(
        fixture in 0..FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
        start_ms in prop_oneof![Just(0u64), 0..3000u64, Just(u64::MAX)],
    ) {
        let mut moov = moov(FIXTURES[fixture]);
        for m in &mutations {
            match m {
                Mutation::Byte(i, b) => {
                    let i = i.index(moov.len());
                    moov[i] = *b;
                }
                Mutation::Word(i, w) => {
                    let i = i.index(moov.len() - 3);
                    moov[i..i + 4].copy_from_slice(&w.to_be_bytes());
                }
            }
        }
        if let Ok(movie) = Movie::parse(&moov) {
            exercise(&movie, start_ms);
            if let Some(first) = movie.samples_from(start_ms).next()
                && movie.video().is_some()
            {
                prop_assert_eq!(first.kind, TrackKind::Video);
            }
        }
    }
}
