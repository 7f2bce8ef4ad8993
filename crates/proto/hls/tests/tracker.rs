//! `LiveTracker` driven through simulated time: successive playlists at chosen instants, each
//! fetch answered at once (or failed), and the tracker's events checked.

use std::time::{Duration, Instant};

use baton_hls::{
    Discontinuity, LiveTracker, MediaPlaylist, Playlist, SegmentRequest, SkipReason, TrackerConfig,
    TrackerEvent, parse,
};
use url::Url;

fn base() -> Url {
    Url::parse("http://origin.example/live/index.m3u8").unwrap()
}

fn parsed(text: &str) -> MediaPlaylist {
    match parse(text, &base()).unwrap() {
        Playlist::Media(m) => m,
        other => panic!("{other:?}"),
    }
}

/// A live playlist: target `target` s, segments `first..first+count` of `target` s each named
/// `{prefix}{sequence}.ts`, EXT-X-DISCONTINUITY before the sequence numbers in `breaks`.
fn live(target: u64, first: u64, count: u64, prefix: &str, breaks: &[u64]) -> MediaPlaylist {
    let mut text =
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
    for seq in first..first + count {
        if breaks.contains(&seq) {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        text.push_str(&format!("#EXTINF:{target}.000,\n{prefix}{seq}.ts\n"));
    }
    parsed(&text)
}

fn ended(mut playlist: MediaPlaylist) -> MediaPlaylist {
    playlist.ended = true;
    playlist
}

fn fixture(name: &str) -> MediaPlaylist {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    parsed(&std::fs::read_to_string(path).unwrap())
}

/// Simulated time: an origin instant and offsets from it.
struct Clock(Instant);

impl Clock {
    fn at(&self, secs: f64) -> Instant {
        self.0 + Duration::from_secs_f64(secs)
    }
}

fn setup() -> (Clock, LiveTracker) {
    let clock = Clock(Instant::now());
    let tracker = LiveTracker::new(TrackerConfig::default(), clock.at(0.0));
    (clock, tracker)
}

fn drain(tracker: &mut LiveTracker) -> Vec<TrackerEvent> {
    std::iter::from_fn(|| tracker.poll_event()).collect()
}

/// Fetches everything the tracker asks for, succeeding; returns the other events and the
/// requests in order.
fn fetch_all(tracker: &mut LiveTracker) -> (Vec<TrackerEvent>, Vec<SegmentRequest>) {
    let mut others = Vec::new();
    let mut fetched = Vec::new();
    while let Some(event) = tracker.poll_event() {
        match event {
            TrackerEvent::Fetch(request) => {
                fetched.push(*request);
                tracker.segment_done();
            }
            other => others.push(other),
        }
    }
    (others, fetched)
}

fn sequences(requests: &[SegmentRequest]) -> Vec<u64> {
    requests.iter().map(|r| r.sequence).collect()
}

fn name(request: &SegmentRequest) -> &str {
    request.uri.path().rsplit('/').next().unwrap()
}

#[test]
fn starts_three_target_durations_from_the_end() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 10, 8, "s", &[]), clock.at(0.0));
    let events = drain(&mut tracker);
    assert_eq!(events[0], TrackerEvent::ReloadAt(clock.at(2.0)));
    let TrackerEvent::Fetch(first) = &events[1] else {
        panic!("{events:?}");
    };
    // Segments 15, 16, 17 make the last 6 s: 15 starts exactly three target durations before
    // the end.
    assert_eq!(first.sequence, 15);
    assert_eq!(first.uri.as_str(), "http://origin.example/live/s15.ts");
    assert_eq!(first.duration, Duration::from_secs(2));
    assert_eq!(first.discontinuity, None);
    assert!(!first.retry);
    assert_eq!(
        events.len(),
        2,
        "one segment outstanding at a time: {events:?}"
    );
    assert_eq!(tracker.poll_event(), None);
}

#[test]
fn start_with_segments_shorter_than_the_target_and_short_playlists() {
    let (clock, mut tracker) = setup();
    // Target 4 s, segments of 2.5 s: the last 12 s need five segments (12.5 s).
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n");
    for seq in 100..110 {
        text.push_str(&format!("#EXTINF:2.5,\n{seq}.ts\n"));
    }
    tracker.handle_playlist(parsed(&text), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [105, 106, 107, 108, 109]);

    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(6, 0, 2, "s", &[]), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        sequences(&fetched),
        [0, 1],
        "shorter than 3 targets: from the first"
    );

    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(6, 7, 0, "s", &[]), clock.at(0.0));
    assert_eq!(drain(&mut tracker), [TrackerEvent::ReloadAt(clock.at(6.0))]);
    // Nothing fetched yet: the start is chosen again from the next playlist.
    tracker.handle_playlist(live(6, 7, 6, "s", &[]), clock.at(6.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [10, 11, 12]);
}

#[test]
fn reload_after_a_target_duration_or_half_of_one_when_unchanged() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(4, 0, 5, "s", &[]), clock.at(0.0));
    let (events, _) = fetch_all(&mut tracker);
    assert_eq!(events, [TrackerEvent::ReloadAt(clock.at(4.0))]);
    // Unchanged at 4 s: half a target duration.
    tracker.handle_playlist(live(4, 0, 5, "s", &[]), clock.at(4.0));
    assert_eq!(
        fetch_all(&mut tracker).0,
        [TrackerEvent::ReloadAt(clock.at(6.0))]
    );
    tracker.handle_playlist(live(4, 0, 5, "s", &[]), clock.at(6.0));
    assert_eq!(
        fetch_all(&mut tracker).0,
        [TrackerEvent::ReloadAt(clock.at(8.0))]
    );
    // Changed at 8 s: a whole target duration, measured from when the load began.
    tracker.handle_playlist(live(4, 1, 5, "s", &[]), clock.at(8.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(events, [TrackerEvent::ReloadAt(clock.at(12.0))]);
    assert_eq!(sequences(&fetched), [5]);
    // A failed load: retried after half a target duration.
    tracker.handle_playlist_failed(clock.at(12.0));
    assert_eq!(
        drain(&mut tracker),
        [TrackerEvent::ReloadAt(clock.at(14.0))]
    );
}

#[test]
fn follows_a_sliding_playlist_without_gaps() {
    let (clock, mut tracker) = setup();
    let mut all = Vec::new();
    for step in 0..20u64 {
        tracker.handle_playlist(live(2, step, 5, "s", &[]), clock.at(2.0 * step as f64));
        let (events, fetched) = fetch_all(&mut tracker);
        assert!(
            events
                .iter()
                .all(|e| matches!(e, TrackerEvent::ReloadAt(_))),
            "{events:?}"
        );
        assert!(fetched.iter().all(|r| r.discontinuity.is_none()));
        all.extend(sequences(&fetched));
    }
    assert_eq!(all, (2..24).collect::<Vec<_>>());
}

#[test]
fn skips_ahead_when_far_behind() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 10, 8, "s", &[]), clock.at(0.0));
    let Some(TrackerEvent::ReloadAt(_)) = tracker.poll_event() else {
        panic!()
    };
    let Some(TrackerEvent::Fetch(request)) = tracker.poll_event() else {
        panic!()
    };
    assert_eq!(request.sequence, 15);
    tracker.segment_done();
    // The fetch of 15 took long: the playlist now ends at 27, twelve segments wait.
    tracker.handle_playlist(live(2, 12, 16, "s", &[]), clock.at(20.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        events,
        [
            TrackerEvent::Skipped {
                first: 16,
                count: 9,
                reason: SkipReason::Behind
            },
            TrackerEvent::ReloadAt(clock.at(22.0)),
        ]
    );
    assert_eq!(sequences(&fetched), [25, 26, 27]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::SkippedAhead));
    assert_eq!(fetched[1].discontinuity, None);
}

#[test]
fn a_few_segments_behind_is_caught_up_without_skipping() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    fetch_all(&mut tracker);
    // Six waiting (5..=10) is not more than max_behind.
    tracker.handle_playlist(live(2, 4, 7, "s", &[]), clock.at(12.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, TrackerEvent::ReloadAt(_)))
    );
    assert_eq!(sequences(&fetched), [5, 6, 7, 8, 9, 10]);
}

#[test]
fn skips_segments_that_left_the_playlist() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    fetch_all(&mut tracker);
    tracker.handle_playlist(live(2, 9, 5, "s", &[]), clock.at(20.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        events[0],
        TrackerEvent::Skipped {
            first: 5,
            count: 6,
            reason: SkipReason::Expired
        }
    );
    assert_eq!(sequences(&fetched), [11, 12, 13]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::SkippedAhead));
}

#[test]
fn sequence_reset_resumes_after_a_known_uri() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 100, 5, "s", &[]), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [102, 103, 104]);
    // Renumbered (another origin behind the CDN): same URIs, sequence 3 onwards.
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n");
    for seq in 103..107 {
        text.push_str(&format!("#EXTINF:2,\ns{seq}.ts\n"));
    }
    tracker.handle_playlist(parsed(&text), clock.at(2.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        events[0],
        TrackerEvent::Reset {
            previous_sequence: 100,
            sequence: 3,
            resumed_by_uri: true
        }
    );
    let names: Vec<_> = fetched.iter().map(name).collect();
    assert_eq!(names, ["s105.ts", "s106.ts"]);
    assert_eq!(sequences(&fetched), [5, 6]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::SequenceReset));
    assert_eq!(fetched[1].discontinuity, None);
    // The new numbering is followed from then on.
    tracker.handle_playlist(live(2, 4, 4, "t", &[]), clock.at(4.0));
    let (events, _) = fetch_all(&mut tracker);
    assert!(
        events.iter().any(|e| matches!(
            e,
            TrackerEvent::Reset {
                resumed_by_uri: false,
                ..
            }
        )),
        "sequences 5 and 6 now name other URIs: renumbered again: {events:?}"
    );
}

#[test]
fn producer_restart_starts_again_at_the_live_edge() {
    // ffmpeg killed and started again: media sequence 0, the same file names.
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(fixture("ffmpeg_ts_live_8.m3u8"), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        fetched.iter().map(name).collect::<Vec<_>>(),
        ["live4.ts", "live5.ts", "live6.ts"]
    );
    tracker.handle_playlist(fixture("ffmpeg_ts_live_3.m3u8"), clock.at(1.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        events[0],
        TrackerEvent::Reset {
            previous_sequence: 2,
            sequence: 0,
            resumed_by_uri: false
        }
    );
    assert_eq!(
        fetched.iter().map(name).collect::<Vec<_>>(),
        ["live0.ts", "live1.ts"]
    );
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::SequenceReset));
    tracker.handle_playlist(fixture("ffmpeg_ts_live_5.m3u8"), clock.at(2.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(events, [TrackerEvent::ReloadAt(clock.at(3.0))]);
    assert_eq!(sequences(&fetched), [2, 3]);
    assert!(fetched.iter().all(|r| r.discontinuity.is_none()));
}

#[test]
fn a_segment_that_fails_once_is_fetched_again() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    drain_until_fetch(&mut tracker, 2);
    tracker.segment_failed();
    let Some(TrackerEvent::Fetch(retry)) = tracker.poll_event() else {
        panic!()
    };
    assert_eq!((retry.sequence, retry.retry), (2, true));
    assert_eq!(tracker.poll_event(), None, "still one outstanding");
    tracker.segment_done();
    let (events, fetched) = fetch_all(&mut tracker);
    assert!(events.is_empty());
    assert_eq!(sequences(&fetched), [3, 4]);
    assert!(
        fetched
            .iter()
            .all(|r| r.discontinuity.is_none() && !r.retry)
    );
}

#[test]
fn a_segment_that_fails_twice_is_skipped() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    drain_until_fetch(&mut tracker, 2);
    tracker.segment_failed();
    assert!(matches!(tracker.poll_event(), Some(TrackerEvent::Fetch(r)) if r.retry));
    tracker.segment_failed();
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        events,
        [TrackerEvent::Skipped {
            first: 2,
            count: 1,
            reason: SkipReason::Failed
        }]
    );
    assert_eq!(sequences(&fetched), [3, 4]);
    assert_eq!(
        fetched[0].discontinuity,
        Some(Discontinuity::SegmentSkipped)
    );
    assert_eq!(fetched[1].discontinuity, None);
}

/// Polls until the Fetch of `sequence` (answering earlier ones as done).
fn drain_until_fetch(tracker: &mut LiveTracker, sequence: u64) {
    loop {
        match tracker.poll_event() {
            Some(TrackerEvent::Fetch(r)) if r.sequence == sequence => return,
            Some(TrackerEvent::Fetch(_)) => tracker.segment_done(),
            Some(_) => {}
            None => panic!("no fetch of {sequence}"),
        }
    }
}

#[test]
fn stalls_when_the_playlist_stops_changing() {
    let (clock, mut tracker) = setup();
    // Target 2 s: the limit is max(3 × 2 s, 10 s) = 10 s of no change.
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    let (mut events, _) = fetch_all(&mut tracker);
    let mut reloads = 0;
    let stall = loop {
        let Some(TrackerEvent::ReloadAt(at)) = events.pop() else {
            panic!("{events:?}");
        };
        reloads += 1;
        tracker.handle_playlist(live(2, 0, 5, "s", &[]), at);
        events = drain(&mut tracker);
        if let Some(TrackerEvent::Stalled(stall)) = events.first() {
            break stall.clone();
        }
    };
    // Reloads at 2, 3, 4, …, 10 s are within the limit; the one at 11 s is past it.
    assert_eq!(reloads, 10);
    assert_eq!(stall.unchanged_for, Duration::from_secs(11));
    assert_eq!(stall.limit, Duration::from_secs(10));
    assert_eq!(
        stall.to_string(),
        "HLS playlist unchanged for 11.0 s (limit 10.0 s; 0 failed loads since the last change)"
    );
    assert_eq!(events.len(), 1);
    assert!(tracker.is_finished());
    tracker.handle_playlist(live(2, 1, 5, "s", &[]), clock.at(12.0));
    assert_eq!(tracker.poll_event(), None, "nothing after the end");
}

#[test]
fn stalls_when_reloads_keep_failing() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(6, 0, 5, "s", &[]), clock.at(0.0));
    fetch_all(&mut tracker);
    // Target 6 s: limit 18 s. Failed loads at 6, 9, …, 18 s, then 21 s.
    let mut at = 6.0;
    loop {
        tracker.handle_playlist_failed(clock.at(at));
        match drain(&mut tracker).as_slice() {
            [TrackerEvent::ReloadAt(next)] => {
                assert_eq!(*next, clock.at(at + 3.0));
                at += 3.0;
            }
            [TrackerEvent::Stalled(stall)] => {
                assert_eq!(at, 21.0);
                assert_eq!(stall.failed_loads, 6);
                assert_eq!(stall.limit, Duration::from_secs(18));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_changing_playlist_never_stalls() {
    let (clock, mut tracker) = setup();
    for step in 0..100u64 {
        tracker.handle_playlist(live(1, step, 5, "s", &[]), clock.at(step as f64 * 1.5));
        let (events, _) = fetch_all(&mut tracker);
        assert!(!events.iter().any(|e| matches!(e, TrackerEvent::Stalled(_))));
    }
}

#[test]
fn endlist_ends_after_the_last_segment() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(2, 0, 5, "s", &[]), clock.at(0.0));
    fetch_all(&mut tracker);
    tracker.handle_playlist(ended(live(2, 1, 6, "s", &[])), clock.at(2.0));
    assert_eq!(
        tracker.poll_event(),
        Some(TrackerEvent::ReloadAt(clock.at(4.0)))
    );
    assert!(matches!(tracker.poll_event(), Some(TrackerEvent::Fetch(r)) if r.sequence == 5));
    tracker.segment_done();
    let Some(TrackerEvent::Fetch(last)) = tracker.poll_event() else {
        panic!()
    };
    assert_eq!(last.sequence, 6);
    assert_eq!(
        tracker.poll_event(),
        None,
        "no end while the last segment is outstanding"
    );
    tracker.segment_done();
    assert_eq!(tracker.poll_event(), Some(TrackerEvent::Ended));
    assert_eq!(tracker.poll_event(), None);
    assert!(tracker.is_ended());
    assert!(
        !tracker.is_finished(),
        "an end is an unpublish, not the last word"
    );
}

#[test]
fn a_playlist_ended_when_first_loaded_is_over_and_waited_on() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(fixture("ffmpeg_ts_live_end.m3u8"), clock.at(0.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(
        sequences(&fetched),
        [] as [u64; 0],
        "a stale end is not replayed"
    );
    assert_eq!(
        events,
        [TrackerEvent::ReloadAt(clock.at(1.0)), TrackerEvent::Ended]
    );
    // A producer that starts again is followed.
    tracker.handle_playlist(live(1, 0, 2, "live", &[]), clock.at(1.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [0, 1]);
}

#[test]
fn a_finished_playlist_is_played_from_its_start_when_asked() {
    let clock = Clock(Instant::now());
    let config = TrackerConfig {
        play_ended: true,
        ..TrackerConfig::default()
    };
    let mut tracker = LiveTracker::new(config, clock.at(0.0));
    tracker.handle_playlist(fixture("ffmpeg_ts_live_end.m3u8"), clock.at(0.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [6, 7, 8, 9, 10]);
    assert_eq!(
        events,
        [TrackerEvent::ReloadAt(clock.at(1.0)), TrackerEvent::Ended]
    );
}

/// Plays `s0..s7` of a live playlist (target 1 s, five listed) and ends it: the tracker has
/// fetched up to `s7` and reported the end.
fn played_and_ended() -> (Clock, LiveTracker) {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(live(1, 0, 5, "s", &[]), clock.at(0.0));
    fetch_all(&mut tracker);
    for step in 1..=3u64 {
        tracker.handle_playlist(live(1, step, 5, "s", &[]), clock.at(step as f64));
        fetch_all(&mut tracker);
    }
    tracker.handle_playlist(ended(live(1, 3, 5, "s", &[])), clock.at(4.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [] as [u64; 0]);
    assert_eq!(events.last(), Some(&TrackerEvent::Ended));
    assert_eq!(tracker.next_sequence(), 8);
    (clock, tracker)
}

#[test]
fn a_stale_ended_playlist_is_reloaded_but_never_stalls_nor_replays() {
    let (clock, mut tracker) = played_and_ended();
    // Minutes of the same ended playlist: half-target reloads, nothing fetched, no stall.
    for step in 0..240u64 {
        let at = 4.5 + step as f64 * 0.5;
        tracker.handle_playlist(ended(live(1, 3, 5, "s", &[])), clock.at(at));
        let events = drain(&mut tracker);
        assert_eq!(events, [TrackerEvent::ReloadAt(clock.at(at + 0.5))]);
    }
    // Failed loads (the producer rewriting the file) neither.
    tracker.handle_playlist_failed(clock.at(200.0));
    assert_eq!(
        drain(&mut tracker),
        [TrackerEvent::ReloadAt(clock.at(200.5))]
    );
    assert!(tracker.is_ended());
}

#[test]
fn a_restart_numbered_from_zero_with_the_same_names_is_played_from_its_first_segment() {
    let (clock, mut tracker) = played_and_ended();
    // ffmpeg started again: `s0.ts` is new content under an old name.
    tracker.handle_playlist(live(1, 0, 1, "s", &[]), clock.at(10.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert!(events.contains(&TrackerEvent::Reset {
        previous_sequence: 3,
        sequence: 0,
        resumed_by_uri: false,
    }));
    assert_eq!(sequences(&fetched), [0]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::Restart));
    assert!(!tracker.is_ended());
    // The new run goes on; the names s1..s7 it reuses are fetched, not taken for old ones.
    for step in 1..=7u64 {
        let first = step.saturating_sub(4);
        tracker.handle_playlist(
            live(1, first, step + 1 - first, "s", &[]),
            clock.at(10.0 + step as f64),
        );
        let (events, fetched) = fetch_all(&mut tracker);
        assert_eq!(sequences(&fetched), [step], "{events:?}");
        assert_eq!(fetched[0].discontinuity, None);
    }
}

#[test]
fn a_playlist_continued_after_its_end_goes_on_after_the_last_segment() {
    let (clock, mut tracker) = played_and_ended();
    // `append_list`: the old numbering goes on, the new run marked with the tag.
    tracker.handle_playlist(live(1, 4, 5, "s", &[8]), clock.at(10.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TrackerEvent::Reset { .. }))
    );
    assert_eq!(sequences(&fetched), [8]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::Restart));
}

#[test]
fn a_long_new_run_after_the_end_starts_at_the_live_start_position() {
    let (clock, mut tracker) = played_and_ended();
    tracker.handle_playlist(live(1, 100, 10, "t", &[]), clock.at(30.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [107, 108, 109]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::Restart));
}

#[test]
fn discontinuity_tags_are_reported_with_their_segment() {
    let (clock, mut tracker) = setup();
    // A break on the start segment itself means nothing: there is no timeline yet.
    tracker.handle_playlist(live(2, 0, 5, "s", &[2]), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [2, 3, 4]);
    assert_eq!(fetched[0].discontinuity, None);
    tracker.handle_playlist(live(2, 1, 6, "s", &[2, 5]), clock.at(2.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [5, 6]);
    assert_eq!(fetched[0].discontinuity, Some(Discontinuity::Tag));
    assert_eq!(fetched[1].discontinuity, None);
}

#[test]
fn ffmpeg_restart_appended_with_a_discontinuity() {
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(fixture("ffmpeg_ts_live_6.m3u8"), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(sequences(&fetched), [2, 3, 4]);
    // `-hls_flags append_list+discont_start`: the numbering continues, the tag marks the
    // restart.
    let mut appended = fixture("ffmpeg_restart_append_discont.m3u8");
    appended.ended = false;
    tracker.handle_playlist(appended, clock.at(1.0));
    let (events, fetched) = fetch_all(&mut tracker);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, TrackerEvent::ReloadAt(_))),
        "{events:?}"
    );
    assert_eq!(sequences(&fetched), [5, 6, 7]);
    assert!(fetched.iter().all(|r| r.discontinuity.is_none()));
}

#[test]
fn ffmpeg_live_ts_and_fmp4_sequences_play_through() {
    for (names, expected) in [
        (
            &[
                "ffmpeg_ts_live_3.m3u8",
                "ffmpeg_ts_live_5.m3u8",
                "ffmpeg_ts_live_6.m3u8",
                "ffmpeg_ts_live_7.m3u8",
                "ffmpeg_ts_live_8.m3u8",
                "ffmpeg_ts_live_end.m3u8",
            ][..],
            (0..=10).collect::<Vec<u64>>(),
        ),
        (
            &[
                "ffmpeg_fmp4_live_4.m3u8",
                "ffmpeg_fmp4_live_8.m3u8",
                "ffmpeg_fmp4_live_end.m3u8",
            ][..],
            (0..=10).collect(),
        ),
    ] {
        let (clock, mut tracker) = setup();
        let mut all = Vec::new();
        let mut ends = 0;
        for (i, name) in names.iter().enumerate() {
            tracker.handle_playlist(fixture(name), clock.at(i as f64));
            let (events, fetched) = fetch_all(&mut tracker);
            ends += events.iter().filter(|e| **e == TrackerEvent::Ended).count();
            assert!(
                events
                    .iter()
                    .all(|e| matches!(e, TrackerEvent::ReloadAt(_) | TrackerEvent::Ended)),
                "{name}: {events:?}"
            );
            all.extend(fetched);
        }
        assert_eq!(sequences(&all), expected, "{names:?}");
        assert_eq!(ends, 1);
        if names[0].contains("fmp4") {
            assert!(all.iter().all(|r| {
                r.map
                    .as_ref()
                    .is_some_and(|m| m.uri.path() == "/live/init.mp4")
            }));
        }
    }
}

#[test]
fn keys_and_byte_ranges_reach_the_request() {
    // Ended fixtures, played whole as VOD.
    let setup = || {
        let clock = Clock(Instant::now());
        let config = TrackerConfig {
            play_ended: true,
            ..TrackerConfig::default()
        };
        let tracker = LiveTracker::new(config, clock.at(0.0));
        (clock, tracker)
    };
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(fixture("ffmpeg_single_file_byterange.m3u8"), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    let ranges: Vec<_> = fetched
        .iter()
        .map(|r| r.byte_range.unwrap().offset)
        .collect();
    assert_eq!(ranges, [0, 40232, 77456, 117500]);
    let (clock, mut tracker) = setup();
    tracker.handle_playlist(fixture("ffmpeg_aes128.m3u8"), clock.at(0.0));
    let (_, fetched) = fetch_all(&mut tracker);
    assert_eq!(fetched.len(), 4);
    assert!(fetched.iter().all(|r| r.key.is_some()));
}
