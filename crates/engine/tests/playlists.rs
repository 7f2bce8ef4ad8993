//! Playlist tasks (SourceType `url`) under paused time: local FLV files played into Baton's
//! own ingest. Progress is stored while playing, the end of the list stops the task with an
//! `Offline` callback, a restart of the engine resumes at the saved item and position, and an
//! API Restart plays from FileIndex / Offset again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_domain::{
    AccountId, CallbackEvent, CallbackState, Command, DEFAULT_GROUP, ItemEventKind, ListFilter,
    SourceProtocol, SourceType, TaskId, TaskSpec, TaskStatus, TaskStore,
};
use baton_engine::testing::MemoryStore;
use baton_engine::{
    CallbackKeys, Clock, Engine, EngineConfig, EngineError, LocalLauncher, MediaSources, TokioClock,
};
use baton_media::{Frame, TagType};
use baton_net::hub::{HubConfig, StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{AllowAll, Ingest, IngestConfig};
use baton_net::testing::{MemoryNetwork, test_flv_file};
use baton_relay::{PlayerConfig, RelayConfig};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_800_000_000;

struct World {
    net: Arc<MemoryNetwork>,
    hub: Arc<StreamHub>,
    store: Arc<MemoryStore>,
    clock: Arc<TokioClock>,
    dir: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Files `a.flv` (4 s, mark 1), `b.flv` (6 s, mark 2), `c.flv` (4 s, mark 3), keyframe
/// every second.
fn world(name: &str) -> World {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(
        IngestConfig::default(),
        Arc::clone(&hub),
        Arc::new(AllowAll),
    );
    let dir = std::env::temp_dir().join(format!("baton-playlists-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, seconds, mark) in [("a.flv", 4, 1), ("b.flv", 6, 2), ("c.flv", 4, 3)] {
        std::fs::write(dir.join(file), test_flv_file(seconds, 30, 0x64, mark)).unwrap();
    }
    std::fs::write(dir.join("bad.flv"), b"not a media file").unwrap();
    World {
        net: MemoryNetwork::new(ingest),
        hub,
        store: Arc::new(MemoryStore::new()),
        clock: Arc::new(TokioClock::starting_at(T0)),
        dir,
    }
}

async fn engine(w: &World, cancel: CancellationToken) -> Engine {
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Arc::clone(&w.net));
    relay.jitter_seed = Some(7);
    Engine::start(
        w.store.clone() as Arc<dyn TaskStore>,
        w.clock.clone() as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::default(),
        EngineConfig {
            relay,
            media: MediaSources {
                media_dir: None,
                local_roots: vec![w.dir.clone()],
            },
            player: PlayerConfig {
                lead: Duration::from_millis(200),
                ..PlayerConfig::default()
            },
            ..EngineConfig::default()
        },
        cancel,
    )
    .await
    .unwrap()
}

fn spec(w: &World, files: &[&str], repeat: i32, file_index: u32, offset: u32) -> TaskSpec {
    TaskSpec {
        name: "playlist".into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Url,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: files
            .iter()
            .map(|f| w.dir.join(f).to_string_lossy().into_owned())
            .collect(),
        dst_url: "rtmp://mem/live/dst".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: T0 - 10,
        end_time: T0 + 3600,
        callback_url: Some("http://127.0.0.1:9/cb".into()),
        repeat_number: repeat,
        retry_count: 2,
        retry_interval: 60,
        file_index,
        offset,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

fn acct() -> AccountId {
    AccountId("root".into())
}

/// (mark, second) of the video frames the destination got within `limit`.
async fn marks(sub: &Subscription, limit: Duration) -> Vec<(u8, u8)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        if let StreamEvent::Frame(f) = event
            && let Some(m) = mark(&f)
        {
            out.push(m);
        }
    }
    out
}

fn mark(f: &Frame) -> Option<(u8, u8)> {
    (f.kind == TagType::Video && !f.config && f.payload.len() == 9)
        .then(|| (f.payload[7], f.payload[8]))
}

async fn status(engine: &Engine, id: &TaskId) -> (TaskStatus, u32, u32) {
    let t = engine.get(&acct(), id).await.unwrap();
    (
        t.runtime.status,
        t.runtime.current_file_index,
        t.runtime.current_offset,
    )
}

async fn callback_events(w: &World, id: &TaskId) -> Vec<CallbackEvent> {
    let mut events: Vec<_> = w
        .store
        .due_events(i64::MAX, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.task_id == *id)
        .map(|e| e.event)
        .collect();
    events.sort_by_key(|e| e.seq);
    events
}

async fn callback_states(w: &World, id: &TaskId) -> Vec<CallbackState> {
    let mut events: Vec<_> = w
        .store
        .due_events(i64::MAX, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.task_id == *id)
        .map(|e| e.event)
        .collect();
    events.sort_by_key(|e| e.seq);
    events.into_iter().map(|e| e.state).collect()
}

#[tokio::test(start_paused = true)]
async fn a_list_plays_reports_progress_and_stops_when_done() {
    let w = world("done");
    let engine = engine(&w, CancellationToken::new()).await;
    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let seen = tokio::spawn(async move { marks(&sub, Duration::from_secs(12)).await });
    // From item 1 (b), 2 s in, then c: 4 + 4 s of media.
    let task = engine
        .create(&acct(), spec(&w, &["a.flv", "b.flv", "c.flv"], 0, 1, 2))
        .await
        .unwrap();
    sleep(Duration::from_millis(5_600)).await;
    let (st, index, offset) = status(&engine, &task.id).await;
    assert_eq!((st, index), (TaskStatus::Running, 2), "c after b's 4 s");
    assert!(offset <= 1, "offset {offset}");
    let mut seconds = seen.await.unwrap();
    seconds.dedup();
    assert_eq!(
        seconds,
        [
            (2, 2),
            (2, 3),
            (2, 4),
            (2, 5),
            (3, 0),
            (3, 1),
            (3, 2),
            (3, 3)
        ],
        "b from its keyframe at 2 s, then all of c"
    );
    let (st, index, _) = status(&engine, &task.id).await;
    assert_eq!((st, index), (TaskStatus::Stopped, 2));
    assert_eq!(
        callback_states(&w, &task.id).await,
        [CallbackState::Running, CallbackState::Offline]
    );
    assert!(!w.hub.is_publishing(&StreamKey::new("mem", "live", "dst")));
}

#[tokio::test(start_paused = true)]
async fn an_engine_restart_resumes_at_the_saved_position_and_restart_starts_over() {
    let w = world("resume");
    let first = CancellationToken::new();
    let engine1 = engine(&w, first.clone()).await;
    let task = engine1
        .create(&acct(), spec(&w, &["a.flv", "b.flv", "c.flv"], 0, 0, 0))
        .await
        .unwrap();
    // a is 4 s: at ~6.5 s b plays at ~2.5 s; progress is stored every 5 s (at 5 s: b, 1 s).
    sleep(Duration::from_millis(6_500)).await;
    let stored = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    assert_eq!(stored.runtime.current_file_index, 1, "stored while playing");
    // Describe shows the position as it is now, not as last stored.
    let live = engine1.get(&acct(), &task.id).await.unwrap();
    assert_eq!(
        (live.runtime.current_file_index, live.runtime.current_offset),
        (1, 2),
        "b at 2.5 s (stored: {})",
        stored.runtime.current_offset
    );
    // So do cursor lists, and the current task a conditional change that lost reports.
    let listed = engine1
        .list_after(&acct(), &ListFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&live));
    let Err(EngineError::VersionMismatch { current }) = engine1
        .apply_if(&acct(), &task.id, Command::Stop, stored.version + 1)
        .await
    else {
        panic!("a version mismatch");
    };
    assert_eq!(*current, live);
    // The process goes away with its relays (the last position may still be written).
    first.cancel();
    engine1.shutdown(Duration::from_secs(1)).await;
    sleep(Duration::from_secs(1)).await;
    let stored = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    assert_eq!(stored.runtime.status, TaskStatus::Running);
    assert_eq!(stored.runtime.current_file_index, 1);
    let saved = stored.runtime.current_offset;
    assert!((1..=3).contains(&saved), "saved offset {saved}");

    let sub = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let engine2 = engine(&w, CancellationToken::new()).await;
    let seen = marks(&sub, Duration::from_secs(2)).await;
    let (m, s) = *seen.first().expect("the recovered relay plays");
    assert_eq!(m, 2, "resumes in item b");
    assert_eq!(
        u32::from(s),
        saved,
        "at the saved second (the keyframe at or before it)"
    );

    // An API Restart plays from FileIndex / Offset (0, 0) again.
    engine2.restart(&acct(), &task.id).await.unwrap();
    let seen = marks(&sub, Duration::from_secs(2)).await;
    let restarted = seen.iter().position(|&(m, s)| m == 1 && s == 0);
    assert!(restarted.is_some(), "restart plays a from 0: {seen:?}");
    let (_, index, offset) = status(&engine2, &task.id).await;
    assert_eq!(index, 0);
    assert!(offset <= 2, "a, {offset} s in");
}

#[tokio::test(start_paused = true)]
async fn item_callbacks_name_skipped_started_and_finished_items() {
    let w = world("items");
    let engine = engine(&w, CancellationToken::new()).await;
    let mut spec = spec(&w, &["bad.flv", "c.flv"], 0, 0, 0);
    spec.notify_item_switch = Some("on".into());
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(8)).await;
    assert_eq!(status(&engine, &task.id).await.0, TaskStatus::Stopped);
    let events = callback_events(&w, &task.id).await;
    let summary: Vec<(CallbackState, Option<ItemEventKind>, Option<u32>)> = events
        .iter()
        .map(|e| {
            let item = e.item.as_ref();
            (e.state, item.map(|i| i.kind), item.map(|i| i.file_index))
        })
        .collect();
    assert_eq!(
        summary,
        [
            (CallbackState::Running, None, None),
            (
                CallbackState::Running,
                Some(ItemEventKind::Skipped),
                Some(0)
            ),
            (
                CallbackState::Running,
                Some(ItemEventKind::Started),
                Some(1)
            ),
            (
                CallbackState::Running,
                Some(ItemEventKind::Finished),
                Some(1)
            ),
            (
                CallbackState::Offline,
                Some(ItemEventKind::PlaylistFinished),
                Some(1)
            ),
        ]
    );
    let skipped = events[1].item.as_ref().unwrap();
    assert!(skipped.source.ends_with("bad.flv"), "{skipped:?}");
    assert!(
        skipped
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("not an FLV, MP4 or MPEG-TS file"),
        "{skipped:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_track_an_item_plays_without_is_a_task_event() {
    let w = world("dropped");
    // H.264 + AAC, and an MPEG-4 Part 2 video and an AC-3 audio track Baton cannot carry.
    let mixed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proto/mp4/tests/fixtures/mixed_tracks.mp4"
    );
    std::fs::copy(mixed, w.dir.join("mixed.mp4")).unwrap();
    let engine = engine(&w, CancellationToken::new()).await;
    // Played twice, without NotifyItemSwitch.
    let task = engine
        .create(&acct(), spec(&w, &["c.flv", "mixed.mp4"], 1, 0, 0))
        .await
        .unwrap();
    sleep(Duration::from_secs(15)).await;
    assert_eq!(status(&engine, &task.id).await.0, TaskStatus::Stopped);
    let events = callback_events(&w, &task.id).await;
    let dropped: Vec<_> = events
        .iter()
        .filter_map(|e| e.item.as_ref().map(|i| (e, i)))
        .filter(|(_, i)| i.kind == ItemEventKind::TrackDropped)
        .collect();
    // Once per track for the run, not once per pass; recorded and delivered like a skip.
    assert_eq!(dropped.len(), 2, "{events:?}");
    for ((e, item), codec) in dropped.iter().zip(["'mp4v'", "'ac-3'"]) {
        assert_eq!(e.state, CallbackState::Running);
        assert!(e.is_deliverable());
        assert_eq!(item.file_index, 1);
        assert!(item.source.ends_with("mixed.mp4"), "{item:?}");
        let detail = item.detail.as_deref().unwrap_or("");
        assert!(
            detail.contains(codec) && detail.starts_with("track "),
            "{detail}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_item_that_cannot_be_fetched_falls_under_the_retry_policy() {
    let w = world("fetch");
    let engine = engine(&w, CancellationToken::new()).await;
    let mut spec = spec(&w, &["c.flv"], 0, 0, 0);
    // Nothing listens there: connection refused, which retrying may cure.
    spec.source_urls = vec!["http://127.0.0.1:9/missing.mp4".into()];
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(5)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(
        t.runtime.status,
        TaskStatus::Running,
        "the relay's grace period first"
    );
    sleep(Duration::from_secs(35)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Abnormal);
    assert_eq!(
        t.runtime.invalid_reason,
        Some(baton_domain::InvalidReason::PullStreamFailed)
    );
    assert_eq!(
        t.runtime.retries, 1,
        "the task's RetryInterval / RetryCount take over"
    );
}

#[tokio::test(start_paused = true)]
async fn a_finished_list_is_at_its_last_pass_not_one_past_it() {
    let w = world("passes");
    let engine = engine(&w, CancellationToken::new()).await;
    // RepeatNumber 1: two passes over a (4 s) and c (4 s), 16 s of media.
    let task = engine
        .create(&acct(), spec(&w, &["a.flv", "c.flv"], 1, 0, 0))
        .await
        .unwrap();
    sleep(Duration::from_secs(6)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    assert_eq!((t.playlist_pass(), t.playlist_passes()), (1, Some(2)));
    sleep(Duration::from_secs(6)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(
        (t.playlist_pass(), t.runtime.current_loop),
        (2, 1),
        "second pass"
    );
    sleep(Duration::from_secs(10)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(
        t.runtime.status,
        TaskStatus::Stopped,
        "the list played to its end"
    );
    assert_eq!(
        t.runtime.current_loop, 2,
        "passes completed: both, counted once"
    );
    assert_eq!((t.playlist_pass(), t.playlist_passes()), (2, Some(2)));
    assert_eq!(
        callback_states(&w, &task.id).await.last(),
        Some(&CallbackState::Offline)
    );
}
