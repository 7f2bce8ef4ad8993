//! The API's documents as the human views read them. Lenient on purpose: every field has a
//! default, so a server that adds or omits a field still renders (`--json` passes the
//! document through untouched).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub group: String,
    pub region: Option<String>,
    pub source: Source,
    pub destination: String,
    /// Every destination, `destination` first (older servers: absent, empty).
    pub destinations: Vec<String>,
    pub start_time: String,
    pub end_time: String,
    pub callback_url: Option<String>,
    pub repeat: i64,
    pub retry: Option<Retry>,
    pub playlist_start: Option<PlaylistStart>,
    pub notify_item_switch: Option<bool>,
    pub state: String,
    pub reason: Option<String>,
    pub exit_reason: Option<String>,
    pub exit_time: Option<String>,
    pub last_error: Option<LastError>,
    pub retries: i64,
    pub next_retry_at: Option<String>,
    pub relay: Option<Relay>,
    pub playlist: Option<Playlist>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: String,
    pub protocol: Option<String>,
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Retry {
    pub count: Option<i64>,
    pub interval_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PlaylistStart {
    pub file_index: i64,
    pub offset_seconds: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LastError {
    pub side: String,
    pub code: String,
    pub message: String,
    pub at: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Relay {
    pub state: Option<String>,
    pub uptime_seconds: Option<f64>,
    pub bitrate_in_bps: Option<f64>,
    pub bitrate_out_bps: Option<f64>,
    pub fps: Option<f64>,
    pub bytes_in: Option<f64>,
    pub bytes_out: Option<f64>,
    pub frames_out: Option<f64>,
    pub frames_dropped: Option<f64>,
    pub source_connections: Option<f64>,
    pub destination_sessions: Option<f64>,
    /// An SRT source's connection statistics.
    pub srt: Option<SrtStats>,
    pub source_transport: Option<Transport>,
    pub destination_transport: Option<Transport>,
    /// An SRT destination's send statistics.
    pub destination_srt: Option<SrtSendStats>,
    /// The slate plays (no source delivers).
    pub slate_active: Option<bool>,
    /// Times the slate started.
    pub slate_starts: Option<f64>,
    /// Each destination on its own.
    pub destinations: Vec<RelayDestination>,
    /// The source in use (0: the primary, 1..: the backups).
    pub active_source: Option<f64>,
    /// Failovers and failbacks so far.
    pub source_switches: Option<f64>,
}

/// One destination of a running relay (`relay.destinations[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RelayDestination {
    pub id: u32,
    pub url: String,
    pub state: String,
    pub bitrate_out_bps: Option<f64>,
    pub frames_out: Option<f64>,
    pub frames_dropped: Option<f64>,
    pub sessions: Option<f64>,
    pub last_error: Option<ErrorCode>,
}

/// An error as a relay's destination or source view names it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorCode {
    pub code: String,
    pub message: String,
}

/// What one side of a relay runs over.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Transport {
    pub protocol: String,
    pub tls: Option<Tls>,
}

/// What TLS negotiated on an rtmps side.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Tls {
    pub version: String,
    pub cipher: String,
    pub peer_names: Vec<String>,
    pub subject: String,
    pub issuer: String,
}

impl Transport {
    /// `rtmps (TLSv1.3 TLS13_AES_128_GCM_SHA256, live-api-s.facebook.com, issued by
    /// CN=…,O=…,C=…)`, `rtmp` — the relay's own status line's form.
    pub fn describe(&self) -> String {
        let Some(t) = &self.tls else {
            return self.protocol.clone();
        };
        let mut out = format!("{} ({} {}", self.protocol, t.version, t.cipher);
        if !t.peer_names.is_empty() {
            out.push_str(&format!(", {}", t.peer_names.join(",")));
        } else if !t.subject.is_empty() {
            out.push_str(&format!(", {}", t.subject));
        }
        if !t.issuer.is_empty() {
            out.push_str(&format!(", issued by {}", t.issuer));
        }
        out.push(')');
        out
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SrtStats {
    pub rtt_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub packets_received: Option<f64>,
    pub packets_lost: Option<f64>,
    pub packets_retransmitted: Option<f64>,
    pub packets_dropped: Option<f64>,
    pub decrypt_errors: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SrtSendStats {
    pub rtt_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub packets_sent: Option<f64>,
    pub packets_retransmitted: Option<f64>,
    pub packets_lost: Option<f64>,
    pub packets_dropped: Option<f64>,
    pub send_buffer_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Playlist {
    pub file_index: i64,
    pub offset_seconds: i64,
    #[serde(rename = "loop")]
    pub passes_done: i64,
    /// The pass playing (a finished list: the last); older servers: none.
    pub pass: Option<i64>,
    pub passes: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    pub id: String,
    pub seq: i64,
    pub state: String,
    pub reason: Option<String>,
    pub exit_reason: Option<String>,
    pub item: Option<EventItem>,
    /// What a log-only event is about (a source switch, a destination down or up, a takeover).
    pub detail: Option<String>,
    pub time: String,
    pub delivery: String,
    pub attempts: Option<i64>,
    pub delivered_at: Option<String>,
    /// Why the last failed delivery attempt failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventItem {
    pub kind: String,
    pub file_index: Option<i64>,
    pub source: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Group {
    pub name: String,
    pub project: String,
    pub status: String,
    pub tags: Vec<Tag>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Tag {
    pub category: Option<String>,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Block {
    pub domain: String,
    pub app: String,
    pub stream: String,
    pub created_at: String,
    pub resume_at: String,
}

/// One item of `GET /v1/streams`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LiveStream {
    pub domain: String,
    pub app: String,
    pub stream: String,
    pub publishing: bool,
    pub protocol: Option<String>,
    pub publisher_addr: Option<String>,
    pub started_at: Option<String>,
    pub uptime_seconds: Option<f64>,
    pub video: Option<LiveVideo>,
    pub audio: Option<LiveAudio>,
    pub bitrate_in_bps: f64,
    pub players: u64,
    pub frames_dropped: u64,
    pub forbidden: bool,
    pub forbidden_until: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LiveVideo {
    pub codec: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub profile: Option<String>,
    pub fps: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LiveAudio {
    pub codec: String,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Whoami {
    pub account: String,
    pub token: Option<String>,
}

/// The `items` of an unpaged list answer (`/v1/streams`, `/v1/nodes`); `what` names the request.
pub fn list_items(
    body: &serde_json::Value,
    what: &str,
) -> Result<Vec<serde_json::Value>, super::client::Failure> {
    body.get("items")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .ok_or_else(|| super::client::Failure::usage(format!("the answer to {what} has no items")))
}

/// Reads a document for a human view. A document that does not fit is an error that points
/// at `--json`, which shows any document as sent.
pub fn view<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
    what: &str,
) -> Result<T, super::client::Failure> {
    serde_json::from_value(v.clone()).map_err(|e| {
        super::client::Failure::usage(format!(
            "cannot show the server's {what}: {e} (--json prints it as sent)"
        ))
    })
}
