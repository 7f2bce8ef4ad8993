//! What the engine measures for Prometheus.
//!
//! Two kinds of values, read two ways:
//! * **Events** (a store write, a callback attempt) are counted where they happen, in
//!   `prometheus-client` counters and histograms ([`EngineMetrics`]): each is a few atomics,
//!   touched once per write or delivery, never per frame. The engine owns them; the binary
//!   registers them in its one registry ([`EngineMetrics::register`]). Using the client's own
//!   types here (rather than plain atomics a collector re-reads) keeps the histogram buckets in
//!   one place and the names beside the code that moves them.
//! * **State** (each task's status, retries, last error, and its relay's counters) is not
//!   copied anywhere: [`Engine::task_snapshots`](crate::Engine::task_snapshots) reads the
//!   engine's own table of live tasks and the relays' status cells (published once a second
//!   by each relay) when a scrape asks. A task that is deleted or exits leaves the table, so
//!   its series disappear with it.

use std::time::Duration;

use baton_domain::{AccountId, ErrorSide, TaskId, TaskStatus};
use baton_relay::RelayStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Seconds: 1 ms to ~16 s, doubling (store writes and callback deliveries).
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15)
}

/// Seconds: 1 s to ~2.3 h, doubling (how late a callback arrives, in the event clock's whole
/// seconds: retries back off up to 10 minutes, and give up after about 8 hours).
fn delay_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(1.0, 2.0, 14)
}

/// How a callback attempt ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `delivered`, `retry` (failed, another attempt is scheduled) or `given_up`.
    pub outcome: &'static str,
}

/// The engine's event counters. Cheap to share (`Arc` inside every metric).
#[derive(Debug, Clone)]
pub struct EngineMetrics {
    /// Seconds each task write (insert, update, delete with its events) took.
    pub store_write_seconds: Histogram,
    /// Callback attempts by outcome.
    pub callbacks: Family<OutcomeLabel, Counter>,
    /// Seconds each callback attempt took (connect, request, answer).
    pub callback_seconds: Histogram,
    /// Seconds from an event to its delivery (retries included; whole seconds).
    pub callback_delay_seconds: Histogram,
    /// Events waiting for delivery (due, or retrying later) at the outbox's last poll.
    pub callbacks_pending: Gauge,
}

impl Default for EngineMetrics {
    fn default() -> EngineMetrics {
        let metrics = EngineMetrics {
            store_write_seconds: Histogram::new(latency_buckets()),
            callbacks: Family::default(),
            callback_seconds: Histogram::new(latency_buckets()),
            callback_delay_seconds: Histogram::new(delay_buckets()),
            callbacks_pending: Gauge::default(),
        };
        // Every outcome's series exists at 0 from the start, so `rate()` sees the first one.
        for outcome in ["delivered", "retry", "given_up"] {
            let _ = metrics.callbacks.get_or_create(&OutcomeLabel { outcome });
        }
        metrics
    }
}

impl EngineMetrics {
    /// Registers the metrics (the names are final: `baton_store_write_seconds`, …).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "baton_store_write_seconds",
            "Seconds a task write (with its callback events, one transaction) took",
            self.store_write_seconds.clone(),
        );
        registry.register(
            "baton_callback_attempts",
            "Callback delivery attempts by outcome (delivered, retry, given_up)",
            self.callbacks.clone(),
        );
        registry.register(
            "baton_callback_attempt_seconds",
            "Seconds a callback delivery attempt took",
            self.callback_seconds.clone(),
        );
        registry.register(
            "baton_callback_delivery_delay_seconds",
            "Seconds from a callback event to its delivery (retries included)",
            self.callback_delay_seconds.clone(),
        );
        registry.register(
            "baton_callbacks_pending",
            "Callback events waiting for delivery (due now or retrying later), as of the outbox's last poll (every second)",
            self.callbacks_pending.clone(),
        );
    }

    pub(crate) fn callback(&self, outcome: &'static str, took: Duration) {
        self.callbacks
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        self.callback_seconds.observe(took.as_secs_f64());
    }
}

/// What a scrape reports of one task: its stored state as the engine last wrote it, and its
/// relay's status while one runs.
#[derive(Clone, Debug)]
pub struct TaskSnapshot {
    pub id: TaskId,
    pub account: AccountId,
    /// The task group (`""` for dialects without groups).
    pub group: String,
    pub status: TaskStatus,
    /// Retries used since the last (re)start.
    pub retries: u32,
    /// The side and stable code of the last error its relay reported, if any.
    pub last_error: Option<(ErrorSide, String)>,
    /// The running relay's last published status.
    pub relay: Option<RelayStatus>,
}

/// A task's stored state, kept in the engine's table after each write.
#[derive(Clone, Debug)]
pub(crate) struct TaskEntry {
    pub account: AccountId,
    pub group: String,
    pub status: TaskStatus,
    pub retries: u32,
    pub last_error: Option<(ErrorSide, String)>,
}

impl TaskEntry {
    pub(crate) fn of(task: &baton_domain::Task) -> TaskEntry {
        TaskEntry {
            account: task.account.clone(),
            group: task.spec.group.clone(),
            status: task.runtime.status,
            retries: task.runtime.retries,
            last_error: task
                .runtime
                .last_error
                .as_ref()
                .map(|e| (e.side, e.code.clone())),
        }
    }
}
