//! Synthetic movies: every table form and every error path, built box by box.

use super::*;
use crate::{MAX_SAMPLES_PER_TRACK, Sample};

pub(crate) fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

pub(crate) fn full(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![version, 0, 0, 0];
    v.extend_from_slice(payload);
    bx(kind, &v)
}

fn table<const N: usize>(entries: &[[u32; N]]) -> Vec<u8> {
    let mut v = (entries.len() as u32).to_be_bytes().to_vec();
    for e in entries {
        for x in e {
            v.extend_from_slice(&x.to_be_bytes());
        }
    }
    v
}

pub(crate) fn avc1() -> Vec<u8> {
    let mut v = vec![0; 24];
    v.extend_from_slice(&64u16.to_be_bytes());
    v.extend_from_slice(&48u16.to_be_bytes());
    v.extend_from_slice(&[0; 50]);
    v.extend(bx(b"avcC", &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00]));
    bx(b"avc1", &v)
}

pub(crate) fn mp4a() -> Vec<u8> {
    let mut v = vec![0; 8];
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0, 0, 0, 0]);
    v.extend_from_slice(&(44100u32 << 16).to_be_bytes());
    let mut dcd = vec![0x04, 17, 0x40, 0x15];
    dcd.extend_from_slice(&[0; 11]);
    dcd.extend_from_slice(&[0x05, 0x02, 0x12, 0x10]);
    let mut es = vec![0x03, (3 + dcd.len()) as u8, 0, 1, 0];
    es.extend(dcd);
    v.extend(full(b"esds", 0, &es));
    bx(b"mp4a", &v)
}

/// One `trak`, described field by field; `build` writes it.
#[derive(Clone, Debug)]
pub(crate) struct Trak {
    pub(crate) id: u32,
    pub(crate) handler: [u8; 4],
    pub(crate) timescale: u32,
    pub(crate) entry: Vec<u8>,
    pub(crate) stts: Vec<[u32; 2]>,
    pub(crate) ctts: Option<(u8, Vec<[u32; 2]>)>,
    pub(crate) stss: Option<Vec<u32>>,
    pub(crate) stsc: Vec<[u32; 3]>,
    /// (sample_size, sample_count, table)
    pub(crate) stsz: (u32, u32, Vec<u32>),
    pub(crate) stco: Vec<u32>,
    pub(crate) elst: Option<(u8, Vec<(u64, i64)>)>,
}

impl Trak {
    /// Three 100-byte video samples 40 ms apart (timescale 1000) in one chunk at 1000.
    pub(crate) fn video(id: u32) -> Trak {
        Trak {
            id,
            handler: *b"vide",
            timescale: 1000,
            entry: avc1(),
            stts: vec![[3, 40]],
            ctts: None,
            stss: Some(vec![1]),
            stsc: vec![[1, 3, 1]],
            stsz: (100, 3, vec![]),
            stco: vec![1000],
            elst: None,
        }
    }

    /// Four 10-byte AAC frames of 1024 samples at 44.1 kHz in one chunk at 5000.
    pub(crate) fn audio(id: u32) -> Trak {
        Trak {
            id,
            handler: *b"soun",
            timescale: 44100,
            entry: mp4a(),
            stts: vec![[4, 1024]],
            ctts: None,
            stss: None,
            stsc: vec![[1, 4, 1]],
            stsz: (10, 4, vec![]),
            stco: vec![5000],
            elst: None,
        }
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let mut tkhd = vec![0; 8];
        tkhd.extend_from_slice(&self.id.to_be_bytes());
        tkhd.extend_from_slice(&[0; 72]);
        let mut mdhd = vec![0; 8];
        mdhd.extend_from_slice(&self.timescale.to_be_bytes());
        mdhd.extend_from_slice(&[0; 8]);
        let mut hdlr = vec![0; 4];
        hdlr.extend_from_slice(&self.handler);
        hdlr.extend_from_slice(&[0; 13]);
        let mut stsd = 1u32.to_be_bytes().to_vec();
        stsd.extend_from_slice(&self.entry);
        let mut stbl = full(b"stsd", 0, &stsd);
        stbl.extend(full(b"stts", 0, &table(&self.stts)));
        if let Some((version, ctts)) = &self.ctts {
            stbl.extend(full(b"ctts", *version, &table(ctts)));
        }
        if let Some(stss) = &self.stss {
            let entries: Vec<[u32; 1]> = stss.iter().map(|&n| [n]).collect();
            stbl.extend(full(b"stss", 0, &table(&entries)));
        }
        stbl.extend(full(b"stsc", 0, &table(&self.stsc)));
        let (size, count, sizes) = &self.stsz;
        let mut stsz = size.to_be_bytes().to_vec();
        stsz.extend_from_slice(&count.to_be_bytes());
        for s in sizes {
            stsz.extend_from_slice(&s.to_be_bytes());
        }
        stbl.extend(full(b"stsz", 0, &stsz));
        let chunks: Vec<[u32; 1]> = self.stco.iter().map(|&c| [c]).collect();
        stbl.extend(full(b"stco", 0, &table(&chunks)));
        let minf = bx(b"stbl", &stbl);
        let mut mdia = full(b"mdhd", 0, &mdhd);
        mdia.extend(full(b"hdlr", 0, &hdlr));
        mdia.extend(bx(b"minf", &minf));
        let mut trak = full(b"tkhd", 0, &tkhd);
        if let Some((version, entries)) = &self.elst {
            let mut elst = (entries.len() as u32).to_be_bytes().to_vec();
            for &(duration, media_time) in entries {
                if *version == 1 {
                    elst.extend_from_slice(&duration.to_be_bytes());
                    elst.extend_from_slice(&media_time.to_be_bytes());
                } else {
                    elst.extend_from_slice(&(duration as u32).to_be_bytes());
                    elst.extend_from_slice(&(media_time as i32).to_be_bytes());
                }
                elst.extend_from_slice(&[0, 1, 0, 0]);
            }
            trak.extend(bx(b"edts", &full(b"elst", *version, &elst)));
        }
        trak.extend(bx(b"mdia", &mdia));
        bx(b"trak", &trak)
    }
}

pub(crate) fn moov_with(timescale: u32, traks: &[Trak], extra: &[u8]) -> Vec<u8> {
    let mut mvhd = vec![0; 8];
    mvhd.extend_from_slice(&timescale.to_be_bytes());
    mvhd.extend_from_slice(&[0; 84]);
    let mut body = full(b"mvhd", 0, &mvhd);
    for t in traks {
        body.extend(t.build());
    }
    body.extend_from_slice(extra);
    bx(b"moov", &body)
}

pub(crate) fn moov(traks: &[Trak]) -> Vec<u8> {
    moov_with(1000, traks, &[])
}

fn err(traks: &[Trak]) -> String {
    Movie::parse(&moov(traks)).unwrap_err().to_string()
}

fn samples(movie: &Movie, kind: TrackKind) -> Vec<Sample> {
    movie
        .tracks
        .iter()
        .find(|t| t.kind == kind)
        .unwrap()
        .samples()
        .collect()
}

#[test]
fn chunks_sizes_composition_offsets_and_sync_samples() {
    let mut v = Trak::video(1);
    // Two chunks (2 + 1 samples), explicit sizes, I P B with ctts version 1 going negative.
    v.stsc = vec![[1, 2, 1], [2, 1, 1]];
    v.stco = vec![1000, 9000];
    v.stsz = (0, 3, vec![100, 20, 30]);
    v.ctts = Some((1, vec![[1, 0], [1, 40], [1, -40i32 as u32]]));
    v.stss = Some(vec![1, 3]);
    let movie = Movie::parse(&moov(&[v])).unwrap();
    let s = samples(&movie, TrackKind::Video);
    let view: Vec<(u64, u32, i64, i32, bool)> = s
        .iter()
        .map(|s| (s.offset, s.size, s.dts_ms, s.cts_ms, s.keyframe))
        .collect();
    // DTS shifted 40 ms earlier so that the B-frame's PTS is not before its DTS; the movie's
    // 0 is the earliest PTS (the I-frame's).
    assert_eq!(
        view,
        vec![
            (1000, 100, -40, 40, true),
            (1100, 20, 0, 80, false),
            (9000, 30, 40, 0, true),
        ]
    );
    assert_eq!(
        s.iter().map(|s| s.pts_ms()).collect::<Vec<_>>(),
        [0, 80, 40]
    );
    assert_eq!(movie.duration_ms, 120);
}

#[test]
fn stz2_co64_and_empty_chunks() {
    let mut v = Trak::video(1);
    v.stsc = vec![[1, 2, 1], [2, 0, 1], [3, 1, 1]];
    v.stco = vec![10, 20, 30];
    let mut m = moov(&[v]);
    // Swap stsz for a 4-bit stz2 and stco for co64, keeping the box sizes.
    let stsz = full(b"stsz", 0, &[0, 0, 0, 100, 0, 0, 0, 3]);
    let stz2 = full(b"stz2", 0, &[0, 0, 0, 4, 0, 0, 0, 3, 0x12, 0x30]);
    let at = m.windows(stsz.len()).position(|w| w == stsz).unwrap();
    m.splice(at..at + stsz.len(), stz2.iter().copied());
    let stco = full(
        b"stco",
        0,
        &[0, 0, 0, 3, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30],
    );
    let mut co64_payload = vec![0, 0, 0, 3];
    for c in [10u64, 20, 1 << 40] {
        co64_payload.extend_from_slice(&c.to_be_bytes());
    }
    let co64 = full(b"co64", 0, &co64_payload);
    let at = m.windows(stco.len()).position(|w| w == stco).unwrap();
    m.splice(at..at + stco.len(), co64.iter().copied());
    fix_sizes(&mut m);
    let movie = Movie::parse(&m).unwrap();
    let s = samples(&movie, TrackKind::Video);
    let view: Vec<(u64, u32)> = s.iter().map(|s| (s.offset, s.size)).collect();
    assert_eq!(view, vec![(10, 1), (11, 2), (1 << 40, 3)]);
}

/// Recomputes the sizes of the containers on the path to `stbl` after a splice.
fn fix_sizes(m: &mut [u8]) {
    fn walk(m: &mut [u8]) -> usize {
        let mut at = 0;
        while at + 8 <= m.len() {
            let kind: [u8; 4] = m[at + 4..at + 8].try_into().unwrap();
            let size = u32::from_be_bytes(m[at..at + 4].try_into().unwrap()) as usize;
            let size = if matches!(&kind, b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl") {
                let inner = walk(&mut m[at + 8..]);
                let size = inner + 8;
                m[at..at + 4].copy_from_slice(&(size as u32).to_be_bytes());
                size
            } else {
                size
            };
            at += size;
            if matches!(&kind, b"co64" | b"stco") {
                // stbl ends with the chunk offsets in these movies.
                return at;
            }
        }
        at
    }
    walk(m);
}

#[test]
fn edit_lists() {
    let mut a = Trak::audio(2);
    a.elst = Some((0, vec![(500, -1), (100, 1024), (100, 4096), (10, -1)]));
    let mut v = Trak::video(1);
    v.elst = Some((1, vec![(2000, 0)]));
    let movie = Movie::parse(&moov(&[v, a])).unwrap();
    let audio = movie.audio().unwrap();
    assert_eq!(
        audio.edit_list,
        EditList {
            empty_duration: 500,
            media_time: 1024,
            ignored_entries: 2,
        }
    );
    let s = samples(&movie, TrackKind::Audio);
    assert_eq!(
        s.iter().map(|s| s.dts_ms).collect::<Vec<_>>(),
        [477, 500, 523, 546]
    );
    let mut a = Trak::audio(2);
    a.elst = Some((0, vec![(500, -5)]));
    let movie = Movie::parse(&moov(&[a])).unwrap();
    assert_eq!(movie.audio().unwrap().edit_list.ignored_entries, 1);
    let mut a = Trak::audio(2);
    a.elst = Some((2, vec![]));
    assert_eq!(err(&[a]), "track 2: 'elst' version 2 is not supported");
}

#[test]
fn ties_put_video_first_and_merge_by_dts() {
    let mut a = Trak::audio(2);
    a.timescale = 1000;
    a.stts = vec![[4, 40]];
    let movie = Movie::parse(&moov(&[Trak::video(1), a])).unwrap();
    let kinds: Vec<(TrackKind, i64)> = movie.samples_from(0).map(|s| (s.kind, s.dts_ms)).collect();
    use TrackKind::{Audio, Video};
    assert_eq!(
        kinds,
        vec![
            (Video, 0),
            (Audio, 0),
            (Video, 40),
            (Audio, 40),
            (Video, 80),
            (Audio, 80),
            (Audio, 120)
        ]
    );
    let mut cursor = movie.samples_from(0);
    assert_eq!(cursor.peek().copied(), cursor.next());
}

#[test]
fn no_sync_samples_starts_at_the_first() {
    let mut v = Trak::video(1);
    v.stss = Some(vec![]);
    let movie = Movie::parse(&moov(&[v])).unwrap();
    let s: Vec<Sample> = movie.samples_from(60).collect();
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|s| !s.keyframe));
    let mut v = Trak::video(1);
    v.stss = Some(vec![3]);
    let movie = Movie::parse(&moov(&[v])).unwrap();
    // No key frame at or before 10 ms: the first one.
    assert_eq!(movie.samples_from(10).next().unwrap().index, 2);
}

#[test]
fn track_selection_and_skip_reasons() {
    let mut tmcd = Trak::video(1);
    tmcd.handler = *b"tmcd";
    let mut empty = Trak::video(2);
    empty.stsz = (0, 0, vec![]);
    empty.stss = None;
    let mut mismatch = Trak::audio(3);
    mismatch.entry = avc1();
    let mut multi = Trak::audio(4);
    multi.stsc = vec![[1, 4, 2]];
    let movie = Movie::parse(&moov(&[
        tmcd,
        empty,
        mismatch,
        multi,
        Trak::video(5),
        Trak::audio(6),
        Trak::video(7),
        Trak::audio(8),
    ]))
    .unwrap();
    assert_eq!(
        movie.tracks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [5, 6]
    );
    let reasons: Vec<String> = movie
        .skipped_tracks()
        .iter()
        .map(|s| format!("{}: {}", s.id, s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            "1: handler 'tmcd' is not audio or video",
            "2: no samples",
            "3: handler 'soun' with sample entry 'avc1'",
            "4: 2 sample descriptions in use",
            "7: track 5 of the same kind is used",
            "8: track 6 of the same kind is used",
        ]
    );
    // What a player would lose: every audio/video track with samples, named with its codec.
    let dropped: Vec<String> = movie
        .skipped_tracks()
        .iter()
        .filter(|s| s.drops_media())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        dropped,
        [
            "track 3 (audio 'avc1'): handler 'soun' with sample entry 'avc1'",
            "track 4 (audio 'mp4a'): 2 sample descriptions in use",
            "track 7 (video 'avc1'): track 5 of the same kind is used",
            "track 8 (audio 'mp4a'): track 6 of the same kind is used",
        ]
    );
    assert_eq!(
        movie.skipped_tracks()[0].to_string(),
        "track 1: handler 'tmcd' is not audio or video"
    );
    let mut mp3 = Trak::audio(1);
    let at = mp3
        .entry
        .windows(3)
        .position(|w| w == [0x04, 17, 0x40])
        .unwrap();
    mp3.entry[at + 2] = 0x6b;
    let mut opus = Trak::audio(2);
    opus.entry[4..8].copy_from_slice(b"Opus");
    assert_eq!(
        err(&[mp3, opus]),
        "no supported audio or video track (track 1: 'mp4a' with objectTypeIndication 0x6b \
         is not AAC; track 2: codec 'Opus' is not supported)"
    );
    assert_eq!(err(&[]), "no supported audio or video track (no tracks)");
}

#[test]
fn errors_name_the_box() {
    let cases: Vec<(Trak, &str)> = vec![
        (
            Trak {
                timescale: 0,
                ..Trak::video(1)
            },
            "track 1: mdhd timescale has the invalid value 0",
        ),
        (
            Trak {
                stsz: (100, MAX_SAMPLES_PER_TRACK + 1, vec![]),
                ..Trak::video(1)
            },
            "track 1: sample count of 10000001 exceeds the limit of 10000000",
        ),
        (
            Trak {
                stts: vec![[2, 40]],
                ..Trak::video(1)
            },
            "track 1: 'stts' describes 2 samples, but the track has 3",
        ),
        (
            Trak {
                stsc: vec![[1, 2, 1]],
                ..Trak::video(1)
            },
            "track 1: 'stsc and stco' describes 2 samples, but the track has 3",
        ),
        (
            Trak {
                stsc: vec![[2, 3, 1]],
                ..Trak::video(1)
            },
            "track 1: stsc first_chunk of the first entry (must be 1) has the invalid value 2",
        ),
        (
            Trak {
                stsc: vec![[1, 1, 1], [1, 2, 1]],
                ..Trak::video(1)
            },
            "track 1: stsc first_chunk (must increase) has the invalid value 1",
        ),
        (
            Trak {
                stsc: vec![[1, 3, 0]],
                ..Trak::video(1)
            },
            "track 1: stsc sample_description_index has the invalid value 0",
        ),
        (
            Trak {
                stss: Some(vec![1, 4]),
                ..Trak::video(1)
            },
            "track 1: stss sample_number has the invalid value 4",
        ),
        (
            Trak {
                stco: vec![],
                ..Trak::video(1)
            },
            "track 1: 'stsc and stco' describes 0 samples, but the track has 3",
        ),
        (
            Trak {
                stsz: (u32::MAX, 3, vec![]),
                stco: vec![u32::MAX],
                ..Trak::video(1)
            },
            "", // fits in u64: fine
        ),
        (
            Trak {
                ctts: Some((2, vec![])),
                ..Trak::video(1)
            },
            "track 1: 'ctts' version 2 is not supported",
        ),
    ];
    for (trak, expected) in cases {
        match Movie::parse(&moov(&[trak])) {
            Ok(_) => assert_eq!(expected, ""),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }
}

#[test]
fn movie_level_errors() {
    let v = Trak::video(1);
    assert_eq!(
        Movie::parse(&moov_with(0, std::slice::from_ref(&v), &[])).unwrap_err(),
        Mp4Error::Invalid {
            field: "mvhd timescale",
            value: 0
        }
    );
    assert_eq!(
        Movie::parse(&moov_with(
            1000,
            std::slice::from_ref(&v),
            &bx(b"cmov", &[])
        ))
        .unwrap_err(),
        Mp4Error::Compressed
    );
    assert_eq!(
        Movie::parse(&moov_with(
            1000,
            std::slice::from_ref(&v),
            &bx(b"mvex", &[])
        ))
        .unwrap_err(),
        Mp4Error::Fragmented
    );
    assert_eq!(
        Movie::parse(&bx(b"free", &[])).unwrap_err().to_string(),
        "expected a 'moov' box, found 'free'"
    );
    assert_eq!(
        Movie::parse(&bx(b"moov", &[])).unwrap_err().to_string(),
        "no 'mvhd' box in 'moov'"
    );
    let mut m = moov(&[v]);
    m.truncate(m.len() - 1);
    assert_eq!(Movie::parse(&m).unwrap_err(), Mp4Error::Truncated("moov"));
    // Trailing bytes after the declared size are ignored; size 0 means "to the end".
    let mut m = moov(&[Trak::video(1)]);
    let whole = Movie::parse(&m).unwrap();
    m.extend_from_slice(b"junk");
    assert_eq!(Movie::parse(&m).unwrap(), whole);
    m.truncate(m.len() - 4);
    m[..4].copy_from_slice(&[0; 4]);
    assert_eq!(Movie::parse(&m).unwrap(), whole);
    // A trak whose tkhd is unreadable is named by its position.
    let mut m = moov(&[Trak::video(7)]);
    let at = m.windows(4).position(|w| w == b"tkhd").unwrap();
    m[at..at + 4].copy_from_slice(b"tkhX");
    assert_eq!(
        Movie::parse(&m).unwrap_err().to_string(),
        "track 1: no 'tkhd' box in 'trak'"
    );
}

#[test]
fn sample_end_offset_overflow_is_an_error() {
    let mut v = Trak::video(1);
    v.stsz = (u32::MAX, 3, vec![]);
    let mut m = moov(&[v]);
    // Patch the 32-bit chunk offset into a co64 near u64::MAX.
    let stco = full(b"stco", 0, &[0, 0, 0, 1, 0, 0, 0x03, 0xe8]);
    let mut payload = vec![0, 0, 0, 1];
    payload.extend_from_slice(&(u64::MAX - 5_000_000_000).to_be_bytes());
    let co64 = full(b"co64", 0, &payload);
    let at = m.windows(stco.len()).position(|w| w == stco).unwrap();
    m.splice(at..at + stco.len(), co64.iter().copied());
    fix_sizes(&mut m);
    assert_eq!(
        Movie::parse(&m).unwrap_err().to_string(),
        "track 1: sample 2 ends beyond 2^64 bytes (chunk offset + sample sizes)"
    );
}
