//! What the network drivers count for Prometheus: connections per listener (accepted, refused
//! at the listener's cap, failed handshakes) and refused publishes by reason.
//!
//! These are events, counted where they happen — once per connection or publish request,
//! never per frame — in `prometheus-client` counters (atomics). The binary makes one
//! [`NetMetrics`] and registers it ([`NetMetrics::register`]); each listener holds the
//! [`ListenerCounters`] of its own name. A driver started without them (tests, `baton relay`)
//! counts into counters nobody reads. Live per-stream values are not here: the binary's
//! collector reads them from [`StreamHub::list`](crate::hub::StreamHub::list) at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A listener's name: `rtmp`, `srt`, `http_flv`, `api` or `metrics`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabel {
    pub listener: &'static str,
}

/// Why a publish was refused, and over which protocol.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    /// `rtmp` or `srt`.
    pub protocol: &'static str,
    /// `policy` (the [`IngestPolicy`](crate::ingest::IngestPolicy): unknown domain, forbidden
    /// stream, bad signature), `stream_busy` (the stream has a publisher), `connection_busy`
    /// (this connection already publishes), `bad_stream_id`, `bad_mode` or `encryption` (SRT).
    pub reason: &'static str,
}

/// Every listener's connection counters and the refused publishes.
#[derive(Clone, Debug, Default)]
pub struct NetMetrics {
    accepted: Family<ListenerLabel, Counter>,
    refused: Family<ListenerLabel, Counter>,
    handshake_failures: Family<ListenerLabel, Counter>,
    publish_refused: Family<RefusalLabel, Counter>,
}

impl NetMetrics {
    /// Registers the metrics.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "baton_listener_connections_accepted",
            "Connections a listener accepted (SRT: handshakes admitted)",
            self.accepted.clone(),
        );
        registry.register(
            "baton_listener_connections_refused",
            "Connections a listener refused at its connection cap",
            self.refused.clone(),
        );
        registry.register(
            "baton_listener_handshake_failures",
            "Connections that failed their protocol handshake (RTMP: handshake error or no connect in time; SRT: no first frame in time)",
            self.handshake_failures.clone(),
        );
        registry.register(
            "baton_ingest_publish_refused",
            "Publishes the ingest refused, by protocol and reason",
            self.publish_refused.clone(),
        );
    }

    /// The counters of the listener called `name` (their series exist at 0 from now on).
    pub fn listener(&self, name: &'static str) -> ListenerCounters {
        let label = ListenerLabel { listener: name };
        ListenerCounters {
            accepted: self.accepted.get_or_create_owned(&label),
            refused: self.refused.get_or_create_owned(&label),
            handshake_failures: self.handshake_failures.get_or_create_owned(&label),
        }
    }

    /// Counts a refused publish.
    pub fn publish_refused(&self, protocol: &'static str, reason: &'static str) {
        self.publish_refused
            .get_or_create(&RefusalLabel { protocol, reason })
            .inc();
    }
}

/// One listener's counters (shared with the [`NetMetrics`] they came from; cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct ListenerCounters {
    pub accepted: Counter,
    pub refused: Counter,
    pub handshake_failures: Counter,
}
