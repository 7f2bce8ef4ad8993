//! The world the engine's integration tests run in: an in-memory network into a fresh
//! ingest and its hub, an in-memory store, and a clock on paused tokio time.

use std::sync::Arc;

use baton_domain::{AccountId, DEFAULT_GROUP, SourceProtocol, SourceType, TaskSpec, TaskStore};
use baton_engine::testing::MemoryStore;
use baton_engine::{CallbackKeys, Clock, Engine, EngineConfig, LocalLauncher, TokioClock};
use baton_net::hub::{StreamHub, StreamKey};
use baton_net::ingest::AllowAll;
use baton_net::testing::MemoryNetwork;
use baton_relay::RelayConfig;
use tokio_util::sync::CancellationToken;

/// The tests' start time (Unix seconds).
pub const T0: i64 = 1_800_000_000;

pub struct World {
    pub net: Arc<MemoryNetwork>,
    #[allow(dead_code)] // not every test crate uses each field
    pub hub: Arc<StreamHub>,
    #[allow(dead_code)]
    pub store: Arc<MemoryStore>,
    pub clock: Arc<TokioClock>,
}

pub fn world() -> World {
    let (net, hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World {
        net,
        hub,
        store: Arc::new(MemoryStore::new()),
        clock: Arc::new(TokioClock::starting_at(T0)),
    }
}

/// A live RTMP task from `rtmp://mem/live/src` to `rtmp://mem/live/dst`, no callbacks.
#[allow(dead_code)] // not every test crate uses each helper
pub fn live_spec(start: i64, end: i64) -> TaskSpec {
    TaskSpec {
        name: "t".into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec!["rtmp://mem/live/src".into()],
        dst_url: "rtmp://mem/live/dst".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: start,
        end_time: end,
        callback_url: None,
        repeat_number: 0,
        retry_count: 2,
        retry_interval: 60,
        file_index: 0,
        offset: 0,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

/// The destination stream of [`live_spec`].
#[allow(dead_code)]
pub fn dst() -> StreamKey {
    StreamKey::new("mem", "live", "dst")
}

/// The account the tests' tasks belong to.
#[allow(dead_code)]
pub fn acct() -> AccountId {
    AccountId("root".into())
}

/// The engine of `w`: relays dial through its network (jitter seeded: runs repeat), nothing
/// else configured.
#[allow(dead_code)]
pub async fn engine(w: &World) -> Engine {
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Arc::clone(&w.net));
    start(w, relay).await
}

/// The engine of `w` with `relay` as every task's relay settings (jitter seeded).
#[allow(dead_code)]
pub async fn start(w: &World, mut relay: RelayConfig) -> Engine {
    relay.jitter_seed = Some(7);
    Engine::start(
        w.store.clone() as Arc<dyn TaskStore>,
        w.clock.clone() as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::default(),
        EngineConfig {
            relay,
            ..EngineConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}
