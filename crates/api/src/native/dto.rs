//! The native API's JSON: requests (strict: unknown keys refused) and responses, snake_case,
//! RFC 3339 times, and opaque cursors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use baton_domain::time::rfc3339;
use baton_domain::{
    Block, EventRecord, GroupStatus, SourceType, Tag, Task, TaskGroup, TaskSlate, TaskStatus,
    UnixTime,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aliyun::fields::{protocol_name, source_type_name};
use crate::service::{LiveStreamView, RelayPhase, RelayView};

/// The state names of the native API.
pub fn state_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::NotStarted => "not_started",
        TaskStatus::Running => "running",
        TaskStatus::Abnormal => "recovering",
        TaskStatus::Stopped => "stopped",
        TaskStatus::Exited => "ended",
    }
}

/// The native names of a relay's phases (`relay.state`).
pub fn relay_state_name(phase: RelayPhase) -> &'static str {
    match phase {
        RelayPhase::Connecting => "connecting",
        RelayPhase::Forwarding => "forwarding",
        RelayPhase::SourceReconnecting => "source_reconnecting",
        RelayPhase::DestinationReconnecting => "destination_reconnecting",
        RelayPhase::Stopped => "stopped",
        RelayPhase::Finished => "finished",
        RelayPhase::Failed => "failed",
    }
}

/// The status of a state name.
pub fn state_from_name(name: &str) -> Option<TaskStatus> {
    [
        TaskStatus::NotStarted,
        TaskStatus::Running,
        TaskStatus::Abnormal,
        TaskStatus::Stopped,
        TaskStatus::Exited,
    ]
    .into_iter()
    .find(|s| state_name(*s) == name)
}

/// A task version as an ETag: `"v<version>"`.
pub fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

/// The version an `If-Match` value names (`"v7"`, `W/"v7"` or `v7`); `None` if it names none.
pub fn parse_etag(value: &str) -> Option<u64> {
    let v = value.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v.trim_matches('"');
    v.strip_prefix('v')?.parse().ok()
}

// --- requests ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceIn {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub protocol: Option<String>,
    /// A live task: the source, then up to 3 backups in the order they are tried.
    pub urls: Vec<String>,
    /// A live task: seconds the active source may deliver nothing before the next one is
    /// used (1–30; default 5).
    #[serde(default)]
    pub failover_after_seconds: Option<i64>,
    /// A live task: failback. While a backup is active the primary is tried every this many
    /// seconds and used again once it delivered this long (1–3600; default: no failback).
    #[serde(default)]
    pub failback_after_seconds: Option<i64>,
}

/// A live task's slate: `false` (none, whatever the operator's `[slate]` says), `true` (a
/// slate with the operator's or the built-in settings), or the settings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SlateIn {
    Switch(bool),
    Settings(SlateSettingsIn),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlateSettingsIn {
    /// `default` or an http(s) URL of a clip (default: the operator's, else `default`).
    #[serde(default)]
    pub file: Option<String>,
    /// Seconds without source media before the slate starts (1–60; default 1).
    #[serde(default)]
    pub after_seconds: Option<i64>,
    /// Seconds the slate may play before the relay gives up (1–86400; default 300).
    #[serde(default)]
    pub hold_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryIn {
    pub count: Option<i64>,
    pub interval_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistStartIn {
    pub file_index: Option<i64>,
    pub offset_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCreate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    pub source: SourceIn,
    /// The one destination; or `destinations`: the first, then the extra ones.
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    #[serde(default)]
    pub start_time: Option<String>,
    pub end_time: String,
    #[serde(default)]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub repeat: Option<i64>,
    #[serde(default)]
    pub retry: Option<RetryIn>,
    #[serde(default)]
    pub playlist_start: Option<PlaylistStartIn>,
    #[serde(default)]
    pub notify_item_switch: Option<bool>,
    /// A live task's slate (absent: the operator's `[slate]`).
    #[serde(default)]
    pub slate: Option<SlateIn>,
}

/// A merge patch: absent keeps; `callback_url: null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatchIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub source: Option<SourceIn>,
    #[serde(default)]
    pub destination: Option<String>,
    /// Every destination, replacing the task's (`destination` replaces only the first).
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub callback_url: Option<Option<String>>,
    #[serde(default)]
    pub repeat: Option<i64>,
    #[serde(default)]
    pub retry: Option<RetryIn>,
    #[serde(default)]
    pub playlist_start: Option<PlaylistStartIn>,
    #[serde(default)]
    pub notify_item_switch: Option<bool>,
    /// Replaces the slate setting as a whole; `null`: back to the operator's `[slate]`.
    #[serde(default, deserialize_with = "present")]
    pub slate: Option<Option<SlateIn>>,
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value (absent: the default).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartOptions {
    #[serde(default)]
    pub from_start: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagIn {
    #[serde(default)]
    pub category: Option<String>,
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    pub name: String,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    #[serde(default)]
    pub resume_at: Option<String>,
}

/// Parses a JSON body into `T`; an empty body is `T::default()` when `empty` is given.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], empty: Option<T>) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace)
        && let Some(default) = empty
    {
        return Ok(default);
    }
    serde_json::from_slice(body).map_err(|e| format!("the body is not valid: {e}"))
}

// --- responses ---

#[derive(Debug, Serialize)]
pub struct SourceOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub protocol: Option<&'static str>,
    pub urls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_after_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failback_after_seconds: Option<u32>,
}

/// A task's own slate setting: `false`, or the settings it gives (absent: the operator's
/// `[slate]`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SlateOut<'a> {
    Off(bool),
    On {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        after_seconds: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        hold_seconds: Option<u32>,
    },
}

impl<'a> SlateOut<'a> {
    fn of(slate: &'a TaskSlate) -> Option<SlateOut<'a>> {
        match slate {
            TaskSlate::Inherit => None,
            TaskSlate::Off => Some(SlateOut::Off(false)),
            TaskSlate::On { file, after, hold } => Some(SlateOut::On {
                file: file.as_deref(),
                after_seconds: *after,
                hold_seconds: *hold,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RetryOut {
    pub count: u32,
    pub interval_seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct PlaylistStartOut {
    pub file_index: u32,
    pub offset_seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct LastErrorOut<'a> {
    pub side: &'static str,
    pub code: &'a str,
    pub message: &'a str,
    pub at: String,
}

#[derive(Debug, Serialize)]
pub struct RelayOut {
    pub state: &'static str,
    pub uptime_seconds: f64,
    pub bitrate_in_bps: u64,
    pub bitrate_out_bps: u64,
    pub fps: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub source_connections: u64,
    pub destination_sessions: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srt: Option<SrtOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_transport: Option<TransportOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_transport: Option<TransportOut>,
    /// An SRT destination's send statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_srt: Option<SrtSendOut>,
    /// Each destination on its own: in the order of the task's `destinations` as the relay
    /// started, then those added while it runs.
    pub destinations: Vec<DestinationOut>,
    /// The source in use: its index in `source.urls` (0: the primary, 1..: the backups).
    pub active_source: usize,
    /// Failovers and failbacks between the sources so far.
    pub source_switches: u64,
    /// Each source, in the order of `source.urls`, with its last error.
    pub sources: Vec<SourceStatusOut>,
    /// The slate plays: no source delivers and every destination gets the slate (see
    /// `[slate]` in the config).
    pub slate_active: bool,
    /// Times the slate started in this run of the relay.
    pub slate_starts: u64,
}

/// One source of a running relay.
#[derive(Debug, Serialize)]
pub struct SourceStatusOut {
    /// Its index in the task's `source.urls`.
    pub index: usize,
    /// Why it was left or is not used (the relay error kind's stable name and message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<DestinationErrorOut>,
}

/// One destination of a running relay.
#[derive(Debug, Serialize)]
pub struct DestinationOut {
    /// The relay's id for it (see `DestinationView::id`: the index in the task's
    /// `destinations` until they change while the task runs).
    pub id: u32,
    /// Which destination it is (as in the task's `destinations`).
    pub url: String,
    pub state: &'static str,
    pub bitrate_out_bps: u64,
    pub bytes_out: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub sessions: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<TransportOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<DestinationErrorOut>,
}

/// Why a destination reconnects or failed (or a source was left).
#[derive(Debug, Serialize)]
pub struct DestinationErrorOut {
    /// The relay error kind's stable name (as a task's `last_error.code`).
    pub code: &'static str,
    pub message: String,
}

/// How one side of a relay is connected.
#[derive(Debug, Serialize)]
pub struct TransportOut {
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOut>,
}

/// What TLS negotiated on an `rtmps` side.
#[derive(Debug, Serialize)]
pub struct TlsOut {
    pub version: String,
    pub cipher: String,
    pub peer_names: Vec<String>,
    pub subject: String,
    pub issuer: String,
}

impl TransportOut {
    fn from_view(v: &crate::service::TransportView) -> TransportOut {
        TransportOut {
            protocol: v.protocol,
            tls: v.tls.as_ref().map(|t| TlsOut {
                version: t.version.clone(),
                cipher: t.cipher.clone(),
                peer_names: t.peer_names.clone(),
                subject: t.subject.clone(),
                issuer: t.issuer.clone(),
            }),
        }
    }
}

/// An SRT source connection's statistics.
#[derive(Debug, Serialize)]
pub struct SrtOut {
    pub rtt_ms: f64,
    pub latency_ms: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub packets_retransmitted: u64,
    pub packets_dropped: u64,
    pub decrypt_errors: u64,
    pub bytes_received: u64,
}

/// An SRT destination session's send statistics.
#[derive(Debug, Serialize)]
pub struct SrtSendOut {
    pub rtt_ms: f64,
    pub latency_ms: u64,
    pub packets_sent: u64,
    pub packets_retransmitted: u64,
    pub packets_lost: u64,
    pub packets_dropped: u64,
    pub bytes_sent: u64,
    pub send_buffer_packets: u64,
    pub send_buffer_bytes: u64,
    pub send_buffer_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct PlaylistOut {
    pub file_index: u32,
    pub offset_seconds: u32,
    #[serde(rename = "loop")]
    pub loops: u32,
    /// The pass playing, from 1; once finished, the last (N of N).
    pub pass: u32,
    pub passes: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct TaskOut<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub group: &'a str,
    pub region: &'a str,
    pub source: SourceOut<'a>,
    pub destination: &'a str,
    /// Every destination: `destination` first, then the extra ones.
    pub destinations: Vec<&'a str>,
    pub start_time: String,
    pub end_time: String,
    pub callback_url: Option<&'a str>,
    pub repeat: i32,
    pub retry: RetryOut,
    pub playlist_start: PlaylistStartOut,
    pub notify_item_switch: bool,
    /// The task's own slate setting; absent: the operator's `[slate]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slate: Option<SlateOut<'a>>,
    pub state: &'static str,
    pub reason: Option<&'static str>,
    pub exit_reason: Option<&'static str>,
    pub exit_time: Option<String>,
    pub last_error: Option<LastErrorOut<'a>>,
    pub retries: u32,
    pub next_retry_at: Option<String>,
    pub relay: Option<RelayOut>,
    pub playlist: Option<PlaylistOut>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl<'a> TaskOut<'a> {
    pub fn new(task: &'a Task, relay: Option<RelayView>) -> TaskOut<'a> {
        let (s, r) = (&task.spec, &task.runtime);
        let files = s.source_type != SourceType::Live;
        TaskOut {
            id: task.id.as_str(),
            name: &s.name,
            group: &s.group,
            region: &s.region,
            source: SourceOut {
                kind: source_type_name(s.source_type),
                protocol: s.source_protocol.map(protocol_name),
                urls: &s.source_urls,
                failover_after_seconds: s.failover.after,
                failback_after_seconds: s.failover.failback_after,
            },
            destination: &s.dst_url,
            destinations: std::iter::once(&s.dst_url)
                .chain(&s.extra_dst_urls)
                .map(String::as_str)
                .collect(),
            start_time: rfc3339(s.start_time),
            end_time: rfc3339(s.end_time),
            callback_url: s.callback_url.as_deref(),
            repeat: s.repeat_number,
            retry: RetryOut {
                count: s.retry_count,
                interval_seconds: s.retry_interval,
            },
            playlist_start: PlaylistStartOut {
                file_index: s.file_index,
                offset_seconds: s.offset,
            },
            notify_item_switch: s.notifies_items(),
            slate: SlateOut::of(&s.slate),
            state: state_name(r.status),
            reason: r.invalid_reason.map(|x| x.as_str()),
            exit_reason: r.exit_reason.map(|x| x.as_str()),
            exit_time: r.exit_time.map(rfc3339),
            last_error: r.last_error.as_ref().map(|e| LastErrorOut {
                side: e.side.as_str(),
                code: &e.code,
                message: &e.message,
                at: rfc3339(e.at),
            }),
            retries: r.retries,
            next_retry_at: r.next_retry_at.map(rfc3339),
            relay: relay.map(|v| RelayOut {
                state: relay_state_name(v.state),
                uptime_seconds: v.uptime_seconds,
                bitrate_in_bps: v.bitrate_in_bps,
                bitrate_out_bps: v.bitrate_out_bps,
                fps: v.fps,
                bytes_in: v.bytes_in,
                bytes_out: v.bytes_out,
                frames_out: v.frames_out,
                frames_dropped: v.frames_dropped,
                source_connections: v.source_connections,
                destination_sessions: v.destination_sessions,
                srt: v.srt.as_ref().map(|t| SrtOut {
                    rtt_ms: t.rtt_ms,
                    latency_ms: t.latency_ms,
                    packets_received: t.packets_received,
                    packets_lost: t.packets_lost,
                    packets_retransmitted: t.packets_retransmitted,
                    packets_dropped: t.packets_dropped,
                    decrypt_errors: t.decrypt_errors,
                    bytes_received: t.bytes_received,
                }),
                source_transport: v.source_transport.as_ref().map(TransportOut::from_view),
                destination_transport: v
                    .destination_transport
                    .as_ref()
                    .map(TransportOut::from_view),
                destination_srt: v.destination_srt.as_ref().map(|t| SrtSendOut {
                    rtt_ms: t.rtt_ms,
                    latency_ms: t.latency_ms,
                    packets_sent: t.packets_sent,
                    packets_retransmitted: t.packets_retransmitted,
                    packets_lost: t.packets_lost,
                    packets_dropped: t.packets_dropped,
                    bytes_sent: t.bytes_sent,
                    send_buffer_packets: t.send_buffer_packets,
                    send_buffer_bytes: t.send_buffer_bytes,
                    send_buffer_ms: t.send_buffer_ms,
                }),
                destinations: v
                    .destinations
                    .iter()
                    .map(|d| DestinationOut {
                        id: d.id,
                        url: d.url.clone(),
                        state: d.state,
                        bitrate_out_bps: d.bitrate_out_bps,
                        bytes_out: d.bytes_out,
                        frames_out: d.frames_out,
                        frames_dropped: d.frames_dropped,
                        sessions: d.sessions,
                        transport: d.transport.as_ref().map(TransportOut::from_view),
                        last_error: d.last_error.as_ref().map(|(code, message)| {
                            DestinationErrorOut {
                                code,
                                message: message.clone(),
                            }
                        }),
                    })
                    .collect(),
                active_source: v.active_source,
                source_switches: v.source_switches,
                slate_active: v.slate_active,
                slate_starts: v.slate_starts,
                sources: v
                    .sources
                    .iter()
                    .enumerate()
                    .map(|(index, e)| SourceStatusOut {
                        index,
                        last_error: e.as_ref().map(|(code, message)| DestinationErrorOut {
                            code,
                            message: message.clone(),
                        }),
                    })
                    .collect(),
            }),
            playlist: files.then(|| PlaylistOut {
                file_index: r.current_file_index,
                offset_seconds: r.current_offset,
                loops: r.current_loop,
                pass: task.playlist_pass(),
                passes: task.playlist_passes().map(i64::from),
            }),
            version: task.version,
            created_at: rfc3339(task.created_at),
            updated_at: rfc3339(task.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ItemOut<'a> {
    pub kind: &'static str,
    pub file_index: u32,
    pub source: &'a str,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct EventOut<'a> {
    pub id: &'a str,
    pub seq: u64,
    pub state: &'static str,
    pub reason: Option<&'static str>,
    pub exit_reason: Option<&'static str>,
    pub item: Option<ItemOut<'a>>,
    /// What a log-only event is about (a source switch, a destination down or up, a takeover);
    /// None for the provider's callbacks.
    pub detail: Option<&'a str>,
    pub time: String,
    pub delivery: &'static str,
    /// Failed delivery attempts.
    pub attempts: u32,
    /// When it was delivered, or given up (RFC 3339); None while pending and for `none`.
    pub delivered_at: Option<String>,
    /// Why the last failed attempt failed (HTTP status, connect error, timeout, egress
    /// refusal); None while none failed.
    pub last_error: Option<&'a str>,
}

impl<'a> EventOut<'a> {
    pub fn new(r: &'a EventRecord) -> EventOut<'a> {
        let e = &r.event;
        EventOut {
            id: &e.id,
            seq: e.seq,
            state: e.state.as_str(),
            reason: e.reason.map(|x| x.as_str()),
            exit_reason: e.exit_reason.map(|x| x.as_str()),
            item: e.item.as_ref().map(|i| ItemOut {
                kind: i.kind.as_str(),
                file_index: i.file_index,
                source: &i.source,
                detail: i.detail.as_deref(),
            }),
            detail: e.detail.as_deref(),
            time: rfc3339(e.time),
            delivery: if e.url.is_empty() {
                "none"
            } else if r.given_up {
                "given_up"
            } else if r.delivered_at.is_some() {
                "delivered"
            } else {
                "pending"
            },
            attempts: r.attempts,
            delivered_at: r.delivered_at.filter(|_| !e.url.is_empty()).map(rfc3339),
            last_error: r.last_error.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TagOut<'a> {
    pub category: &'a str,
    pub key: &'a str,
    pub value: &'a str,
}

#[derive(Debug, Serialize)]
pub struct GroupOut<'a> {
    pub name: &'a str,
    pub project: &'a str,
    pub status: &'static str,
    pub tags: Vec<TagOut<'a>>,
    pub created_at: String,
    pub updated_at: String,
}

impl<'a> GroupOut<'a> {
    pub fn new(g: &'a TaskGroup) -> GroupOut<'a> {
        GroupOut {
            name: &g.name,
            project: &g.project,
            status: match g.status {
                GroupStatus::Available => "available",
                GroupStatus::Deleted => "deleted",
            },
            tags: g.tags.iter().map(tag_out).collect(),
            created_at: rfc3339(g.created_at),
            updated_at: rfc3339(g.updated_at),
        }
    }
}

fn tag_out(t: &Tag) -> TagOut<'_> {
    TagOut {
        category: &t.category,
        key: &t.key,
        value: &t.value,
    }
}

#[derive(Debug, Serialize)]
pub struct BlockOut<'a> {
    pub domain: &'a str,
    pub app: &'a str,
    pub stream: &'a str,
    pub created_at: String,
    pub resume_at: String,
}

impl<'a> BlockOut<'a> {
    pub fn new(b: &'a Block) -> BlockOut<'a> {
        BlockOut {
            domain: &b.path.domain,
            app: &b.path.app,
            stream: &b.path.stream,
            created_at: rfc3339(b.created_at),
            resume_at: rfc3339(b.resume_at),
        }
    }
}

/// `GET /v1/streams`: `{"items": [...]}`, every live stream the caller may see (no pages: a
/// server has as many live streams as it has publishers and players).
#[derive(Debug, Serialize)]
pub struct LiveStreamsOut<'a> {
    pub items: Vec<LiveStreamOut<'a>>,
}

/// One live stream (the dashboard reads exactly these fields).
#[derive(Debug, Serialize)]
pub struct LiveStreamOut<'a> {
    pub domain: &'a str,
    pub app: &'a str,
    pub stream: &'a str,
    pub publishing: bool,
    /// `rtmp` or `srt`; `null` without a publisher (or for one inside the server).
    pub protocol: Option<&'static str>,
    /// `ip:port` of the publisher.
    pub publisher_addr: Option<String>,
    pub started_at: Option<String>,
    pub uptime_seconds: Option<f64>,
    pub video: Option<VideoOut<'a>>,
    pub audio: Option<AudioOut<'a>>,
    pub bitrate_in_bps: u64,
    pub video_bitrate_bps: u64,
    pub audio_bitrate_bps: u64,
    pub players: u64,
    pub gop_cache_frames: u64,
    pub gop_cache_bytes: u64,
    pub frames_in: u64,
    pub frames_dropped: u64,
    pub forbidden: bool,
    pub forbidden_until: Option<String>,
}

/// A live stream's video track.
#[derive(Debug, Serialize)]
pub struct VideoOut<'a> {
    /// `H.264`, `H.265`, `AV1`...
    pub codec: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub profile: Option<&'a str>,
    pub level: Option<&'a str>,
    /// Measured over the last 1–2 s, two decimals.
    pub fps: f64,
}

/// A live stream's audio track.
#[derive(Debug, Serialize)]
pub struct AudioOut<'a> {
    /// `AAC`, `MP3`, `Opus`...
    pub codec: &'static str,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    pub profile: Option<&'a str>,
}

impl<'a> LiveStreamOut<'a> {
    pub fn new(s: &'a LiveStreamView) -> LiveStreamOut<'a> {
        let p = s.publisher.as_ref();
        LiveStreamOut {
            domain: &s.path.domain,
            app: &s.path.app,
            stream: &s.path.stream,
            publishing: p.is_some(),
            protocol: p.and_then(|p| p.protocol),
            publisher_addr: p.and_then(|p| p.remote).map(|a| a.to_string()),
            started_at: p.map(|p| rfc3339(p.started_at)),
            uptime_seconds: p.map(|p| (p.uptime_seconds * 1000.0).round() / 1000.0),
            video: p.and_then(|p| {
                p.video.as_ref().map(|v| VideoOut {
                    codec: video_codec_name(v.codec),
                    width: v.width,
                    height: v.height,
                    profile: v.profile.as_deref(),
                    level: v.level.as_deref(),
                    fps: (p.fps * 100.0).round() / 100.0,
                })
            }),
            audio: p.and_then(|p| {
                p.audio.as_ref().map(|a| AudioOut {
                    codec: audio_codec_name(a.codec),
                    sample_rate: a.sample_rate,
                    channels: a.channels,
                    profile: a.profile.as_deref(),
                })
            }),
            bitrate_in_bps: p.map_or(0, |p| p.bitrate_in_bps),
            video_bitrate_bps: p.map_or(0, |p| p.video_bitrate_bps),
            audio_bitrate_bps: p.map_or(0, |p| p.audio_bitrate_bps),
            players: s.players,
            gop_cache_frames: s.gop_cache_frames,
            gop_cache_bytes: s.gop_cache_bytes,
            frames_in: s.frames_in,
            frames_dropped: s.frames_dropped,
            forbidden: s.forbidden_until.is_some(),
            forbidden_until: s.forbidden_until.map(rfc3339),
        }
    }
}

/// The native spelling of a video codec (the service's names are lower-case identifiers).
pub fn video_codec_name(codec: &str) -> &'static str {
    match codec {
        "h264" => "H.264",
        "hevc" => "H.265",
        "av1" => "AV1",
        "vp9" => "VP9",
        "vp8" => "VP8",
        "h263" => "H.263",
        "vp6" => "VP6",
        "vp6a" => "VP6 alpha",
        "screen" => "Screen Video",
        "screen2" => "Screen Video 2",
        _ => "unknown",
    }
}

/// The native spelling of an audio codec.
pub fn audio_codec_name(codec: &str) -> &'static str {
    match codec {
        "aac" => "AAC",
        "mp3" => "MP3",
        "opus" => "Opus",
        "pcm" => "PCM",
        "pcm_le" => "PCM (little-endian)",
        "adpcm" => "ADPCM",
        "nellymoser" => "Nellymoser",
        "g711a" => "G.711 A-law",
        "g711u" => "G.711 mu-law",
        "speex" => "Speex",
        "ac3" => "AC-3",
        "eac3" => "E-AC-3",
        "flac" => "FLAC",
        _ => "unknown",
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct PageOut<T: Serialize> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/nodes`.
#[derive(Debug, Serialize)]
pub struct NodesOut<'a> {
    pub items: Vec<NodeOut<'a>>,
    /// Tasks that have not exited and that no node holds: waiting for a takeover after a
    /// node's death (seconds), or running nowhere because every node is at its capacity.
    pub unowned_tasks: u64,
}

/// One node of the cluster.
#[derive(Debug, Serialize)]
pub struct NodeOut<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub started_at: String,
    /// Seconds since its last heartbeat, on the database's clock (milliseconds precision).
    pub heartbeat_age_seconds: f64,
    pub alive: bool,
    pub capacity: u32,
    /// Tasks it holds a live lease on.
    pub tasks: u64,
    /// The first of them by ID (at most 100; `tasks` counts them all).
    pub task_ids: Vec<&'a str>,
}

impl<'a> NodeOut<'a> {
    pub fn new(n: &'a baton_domain::NodeStatus) -> NodeOut<'a> {
        NodeOut {
            id: n.id.as_str(),
            name: &n.name,
            started_at: rfc3339(n.started_at),
            heartbeat_age_seconds: n.heartbeat_age.as_millis() as f64 / 1000.0,
            alive: n.alive,
            capacity: n.capacity,
            tasks: n.tasks,
            task_ids: n.task_ids.iter().map(|t| t.0.as_str()).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Whoami<'a> {
    pub account: &'a str,
    pub token: &'a str,
}

// --- cursors ---

/// Where a list continues: a task position (keyset), an event sequence number, or an offset
/// (groups and blocks, whose lists are short and ordered by name / end time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Cursor {
    #[serde(rename = "t")]
    Task { at: UnixTime, id: String },
    #[serde(rename = "e")]
    Event { seq: u64 },
    #[serde(rename = "o")]
    Offset { n: u64 },
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(etag(7), "\"v7\"");
        for v in ["\"v7\"", "W/\"v7\"", "v7", " \"v7\" "] {
            assert_eq!(parse_etag(v), Some(7), "{v}");
        }
        for v in ["", "*", "\"7\"", "\"vx\""] {
            assert_eq!(parse_etag(v), None, "{v}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_none() {
        for c in [
            Cursor::Task {
                at: 1_700_000_000,
                id: "a-b".into(),
            },
            Cursor::Event { seq: 3 },
            Cursor::Offset { n: 50 },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for s in ["", "!!", "e30", "eyJ4IjoxfQ"] {
            assert_eq!(Cursor::decode(s), None, "{s}");
        }
    }

    #[test]
    fn states_round_trip() {
        for s in ["not_started", "running", "recovering", "stopped", "ended"] {
            assert_eq!(state_from_name(s).map(state_name), Some(s));
        }
        assert_eq!(state_from_name("Running"), None);
    }
}
