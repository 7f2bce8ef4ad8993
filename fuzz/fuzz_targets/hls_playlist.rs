//! HLS playlist parsing of arbitrary bytes (read as UTF-8, lossily): never a panic; what
//! parses is consistent (sequence numbers, byte ranges, durations, limits), the chosen variant
//! is one of the master playlist's, and a `LiveTracker` fed the playlist (loaded twice, then
//! ended) hands out listed segments in increasing order and never more than listed.
#![no_main]

use std::time::{Duration, Instant};

use baton_hls::{
    LiveTracker, MAX_DURATION_SECS, MAX_ENTRIES, Playlist, TrackerConfig, TrackerEvent,
    VariantPreference, choose_variant, parse,
};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let base = Url::parse("https://cdn.example/live/index.m3u8").expect("a valid literal URL");
    let Ok(playlist) = parse(&text, &base) else {
        return;
    };
    match playlist {
        Playlist::Master(master) => {
            assert!(master.variants.len() + master.renditions.len() <= MAX_ENTRIES);
            for preference in [
                VariantPreference::Best,
                VariantPreference::Index(1),
                VariantPreference::MaxBandwidth(1_000_000),
            ] {
                if let Ok(chosen) = choose_variant(&master, preference) {
                    assert!(master.variants.iter().any(|v| std::ptr::eq(v, chosen)));
                }
            }
            if let Some(v) = master.variants.first() {
                let _ = master.audio_rendition(v);
            }
        }
        Playlist::Media(media) => {
            assert!(media.segments.len() <= MAX_ENTRIES);
            assert!(media.target_duration >= Duration::from_secs(1));
            assert!(media.target_duration <= Duration::from_secs(MAX_DURATION_SECS));
            for (i, segment) in media.segments.iter().enumerate() {
                assert_eq!(segment.sequence, media.media_sequence + i as u64);
                assert!(segment.duration <= Duration::from_secs(MAX_DURATION_SECS + 1));
                if let Some(range) = segment.byte_range {
                    assert!(range.offset.checked_add(range.length).is_some());
                    let _ = range.http_range();
                }
            }
            let t0 = Instant::now();
            let mut tracker = LiveTracker::new(TrackerConfig::default(), t0);
            let mut last = None;
            let mut fetches = 0usize;
            let mut drive = |tracker: &mut LiveTracker, fail: bool| {
                while let Some(event) = tracker.poll_event() {
                    if let TrackerEvent::Fetch(request) = event {
                        assert!(media.segment(request.sequence).is_some());
                        if !request.retry {
                            assert!(last.is_none_or(|l| request.sequence > l));
                            last = Some(request.sequence);
                        }
                        fetches += 1;
                        assert!(fetches <= 2 * media.segments.len());
                        if fail {
                            tracker.segment_failed();
                        } else {
                            tracker.segment_done();
                        }
                    }
                }
            };
            tracker.handle_playlist(media.clone(), t0);
            drive(&mut tracker, data.len() % 3 == 0);
            tracker.handle_playlist(media.clone(), t0 + media.target_duration);
            drive(&mut tracker, false);
            let mut finished = media.clone();
            finished.ended = true;
            tracker.handle_playlist(finished, t0 + 2 * media.target_duration);
            drive(&mut tracker, false);
            assert!(tracker.is_finished());
        }
    }
});
