//! The world the engine's integration tests run in: an in-memory network into a fresh
//! ingest and its hub, an in-memory store, and a clock on paused tokio time.

use std::sync::Arc;

use baton_engine::TokioClock;
use baton_engine::testing::MemoryStore;
use baton_net::hub::StreamHub;
use baton_net::ingest::AllowAll;
use baton_net::testing::MemoryNetwork;

/// The tests' start time (Unix seconds).
pub const T0: i64 = 1_800_000_000;

pub struct World {
    pub net: Arc<MemoryNetwork>,
    pub hub: Arc<StreamHub>,
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
