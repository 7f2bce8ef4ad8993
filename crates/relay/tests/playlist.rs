//! Playlists end to end with paused time: FLV files held in memory, played by a relay into
//! Baton's own ingest over an in-memory network, observed from the hub. One destination
//! session across items and loops, one continuous timeline, real-time pacing, RepeatNumber,
//! FileIndex / Offset, skipped items, and the end of the list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use baton_media::TagType;
use baton_net::client::ClientOptions;
use baton_net::hub::{StreamEvent, StreamHub, StreamKey};
use baton_net::ingest::AllowAll;
use baton_net::testing::{MemoryNetwork, media, observe, test_flv_file};
use baton_relay::{PlayerConfig, Playlist, Relay, RelayConfig, RelayState};
use bytes::Bytes;
use tokio::time::Instant;

const DST: &str = "rtmp://mem/live/dst";

struct World {
    net: Arc<MemoryNetwork>,
    hub: Arc<StreamHub>,
}

fn world() -> World {
    let (net, hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World { net, hub }
}

fn files() -> Arc<HashMap<String, Bytes>> {
    let mut m = HashMap::new();
    m.insert("a".to_string(), test_flv_file(2, 30, 0x64, 1));
    m.insert("b".to_string(), test_flv_file(3, 15, 0x4d, 2)); // another profile: new sequence header
    m.insert(
        "garbage".to_string(),
        Bytes::from_static(b"this is not a media file at all"),
    );
    let mp4 = |name: &str| {
        let path = format!(
            "{}/../proto/mp4/tests/fixtures/{name}.mp4",
            env!("CARGO_MANIFEST_DIR")
        );
        Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
    };
    m.insert("faststart.mp4".to_string(), mp4("faststart"));
    m.insert("moov_at_end.mp4".to_string(), mp4("moov_at_end"));
    m.insert("mixed.mp4".to_string(), mp4("mixed_tracks"));
    // VOD HLS playlists of the live tests' segments: eight 1 s MPEG-TS segments, the same
    // as fMP4, and a live (unended) one.
    let hls = format!("{}/tests/fixtures/hls", env!("CARGO_MANIFEST_DIR"));
    let vod = |name: &str, map: Option<&str>, ext: &str, ended: bool| {
        let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n");
        if let Some(map) = map {
            text.push_str(&format!("#EXT-X-MAP:URI=\"mem:{map}\"\n"));
        }
        for i in 0..8 {
            text.push_str(&format!("#EXTINF:1.000,\nmem:{name}{i}.{ext}\n"));
        }
        if ended {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        text
    };
    m.insert(
        "vod.m3u8".to_string(),
        Bytes::from(vod("ts", None, "ts", true)),
    );
    m.insert(
        "vod_fmp4.m3u8".to_string(),
        Bytes::from(vod("m4s", Some("init.mp4"), "m4s", true)),
    );
    m.insert(
        "live.m3u8".to_string(),
        Bytes::from(vod("ts", None, "ts", false)),
    );
    for i in 0..8 {
        let read =
            |p: String| Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")));
        m.insert(format!("ts{i}.ts"), read(format!("{hls}/seg{i}.ts")));
        m.insert(
            format!("m4s{i}.m4s"),
            read(format!("{hls}/fmp4/seg{i}.m4s")),
        );
    }
    m.insert(
        "init.mp4".to_string(),
        Bytes::from(std::fs::read(format!("{hls}/fmp4/init.mp4")).unwrap()),
    );
    let mut cut = mp4("moov_at_end").to_vec();
    cut.truncate(cut.len() / 2); // moov (at the end) is gone
    m.insert("cut.mp4".to_string(), Bytes::from(cut));
    Arc::new(m)
}

fn play(
    w: &World,
    items: &[&str],
    repeat: i32,
    index: u32,
    offset_ms: u64,
) -> (Relay, Arc<Playlist>) {
    let items = items.iter().map(|i| format!("mem:{i}")).collect();
    let playlist = Playlist::new(items, repeat, index, offset_ms, 0).unwrap();
    let mut config = RelayConfig::new("playlist", DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(&w.net)),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(1);
    let player = PlayerConfig {
        memory: files(),
        lead: Duration::from_millis(200),
        ..PlayerConfig::default()
    };
    config.playlist = Some((Arc::clone(&playlist), player));
    (Relay::spawn(config).unwrap(), playlist)
}

#[tokio::test(start_paused = true)]
async fn a_list_repeated_twice_is_one_paced_continuous_session() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let started = Instant::now();
    let (relay, playlist) = play(&w, &["a", "b"], 2, 0, 0);
    let frames = observe(&sub, Duration::from_secs(40)).await;
    let elapsed = started.elapsed();
    // The list is 5 s; three passes: 15 s of media, delivered in real time.
    assert!(
        elapsed >= Duration::from_millis(14_500) && elapsed <= Duration::from_millis(16_500),
        "took {elapsed:?}"
    );
    assert_eq!(relay.wait().await, Ok(()));
    assert!(playlist.progress().finished);
    assert_eq!(playlist.progress().loops_done, 3);

    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    // Every frame of every pass: 3 × (60 + 90) video frames.
    assert_eq!(video.len(), 3 * (60 + 90));
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not increasing"
        );
    }
    // Continuous: the next item starts where the longer track of the previous one ended, so
    // a video gap is at most a frame plus the audio's overhang (under one audio frame).
    let gaps = video.windows(2).map(|w| w[1].dts - w[0].dts).max().unwrap();
    assert!(gaps <= 34 + 23, "video gap {gaps} ms");
    let v_end = video.last().unwrap().dts + 33;
    let a_end = audio.last().unwrap().dts + 23;
    assert!((v_end - 15_000).abs() <= 34, "video ends at {v_end}");
    // A/V drift after three passes: under one frame.
    assert!(
        (v_end - a_end).abs() <= 33,
        "video {v_end} vs audio {a_end}"
    );
    // Sequence headers: sent at the start and again only where the profile changes (a → b,
    // b → a, a → b, ...): 1 + 5 video headers.
    let video_headers = frames
        .iter()
        .filter(|(_, f)| f.kind == TagType::Video && f.config)
        .count();
    assert_eq!(video_headers, 6);
    // Paced: no frame arrives more than the lead (200 ms) ahead of its time.
    let t0 = frames.iter().find(|(_, f)| !f.config).unwrap().0;
    for (at, f) in &frames {
        if f.config || f.kind == TagType::Script {
            continue;
        }
        let due = t0 + Duration::from_millis(u64::try_from(f.dts).unwrap());
        assert!(
            *at + Duration::from_millis(250) >= due,
            "frame {} ms arrived {:?} early",
            f.dts,
            due - *at
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_hundred_loops_do_not_drift() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    // Item b: audio overhangs video by 14 ms; 100 passes.
    let (relay, playlist) = play(&w, &["b"], 99, 0, 0);
    let frames = observe(&sub, Duration::from_secs(400)).await;
    assert_eq!(relay.wait().await, Ok(()));
    assert_eq!(playlist.progress().loops_done, 100);
    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    assert_eq!(video.len(), 100 * 90);
    // Each pass starts both tracks together: the first video and audio frame of the last
    // pass are at the same DTS, as in the file.
    let last_pass_video = video[99 * 90].dts;
    let last_pass_audio = audio[audio.len() - audio.len() / 100].dts;
    assert_eq!(last_pass_video, last_pass_audio);
    let v_end = video.last().unwrap().dts + 33;
    let a_end = audio.last().unwrap().dts + 23;
    assert!((v_end - a_end).abs() < 33, "video {v_end} vs audio {a_end}");
}

#[tokio::test(start_paused = true)]
async fn file_index_and_offset_start_at_the_keyframe_before() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    // Item b has a keyframe every 15 frames (500 ms): Offset 1.2 s starts at 1.0 s.
    let (relay, _) = play(&w, &["a", "b"], 0, 1, 1_200);
    let frames = observe(&sub, Duration::from_secs(10)).await;
    assert_eq!(relay.wait().await, Ok(()));
    let video = media(&frames, TagType::Video);
    assert!(video[0].keyframe);
    // 3 s item from 1.0 s: 60 frames; the list ends there (item b is the last).
    assert_eq!(video.len(), 60);
}

#[tokio::test(start_paused = true)]
async fn an_unplayable_item_is_skipped_and_a_list_of_them_fails() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let (relay, _) = play(&w, &["garbage", "a", "missing"], 0, 0, 0);
    let frames = observe(&sub, Duration::from_secs(10)).await;
    assert_eq!(relay.wait().await, Ok(()));
    assert_eq!(media(&frames, TagType::Video).len(), 60);

    let w = world();
    let (relay, _) = play(&w, &["garbage", "missing"], -1, 0, 0);
    let e = relay.wait().await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("no item of the playlist"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_relay_reports_finished() {
    let w = world();
    let (relay, playlist) = play(&w, &["a"], 0, 0, 0);
    let status = relay.status_cell();
    assert_eq!(relay.wait().await, Ok(()));
    assert_eq!(status.snapshot().state, RelayState::Finished);
    assert_eq!(playlist.progress().file_index, 0);
}

#[tokio::test(start_paused = true)]
async fn mp4_items_moov_first_or_last_join_flv_items_on_one_timeline() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let (relay, playlist) = play(
        &w,
        &["faststart.mp4", "cut.mp4", "moov_at_end.mp4", "a"],
        1,
        0,
        0,
    );
    let frames = observe(&sub, Duration::from_secs(30)).await;
    assert_eq!(relay.wait().await, Ok(()));
    assert_eq!(playlist.progress().loops_done, 2);
    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    // Two passes of 50 + 50 (25 fps MP4s, the cut one skipped) + 60 (FLV) video frames.
    assert_eq!(video.len(), 2 * (50 + 50 + 60));
    for track in [&video, &audio] {
        assert!(
            track.windows(2).all(|w| w[0].dts < w[1].dts),
            "DTS not increasing"
        );
    }
    // 2 × (2 + 2 + 2) s of media. An MP4 item's AAC frames span a little more than its
    // pictures (the priming frame before 0, the padded last one after 2 s), and each item
    // continues where the previous one's presentation ended: the end lies a little after 12 s.
    let v_end = video.last().unwrap().dts + 40;
    assert!((12_000..=12_500).contains(&v_end), "video ends at {v_end}");
    let a_end = audio.last().unwrap().dts + 23;
    assert!(
        (v_end - a_end).abs() <= 45,
        "video {v_end} vs audio {a_end}"
    );
    // Every MP4 video frame carries the AVC NAL length-prefixed sample after its 5-byte
    // FLV prefix; keyframes first in each item.
    assert!(video[0].keyframe && video[50].keyframe && video[100].keyframe);
}

/// An FLV file of `seconds` with one video keyframe and one audio frame per second.
fn sparse_flv(seconds: u32) -> Bytes {
    use baton_flv::FlvMuxer;
    let mut out = bytes::BytesMut::new();
    out.extend_from_slice(&FlvMuxer::header(true, true));
    FlvMuxer::write_tag(
        TagType::Video,
        0,
        &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f],
        &mut out,
    );
    FlvMuxer::write_tag(TagType::Audio, 0, &[0xaf, 0, 0x12, 0x10], &mut out);
    for s in 0..seconds {
        let ts = s * 1000;
        FlvMuxer::write_tag(
            TagType::Video,
            ts,
            &[0x17, 1, 0, 0, 0, 0xde, 0xad],
            &mut out,
        );
        FlvMuxer::write_tag(TagType::Audio, ts + 500, &[0xaf, 1, 0x21, 0x10], &mut out);
    }
    out.freeze()
}

/// Looping past 2^24 ms (≈4.66 h), where RTMP timestamps move to the extended field: the
/// destination (Baton's ingest, reading the wire) sees the timeline go on, one second a frame.
#[tokio::test(start_paused = true)]
async fn the_timeline_crosses_the_extended_timestamp_boundary() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let items = vec!["mem:sparse".to_string()];
    let playlist = Playlist::new(items, -1, 0, 0, 0).unwrap();
    let mut config = RelayConfig::new("playlist", DST);
    config.client = ClientOptions {
        dialer: Arc::new(Arc::clone(&w.net)),
        ..ClientOptions::default()
    };
    let mut memory = HashMap::new();
    memory.insert("sparse".to_string(), sparse_flv(600));
    config.playlist = Some((
        Arc::clone(&playlist),
        PlayerConfig {
            memory: Arc::new(memory),
            ..PlayerConfig::default()
        },
    ));
    let relay = Relay::spawn(config).unwrap();
    const BOUNDARY: i64 = 0xFF_FFFF;
    let mut last = -1i64;
    let mut crossed = 0;
    while crossed < 5 {
        let StreamEvent::Frame(f) = sub.recv().await else {
            panic!("the publisher left");
        };
        if f.kind != TagType::Video || f.config {
            continue;
        }
        assert!(f.dts > last, "video DTS went from {last} to {}", f.dts);
        // A second a frame; at a loop, plus the audio frame that ends half a second later.
        assert!(f.dts - last <= 1_501 || last < 0, "gap {last} → {}", f.dts);
        last = f.dts;
        if f.dts > BOUNDARY {
            crossed += 1;
        }
    }
    assert!(last > BOUNDARY && last < BOUNDARY + 10_000, "{last}");
    assert!(playlist.progress().loops_done >= 27);
    relay.stop();
}

#[tokio::test(start_paused = true)]
async fn vod_hls_playlists_play_as_items_on_the_list_timeline() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    // TS segments, then the same as fMP4, then item a again: one session, one timeline.
    let (relay, playlist) = play(&w, &["vod.m3u8", "vod_fmp4.m3u8", "a"], 0, 0, 0);
    let frames = observe(&sub, Duration::from_secs(40)).await;
    assert_eq!(relay.wait().await, Ok(()));
    assert!(playlist.progress().finished);
    let video = media(&frames, TagType::Video);
    let audio = media(&frames, TagType::Audio);
    // 2 × 8 s at 25 fps, then a (2 s at 30 fps).
    assert_eq!(video.len(), 2 * 200 + 60);
    for track in [&video, &audio] {
        assert!(track.windows(2).all(|w| w[0].dts < w[1].dts));
    }
    // Continuous: at an item boundary the video waits at most for the audio's overhang (the
    // encoder's AAC flush runs about 100 ms past the last picture) and a frame.
    let gap = video.windows(2).map(|w| w[1].dts - w[0].dts).max().unwrap();
    assert!(gap <= 160, "video gap {gap} ms");
    let v_end = video.last().unwrap().dts;
    assert!((v_end - 18_000).abs() <= 300, "video ends at {v_end}");
}

#[tokio::test(start_paused = true)]
async fn an_hls_item_starts_at_its_offset_and_a_live_one_is_skipped_by_name() {
    let w = world();
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    // FileIndex 1 (the fMP4 list), Offset 5.5 s: segments 0..4 are not fetched; the
    // keyframe at 5 s starts the item.
    let (relay, playlist) = play(&w, &["live.m3u8", "vod_fmp4.m3u8"], 0, 1, 5_500);
    let frames = observe(&sub, Duration::from_secs(20)).await;
    assert_eq!(relay.wait().await, Ok(()));
    let video = media(&frames, TagType::Video);
    assert!(video[0].keyframe);
    assert_eq!(video.len(), 3 * 25);
    assert_eq!(playlist.progress().file_index, 1);

    // A live playlist is not a file: skipped, naming why (here the list's only item).
    let w = world();
    let (relay, _) = play(&w, &["live.m3u8"], 0, 0, 0);
    let e = relay.wait().await.unwrap_err();
    assert!(
        e.message.contains("live HLS playlist") && e.message.contains("EXT-X-ENDLIST"),
        "{e}"
    );
}
