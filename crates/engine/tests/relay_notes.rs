//! Issue 16: what the relay did, in the task's event log, through the whole engine under
//! paused tokio time: a destination of two killed and restarted → `DestinationDown` then
//! `DestinationUp`; a backup source taking over → `SourceSwitched` naming both sources; the
//! only source killed with a slate → `SlateOn`, the source back → `SlateOff`. All are
//! recorded, never delivered (the task has a callback URL).

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{CallbackEvent, CallbackState, SourceFailover, TaskId, TaskSlate, TaskStatus};
use baton_engine::Engine;
use baton_net::hub::StreamKey;
use baton_net::testing::{MemoryNetwork, publish_test_stream};
use baton_net::transport::{DialFuture, Dialer};
use baton_relay::RelayConfig;
use tokio::time::sleep;

mod support;
use support::{World, acct, live_spec, world};

/// Hosts `b`, `primary` and `backup` are servers of their own (killed with
/// `set_reachable(false)` + `drop_connections`); everything else is the world's `mem`.
#[derive(Debug)]
struct Router {
    mem: Arc<MemoryNetwork>,
    b: Arc<MemoryNetwork>,
    primary: Arc<MemoryNetwork>,
    backup: Arc<MemoryNetwork>,
}

impl Dialer for Router {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        match host {
            "b" => self.b.dial(host, port),
            "primary" => self.primary.dial(host, port),
            "backup" => self.backup.dial(host, port),
            _ => self.mem.dial(host, port),
        }
    }
}

struct Hosts {
    b: Arc<MemoryNetwork>,
    primary: Arc<MemoryNetwork>,
    backup: Arc<MemoryNetwork>,
}

fn hosts() -> Hosts {
    let new = || MemoryNetwork::with_default_ingest(Arc::new(baton_net::ingest::AllowAll)).0;
    Hosts {
        b: new(),
        primary: new(),
        backup: new(),
    }
}

fn kill(net: &MemoryNetwork) {
    net.set_reachable(false);
    net.drop_connections();
}

async fn engine(w: &World, h: &Hosts) -> Engine {
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Router {
        mem: Arc::clone(&w.net),
        b: Arc::clone(&h.b),
        primary: Arc::clone(&h.primary),
        backup: Arc::clone(&h.backup),
    });
    support::start(w, relay).await
}

fn events_of(w: &World, id: &TaskId) -> Vec<CallbackEvent> {
    w.store
        .events()
        .into_iter()
        .filter(|e| &e.task_id == id)
        .collect()
}

fn publish(net: &Arc<MemoryNetwork>, url: &'static str, seconds: u32) {
    let net = Arc::clone(net);
    tokio::spawn(async move {
        let _ = publish_test_stream(&net, url, seconds, 0).await;
    });
}

#[tokio::test(start_paused = true)]
async fn a_destination_killed_and_restarted_is_down_then_up_in_the_log() {
    let w = world();
    let h = hosts();
    let engine = engine(&w, &h).await;
    publish(&w.net, "rtmp://mem/live/src", 20);
    let mut spec = live_spec(support::T0, support::T0 + 3600);
    spec.dst_url = "rtmp://mem/live/a".into();
    spec.extra_dst_urls = vec!["rtmp://b/live/b".into()];
    spec.callback_url = Some("http://127.0.0.1:9/cb".into());
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(4)).await;
    kill(&h.b);
    sleep(Duration::from_secs(3)).await;
    let during = engine.get(&acct(), &task.id).await.unwrap();
    h.b.set_reachable(true);
    sleep(Duration::from_secs(5)).await;
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    assert!(
        w.hub.is_publishing(&StreamKey::new("mem", "live", "a")),
        "A undisturbed"
    );
    assert_eq!(relay.destinations[1].sessions, 2, "B came back");
    engine.stop(&acct(), &task.id).await.unwrap();

    let events = events_of(&w, &task.id);
    let states: Vec<CallbackState> = events.iter().map(|e| e.state).collect();
    use CallbackState::*;
    assert_eq!(
        states,
        [Running, Forwarding, DestinationDown, DestinationUp, Offline]
    );
    let down = &events[2];
    let detail = down.detail.as_deref().expect("a detail");
    // e.g. `destination 1: Disconnected: destination: connection closed by the server`
    assert!(
        detail.starts_with("destination 1: Disconnected: "),
        "{detail}"
    );
    assert_eq!(events[3].detail.as_deref(), Some("destination 1"));
    // Recorded, never delivered; the task stayed 1 throughout (A kept forwarding).
    assert!(!down.is_deliverable() && !events[3].is_deliverable());
    assert_eq!(during.runtime.status, TaskStatus::Running);
    assert_eq!(during.runtime.invalid_reason, None);
}

#[tokio::test(start_paused = true)]
async fn a_backup_taking_over_is_a_source_switch_in_the_log() {
    let w = world();
    let h = hosts();
    let engine = engine(&w, &h).await;
    publish(&h.primary, "rtmp://primary/live/s", 30);
    publish(&h.backup, "rtmp://backup/live/s", 30);
    let mut spec = live_spec(support::T0, support::T0 + 3600);
    spec.source_urls = vec![
        "rtmp://primary/live/s".into(),
        "rtmp://backup/live/s".into(),
    ];
    spec.failover = SourceFailover {
        after: Some(3),
        failback_after: None,
    };
    spec.callback_url = Some("http://127.0.0.1:9/cb".into());
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(5)).await;
    kill(&h.primary);
    sleep(Duration::from_secs(8)).await;
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    assert_eq!((relay.active_source, relay.source_switches), (1, 1));
    let during = engine.get(&acct(), &task.id).await.unwrap();
    engine.stop(&acct(), &task.id).await.unwrap();

    let events = events_of(&w, &task.id);
    let switched: Vec<&CallbackEvent> = events
        .iter()
        .filter(|e| e.state == CallbackState::SourceSwitched)
        .collect();
    assert_eq!(switched.len(), 1, "{events:#?}");
    let detail = switched[0].detail.as_deref().expect("a detail");
    // e.g. `source 0 -> 1: Connect: source: connect to primary:1935 failed: …`: why the
    // primary was left.
    assert!(detail.starts_with("source 0 -> 1: "), "{detail}");
    assert!(detail.contains("primary"), "{detail}");
    assert!(!switched[0].is_deliverable());
    // The switch is a note: what the task's status says is the relay's other reports'.
    assert_eq!(during.runtime.status, TaskStatus::Running);
    let callbacks: Vec<CallbackState> = events
        .iter()
        .filter(|e| e.is_deliverable())
        .map(|e| e.state)
        .collect();
    assert!(
        callbacks.iter().all(|s| s.is_callback()),
        "callbacks are the provider's: {callbacks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_slate_on_and_off_are_in_the_log() {
    let w = world();
    let h = hosts();
    let engine = engine(&w, &h).await;
    publish(&h.primary, "rtmp://primary/live/s", 30);
    let mut spec = live_spec(support::T0, support::T0 + 3600);
    spec.source_urls = vec!["rtmp://primary/live/s".into()];
    spec.slate = TaskSlate::On {
        file: Some("default".into()),
        after: Some(1),
        hold: Some(60),
    };
    spec.callback_url = Some("http://127.0.0.1:9/cb".into());
    let task = engine.create(&acct(), spec).await.unwrap();
    sleep(Duration::from_secs(5)).await;
    kill(&h.primary);
    sleep(Duration::from_secs(4)).await;
    let during = engine.relay_status(&task.id).expect("the relay runs");
    // The encoder is back.
    h.primary.set_reachable(true);
    publish(&h.primary, "rtmp://primary/live/s", 30);
    sleep(Duration::from_secs(8)).await;
    let after = engine.relay_status(&task.id).expect("the relay runs");
    engine.stop(&acct(), &task.id).await.unwrap();

    assert!(during.slate_active, "{during:?}");
    assert!(!after.slate_active && after.slate_starts == 1, "{after:?}");
    let events = events_of(&w, &task.id);
    let slate: Vec<&CallbackEvent> = events
        .iter()
        .filter(|e| matches!(e.state, CallbackState::SlateOn | CallbackState::SlateOff))
        .collect();
    let states: Vec<CallbackState> = slate.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        [CallbackState::SlateOn, CallbackState::SlateOff],
        "{events:#?}"
    );
    let on = slate[0].detail.as_deref().expect("a detail");
    eprintln!("{on}");
    // e.g. `slate on (start 1): Timeout: source: no media from the source for 1s`, or the
    // source's own error when it was seen lost first.
    assert!(on.starts_with("slate on (start 1): "), "{on}");
    assert_eq!(slate[1].detail.as_deref(), Some("slate off: source 0 back"));
    assert!(slate.iter().all(|e| !e.is_deliverable()));
    assert!(
        events
            .iter()
            .filter(|e| e.is_deliverable())
            .all(|e| e.state.is_callback()),
        "callbacks are the provider's: {events:#?}"
    );
}
