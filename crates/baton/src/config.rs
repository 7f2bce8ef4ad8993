//! `baton serve` configuration: defaults, then the TOML file (`--config`), then flags and their
//! `BATON_…` environment twins — later wins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use baton_net::http_flv::HttpFlvConfig;
use baton_net::http_listener::HttpLimits;
use baton_net::hub::HubConfig;
use baton_net::ingest::{IngestConfig, SrtConfig};
use serde::Deserialize;

use baton_api::ApiConfig;
use baton_engine::{EngineConfig, LeaseConfig};

use crate::credentials::{AccountConfig, ApiKeyConfig, Credentials, DomainConfig};
use crate::egress::EgressSection;

/// The config file. Every key is optional; unknown keys are an error (typos don't pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Directory for Baton's durable state. Default `./baton-data`.
    pub data_dir: Option<PathBuf>,
    /// Where tasks, events, blocks, groups and spent requests are stored: `sqlite` (files in
    /// the data dir) or a `postgres://user:password@host:port/dbname` URL. Default `sqlite`.
    pub database: Option<String>,
    /// HTTP control API listener. Default `127.0.0.1:8080`.
    pub api_listen: Option<SocketAddr>,
    /// RTMP ingest listener. Default `0.0.0.0:1935`.
    pub rtmp_listen: Option<SocketAddr>,
    /// HTTP-FLV playback listener. Default `0.0.0.0:8081`.
    pub play_listen: Option<SocketAddr>,
    /// SRT ingest listener (UDP), e.g. `0.0.0.0:10080`. Default: none (no SRT ingest).
    pub srt_listen: Option<SocketAddr>,
    /// RTMPS ingest listener (RTMP over TLS), e.g. `0.0.0.0:443`; needs `[rtmps]` cert_file
    /// and key_file. Default: none (no RTMPS ingest).
    pub rtmps_listen: Option<SocketAddr>,
    /// A listener of its own for `GET /metrics` (Prometheus text, no token: bind it where only
    /// the operator's scraper reaches, e.g. `127.0.0.1:9464`). Default: none (metrics only on
    /// the API listener, for root's tokens).
    pub metrics_listen: Option<SocketAddr>,
    /// SRT ingest settings (domain, passphrase, latency, limits).
    #[serde(default)]
    pub srt: SrtSection,
    /// Ingest limits.
    #[serde(default)]
    pub ingest: IngestSection,
    /// Accounts (`[[accounts]]`: id, callback_secret).
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// The control API (`[[api.keys]]`: access_key_id, access_key_secret, account).
    #[serde(default)]
    pub api: ApiSection,
    /// Ingest domains (`[[domains]]`: name, account, publish_auth_key, ...).
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
    /// Where playlist files may come from.
    #[serde(default)]
    pub media: MediaSection,
    /// Pull-to-push tasks.
    #[serde(default)]
    pub tasks: TasksSection,
    /// The slate every live task's destinations get while no source delivers.
    #[serde(default)]
    pub slate: SlateSection,
    /// This node's part in a cluster of nodes sharing one PostgreSQL `database` (ignored with
    /// SQLite): its name, capacity and lease times.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Where tasks' sources, playlist items, destinations and callbacks may connect (see `egress.rs`).
    #[serde(default)]
    pub egress: EgressSection,
    /// The HTTP listeners' connection caps and timeouts (control API, HTTP-FLV).
    #[serde(default)]
    pub http: HttpSection,
    /// TLS of tasks' `rtmps://` sources and destinations (extra trusted CAs).
    #[serde(default)]
    pub tls: TlsSection,
    /// The RTMPS ingest's certificate and key (enabled by `rtmps_listen`).
    #[serde(default)]
    pub rtmps: RtmpsSection,
    /// Log lines as `text` or `json` (one object per line). Default `text`; `--log-format`
    /// and `BATON_LOG_FORMAT` win.
    pub log_format: Option<LogFormat>,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, colored only on a terminal without `NO_COLOR`.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, fields, target).
    Json,
}

impl FileConfig {
    /// The config file at `path` (every key at its default without one).
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str::<FileConfig>(&text)
            .with_context(|| format!("parsing config file {}", path.display()))
    }
}

/// `baton serve`'s data directory when nothing names one.
pub const DEFAULT_DATA_DIR: &str = "./baton-data";

/// The data directory and what chose it. `baton serve` and the admin commands (`baton
/// token|key|account|domain`) both resolve it here, so they agree given the same
/// `--data-dir` / `BATON_DATA_DIR` / `--config`: the flag or its environment twin, then the
/// config file's `data_dir`, then [`DEFAULT_DATA_DIR`] — relative paths against the current
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirChoice {
    pub path: PathBuf,
    pub source: DataDirSource,
}

/// What named the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDirSource {
    /// `--data-dir` or `BATON_DATA_DIR`.
    Given,
    /// The `data_dir` key of this config file.
    ConfigFile(PathBuf),
    /// Nothing: [`DEFAULT_DATA_DIR`].
    Default,
}

impl DataDirChoice {
    /// The given directory, else the config file's `data_dir` (`config_path` names the file,
    /// for messages), else the default.
    pub fn resolve(
        given: Option<PathBuf>,
        config_path: Option<&Path>,
        from_file: Option<PathBuf>,
    ) -> DataDirChoice {
        let (path, source) = match (given, from_file) {
            (Some(dir), _) => (dir, DataDirSource::Given),
            (None, Some(dir)) => (
                dir,
                DataDirSource::ConfigFile(config_path.map(Path::to_path_buf).unwrap_or_default()),
            ),
            (None, None) => (PathBuf::from(DEFAULT_DATA_DIR), DataDirSource::Default),
        };
        DataDirChoice { path, source }
    }

    /// How the directory was chosen, for messages: "given by --data-dir or BATON_DATA_DIR".
    pub fn explain(&self) -> String {
        match &self.source {
            DataDirSource::Given => "given by --data-dir or BATON_DATA_DIR".to_string(),
            DataDirSource::ConfigFile(path) => {
                format!("the data_dir of the config file {}", path.display())
            }
            DataDirSource::Default => format!(
                "the default {DEFAULT_DATA_DIR}: neither --data-dir, BATON_DATA_DIR nor a \
                 config file (--config, BATON_CONFIG) named one"
            ),
        }
    }
}

/// `[http]` keys: the control API's and the HTTP-FLV play listener's limits. Beyond a cap a
/// new connection is closed at accept. The caps, with `ingest.max_connections`, are fitted
/// under the process's file limit at start (its soft limit is raised to the hard one first).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Simultaneous connections to the control API (Alibaba, Volcengine, `/v1`, `/healthz`).
    /// Default 512.
    pub api_max_connections: Option<usize>,
    /// Simultaneous connections to the HTTP-FLV listener. Default 4096.
    pub play_max_connections: Option<usize>,
    /// Longest wait for a request's headers, on a new connection or a kept-alive one after
    /// its response (slowloris and idle keep-alive sockets are closed after it). Default 10 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub header_read_timeout: Option<Duration>,
    /// A connection with no byte moving either way this long is closed; a playing HTTP-FLV
    /// response moves bytes with every frame. Default 60 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub idle_timeout: Option<Duration>,
}

/// `[srt]` keys: the SRT ingest (enabled by `srt_listen`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrtSection {
    /// The domain of SRT publishes whose stream id names none (no `h=`, no `vhost`); SRT
    /// carries no host name. Default `__defaultVhost__`; set it to the host players and
    /// relays use (`rtmp://HOST/app/stream`).
    pub domain: Option<String>,
    /// Publishers must encrypt with this passphrase (10 to 79 bytes). Default: none
    /// (encrypted publishers are refused).
    pub passphrase: Option<String>,
    /// SRT receive latency (retransmission window). Default 120 ms.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub latency: Option<Duration>,
    /// Simultaneous SRT connections. Default 256.
    pub max_connections: Option<usize>,
    /// From a handshake to the first media frame. Default 10 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub handshake_timeout: Option<Duration>,
    /// A publisher that sends no media frame this long is closed. Default 30 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub idle_timeout: Option<Duration>,
}

/// `[media]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// The media library: SourceType `vod` media IDs are files here (`<id>`, `<id>.mp4`,
    /// `<id>.flv`, `<id>.ts`). Default: none (vod tasks are refused).
    pub dir: Option<PathBuf>,
    /// Directories whose files SourceType `url` tasks may name by absolute path. Default:
    /// none (only http(s) URLs).
    #[serde(default)]
    pub local_roots: Vec<PathBuf>,
}

/// `[tls]` keys: how tasks' `rtmps://` and `https://` connections (sources, destinations,
/// callbacks) verify servers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// A PEM file of CA certificates trusted besides the bundled web PKI roots (Mozilla's, as
    /// in `webpki-roots`), for RTMPS and HTTPS servers with a private CA's certificate (tasks'
    /// sources and destinations, callbacks). Read at start.
    /// Default: none (the web PKI roots only).
    pub ca_file: Option<PathBuf>,
}

/// `[rtmps]` keys: the RTMPS ingest listener (enabled by `rtmps_listen`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtmpsSection {
    /// PEM certificate chain the listener presents (leaf first). Required with
    /// `rtmps_listen`. Checked for changes every 10 s and reloaded without a restart (a pair
    /// that does not load is logged and the one in use stays).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file` (PKCS#8, PKCS#1 or SEC1). Required with `rtmps_listen`.
    pub key_file: Option<PathBuf>,
}

/// The RTMPS listener's certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl RtmpsFiles {
    /// Both files' bytes (certificate chain, key).
    pub fn read(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let cert = std::fs::read(&self.cert_file)
            .with_context(|| format!("reading rtmps.cert_file {}", self.cert_file.display()))?;
        let key = std::fs::read(&self.key_file)
            .with_context(|| format!("reading rtmps.key_file {}", self.key_file.display()))?;
        Ok((cert, key))
    }

    /// What changes when either file is rewritten or replaced (modification time, length).
    pub fn stamp(&self) -> Option<[(std::time::SystemTime, u64); 2]> {
        let one = |p: &Path| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        Some([one(&self.cert_file)?, one(&self.key_file)?])
    }
}

/// The TLS client of tasks' and `baton relay`'s `rtmps://` connections: the web PKI roots,
/// plus the CA certificates of `ca_file` (a PEM file) when one is given.
pub fn tls_client(ca_file: Option<&Path>) -> anyhow::Result<baton_net::tls::TlsClient> {
    let Some(path) = ca_file else {
        return Ok(baton_net::tls::TlsClient::default());
    };
    let pem = std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?;
    let certs = baton_net::tls::parse_pem_certificates(&pem)
        .with_context(|| format!("CA file {}", path.display()))?;
    baton_net::tls::TlsClient::new(&certs).with_context(|| format!("CA file {}", path.display()))
}

/// `[tasks]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksSection {
    /// How long a task that exited at its EndTime stays describable before it is purged.
    /// Default 7 days.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub retention: Option<Duration>,
    /// How long a relay reconnects its source by itself, holding the destination session,
    /// before the task's retry policy (RetryInterval, RetryCount) takes over. Default 35 s:
    /// an encoder restart of up to 30 s keeps the destination session.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub grace: Option<Duration>,
}

/// `[slate]` keys: while no source of a live task delivers, its destinations get this clip
/// looped (copy mode: in the live stream's codecs), so a platform keeps the broadcast, until
/// a source returns or `hold` ends. For every live task of every dialect (the Alibaba and
/// Volcengine APIs have no slate of their own: the operator decides for all). Default: no
/// slate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlateSection {
    /// `default` (Baton's built-in H.264/AAC card of the live stream's resolution: 640x360,
    /// 1280x720 or 1920x1080, the closest) or the path of an FLV, MP4 or MPEG-TS clip, read
    /// once at start. Unset: no slate.
    pub file: Option<String>,
    /// How long no source media before the slate starts. Default 1 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub after: Option<Duration>,
    /// How long the slate may play before the relay gives up as when its grace period ends
    /// (the task's retry policy then applies). Default 5 min.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub hold: Option<Duration>,
}

/// The slate `baton serve` loads at start (`[slate]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlateSettings {
    /// `default` or a clip's path.
    pub file: String,
    pub after: Duration,
    pub hold: Duration,
}

/// `[slate]` checked (`after` and `hold` even without a `file`, so that a typo is caught
/// before the slate is switched on): `None` without a `file`.
fn slate_settings(section: &SlateSection) -> anyhow::Result<Option<SlateSettings>> {
    let after = section
        .after
        .unwrap_or(baton_relay::slate::DEFAULT_SLATE_AFTER);
    let hold = section
        .hold
        .unwrap_or(baton_relay::slate::DEFAULT_SLATE_HOLD);
    anyhow::ensure!(
        after >= Duration::from_millis(100) && after <= Duration::from_secs(60),
        "slate.after must be between 100 ms and 60 s"
    );
    anyhow::ensure!(
        hold >= Duration::from_secs(1) && hold <= Duration::from_secs(24 * 3600),
        "slate.hold must be between 1 s and 24 h"
    );
    let Some(file) = &section.file else {
        return Ok(None);
    };
    anyhow::ensure!(
        !file.is_empty(),
        "slate.file must be `default` or a clip's path"
    );
    Ok(Some(SlateSettings {
        file: file.clone(),
        after,
        hold,
    }))
}

/// `[cluster]` keys: several `baton serve` nodes on one PostgreSQL database, each running
/// the tasks it holds a lease on (docs/design/multi-node.md). Ignored with SQLite (one node).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// How people and node lists know this node (an address, a host name); never used for
    /// ownership (the node ID in the data dir is). Default: the API listener's address.
    pub name: Option<String>,
    /// The most tasks (relays) this node runs at once: it claims no more. Default 1000.
    pub capacity: Option<u32>,
    /// How long a claim or renewal keeps a task's lease, on the database's clock. Default 5 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub lease: Option<Duration>,
    /// How often the node renews its leases, claims tasks and checks its tasks for commands
    /// applied through other nodes. Default 1 s; at most (lease − margin) / 2.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub renew: Option<Duration>,
    /// How long before its leases could expire a node that cannot renew stops its relays.
    /// Default 2 s; at least 1 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub margin: Option<Duration>,
    /// How long past a lease's expiry other nodes wait before taking the task over (its owner,
    /// restarted, takes it back first). Default 1 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub grace: Option<Duration>,
}

/// Effective `[cluster]` settings.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings {
    /// `None`: the API listener's address, as bound.
    pub name: Option<String>,
    pub lease: LeaseConfig,
}

/// `[api]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// API keys (`[[api.keys]]`: access_key_id, access_key_secret, account, policy).
    #[serde(default)]
    pub keys: Vec<ApiKeyConfig>,
    /// The regions (Alibaba `Region`) this node runs. Default: the provider's list plus
    /// `preregion`.
    pub regions: Option<Vec<String>>,
    /// API calls per second per account and action. Default 10 (the provider's limit).
    pub actions_per_second: Option<u32>,
    /// Native API (`/v1`) requests per second per account. Default 50.
    pub native_requests_per_second: Option<u32>,
    /// Spent signed requests (nonces, Volcengine state-changing requests) each access key may
    /// have within their 15-minute window; a key with this many gets `Throttling.User` until
    /// its oldest expire, other keys are not affected. Default 524288 (≤ ~5 MB per key).
    pub replay_share_per_key: Option<usize>,
}

/// `[ingest]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    /// Simultaneous RTMP connections. Default 4096.
    pub max_connections: Option<usize>,
    /// Largest RTMP message accepted, bytes. Default 8 MiB.
    pub max_message_size: Option<usize>,
    /// From TCP accept to the RTMP `connect` command. Default 10 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub handshake_timeout: Option<Duration>,
    /// A connection silent in both directions this long is closed. Default 60 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub idle_timeout: Option<Duration>,
    /// Outgoing RTMP chunk size. Default 4096.
    pub chunk_size: Option<u32>,
    /// Simultaneous HTTP-FLV players; further requests get 503. Default 4096.
    pub max_http_players: Option<usize>,
    /// How long an HTTP-FLV request waits for a publisher before 404. Default 10 s.
    #[serde(default, with = "crate::duration::serde_opt")]
    pub http_flv_wait: Option<Duration>,
    /// GOP cache bound per stream, bytes. Default 8 MiB.
    pub gop_cache_max_bytes: Option<usize>,
    /// Per-player queue bound, frames (full: drop to the next keyframe). Default 2048.
    pub player_queue_frames: Option<usize>,
    /// Per-player queue bound, bytes. Default 8 MiB.
    pub player_queue_bytes: Option<usize>,
}

/// Where the stores live (`database`). Its `Debug` masks a URL's password, so settings can be
/// logged.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite files in the data dir: the embedded default.
    Sqlite,
    /// A PostgreSQL database: the URL, password included (never log it: see
    /// [`Database::redacted`]).
    Postgres(String),
}

impl Database {
    /// `sqlite`, or a `postgres://` / `postgresql://` URL; anything else is refused by name.
    pub fn parse(value: &str) -> anyhow::Result<Database> {
        if value.eq_ignore_ascii_case("sqlite") {
            Ok(Database::Sqlite)
        } else if baton_store_postgres::is_postgres_url(value) {
            Ok(Database::Postgres(value.to_owned()))
        } else {
            anyhow::bail!(
                "database {:?}: expected `sqlite` or a postgres:// URL (no other database is built)",
                baton_store_postgres::redact_url(value)
            )
        }
    }

    /// For logs: `sqlite`, or the URL with its password masked.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite => "sqlite".to_owned(),
            Database::Postgres(url) => baton_store_postgres::redact_url(url),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Effective settings of `baton serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The stores' database (SQLite in the data dir unless set).
    pub database: Database,
    pub api_listen: SocketAddr,
    pub rtmp_listen: SocketAddr,
    pub play_listen: SocketAddr,
    /// The SRT ingest listener, if any.
    pub srt_listen: Option<SocketAddr>,
    /// The RTMPS ingest listener and its certificate files, if any.
    pub rtmps: Option<(SocketAddr, RtmpsFiles)>,
    /// The metrics listener, if any.
    pub metrics_listen: Option<SocketAddr>,
    pub srt: SrtConfig,
    pub ingest: IngestConfig,
    pub hub: HubConfig,
    pub http_flv: HttpFlvConfig,
    /// The control API listener's cap and timeouts (the play listener's are in `http_flv`).
    pub api_listener: HttpLimits,
    /// Configured accounts and API keys (none: generated in the data dir at start).
    pub credentials: Credentials,
    pub api: ApiConfig,
    pub engine: EngineConfig,
    /// The slate of every live task, loaded at start (`[slate]`).
    pub slate: Option<SlateSettings>,
    /// This node's part in a cluster (used on PostgreSQL only).
    pub cluster: ClusterSettings,
}

/// Values given on the command line or in the environment.
#[derive(Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub api_listen: Option<SocketAddr>,
    pub rtmp_listen: Option<SocketAddr>,
    pub play_listen: Option<SocketAddr>,
    pub srt_listen: Option<SocketAddr>,
    pub rtmps_listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub media_dir: Option<PathBuf>,
}

/// The `log_format` of a config file, if it parses (tracing starts before `serve` reads the
/// file for real and reports its errors).
pub fn log_format_of(config_file: &Path) -> Option<LogFormat> {
    let text = std::fs::read_to_string(config_file).ok()?;
    toml::from_str::<FileConfig>(&text).ok()?.log_format
}

impl Settings {
    pub fn resolve(config_file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Settings> {
        Self::merge(FileConfig::load(config_file)?, overrides)
    }

    pub(crate) fn merge(file: FileConfig, o: Overrides) -> anyhow::Result<Settings> {
        let mut ingest = IngestConfig::default();
        let i = &file.ingest;
        if let Some(v) = i.max_connections {
            anyhow::ensure!(v > 0, "ingest.max_connections must be at least 1");
            ingest.max_connections = v;
        }
        if let Some(v) = i.max_message_size {
            anyhow::ensure!(
                (1024..=0xFF_FFFF).contains(&v),
                "ingest.max_message_size must be between 1 KiB and 16 MiB - 1"
            );
            ingest.max_message_size = v;
        }
        if let Some(v) = i.handshake_timeout {
            ingest.handshake_timeout = v;
        }
        if let Some(v) = i.idle_timeout {
            ingest.idle_timeout = v;
        }
        if let Some(v) = i.chunk_size {
            anyhow::ensure!(
                (128..=65536).contains(&v),
                "ingest.chunk_size must be between 128 and 65536"
            );
            ingest.chunk_size = v;
        }
        let mut hub = HubConfig::default();
        if let Some(v) = i.gop_cache_max_bytes {
            hub.gop.max_bytes = v;
        }
        if let Some(v) = i.player_queue_frames {
            anyhow::ensure!(v >= 16, "ingest.player_queue_frames must be at least 16");
            hub.queue.max_frames = v;
        }
        if let Some(v) = i.player_queue_bytes {
            hub.queue.max_bytes = v;
        }
        let mut http_flv = HttpFlvConfig::default();
        if let Some(v) = i.http_flv_wait {
            http_flv.wait_for_publisher = v;
        }
        if let Some(v) = i.max_http_players {
            anyhow::ensure!(v > 0, "ingest.max_http_players must be at least 1");
            http_flv.max_players = v;
        }
        let srt = srt_config(&file.srt)?;
        let mut api_listener = HttpLimits {
            max_connections: 512,
            ..HttpLimits::default()
        };
        let h = &file.http;
        if let Some(v) = h.api_max_connections {
            anyhow::ensure!(v > 0, "http.api_max_connections must be at least 1");
            api_listener.max_connections = v;
        }
        if let Some(v) = h.play_max_connections {
            anyhow::ensure!(v > 0, "http.play_max_connections must be at least 1");
            http_flv.listener.max_connections = v;
        }
        for limits in [&mut api_listener, &mut http_flv.listener] {
            if let Some(v) = h.header_read_timeout {
                anyhow::ensure!(!v.is_zero(), "http.header_read_timeout must be positive");
                limits.header_read_timeout = v;
            }
            if let Some(v) = h.idle_timeout {
                anyhow::ensure!(!v.is_zero(), "http.idle_timeout must be positive");
                limits.idle_timeout = v;
            }
        }
        let mut api = ApiConfig::default();
        if let Some(regions) = file.api.regions.clone() {
            anyhow::ensure!(
                !regions.is_empty(),
                "api.regions must name at least one region"
            );
            api.regions = regions;
        }
        if let Some(rate) = file.api.actions_per_second {
            anyhow::ensure!(rate > 0, "api.actions_per_second must be at least 1");
            api.actions_per_second = rate;
        }
        if let Some(rate) = file.api.native_requests_per_second {
            anyhow::ensure!(
                rate > 0,
                "api.native_requests_per_second must be at least 1"
            );
            api.native_requests_per_second = rate;
        }
        if let Some(share) = file.api.replay_share_per_key {
            anyhow::ensure!(share > 0, "api.replay_share_per_key must be at least 1");
            api.replay_share_per_key = share;
        }
        let mut engine = EngineConfig::default();
        if let Some(v) = file.tasks.retention {
            engine.policy.retention = v.as_secs();
        }
        if let Some(v) = file.tasks.grace {
            anyhow::ensure!(
                v >= Duration::from_secs(1) && v <= Duration::from_secs(300),
                "tasks.grace must be between 1 s and 5 min"
            );
            engine.relay.grace = v;
        }
        engine.relay.client.tls = tls_client(file.tls.ca_file.as_deref()).context("tls.ca_file")?;
        let cluster = cluster_settings(&file.cluster)?;
        let slate = slate_settings(&file.slate)?;
        let rtmps = match (o.rtmps_listen.or(file.rtmps_listen), &file.rtmps) {
            (None, _) => None,
            (
                Some(addr),
                RtmpsSection {
                    cert_file: Some(cert_file),
                    key_file: Some(key_file),
                },
            ) => Some((
                addr,
                RtmpsFiles {
                    cert_file: cert_file.clone(),
                    key_file: key_file.clone(),
                },
            )),
            (Some(_), _) => anyhow::bail!(
                "rtmps_listen needs [rtmps] cert_file and key_file (PEM certificate chain and key)"
            ),
        };
        if let Some(dir) = o.media_dir.clone().or(file.media.dir.clone()) {
            anyhow::ensure!(
                dir.is_dir(),
                "media dir {} is not a directory",
                dir.display()
            );
            engine.media.media_dir = Some(dir);
        }
        for root in &file.media.local_roots {
            anyhow::ensure!(
                root.is_absolute() && root.is_dir(),
                "media.local_roots: {} is not an absolute path of a directory",
                root.display()
            );
        }
        engine.media.local_roots = file.media.local_roots.clone();
        // Completed with the API listener once it is bound (`serve`).
        engine.egress = std::sync::Arc::new(file.egress.policy()?);
        let addr = |s: &str| -> SocketAddr { s.parse().expect("literal socket address") };
        let database = match o.database.as_deref().or(file.database.as_deref()) {
            None => Database::Sqlite,
            Some(value) => Database::parse(value)?,
        };
        Ok(Settings {
            data_dir: DataDirChoice::resolve(o.data_dir, None, file.data_dir).path,
            database,
            api_listen: o
                .api_listen
                .or(file.api_listen)
                .unwrap_or(addr("127.0.0.1:8080")),
            rtmp_listen: o
                .rtmp_listen
                .or(file.rtmp_listen)
                .unwrap_or(addr("0.0.0.0:1935")),
            play_listen: o
                .play_listen
                .or(file.play_listen)
                .unwrap_or(addr("0.0.0.0:8081")),
            srt_listen: o.srt_listen.or(file.srt_listen),
            rtmps,
            metrics_listen: o.metrics_listen.or(file.metrics_listen),
            srt,
            ingest,
            hub,
            http_flv,
            api_listener,
            credentials: Credentials {
                accounts: file.accounts,
                api_keys: file.api.keys,
                domains: file.domains,
                // Tokens live in the data dir's credentials file (`baton token create`), so
                // only their digests are ever written down.
                tokens: Vec::new(),
            },
            api,
            engine,
            slate,
            cluster,
        })
    }
}

/// `[cluster]`, checked: lease times that keep the fencing invariant (`LeaseConfig::check`,
/// its error naming the key at fault).
fn cluster_settings(section: &ClusterSection) -> anyhow::Result<ClusterSettings> {
    let mut lease = LeaseConfig::default();
    if let Some(v) = section.capacity {
        lease.capacity = v;
    }
    if let Some(v) = section.lease {
        lease.lease = v;
    }
    if let Some(v) = section.renew {
        lease.renew = v;
    }
    if let Some(v) = section.margin {
        lease.margin = v;
    }
    if let Some(v) = section.grace {
        lease.grace = v;
    }
    lease.check().map_err(|e| anyhow::anyhow!("cluster.{e}"))?;
    let name = match &section.name {
        Some(name) => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 255,
                "cluster.name must have 1 to 255 characters"
            );
            Some(name.to_owned())
        }
        None => None,
    };
    Ok(ClusterSettings { name, lease })
}

fn srt_config(section: &SrtSection) -> anyhow::Result<SrtConfig> {
    let mut srt = SrtConfig::default();
    if let Some(domain) = &section.domain {
        anyhow::ensure!(
            !domain.is_empty() && !domain.contains(['/', '?', ' ']),
            "srt.domain must be a host name"
        );
        srt.domain = domain.to_ascii_lowercase();
    }
    if let Some(p) = &section.passphrase {
        anyhow::ensure!(
            baton_net::srt_client::PASSPHRASE_LEN.contains(&p.len()),
            "srt.passphrase must have 10 to 79 bytes (it has {})",
            p.len()
        );
        srt.passphrase = Some(p.clone());
    }
    if let Some(v) = section.latency {
        anyhow::ensure!(
            v <= Duration::from_secs(10),
            "srt.latency must be at most 10 s"
        );
        srt.latency = v;
    }
    if let Some(v) = section.max_connections {
        anyhow::ensure!(v > 0, "srt.max_connections must be at least 1");
        srt.max_connections = v;
    }
    if let Some(v) = section.handshake_timeout {
        anyhow::ensure!(!v.is_zero(), "srt.handshake_timeout must be positive");
        srt.handshake_timeout = v;
    }
    if let Some(v) = section.idle_timeout {
        anyhow::ensure!(!v.is_zero(), "srt.idle_timeout must be positive");
        srt.idle_timeout = v;
    }
    Ok(srt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_flags() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.rtmp_listen.to_string(), "0.0.0.0:1935");
        assert_eq!(s.api_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.play_listen.to_string(), "0.0.0.0:8081");
        assert_eq!(s.data_dir, PathBuf::from("./baton-data"));

        let file: FileConfig = toml::from_str(
            r#"
            rtmp_listen = "127.0.0.1:19350"
            data_dir = "/tmp/b"
            [ingest]
            idle_timeout = "30s"
            handshake_timeout = 5
            max_connections = 10
            "#,
        )
        .unwrap();
        let s = Settings::merge(
            file,
            Overrides {
                data_dir: Some("/tmp/c".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.rtmp_listen.to_string(), "127.0.0.1:19350");
        assert_eq!(s.data_dir, PathBuf::from("/tmp/c"));
        assert_eq!(s.ingest.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.ingest.handshake_timeout, Duration::from_secs(5));
        assert_eq!(s.ingest.max_connections, 10);
    }

    #[test]
    fn database_is_sqlite_unless_set_and_flags_win() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.database, Database::Sqlite);

        let file = || -> FileConfig {
            toml::from_str("database = \"postgres://baton:hunter2@db.example/baton\"").unwrap()
        };
        let s = Settings::merge(file(), Overrides::default()).unwrap();
        assert_eq!(
            s.database,
            Database::Postgres("postgres://baton:hunter2@db.example/baton".into())
        );
        // Logged settings never show the password.
        let logged = format!("{s:?}");
        assert!(!logged.contains("hunter2"), "{logged}");
        assert!(
            logged.contains("postgres://baton:***@db.example/baton"),
            "{logged}"
        );

        // The flag (or BATON_DATABASE) wins over the file, `sqlite` included.
        let s = Settings::merge(
            file(),
            Overrides {
                database: Some("sqlite".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.database, Database::Sqlite);

        for bad in ["mysql://u:hunter2@h/d", "/var/lib/baton.db", ""] {
            let e = Settings::merge(
                FileConfig::default(),
                Overrides {
                    database: Some(bad.into()),
                    ..Overrides::default()
                },
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("expected `sqlite` or a postgres:// URL"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn srt_is_off_unless_configured() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.srt_listen, None);
        let file: FileConfig = toml::from_str(
            "srt_listen = \"127.0.0.1:10080\"\n[srt]\ndomain = \"Live.Example.com\"\npassphrase = \"0123456789ab\"\nlatency = \"200ms\"\nmax_connections = 3\n",
        )
        .unwrap();
        let s = Settings::merge(
            file,
            Overrides {
                srt_listen: Some("127.0.0.1:10081".parse().unwrap()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.srt_listen, Some("127.0.0.1:10081".parse().unwrap()));
        assert_eq!(s.srt.domain, "live.example.com");
        assert_eq!(s.srt.passphrase.as_deref(), Some("0123456789ab"));
        assert_eq!(s.srt.latency, Duration::from_millis(200));
        assert_eq!(s.srt.max_connections, 3);
        for bad in [
            "[srt]\npassphrase = \"short\"\n",
            "[srt]\nmax_connections = 0\n",
            "[srt]\ndomain = \"a/b\"\n",
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            assert!(
                Settings::merge(file, Overrides::default()).is_err(),
                "{bad}"
            );
        }
        assert!(toml::from_str::<FileConfig>("[srt]\nport = 1\n").is_err());
    }

    #[test]
    fn task_settings() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.engine.policy.retention, 7 * 24 * 3600);
        assert_eq!(s.engine.relay.grace, Duration::from_secs(35));
        let file: FileConfig =
            toml::from_str("[tasks]\nretention = \"2d\"\ngrace = \"30s\"\n").unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.engine.policy.retention, 2 * 24 * 3600);
        assert_eq!(s.engine.relay.grace, Duration::from_secs(30));
        let file: FileConfig = toml::from_str("[tasks]\ngrace = \"0s\"\n").unwrap();
        assert!(Settings::merge(file, Overrides::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[tasks]\nretension = 1\n").is_err());
    }

    #[test]
    fn slate_settings() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.slate, None, "no slate by default");
        let file: FileConfig = toml::from_str("[slate]\nfile = \"default\"\n").unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(
            s.slate,
            Some(SlateSettings {
                file: "default".into(),
                after: Duration::from_secs(1),
                hold: Duration::from_secs(300),
            })
        );
        let file: FileConfig = toml::from_str(
            "[slate]\nfile = \"/srv/slate.flv\"\nafter = \"500ms\"\nhold = \"30m\"\n",
        )
        .unwrap();
        let s = Settings::merge(file, Overrides::default())
            .unwrap()
            .slate
            .unwrap();
        assert_eq!(
            (s.file.as_str(), s.after, s.hold),
            (
                "/srv/slate.flv",
                Duration::from_millis(500),
                Duration::from_secs(1800)
            )
        );
        for bad in ["after = \"0s\"", "hold = \"0s\"", "after = \"2m\""] {
            let file: FileConfig =
                toml::from_str(&format!("[slate]\nfile = \"default\"\n{bad}\n")).unwrap();
            assert!(
                Settings::merge(file, Overrides::default()).is_err(),
                "{bad}"
            );
        }
        assert!(toml::from_str::<FileConfig>("[slate]\nfiles = \"default\"\n").is_err());
    }

    #[test]
    fn api_rates() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(
            (s.api.actions_per_second, s.api.native_requests_per_second),
            (10, 50)
        );
        let file: FileConfig =
            toml::from_str("[api]\nactions_per_second = 3\nnative_requests_per_second = 200\n")
                .unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(
            (s.api.actions_per_second, s.api.native_requests_per_second),
            (3, 200)
        );
        let file: FileConfig = toml::from_str("[api]\nnative_requests_per_second = 0\n").unwrap();
        assert!(Settings::merge(file, Overrides::default()).is_err());
    }

    #[test]
    fn replay_share() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.api.replay_share_per_key, baton_api::DEFAULT_REPLAY_SHARE);
        let file: FileConfig = toml::from_str("[api]\nreplay_share_per_key = 1000\n").unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.api.replay_share_per_key, 1000);
        let file: FileConfig = toml::from_str("[api]\nreplay_share_per_key = 0\n").unwrap();
        assert!(Settings::merge(file, Overrides::default()).is_err());
    }

    #[test]
    fn accounts_and_api_keys() {
        let file: FileConfig = toml::from_str(
            r#"
            [[accounts]]
            id = "acme"
            callback_secret = "s3cr3t"
            [[api.keys]]
            access_key_id = "LTAI5tTestAccessKeyId"
            access_key_secret = "TestAccessKeySecret0123456789ab"
            account = "acme"
            "#,
        )
        .unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.credentials.accounts[0].id, "acme");
        assert_eq!(s.credentials.api_keys[0].account, "acme");
    }

    #[test]
    fn egress_rules() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert!(s.engine.egress.is_restricted());
        let addr = "127.0.0.1:1935".parse().unwrap();
        assert!(s.engine.egress.allow("root", addr).is_ok());
        assert!(s.engine.egress.allow("acme", addr).is_err());
        let file: FileConfig =
            toml::from_str("[egress.accounts.acme]\nallow = [\"127.0.0.0/8\"]\n").unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert!(s.engine.egress.allow("acme", addr).is_ok());
        let file: FileConfig = toml::from_str("[egress]\ndeny = [\"10.0.0.0/99\"]\n").unwrap();
        assert!(Settings::merge(file, Overrides::default()).is_err());
    }

    #[test]
    fn tls_ca_file_adds_its_certificates_and_a_bad_one_is_named() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.engine.relay.client.tls.extra_roots(), 0);
        // A self-signed CA certificate (P-256, valid until 2126) made with openssl.
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/test-ca.pem");
        let file: FileConfig = toml::from_str(&format!("[tls]\nca_file = {ca:?}\n")).unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.engine.relay.client.tls.extra_roots(), 1);
        let file: FileConfig = toml::from_str("[tls]\nca_file = \"/nonexistent.pem\"\n").unwrap();
        let e = format!(
            "{:#}",
            Settings::merge(file, Overrides::default()).unwrap_err()
        );
        assert!(
            e.contains("tls.ca_file") && e.contains("/nonexistent.pem"),
            "{e}"
        );
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let file: FileConfig = toml::from_str(&format!("[tls]\nca_file = {not_pem:?}\n")).unwrap();
        let e = format!(
            "{:#}",
            Settings::merge(file, Overrides::default()).unwrap_err()
        );
        assert!(e.contains("no certificate"), "{e}");
    }

    #[test]
    fn an_rtmps_listener_needs_its_certificate_and_key() {
        let s = Settings::merge(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(s.rtmps, None);
        let file: FileConfig = toml::from_str("rtmps_listen = \"127.0.0.1:1443\"\n").unwrap();
        let e = Settings::merge(file, Overrides::default()).unwrap_err();
        assert!(
            e.to_string().contains("[rtmps] cert_file and key_file"),
            "{e}"
        );
        let file: FileConfig =
            toml::from_str("[rtmps]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n").unwrap();
        let s = Settings::merge(
            file,
            Overrides {
                rtmps_listen: Some("127.0.0.1:1443".parse().unwrap()),
                ..Overrides::default()
            },
        )
        .unwrap();
        let (addr, files) = s.rtmps.expect("the flag turns it on");
        assert_eq!(addr.port(), 1443);
        assert_eq!(files.cert_file, PathBuf::from("/c.pem"));
        assert_eq!(files.stamp(), None, "missing files have no stamp");
    }

    #[test]
    fn cluster_times_are_checked_and_errors_name_the_key() {
        let file: FileConfig = toml::from_str("").unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.cluster.lease, LeaseConfig::default());
        assert_eq!(s.cluster.name, None);
        let file: FileConfig = toml::from_str(
            "[cluster]\nname = \"n1.example:8080\"\ncapacity = 20\nlease = \"10s\"\n\
             renew = \"3s\"\nmargin = \"3s\"\ngrace = \"2s\"",
        )
        .unwrap();
        let s = Settings::merge(file, Overrides::default()).unwrap();
        assert_eq!(s.cluster.name.as_deref(), Some("n1.example:8080"));
        assert_eq!(
            s.cluster.lease,
            LeaseConfig {
                lease: Duration::from_secs(10),
                renew: Duration::from_secs(3),
                margin: Duration::from_secs(3),
                grace: Duration::from_secs(2),
                capacity: 20,
            }
        );
        for (toml, key) in [
            ("renew = \"2s\"", "cluster.renew"),
            ("margin = \"500ms\"", "cluster.margin"),
            ("capacity = 0", "cluster.capacity"),
            ("name = \" \"", "cluster.name"),
        ] {
            let file: FileConfig = toml::from_str(&format!("[cluster]\n{toml}")).unwrap();
            let e = Settings::merge(file, Overrides::default()).unwrap_err();
            assert!(e.to_string().starts_with(key), "{toml}: {e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<FileConfig>("rtmp_listn = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[ingest]\nidle_timeout = \"soon\"").is_err());
        let file: FileConfig = toml::from_str("[ingest]\nchunk_size = 1").unwrap();
        assert!(Settings::merge(file, Overrides::default()).is_err());
    }
}
