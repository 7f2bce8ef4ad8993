//! Playlist items with B-frames (MP4s as ffmpeg writes them with x264's default settings)
//! played back to back, under paused time into Baton's own ingest: the presentation continues
//! at every item boundary, the loop's included; and the tracks an item cannot carry are
//! noted for the task's events. MPEG-TS items (`crates/proto/mpegts/tests/fixtures`) join them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use baton_media::{Frame, TagType};
use baton_net::client::ClientOptions;
use baton_net::hub::{HubConfig, StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{AllowAll, Ingest, IngestConfig};
use baton_net::testing::{MemoryNetwork, test_flv_file};
use baton_relay::{ItemNoteKind, PlayerConfig, Playlist, Relay, RelayConfig};
use bytes::Bytes;

const DST: &str = "rtmp://mem/live/dst";

fn fixture(name: &str) -> Bytes {
    let path = format!(
        "{}/../proto/mp4/tests/fixtures/{name}.mp4",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn ts_fixture(name: &str) -> Bytes {
    let path = format!(
        "{}/../proto/mpegts/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// A media playlist of the HLS fixture segments `segments` (1 s each, named `mem:hls/segN.ts`),
/// EXT-X-DISCONTINUITY before index `break_at`, EXT-X-ENDLIST when `vod`.
fn media_playlist(segments: &[usize], break_at: Option<usize>, vod: bool) -> Bytes {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n");
    for (i, n) in segments.iter().enumerate() {
        if break_at == Some(i) {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        text.push_str(&format!("#EXTINF:1.0,\nmem:hls/seg{n}.ts\n"));
    }
    if vod {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    Bytes::from(text)
}

/// `len` bytes of deterministic noise (xorshift).
fn noise(len: usize) -> Bytes {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Plays `items` (names of in-memory files) `repeat` more times into the hub; returns the
/// media frames seen (headers left out) and the playlist.
async fn play(items: &[&str], repeat: i32) -> (Vec<Frame>, Arc<Playlist>) {
    play_from(items, repeat, 0, 0).await
}

/// [`play`] from item `index`, `offset_ms` into it.
async fn play_from(
    items: &[&str],
    repeat: i32,
    index: u32,
    offset_ms: u64,
) -> (Vec<Frame>, Arc<Playlist>) {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(
        IngestConfig::default(),
        Arc::clone(&hub),
        Arc::new(AllowAll),
    );
    let net = MemoryNetwork::new(ingest);
    let sub = hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let mut files = HashMap::new();
    for name in ["x264_default", "faststart", "mixed_tracks"] {
        files.insert(format!("{name}.mp4"), fixture(name));
    }
    files.insert("plain.flv".to_string(), test_flv_file(2, 30, 0x64, 1));
    for name in ["h264_aac.ts", "h265_mp3.ts"] {
        files.insert(name.to_string(), ts_fixture(name));
    }
    files.insert("noise.ts".to_string(), noise(50_000));
    for i in 0..8 {
        let path = format!(
            "{}/tests/fixtures/hls/seg{i}.ts",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        files.insert(format!("hls/seg{i}.ts"), Bytes::from(data));
    }
    let all: Vec<usize> = (0..8).collect();
    files.insert("vod.m3u8".into(), media_playlist(&all, None, true));
    files.insert(
        "vod_break.m3u8".into(),
        media_playlist(&[0, 1, 2, 3, 0, 1, 2, 3], Some(4), true),
    );
    files.insert("live.m3u8".into(), media_playlist(&all, None, false));
    files.insert(
        "master.m3u8".into(),
        Bytes::from_static(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=150000,CODECS=\"avc1.64000c,mp4a.40.2\"\nmem:vod.m3u8\n"),
    );
    files.insert(
        "escape.m3u8".into(),
        Bytes::from_static(
            b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        ),
    );
    let items = items.iter().map(|i| format!("mem:{i}")).collect();
    let playlist = Playlist::new(items, repeat, index, offset_ms, 0).unwrap();
    let mut config = RelayConfig::new("playlist", DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(&net)),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(1);
    let player = PlayerConfig {
        memory: Arc::new(files),
        lead: Duration::from_millis(200),
        ..PlayerConfig::default()
    };
    config.playlist = Some((Arc::clone(&playlist), player));
    let relay = Relay::spawn(config).unwrap();
    let frames = observe(&sub).await;
    assert_eq!(relay.wait().await, Ok(()));
    (frames, playlist)
}

async fn observe(sub: &Subscription) -> Vec<Frame> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        match event {
            StreamEvent::Frame(f) if !f.config && f.kind != TagType::Script => out.push(f),
            StreamEvent::Frame(_) => {}
            StreamEvent::PublisherLeft => break,
        }
    }
    out
}

/// The frames of `kind`, cut into items of `per_item` frames each.
fn items_of(frames: &[Frame], kind: TagType, per_item: usize) -> Vec<Vec<&Frame>> {
    let track: Vec<&Frame> = frames.iter().filter(|f| f.kind == kind).collect();
    assert_eq!(
        track.len() % per_item,
        0,
        "{kind:?}: {} frames",
        track.len()
    );
    track.chunks(per_item).map(<[&Frame]>::to_vec).collect()
}

/// Per boundary: the next item's first presented frame minus where the previous item's last
/// presented frame ended (its PTS + `duration`).
fn holes(items: &[Vec<&Frame>], duration: i64) -> Vec<i64> {
    items
        .windows(2)
        .map(|w| {
            let end = w[0].iter().map(|f| f.pts()).max().unwrap() + duration;
            w[1].iter().map(|f| f.pts()).min().unwrap() - end
        })
        .collect()
}

fn increasing(frames: &[&Frame]) -> bool {
    frames.windows(2).all(|w| w[0].dts < w[1].dts)
}

#[tokio::test(start_paused = true)]
async fn x264_items_continue_their_presentation_at_every_boundary() {
    // Two items, played twice: 3 boundaries, the loop's (last item → first) among them.
    let (frames, playlist) = play(&["x264_default.mp4", "x264_default.mp4"], 1).await;
    assert_eq!(playlist.progress().loops_done, 2);
    let video = items_of(&frames, TagType::Video, 50);
    let audio = items_of(&frames, TagType::Audio, 88);
    assert_eq!((video.len(), audio.len()), (4, 4));
    for track in [&video, &audio] {
        assert!(increasing(&track.concat()), "DTS not increasing");
    }
    assert!(frames.iter().all(|f| f.pts() >= f.dts), "PTS < DTS");
    // Audio (its frames span 2043 ms: the priming frame from −23 ms, the last one padded to
    // 2020 ms) continues with no hole; the pictures (2000 ms) wait for it: 43 ms, about a
    // frame. Placed by decode time they were 100 ms (audio 57 ms) late at every boundary.
    assert_eq!(holes(&audio, 23), [0, 0, 0]);
    assert_eq!(holes(&video, 40), [43, 43, 43]);
    // Each item's audio and video as in the file: its first picture 23 ms after its first
    // (priming) audio frame.
    for (v, a) in video.iter().zip(&audio) {
        let first_picture = v.iter().map(|f| f.pts()).min().unwrap();
        assert_eq!(first_picture - a[0].pts(), 23);
    }
}

#[tokio::test(start_paused = true)]
async fn b_frame_items_after_b_frame_free_ones() {
    // An FLV without B-frames (30 fps, audio 23 ms steps from 0), then x264 MP4s: the MP4's
    // first frames would decode before the FLV's last; they move forward, their pictures
    // stay where they belong.
    let (frames, _) = play(&["plain.flv", "x264_default.mp4", "plain.flv"], 0).await;
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    let audio: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Audio).collect();
    assert!(increasing(&video) && increasing(&audio));
    assert!(frames.iter().all(|f| f.pts() >= f.dts), "PTS < DTS");
    let items = vec![
        video[..60].to_vec(),
        video[60..110].to_vec(),
        video[110..].to_vec(),
    ];
    let h = holes(&items, 0);
    // The step from one item's last picture to the next one's first: a frame of the earlier
    // item, plus the hole. Audio binds at both boundaries: FLV → MP4, the FLV's audio ends
    // 2 ms after its pictures and the MP4's priming frame leads by 23 (hole 25); MP4 → FLV,
    // the MP4's audio ends 20 ms after its pictures and the FLV starts both at 0 (hole 20).
    assert_eq!(h, [33 + 25, 40 + 20]);
}

#[tokio::test(start_paused = true)]
async fn tracks_an_item_cannot_carry_are_noted_once_per_run() {
    // mixed_tracks.mp4 has MPEG-4 Part 2 video and AC-3 audio besides H.264 and AAC.
    let (frames, playlist) = play(&["mixed_tracks.mp4"], 1).await;
    assert!(!frames.is_empty());
    let dropped: Vec<(u32, String)> = playlist
        .take_notes()
        .into_iter()
        .filter(|n| n.kind == ItemNoteKind::TrackDropped)
        .map(|n| (n.file_index, n.detail.unwrap_or_default()))
        .collect();
    // Two passes, one note per track.
    assert_eq!(
        dropped,
        [
            (
                0,
                "track 1 (video 'mp4v'): codec 'mp4v' is not supported".into()
            ),
            (
                0,
                "track 3 (audio 'ac-3'): codec 'ac-3' is not supported".into()
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn ts_items_join_mp4_and_flv_items_on_one_timeline() {
    // MPEG-TS items (x264 with B-frames + AAC; x265 + MP3) between an x264 MP4 and an FLV,
    // twice: one session, each track's DTS strictly increasing across every boundary.
    let items = [
        "x264_default.mp4",
        "h264_aac.ts",
        "plain.flv",
        "h265_mp3.ts",
    ];
    let (frames, playlist) = play(&items, 1).await;
    assert_eq!(playlist.progress().loops_done, 2);
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    let audio: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Audio).collect();
    assert_eq!(
        video.len(),
        2 * (50 + 50 + 60 + 50),
        "every picture of every pass"
    );
    assert!(
        increasing(&video) && increasing(&audio),
        "DTS not increasing"
    );
    assert!(frames.iter().all(|f| f.pts() >= f.dts), "PTS < DTS");
    // No boundary leaves more than about a frame without a picture: the largest step between
    // pictures presented one after another is a 40 ms frame plus the items' own A/V
    // imbalance, at most the MP4's 43 ms (see above).
    let mut presented: Vec<i64> = video.iter().map(|f| f.pts()).collect();
    presented.sort_unstable();
    let step = presented.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(step <= 40 + 43, "a picture shown for {step} ms");
    let notes = playlist.take_notes();
    assert!(
        notes.iter().all(|n| n.kind != ItemNoteKind::Skipped),
        "{notes:?}"
    );
    let started = notes
        .iter()
        .filter(|n| n.kind == ItemNoteKind::Started)
        .count();
    assert_eq!(started, 8);
}

#[tokio::test(start_paused = true)]
async fn ts_items_continue_their_presentation() {
    // The same TS item twice, played twice: 3 boundaries, the loop's among them.
    let (frames, playlist) = play(&["h264_aac.ts", "h264_aac.ts"], 1).await;
    assert_eq!(playlist.progress().loops_done, 2);
    let video = items_of(&frames, TagType::Video, 50);
    let audio = items_of(&frames, TagType::Audio, 95);
    for track in [&video, &audio] {
        assert!(increasing(&track.concat()), "DTS not increasing");
    }
    // The file's audio (95 × 21.33 ms = 2027 ms, from 21 ms before the first picture: the
    // AAC priming frame) outlasts its pictures (2000 ms): audio binds and continues with no
    // hole (1 ms: its frames are 21.33 ms, counted here as 21), the pictures wait for it by
    // the item's imbalance, 28 ms — under a frame.
    assert_eq!(holes(&audio, 21), [1, 1, 1]);
    assert_eq!(holes(&video, 40), [28, 28, 28]);
    // A/V as in the file at each item's start: ffmpeg's AAC priming frame 21 ms before the
    // first picture.
    for (v, a) in video.iter().zip(&audio) {
        let first_picture = v.iter().map(|f| f.pts()).min().unwrap();
        let lead = first_picture - a[0].pts();
        assert!((21..=22).contains(&lead), "audio leads by {lead} ms");
    }
}

#[tokio::test(start_paused = true)]
async fn a_ts_item_offset_starts_at_the_keyframe_before() {
    // Keyframes every second: Offset 1.5 s starts at the picture decoded at 1.0 s (scanned
    // from the start of the file, the frames before dropped).
    let (frames, _) = play_from(&["plain.flv", "h264_aac.ts"], 0, 1, 1_500).await;
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    assert!(video[0].keyframe);
    assert_eq!(video.len(), 25);
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_ts_item_is_skipped_with_its_reason() {
    let (frames, playlist) = play(&["noise.ts", "h264_aac.ts"], 0).await;
    assert_eq!(
        frames.iter().filter(|f| f.kind == TagType::Video).count(),
        50
    );
    let skipped: Vec<(u32, String)> = playlist
        .take_notes()
        .into_iter()
        .filter(|n| n.kind == ItemNoteKind::Skipped)
        .map(|n| (n.file_index, n.detail.unwrap_or_default()))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, 0);
    assert!(
        skipped[0]
            .1
            .starts_with("MPEG-TS: no transport stream packets"),
        "{}",
        skipped[0].1
    );
}

#[tokio::test(start_paused = true)]
async fn vod_hls_items_play_every_segment_on_the_lists_timeline() {
    // A VOD playlist of eight 1 s segments (B-frames) between an FLV and a TS file, then the
    // same through a master playlist, twice: one session, every picture, DTS increasing.
    let items = ["plain.flv", "vod.m3u8", "h264_aac.ts", "master.m3u8"];
    let (frames, playlist) = play(&items, 1).await;
    assert_eq!(playlist.progress().loops_done, 2);
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    let audio: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Audio).collect();
    assert_eq!(video.len(), 2 * (60 + 200 + 50 + 200), "every picture");
    assert!(
        increasing(&video) && increasing(&audio),
        "DTS not increasing"
    );
    let notes = playlist.take_notes();
    assert!(
        notes.iter().all(|n| n.kind != ItemNoteKind::Skipped),
        "{notes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_discontinuity_inside_a_vod_hls_item_continues_its_timeline() {
    // Segments 0-3 twice with EXT-X-DISCONTINUITY between: the timestamps start over in the
    // file, the item's timeline runs on (8 s, every picture, no step back).
    let (frames, _) = play(&["vod_break.m3u8"], 0).await;
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    assert_eq!(video.len(), 200);
    assert!(increasing(&video), "DTS not increasing");
    let span = video.last().unwrap().dts - video[0].dts;
    assert!((7_800..=8_100).contains(&span), "{span} ms of pictures");
}

#[tokio::test(start_paused = true)]
async fn a_vod_hls_item_offset_starts_at_the_keyframe_before() {
    // Offset 5.5 s: the segment holding it (5 s), from its keyframe: 3 s of pictures.
    let (frames, _) = play_from(&["plain.flv", "vod.m3u8"], 0, 1, 5_500).await;
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == TagType::Video).collect();
    assert!(video[0].keyframe);
    assert_eq!(video.len(), 75);
}

#[tokio::test(start_paused = true)]
async fn live_playlists_and_local_segments_of_a_remote_list_are_skipped_with_the_reason() {
    let (frames, playlist) = play(&["live.m3u8", "escape.m3u8", "h264_aac.ts"], 0).await;
    assert_eq!(
        frames.iter().filter(|f| f.kind == TagType::Video).count(),
        50
    );
    let skipped: Vec<String> = playlist
        .take_notes()
        .into_iter()
        .filter(|n| n.kind == ItemNoteKind::Skipped)
        .filter_map(|n| n.detail)
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped[0].contains("live HLS playlist (no EXT-X-ENDLIST)"),
        "{skipped:?}"
    );
    assert!(skipped[1].contains("file:///etc/passwd"), "{skipped:?}");
}
