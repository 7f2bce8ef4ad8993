//! Files written by ffmpeg, checked sample by sample against what ffprobe reported for them
//! (`tests/fixtures/*.ffprobe.txt`, see `tests/fixtures/README.md`), and the FLV bodies built
//! from them parsed back with baton-flv and baton-codec.

use baton_codec::describe::{AudioParams, audio_params, video_params};
use baton_codec::{avc, hevc, nal};
use baton_flv::{
    AudioCodec, VideoCodec, VideoPacket, parse_audio_tag_header, parse_video_tag_header,
};
use baton_mp4::{BoxHeader, Codec, FourCc, Movie, Sample, SkipReason, SkippedTrack, TrackKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.mp4", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Finds `moov` the way a caller reading over HTTP would: box headers only, skipping the rest.
fn moov_range(file: &[u8]) -> (usize, usize) {
    let mut at = 0usize;
    while at < file.len() {
        let header = BoxHeader::parse(&file[at..at + 16.min(file.len() - at)])
            .unwrap()
            .expect("a whole box header");
        let size = header.size.map_or(file.len() - at, |s| s as usize);
        if &header.kind == b"moov" {
            return (at, size);
        }
        at += size;
    }
    panic!("no moov");
}

fn movie(file: &[u8]) -> Movie {
    let (at, size) = moov_range(file);
    Movie::parse(&file[at..at + size]).unwrap()
}

#[derive(Debug)]
struct Packet {
    stream: u32,
    pts_ms: f64,
    dts_ms: f64,
    duration_ms: f64,
    size: u32,
    pos: u64,
    key: bool,
    discard: bool,
}

#[derive(Debug, Default)]
struct Probe {
    /// Per stream: the `key=value` fields of its `stream|` line.
    streams: Vec<Vec<(String, String)>>,
    packets: Vec<Packet>,
}

impl Probe {
    fn stream_field(&self, index: usize, key: &str) -> Option<&str> {
        self.streams[index]
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `ffprobe -show_entries stream=...:packet=... -of compact` output.
fn probe(name: &str) -> Probe {
    let path = format!(
        "{}/tests/fixtures/{name}.ffprobe.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut probe = Probe::default();
    for line in text.lines() {
        let mut parts = line.split('|');
        let section = parts.next().unwrap_or("");
        let fields: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{path}: no {key} in {line}"))
        };
        let ms = |key: &str| get(key).parse::<f64>().unwrap() * 1000.0;
        match section {
            "stream" => probe.streams.push(fields.clone()),
            "packet" => probe.packets.push(Packet {
                stream: get("stream_index").parse().unwrap(),
                pts_ms: ms("pts_time"),
                dts_ms: ms("dts_time"),
                duration_ms: ms("duration_time"),
                size: get("size").parse().unwrap(),
                pos: get("pos").parse().unwrap(),
                key: get("flags").contains('K'),
                discard: get("flags").contains('D'),
            }),
            _ => {}
        }
    }
    probe
}

fn close(ours: i64, theirs: f64) -> bool {
    (ours as f64 - theirs).abs() <= 1.0
}

/// Every sample of every used track equals ffprobe's packet: position, size, key flag, and
/// DTS/PTS/duration within 1 ms, after the movie-wide shift that puts the earliest presented
/// (non-discarded) packet of the used streams at 0.
fn check_against_ffprobe(name: &str) -> Movie {
    let file = fixture(name);
    let movie = movie(&file);
    let probe = probe(name);
    // ffmpeg numbers tracks from 1 in stream order.
    let used: Vec<u32> = movie.tracks.iter().map(|t| t.id - 1).collect();
    let origin = probe
        .packets
        .iter()
        .filter(|p| used.contains(&p.stream) && !p.discard)
        .map(|p| p.pts_ms)
        .fold(f64::INFINITY, f64::min);
    for track in &movie.tracks {
        let expected: Vec<&Packet> = probe
            .packets
            .iter()
            .filter(|p| p.stream == track.id - 1)
            .collect();
        let samples: Vec<Sample> = track.samples().collect();
        assert_eq!(samples.len(), expected.len(), "{name} track {}", track.id);
        assert_eq!(samples.len(), track.sample_count as usize);
        for (s, p) in samples.iter().zip(&expected) {
            let what = format!(
                "{name} track {} sample {}: {s:?} vs {p:?}",
                track.id, s.index
            );
            assert_eq!(
                (s.offset, s.size, s.keyframe),
                (p.pos, p.size, p.key),
                "{what}"
            );
            assert!(close(s.dts_ms, p.dts_ms - origin), "dts {what}");
            assert!(close(s.pts_ms(), p.pts_ms - origin), "pts {what}");
            assert!(
                close(i64::from(s.duration_ms), p.duration_ms),
                "duration {what}"
            );
            assert_eq!(s.kind, track.kind);
            // Whatever ffprobe discards sits before the movie's 0.
            if p.discard {
                assert!(s.pts_ms() + i64::from(s.duration_ms) <= 0, "{what}");
            }
            assert!(s.offset + u64::from(s.size) <= file.len() as u64);
        }
        // Stream parameters from the sample entry match ffprobe's.
        let index = (track.id - 1) as usize;
        assert_eq!(
            probe.stream_field(index, "codec_tag_string"),
            Some(FourCc(track.sample_entry).to_string().as_str())
        );
        match track.kind {
            TrackKind::Video => {
                assert_eq!(
                    probe.stream_field(index, "width"),
                    Some(track.width.to_string().as_str())
                );
                assert_eq!(
                    probe.stream_field(index, "height"),
                    Some(track.height.to_string().as_str())
                );
            }
            TrackKind::Audio => {
                assert_eq!(
                    probe.stream_field(index, "sample_rate"),
                    Some(track.sample_rate.to_string().as_str())
                );
                assert_eq!(
                    probe.stream_field(index, "channels"),
                    Some(track.channels.to_string().as_str())
                );
            }
        }
    }
    check_merged_order(&movie);
    check_flv_bodies(&movie, &file);
    movie
}

/// From 0, the cursor yields every sample of both tracks once (with video: from its first key
/// frame, presented at 0, with the audio from that frame's DTS on, AAC priming included;
/// audio only: from the frame presented at 0), DTS never decreasing, video before audio at
/// equal DTS.
fn check_merged_order(movie: &Movie) {
    let merged: Vec<Sample> = movie.samples_from(0).collect();
    for w in merged.windows(2) {
        assert!(w[0].dts_ms <= w[1].dts_ms, "{:?} then {:?}", w[0], w[1]);
        if w[0].dts_ms == w[1].dts_ms && w[0].kind != w[1].kind {
            assert_eq!(w[0].kind, TrackKind::Video);
        }
    }
    for track in &movie.tracks {
        let own: Vec<Sample> = merged
            .iter()
            .filter(|s| s.kind == track.kind)
            .copied()
            .collect();
        let all: Vec<Sample> = track.samples().collect();
        if movie.video().is_some() {
            assert_eq!(own, all);
        } else {
            let skipped = all.iter().take_while(|s| s.pts_ms() < 0).count();
            assert_eq!(own, all[skipped..]);
            assert_eq!(own[0].pts_ms(), 0);
        }
    }
    let first = merged[0];
    if movie.video().is_some() {
        assert!(first.keyframe && first.kind == TrackKind::Video);
    }
    let end = merged
        .iter()
        .map(|s| s.pts_ms() + i64::from(s.duration_ms))
        .max()
        .unwrap();
    assert_eq!(movie.duration_ms as i64, end);
}

/// Sequence headers and sample prefixes parse back as FLV tag bodies, and the samples read
/// from the file at (offset, size) are whole length-prefixed NAL units / AAC frames.
fn check_flv_bodies(movie: &Movie, file: &[u8]) {
    if let Some(video) = movie.video() {
        let body = movie.video_sequence_header().unwrap();
        let header = parse_video_tag_header(&body).unwrap();
        assert_eq!(header.packet, VideoPacket::SequenceHeader);
        assert!(header.keyframe);
        let payload = &body[header.payload_offset..];
        assert_eq!(payload, &video.config[..]);
        let params = video_params(&body).unwrap();
        assert_eq!(
            (params.width, params.height),
            (Some(u32::from(video.width)), Some(u32::from(video.height)))
        );
        let nal_length_size = match video.codec {
            Codec::Avc => {
                assert_eq!((header.codec, header.enhanced), (VideoCodec::Avc, false));
                assert_eq!(params.codec, "h264");
                avc::AvcDecoderConfig::parse(payload)
                    .unwrap()
                    .nal_length_size
            }
            Codec::Hevc => {
                assert_eq!((header.codec, header.enhanced), (VideoCodec::Hevc, true));
                assert_eq!(params.codec, "hevc");
                hevc::HevcDecoderConfig::parse(payload)
                    .unwrap()
                    .nal_length_size
            }
            Codec::Aac => unreachable!(),
        };
        for s in video.samples() {
            let mut tag = s.flv_prefix().to_vec();
            tag.extend_from_slice(&file[s.offset as usize..][..s.size as usize]);
            let h = parse_video_tag_header(&tag).unwrap();
            assert_eq!(h.packet, VideoPacket::Coded);
            assert_eq!(h.keyframe, s.keyframe);
            assert_eq!(h.composition_time, s.cts_ms);
            assert_eq!(h.payload_offset, s.flv_prefix().len());
            let nals: Vec<&[u8]> = nal::avcc_nals(&tag[h.payload_offset..], nal_length_size)
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!nals.is_empty());
            if s.keyframe {
                let random_access = nals.iter().any(|n| match video.codec {
                    Codec::Avc => avc::nal_type(n) == Some(avc::NAL_IDR),
                    _ => hevc::nal_type(n).is_some_and(hevc::is_irap),
                });
                assert!(
                    random_access,
                    "key frame {} has no IDR/IRAP NAL unit",
                    s.index
                );
            }
        }
    }
    if let Some(audio) = movie.audio() {
        let body = movie.audio_sequence_header().unwrap();
        let header = parse_audio_tag_header(&body).unwrap();
        assert!(header.sequence_header);
        assert_eq!(header.codec, AudioCodec::Aac);
        assert_eq!(&body[header.payload_offset..], &audio.config[..]);
        assert_eq!(
            audio_params(&body).unwrap(),
            AudioParams {
                codec: "aac",
                sample_rate: Some(audio.sample_rate),
                channels: Some(audio.channels as u8),
                profile: Some("LC".into()),
            }
        );
        for s in audio.samples() {
            let prefix = s.flv_prefix();
            let h = parse_audio_tag_header(&prefix).unwrap();
            assert!(!h.sequence_header);
            assert_eq!(h.payload_offset, prefix.len());
            // A raw AAC frame, not ADTS.
            let frame = &file[s.offset as usize..][..s.size as usize];
            assert!(frame.len() < 2 || frame[0] != 0xff || frame[1] & 0xf0 != 0xf0);
        }
    }
}

#[test]
fn x264_default_settings() {
    let movie = check_against_ffprobe("x264_default");
    let video = movie.video().unwrap();
    assert_eq!(video.edit_list.media_time, 1024);
    // Decoding starts 2 frames before the first picture; B-pyramid presents the first
    // mini-GOP as 0, 4, 2, 1, 3 (frames of 40 ms).
    let pts: Vec<i64> = video.samples().take(5).map(|s| s.pts_ms()).collect();
    assert_eq!(pts, [0, 160, 80, 40, 120]);
    let first = video.samples().next().unwrap();
    assert_eq!((first.dts_ms, first.cts_ms), (-80, 80));
    // The AAC priming frame before 0; the last frame starts 3 ms before the end (its `stts`
    // delta says so, though it decodes to a whole 23 ms frame, padded).
    let audio: Vec<Sample> = movie.audio().unwrap().samples().collect();
    assert_eq!(audio[0].pts_ms(), -23);
    let last = audio.last().unwrap();
    assert_eq!((last.pts_ms(), last.duration_ms), (1997, 3));
    assert_eq!(movie.duration_ms, 2000);
}

#[test]
fn faststart_h264_aac() {
    let movie = check_against_ffprobe("faststart");
    let video = movie.video().unwrap();
    assert_eq!(
        (video.codec, video.sample_count, video.timescale),
        (Codec::Avc, 50, 12800)
    );
    assert_eq!(video.edit_list.media_time, 1024);
    let audio = movie.audio().unwrap();
    assert_eq!((audio.codec, audio.sample_count), (Codec::Aac, 88));
    assert!(movie.skipped_tracks().is_empty());
    assert_eq!(movie.duration_ms, 2000);
    // B-frames: the first key frame decodes 80 ms before it is presented at 0.
    let first = movie.samples_from(0).next().unwrap();
    assert_eq!((first.dts_ms, first.cts_ms, first.pts_ms()), (-80, 80, 0));
}

#[test]
fn moov_at_end_matches_faststart_but_for_offsets() {
    let late = check_against_ffprobe("moov_at_end");
    let fast = movie(&fixture("faststart"));
    let (at, _) = moov_range(&fixture("moov_at_end"));
    assert!(at > 1000, "moov is after mdat");
    for (a, b) in late.tracks.iter().zip(&fast.tracks) {
        for (x, y) in a.samples().zip(b.samples()) {
            assert_eq!(
                y.offset - x.offset,
                2943,
                "faststart moved mdat by the moov size"
            );
            assert_eq!((x.dts_ms, x.cts_ms, x.size), (y.dts_ms, y.cts_ms, y.size));
        }
    }
}

#[test]
fn hevc_hvc1_aac() {
    let movie = check_against_ffprobe("hevc");
    let video = movie.video().unwrap();
    assert_eq!((video.codec, &video.sample_entry), (Codec::Hevc, b"hvc1"));
    let header = movie.video_sequence_header().unwrap();
    assert_eq!(&header[..5], &[0x90, b'h', b'v', b'c', b'1']);
    // Both CodedFrames (cts) and CodedFramesX (cts 0) prefixes occur.
    let types: std::collections::BTreeSet<u8> =
        video.samples().map(|s| s.flv_prefix()[0] & 0x0f).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), vec![1, 3]);
}

#[test]
fn video_only() {
    let movie = check_against_ffprobe("video_only");
    assert!(movie.audio().is_none() && movie.audio_sequence_header().is_none());
    assert_eq!(movie.duration_ms, 2000);
    assert!(movie.video().unwrap().samples().all(|s| s.cts_ms == 0));
}

#[test]
fn audio_only() {
    let movie = check_against_ffprobe("audio_only");
    assert!(movie.video().is_none() && movie.video_sequence_header().is_none());
    // AAC priming: the first frame ends where the edit list starts the track.
    let first = movie.samples_from(0).next().unwrap();
    assert_eq!((first.index, first.dts_ms), (1, 0));
    let from_1s: Vec<Sample> = movie.samples_from(1000).take(2).collect();
    assert!(from_1s[0].pts_ms() <= 1000 && from_1s[1].pts_ms() > 1000);
}

#[test]
fn audio_delayed_by_an_empty_edit() {
    let movie = check_against_ffprobe("audio_delayed");
    let audio = movie.audio().unwrap();
    assert_eq!(audio.edit_list.empty_duration, 476);
    assert_eq!(audio.edit_list.media_time, 0);
    assert_eq!(audio.samples().next().unwrap().dts_ms, 476);
    // Audio joins the merged stream after half a second of video.
    let merged: Vec<Sample> = movie.samples_from(0).collect();
    let first_audio = merged
        .iter()
        .position(|s| s.kind == TrackKind::Audio)
        .unwrap();
    assert!(merged[..first_audio].iter().all(|s| s.dts_ms < 476));
    assert_eq!(merged[..first_audio].len(), 14);
}

#[test]
fn negative_composition_offsets_shift_dts() {
    let movie = check_against_ffprobe("negative_cts");
    let video = movie.video().unwrap();
    assert_eq!(video.edit_list.media_time, 0);
    // ctts version 1 with offsets down to −512 (40 ms): DTS moves 40 ms earlier, PTS ≥ DTS.
    assert!(video.samples().all(|s| s.cts_ms >= 0));
    let fast = movie_pts(&self::movie(&fixture("faststart")));
    assert_eq!(
        movie_pts(&movie),
        fast,
        "presentation times do not depend on the ctts form"
    );
}

fn movie_pts(movie: &Movie) -> Vec<i64> {
    movie
        .video()
        .unwrap()
        .samples()
        .map(|s| s.pts_ms())
        .collect()
}

#[test]
fn unsupported_tracks_are_skipped_with_reasons() {
    let movie = check_against_ffprobe("mixed_tracks");
    assert_eq!(
        movie.tracks.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(
        movie.skipped_tracks(),
        &[
            SkippedTrack {
                id: 1,
                kind: Some(TrackKind::Video),
                entry: Some(FourCc(*b"mp4v")),
                reason: SkipReason::Codec(FourCc(*b"mp4v"))
            },
            SkippedTrack {
                id: 3,
                kind: Some(TrackKind::Audio),
                entry: Some(FourCc(*b"ac-3")),
                reason: SkipReason::Codec(FourCc(*b"ac-3"))
            },
        ]
    );
    assert_eq!(
        movie.skipped_tracks()[1].reason.to_string(),
        "codec 'ac-3' is not supported"
    );
    assert_eq!(
        movie.skipped_tracks()[1].to_string(),
        "track 3 (audio 'ac-3'): codec 'ac-3' is not supported"
    );
    assert!(movie.skipped_tracks().iter().all(SkippedTrack::drops_media));
}

#[test]
fn samples_from_starts_at_the_key_frame_at_or_before() {
    let movie = movie(&fixture("faststart"));
    let keyframes: Vec<i64> = movie
        .video()
        .unwrap()
        .samples()
        .filter(|s| s.keyframe)
        .map(|s| s.pts_ms())
        .collect();
    assert_eq!(keyframes, vec![0, 1000]);
    for (start, expected_pts) in [(0, 0), (999, 0), (1000, 1000), (1500, 1000), (99_999, 1000)] {
        let mut cursor = movie.samples_from(start);
        let first = cursor.next().unwrap();
        assert_eq!((first.kind, first.keyframe), (TrackKind::Video, true));
        assert_eq!(first.pts_ms(), expected_pts, "start {start}");
        // Audio from the key frame's DTS on: nothing earlier follows.
        let rest: Vec<Sample> = cursor.collect();
        let first_audio = rest.iter().find(|s| s.kind == TrackKind::Audio).unwrap();
        assert!(first_audio.dts_ms >= first.dts_ms);
        let all_audio: Vec<Sample> = movie.audio().unwrap().samples().collect();
        let i = all_audio.iter().position(|a| a == first_audio).unwrap();
        assert!(i == 0 || all_audio[i - 1].dts_ms < first.dts_ms);
        for w in rest.windows(2) {
            assert!(w[0].dts_ms <= w[1].dts_ms);
        }
    }
}

#[test]
fn sample_entry_variants_avc3_and_hev1() {
    for (name, from, to) in [("faststart", b"avc1", b"avc3"), ("hevc", b"hvc1", b"hev1")] {
        let file = fixture(name);
        let (at, size) = moov_range(&file);
        let mut moov = file[at..at + size].to_vec();
        let i = moov.windows(4).position(|w| w == from).unwrap();
        moov[i..i + 4].copy_from_slice(to);
        let movie = Movie::parse(&moov).unwrap();
        let video = movie.video().unwrap();
        assert_eq!(&video.sample_entry, to);
        assert_eq!(movie, {
            let mut m = self::movie(&file);
            m.tracks[0].sample_entry = *to;
            m
        });
    }
}

#[test]
fn no_edit_list() {
    let movie = check_against_ffprobe("no_editlist");
    assert_eq!(movie.video().unwrap().edit_list, Default::default());
    // Without an edit list the composition delay stays: the first frame is presented at 80 ms,
    // the audio (priming included) starts at 0, as ffprobe says.
    let video = movie.video().unwrap().samples().next().unwrap();
    assert_eq!((video.dts_ms, video.pts_ms()), (0, 80));
    assert_eq!(movie.audio().unwrap().samples().next().unwrap().dts_ms, 0);
}

#[test]
fn audio_only_delayed_starts_at_zero() {
    // ffprobe puts the first packet at 476 ms (an empty edit); with nothing presented earlier
    // the movie's 0 moves there.
    let movie = check_against_ffprobe("audio_only_delayed");
    assert_eq!(movie.audio().unwrap().edit_list.empty_duration, 476);
    assert_eq!(movie.samples_from(0).next().unwrap().dts_ms, 0);
    assert_eq!(movie.duration_ms, 534);
}

#[test]
fn the_owned_cursor_yields_what_the_borrowed_one_does() {
    let names: Vec<String> =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".mp4"))
            .collect();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let movie = std::sync::Arc::new(movie(&fixture(name.trim_end_matches(".mp4"))));
        for start in [0, 500, 1_234, 100_000] {
            let borrowed: Vec<_> = movie.samples_from(start).collect();
            let mut owned = movie.owned_samples_from(start);
            assert_eq!(owned.peek(), borrowed.first(), "{name} from {start}");
            let owned: Vec<_> = owned.by_ref().collect();
            assert_eq!(owned, borrowed, "{name} from {start}");
        }
    }
}
