//! The task engine: runs pull-to-push tasks on the relay engine. It applies the domain's
//! state machine (`baton-domain`) to user commands, timers and relay reports, persists every
//! transition before acknowledging it, executes the resulting effects (start/stop relays,
//! timers, callbacks) and delivers task callbacks from the outbox.

pub mod capability;
pub mod clock;
mod engine;
pub mod lease;
pub mod metrics;
pub mod streams;
pub mod testing;
pub mod time;
pub mod webhook;

pub use capability::{MediaSources, Unsupported, check_supported, playlist_of, relay_config};
pub use clock::{Clock, SystemClock, TokioClock};
pub use engine::{
    CallbackKeys, ClusterConfig, DOWN_EVERY, Engine, EngineConfig, EngineError, LocalIngest,
    LocalLauncher, RelayLauncher, SWITCH_EVERY, error_code,
};
pub use lease::{HeldLeases, LeaseConfig, LeaseHolder, LeaseKeeper, LossReason};
pub use metrics::{EngineMetrics, TaskSnapshot};
pub use streams::{ControlError, DomainDirectory, LiveStream, StreamControl, StreamControlConfig};
