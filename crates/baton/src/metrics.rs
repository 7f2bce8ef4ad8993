//! Prometheus metrics: the one registry, and the collectors that read live state at scrape
//! time.
//!
//! Nothing here runs on the media path. Per-task and per-stream series are *collected*: on each
//! scrape, [`TaskCollector`] reads the engine's task table and each running relay's status
//! cell (a snapshot the relay publishes once a second), and [`StreamCollector`] reads
//! [`StreamHub::list`]. So a relay pays nothing per frame for its metrics, and a task that is
//! deleted or exits (or a stream that ends) drops out of the next scrape by itself. Event
//! counters (API requests, store writes, callbacks) are `prometheus-client` metrics owned by
//! the crate where the event happens (`baton_api::ApiMetrics`, `baton_engine::EngineMetrics`)
//! and only registered here.
//!
//! Names follow Prometheus' conventions: `baton_` prefix, unit in the name, counters end in
//! `_total` (the OpenMetrics encoder appends it to a counter's name).

use std::fmt;
use std::sync::Arc;

use baton_engine::{Engine, TaskSnapshot};
use baton_net::hub::{StreamHub, StreamInfo};
use baton_net::metrics::NetMetrics;
use baton_relay::{DestinationStatus, RelayStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Builds the registry every `/metrics` answer encodes.
pub fn registry(
    engine: &Engine,
    hub: &Arc<StreamHub>,
    api: &baton_api::ApiMetrics,
    net: &NetMetrics,
) -> Registry {
    let mut registry = Registry::default();
    api.register(&mut registry);
    net.register(&mut registry);
    // Every listener's series exist from the start (an SRT listener only when configured:
    // its counters are created by its first handshake).
    for listener in ["rtmp", "http_flv", "api"] {
        let _ = net.listener(listener);
    }
    engine.metrics().register(&mut registry);
    registry.register_collector(Box::new(TaskCollector {
        engine: engine.clone(),
    }));
    registry.register_collector(Box::new(StreamCollector {
        hub: Arc::clone(hub),
    }));
    registry
}

/// A labelled value.
type Labels<'a> = Vec<(&'static str, &'a str)>;

/// Per-task series: `baton_task_*` for every task the engine has not seen exit, and
/// `baton_relay_*` for those whose relay runs.
#[derive(Debug)]
pub struct TaskCollector {
    engine: Engine,
}

/// One relay series: name, help, kind, and how to read it from the relay's status.
type RelaySeries = (&'static str, &'static str, Kind, fn(&RelayStatus) -> f64);

#[derive(Clone, Copy, Debug)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn metric_type(self) -> MetricType {
        match self {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
        }
    }

    /// `value` as one sample of a series of this kind.
    fn encode(self, value: f64, family: MetricEncoder<'_>) -> fmt::Result {
        match self {
            Kind::Counter => ConstCounter::new(value).encode(family),
            Kind::Gauge => ConstGauge::new(value).encode(family),
        }
    }
}

/// Every numeric relay series; a new one is one line here.
const RELAY_SERIES: &[RelaySeries] = &[
    (
        "baton_relay_bytes_in",
        "Bytes read from the source",
        Kind::Counter,
        |s| s.bytes_in as f64,
    ),
    (
        "baton_relay_bytes_out",
        "Bytes written to the destination",
        Kind::Counter,
        |s| s.bytes_out as f64,
    ),
    (
        "baton_relay_bitrate_in_bits",
        "Bits per second read from the source over the last second",
        Kind::Gauge,
        |s| s.bitrate_in as f64,
    ),
    (
        "baton_relay_bitrate_out_bits",
        "Bits per second written to the destination over the last second",
        Kind::Gauge,
        |s| s.bitrate_out as f64,
    ),
    (
        "baton_relay_fps",
        "Video frames per second sent over the last second",
        Kind::Gauge,
        |s| s.fps,
    ),
    (
        "baton_relay_uptime_seconds",
        "Seconds since the relay started",
        Kind::Gauge,
        |s| s.uptime.as_secs_f64(),
    ),
    (
        "baton_relay_frames_in",
        "Frames read from the source",
        Kind::Counter,
        |s| s.frames_in as f64,
    ),
    (
        "baton_relay_frames_out",
        "Frames written to the destination",
        Kind::Counter,
        |s| s.frames_out as f64,
    ),
    (
        "baton_relay_frames_dropped",
        "Frames discarded because the destination was slow or away",
        Kind::Counter,
        |s| s.frames_dropped as f64,
    ),
    (
        "baton_relay_frames_deduplicated",
        "Frames a reconnected source replayed that had already been relayed",
        Kind::Counter,
        |s| s.frames_deduplicated as f64,
    ),
    (
        "baton_relay_source_connections",
        "Successful source (re)connections",
        Kind::Counter,
        |s| s.source_connections as f64,
    ),
    (
        "baton_relay_source_reconnects",
        "Source reconnections (connections after the first)",
        Kind::Counter,
        |s| s.source_connections.saturating_sub(1) as f64,
    ),
    (
        "baton_relay_destination_sessions",
        "Destination sessions opened",
        Kind::Counter,
        |s| s.destination_sessions as f64,
    ),
    (
        "baton_relay_destination_reconnects",
        "Destination sessions opened after the first",
        Kind::Counter,
        |s| s.destination_sessions.saturating_sub(1) as f64,
    ),
    (
        "baton_relay_timeline_rebases",
        "Times the output timeline was re-anchored to the input (new segment or discontinuity)",
        Kind::Counter,
        |s| s.timeline.rebases as f64,
    ),
    (
        "baton_relay_timeline_discontinuities",
        "Timestamp jumps inside a segment handled by re-anchoring",
        Kind::Counter,
        |s| s.timeline.discontinuities as f64,
    ),
    (
        "baton_relay_dts_corrections",
        "Frames whose DTS was moved forward to keep it increasing",
        Kind::Counter,
        |s| s.timeline.dts_corrections as f64,
    ),
    (
        "baton_relay_cts_corrections",
        "Video frames whose composition time was rewritten",
        Kind::Counter,
        |s| s.timeline.cts_corrections as f64,
    ),
];

/// One SRT series: name, help, kind, and its value on each side (`None`: that side is not
/// SRT, or does not count this).
type SrtSeries = (
    &'static str,
    &'static str,
    Kind,
    fn(&RelayStatus) -> [(&'static str, Option<f64>); 2],
);

/// What an operator looks at when an SRT push or pull is slow: the round trip, losses and
/// retransmissions (both sides), the receiver's backlog (destinations).
const SRT_SERIES: &[SrtSeries] = &[
    (
        "baton_relay_srt_rtt_seconds",
        "SRT round-trip time (source: the handshake's; destination: from the receiver's ACKs)",
        Kind::Gauge,
        |r| {
            [
                ("source", r.srt.as_ref().map(|s| s.rtt.as_secs_f64())),
                (
                    "destination",
                    r.destination_srt.as_ref().map(|s| s.rtt.as_secs_f64()),
                ),
            ]
        },
    ),
    (
        "baton_relay_srt_packets_lost",
        "SRT packets lost (source: detected missing; destination: reported lost by the receiver)",
        Kind::Counter,
        |r| {
            [
                ("source", r.srt.as_ref().map(|s| s.packets_lost as f64)),
                (
                    "destination",
                    r.destination_srt.as_ref().map(|s| s.packets_lost as f64),
                ),
            ]
        },
    ),
    (
        "baton_relay_srt_packets_retransmitted",
        "SRT packets retransmitted (received as retransmissions, or sent again)",
        Kind::Counter,
        |r| {
            [
                (
                    "source",
                    r.srt.as_ref().map(|s| s.packets_retransmitted as f64),
                ),
                (
                    "destination",
                    r.destination_srt
                        .as_ref()
                        .map(|s| s.packets_retransmitted as f64),
                ),
            ]
        },
    ),
    (
        "baton_relay_srt_packets_dropped",
        "SRT packets dropped as too late to play (TLPKTDROP)",
        Kind::Counter,
        |r| {
            [
                ("source", r.srt.as_ref().map(|s| s.packets_dropped as f64)),
                (
                    "destination",
                    r.destination_srt.as_ref().map(|s| s.packets_dropped as f64),
                ),
            ]
        },
    ),
    (
        "baton_relay_srt_send_buffer_seconds",
        "Media time an SRT destination's send buffer holds: how far the receiver is behind",
        Kind::Gauge,
        |r| {
            [
                ("source", None),
                (
                    "destination",
                    r.destination_srt
                        .as_ref()
                        .map(|s| s.send_buffer_time.as_secs_f64()),
                ),
            ]
        },
    ),
];

/// One per-destination series: name, help, kind, reader.
type DestinationSeries = (
    &'static str,
    &'static str,
    Kind,
    fn(&DestinationStatus) -> f64,
);

/// Each destination of a relay on its own (`destination` = the relay's id of it: its index in
/// the task's destinations when the relay started, 0 the first; one added while it runs gets
/// the next id): a relay with several destinations goes on while one of them reconnects or
/// failed, which the relay-wide series cannot show. Labelled by id, never by URL (a stream key
/// is a secret).
const DESTINATION_SERIES: &[DestinationSeries] = &[
    (
        "baton_destination_bytes_out",
        "Bytes written to this destination",
        Kind::Counter,
        |d| d.bytes_out as f64,
    ),
    (
        "baton_destination_bitrate_out_bits",
        "Bits per second written to this destination over the last second",
        Kind::Gauge,
        |d| d.bitrate_out as f64,
    ),
    (
        "baton_destination_frames_out",
        "Frames written to this destination",
        Kind::Counter,
        |d| d.frames_out as f64,
    ),
    (
        "baton_destination_frames_dropped",
        "Frames this destination lost (its queue dropped to a keyframe, a new session waited for one)",
        Kind::Counter,
        |d| d.frames_dropped as f64,
    ),
    (
        "baton_destination_sessions",
        "Sessions opened to this destination (1 while it never dropped)",
        Kind::Counter,
        |d| d.sessions as f64,
    ),
];

impl Collector for TaskCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let tasks = self.engine.task_snapshots();

        let mut m = encoder.encode_descriptor(
            "baton_task_status",
            "The task's status as Alibaba's code (0 not started, 1 running, 2 abnormal, 3 stopped), its name in `status`",
            None,
            MetricType::Gauge,
        )?;
        for t in &tasks {
            let mut l = labels(t);
            l.push(("status", status_name(t.status)));
            ConstGauge::new(i64::from(t.status.code())).encode(m.encode_family(&l)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "baton_task_retries",
            "Retries the task used since its last (re)start",
            None,
            MetricType::Gauge,
        )?;
        for t in &tasks {
            let l = labels(t);
            ConstGauge::new(i64::from(t.retries)).encode(m.encode_family(&l)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "baton_task_last_error",
            "1 for the class (side, code) of the last error the task's relay reported",
            None,
            MetricType::Gauge,
        )?;
        for t in &tasks {
            if let Some((side, code)) = &t.last_error {
                let mut l = labels(t);
                l.push(("side", side.as_str()));
                l.push(("code", code.as_str()));
                ConstGauge::new(1i64).encode(m.encode_family(&l)?)?;
            }
        }

        let relays: Vec<(&TaskSnapshot, &RelayStatus)> = tasks
            .iter()
            .filter_map(|t| t.relay.as_ref().map(|r| (t, r)))
            .collect();
        let mut m = encoder.encode_descriptor(
            "baton_relay_state",
            "1 for the relay's state (connecting, forwarding, source-reconnecting, destination-reconnecting, stopped, finished, failed)",
            None,
            MetricType::Gauge,
        )?;
        for (t, r) in &relays {
            let mut l = labels(t);
            l.push(("state", r.state.as_str()));
            ConstGauge::new(1i64).encode(m.encode_family(&l)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "baton_relay_transport",
            "1 for each side's transport (protocol rtmp, rtmps, http-flv, hls, srt, rtsp, playlist; tls the TLS version when encrypted)",
            None,
            MetricType::Gauge,
        )?;
        for (t, r) in &relays {
            for (side, transport) in [
                ("source", &r.source_transport),
                ("destination", &r.destination_transport),
            ] {
                let Some(transport) = transport else { continue };
                let mut l = labels(t);
                l.push(("side", side));
                l.push(("protocol", transport.protocol));
                if let Some(tls) = &transport.tls {
                    l.push(("tls", tls.version.as_str()));
                }
                ConstGauge::new(1i64).encode(m.encode_family(&l)?)?;
            }
        }
        for (name, help, kind, read) in SRT_SERIES {
            let mut m = encoder.encode_descriptor(name, help, None, kind.metric_type())?;
            for (t, r) in &relays {
                for (side, value) in read(r) {
                    let Some(value) = value else { continue };
                    let mut l = labels(t);
                    l.push(("side", side));
                    kind.encode(value, m.encode_family(&l)?)?;
                }
            }
        }
        let mut m = encoder.encode_descriptor(
            "baton_destination_state",
            "1 for each destination's state (connecting, forwarding, reconnecting, failed)",
            None,
            MetricType::Gauge,
        )?;
        // The destinations' index labels, made once per scrape (the labels borrow them).
        let ids: Vec<Vec<String>> = relays
            .iter()
            .map(|(_, r)| r.destinations.iter().map(|d| d.id.0.to_string()).collect())
            .collect();
        let destinations = || {
            relays.iter().zip(&ids).flat_map(|((t, r), ids)| {
                r.destinations
                    .iter()
                    .zip(ids)
                    .map(move |(d, id)| (*t, d, id.as_str()))
            })
        };
        for (t, d, id) in destinations() {
            let mut l = labels(t);
            l.push(("destination", id));
            l.push(("state", d.state.as_str()));
            ConstGauge::new(1i64).encode(m.encode_family(&l)?)?;
        }
        for (name, help, kind, read) in DESTINATION_SERIES {
            let mut m = encoder.encode_descriptor(name, help, None, kind.metric_type())?;
            for (t, d, id) in destinations() {
                let mut l = labels(t);
                l.push(("destination", id));
                kind.encode(read(d), m.encode_family(&l)?)?;
            }
        }
        for (name, help, kind, read) in RELAY_SERIES {
            let mut m = encoder.encode_descriptor(name, help, None, kind.metric_type())?;
            for (t, r) in &relays {
                let value = read(r);
                let l = labels(t);
                kind.encode(value, m.encode_family(&l)?)?;
            }
        }
        Ok(())
    }
}

/// A task's labels.
fn labels(t: &TaskSnapshot) -> Labels<'_> {
    vec![
        ("task_id", t.id.0.as_str()),
        ("account", t.account.0.as_str()),
        ("group", t.group.as_str()),
    ]
}

/// The native API's name of a task status.
fn status_name(status: baton_domain::TaskStatus) -> &'static str {
    baton_api::native::dto::state_name(status)
}

/// Per-stream series of the ingest (`baton_stream_*`), labelled domain, app and stream.
#[derive(Debug)]
pub struct StreamCollector {
    hub: Arc<StreamHub>,
}

/// One stream series: name, help, kind, reader.
type StreamSeries = (&'static str, &'static str, Kind, fn(&StreamInfo) -> f64);

/// Every stream series; a new field of [`StreamInfo`] is one line here.
const STREAM_SERIES: &[StreamSeries] = &[
    (
        "baton_stream_publishing",
        "1 while a publisher is connected",
        Kind::Gauge,
        |s| f64::from(u8::from(s.publishing)),
    ),
    (
        "baton_stream_players",
        "Subscribers (players and local relays) of the stream",
        Kind::Gauge,
        |s| s.subscribers as f64,
    ),
    (
        "baton_stream_bitrate_in_bits",
        "Bits per second the publisher sends (payload, over the last 1-2 s; 0 unpublished)",
        Kind::Gauge,
        |s| s.publish.as_ref().map_or(0.0, |p| p.bitrate_bps as f64),
    ),
    (
        "baton_stream_fps",
        "Video frames per second the publisher sends (over the last 1-2 s)",
        Kind::Gauge,
        |s| s.publish.as_ref().map_or(0.0, |p| p.fps),
    ),
    (
        "baton_stream_uptime_seconds",
        "Seconds since the current publish started (0 unpublished)",
        Kind::Gauge,
        |s| s.publish.as_ref().map_or(0.0, |p| p.uptime.as_secs_f64()),
    ),
    (
        "baton_stream_gop_cache_frames",
        "Frames in the stream's GOP cache (what a new player gets at once)",
        Kind::Gauge,
        |s| s.gop_cache_frames as f64,
    ),
    (
        "baton_stream_gop_cache_bytes",
        "Payload bytes in the stream's GOP cache",
        Kind::Gauge,
        |s| s.gop_cache_bytes as f64,
    ),
    (
        "baton_stream_frames_in",
        "Frames the publisher sent",
        Kind::Counter,
        |s| s.frames_in as f64,
    ),
    (
        "baton_stream_frames_dropped",
        "Frames dropped across the stream's subscribers",
        Kind::Counter,
        |s| s.frames_dropped as f64,
    ),
];

impl Collector for StreamCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let streams = self.hub.list();
        for (name, help, kind, read) in STREAM_SERIES {
            let mut m = encoder.encode_descriptor(name, help, None, kind.metric_type())?;
            for s in &streams {
                let labels: Labels<'_> = vec![
                    ("domain", s.key.domain.as_str()),
                    ("app", s.key.app.as_str()),
                    ("stream", s.key.stream.as_str()),
                ];
                let value = read(s);
                kind.encode(value, m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
