//! The relay engine: pull one source (RTMP play, HTTP-FLV, HLS, SRT, RTSP, playlists) and push it to one or more destinations (RTMP(S) publish, or MPEG-TS over SRT)
//! on a single continuous timeline, surviving source and destination drops; each destination
//! fails, reconnects and reports on its own.
//!
//! The task control plane drives relays through [`Relay::spawn`], [`Relay::status`],
//! [`Relay::add_destination`], [`Relay::remove_destination`], [`Relay::stop`] and
//! [`Relay::wait`]; `baton relay` does the same from the command line. See
//! the `runner` module for the loop and its guarantees.

pub mod backoff;
mod destination;
pub mod error;
mod event;
pub mod hls;
pub mod playlist;
pub mod pool;
pub mod probe;
mod resume;
pub mod rtsp;
mod runner;
pub mod slate;
pub mod source;
pub mod srt;
pub mod status;
/// MPEG-TS → frames lives in `baton_net::ts` (the SRT ingest uses it too); re-exported so
/// `crate::ts::TsFrames` keeps working.
pub use baton_net::ts;

use std::sync::Arc;
use std::time::Duration;

use baton_media::gop::GopCacheConfig;
use baton_media::queue::QueueConfig;
use baton_media::timeline::TimelineConfig;
use baton_net::client::ClientOptions;
use baton_net::egress::Egress;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::{Backoff, BackoffConfig};
pub use error::{ErrorKind, RelayError, Side};
pub use playlist::{ItemNote, ItemNoteKind, PlayerConfig, Playlist, PlaylistProgress};
pub use pool::RelayPool;
pub use probe::{ProbeConfig, ProbeOutcome};
pub use slate::{Slate, SlateClip, SlateConfig};
pub use source::SourceUrl;
pub use status::{
    DestinationId, DestinationState, DestinationStatus, ErrorRecord, RelayState, RelayStatus,
    SourceStatus, StatusCell, Transport,
};

/// The default grace period. An encoder restart takes up to [`TOLERATED_OUTAGE`] (30 s); a
/// source back by then is tried again within the source backoff's cap (2 s, 2.4 s with
/// jitter) and connected within a round trip or two, all before 35 s.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(35);

/// How long an active source with backups may deliver nothing before the next one is used:
/// longer than a brief network blip, far inside [`DEFAULT_GRACE`].
pub const DEFAULT_FAILOVER_AFTER: Duration = Duration::from_secs(5);

/// How long a recovered primary must deliver continuously before the relay switches back.
pub const DEFAULT_FAILBACK_HEALTHY: Duration = Duration::from_secs(10);

/// The source outage the defaults ride through without closing the destination session.
pub const TOLERATED_OUTAGE: Duration = Duration::from_secs(30);

/// Everything a relay needs. [`RelayConfig::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// `rtmp://…`, `http(s)://….flv`, `http(s)://….m3u8` (HLS: MPEG-TS or fMP4 segments),
    /// `srt://…` (MPEG-TS; see [`baton_net::srt_client`] for the options and listener mode),
    /// `rtsp://[user:password@]host[:554]/path[?transport=udp]` (see [`baton_net::rtsp`]).
    pub source: String,
    /// Live sources to fall back on, in order, when the active one fails (see the `runner`
    /// module's failover rule): same URL forms as `source` (and the same `hls` reading).
    /// Default none: the single-source rule (the relay fails when `source` stays down for
    /// `grace`). Not with a `playlist`.
    pub backup_sources: Vec<String>,
    /// With backup sources: how long the active source may deliver no media (down,
    /// reconnecting, or connected but silent) before the relay switches to the next one. Default
    /// [`DEFAULT_FAILOVER_AFTER`] (5 s): well inside `grace`, so the destinations stay open
    /// while the backup connects. Unused without backups.
    pub failover_after: Duration,
    /// With backup sources: while a backup is active, the primary is tried again on a
    /// connection of its own this often (`None`, the default: never; the primary is used again
    /// only when the sources wrap around).
    pub failback_every: Option<Duration>,
    /// How long that connection must deliver media without a gap (none longer than the stall
    /// timeout) before the relay switches back to the primary, at its next keyframe. Default
    /// [`DEFAULT_FAILBACK_HEALTHY`] (10 s).
    pub failback_healthy: Duration,
    /// `rtmp://…` or `rtmps://…` (RTMP over TLS, port 443 by default; certificates checked
    /// against `client.tls`), or `srt://host:port?streamid=…` (MPEG-TS pushed over SRT;
    /// options and listener mode as for an SRT source, see [`baton_net::srt_client`]).
    pub destination: String,
    /// More destinations fed by the same pull, each with its own queue, session, backoff,
    /// grace and status (ids 1, 2, … in this order; `destination` is 0). Same URL forms as
    /// `destination`. Default none. See the `runner` module for the failure rule.
    pub extra_destinations: Vec<String>,
    /// How long one side may stay down (reconnecting) before the relay fails (a destination
    /// among several: before that destination fails). While the
    /// source is away the destination session is held this long. Default [`DEFAULT_GRACE`]
    /// (35 s): an encoder restart of up to 30 s keeps the destination session.
    pub grace: Duration,
    /// Delays between source reconnection attempts. Default 0.5 s doubling to 2 s: the cap
    /// (at most 2.4 s with jitter) is what makes a source that is back just before 30 s
    /// reconnected before the grace period ends — not only the grace period itself.
    pub source_backoff: BackoffConfig,
    /// Delays between destination reconnection attempts. Default 1 s doubling to 8 s.
    pub destination_backoff: BackoffConfig,
    /// A connected source that delivers no frame this long is dropped and reconnected.
    /// Default 5 s.
    pub source_stall_timeout: Duration,
    /// Time allowed to say goodbye to the destination (FCUnpublish, deleteStream). Default 2 s.
    pub close_timeout: Duration,
    pub client: ClientOptions,
    pub timeline: TimelineConfig,
    /// Frames waiting for a slow destination (full: drop to the next keyframe).
    pub queue: QueueConfig,
    /// Frames kept while the destination is (re)connecting: the latest GOP.
    pub buffer: GopCacheConfig,
    /// Seed of the backoff jitter (`None`: random). Tests fix it for reproducible schedules.
    pub jitter_seed: Option<u64>,
    /// Follow `source` as an HLS playlist whatever its path says (SourceProtocol=hls: CDN
    /// URLs need not end in `.m3u8`). Default `false`: an http(s) URL is HLS when its path
    /// ends in `.m3u8`, HTTP-FLV otherwise.
    pub hls: bool,
    /// Play this list of files instead of pulling `source` (which then only names it in
    /// logs). The relay ends (`RelayState::Finished`) when the list is done.
    pub playlist: Option<(Arc<Playlist>, PlayerConfig)>,
    /// While no source delivers, play this slate to every destination (see
    /// [`SlateConfig`] and the `runner` module). Default `None`: destinations get nothing
    /// while the source is away (held for `grace`). Live sources only (not with a
    /// `playlist`).
    pub slate: Option<SlateConfig>,
    /// Where the relay may connect (the source's RTMP dials, HTTP-FLV and playlist requests and
    /// their redirects; the destination's RTMP dials): the task's account's egress. Default
    /// unrestricted (`baton relay`, tests).
    pub egress: Egress,
}

impl RelayConfig {
    pub fn new(source: impl Into<String>, destination: impl Into<String>) -> RelayConfig {
        RelayConfig {
            source: source.into(),
            backup_sources: Vec::new(),
            failover_after: DEFAULT_FAILOVER_AFTER,
            failback_every: None,
            failback_healthy: DEFAULT_FAILBACK_HEALTHY,
            destination: destination.into(),
            extra_destinations: Vec::new(),
            grace: DEFAULT_GRACE,
            source_backoff: BackoffConfig::new(Duration::from_millis(500), Duration::from_secs(2)),
            destination_backoff: BackoffConfig::new(Duration::from_secs(1), Duration::from_secs(8)),
            source_stall_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(2),
            client: ClientOptions::default(),
            timeline: TimelineConfig::default(),
            queue: QueueConfig {
                max_frames: 512,
                max_bytes: 4 << 20,
            },
            buffer: GopCacheConfig {
                max_bytes: 8 << 20,
                max_frames: 2048,
            },
            jitter_seed: None,
            hls: false,
            playlist: None,
            slate: None,
            egress: Egress::unrestricted(),
        }
    }
}

/// The relay's task, as handed to a spawner.
type RelayFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RelayError>> + Send>>;

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    status: StatusCell,
    control: tokio::sync::mpsc::Sender<runner::Control>,
    cancel: CancellationToken,
    join: JoinHandle<Result<(), RelayError>>,
}

impl Relay {
    /// Validates the URLs and starts the relay on the current tokio runtime. See also
    /// [`RelayPool::spawn`].
    pub fn spawn(config: RelayConfig) -> Result<Relay, RelayError> {
        Relay::spawn_with(config, tokio::spawn)
    }

    /// Validates the URLs and starts the relay's task with `spawn`.
    fn spawn_with(
        config: RelayConfig,
        spawn: impl FnOnce(RelayFuture) -> JoinHandle<Result<(), RelayError>>,
    ) -> Result<Relay, RelayError> {
        let mut sources = Vec::with_capacity(1 + config.backup_sources.len());
        match &config.playlist {
            Some(_) if !config.backup_sources.is_empty() => {
                return Err(RelayError::new(
                    Side::Source,
                    ErrorKind::Unsupported,
                    "backup sources are for live sources: a playlist has none",
                ));
            }
            Some(_) if config.slate.is_some() => {
                return Err(RelayError::new(
                    Side::Source,
                    ErrorKind::Unsupported,
                    "a slate is for live sources: a playlist plays its own files",
                ));
            }
            Some((playlist, player)) => {
                sources.push(SourceUrl::Playlist(Arc::clone(playlist), player.clone()))
            }
            None => {
                for url in std::iter::once(&config.source).chain(&config.backup_sources) {
                    sources.push(SourceUrl::parse_as(url, config.hls)?);
                }
            }
        }
        let mut destinations = Vec::with_capacity(1 + config.extra_destinations.len());
        for url in std::iter::once(&config.destination).chain(&config.extra_destinations) {
            destinations.push((url.clone(), parse_destination(url)?));
        }
        // From here on `config.source` only names the source in logs: a camera's password
        // (`rtsp://user:password@…`) is not among them.
        let mut config = config;
        config.source = baton_net::rtsp::mask_userinfo(&config.source);
        for url in &mut config.backup_sources {
            *url = baton_net::rtsp::mask_userinfo(url);
        }
        let status = StatusCell::new();
        let cancel = CancellationToken::new();
        let (control, commands) = tokio::sync::mpsc::channel(runner::CONTROL_QUEUE);
        let runner = runner::Runner::new(config, sources, destinations, commands, status.clone());
        let join = spawn(Box::pin(runner.run(cancel.clone())));
        Ok(Relay {
            status,
            control,
            cancel,
            join,
        })
    }

    pub fn status(&self) -> RelayStatus {
        self.status.snapshot()
    }

    /// The relay's state as it changes (see [`StatusCell::state_changes`]).
    pub fn state_changes(&self) -> tokio::sync::watch::Receiver<RelayState> {
        self.status.state_changes()
    }

    /// A handle to the status that outlives `wait`.
    pub fn status_cell(&self) -> StatusCell {
        self.status.clone()
    }

    /// A token that stops the relay when cancelled (usable after `wait` took the relay).
    pub fn stop_handle(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// A handle that adds and removes the relay's destinations, usable after `wait` took the
    /// relay (as [`Self::stop_handle`]).
    pub fn destinations(&self) -> RelayDestinations {
        RelayDestinations {
            control: self.control.clone(),
        }
    }

    /// See [`RelayDestinations::add`].
    pub async fn add_destination(&self, url: &str) -> Result<DestinationId, RelayError> {
        self.destinations().add(url).await
    }

    /// See [`RelayDestinations::remove`].
    pub async fn remove_destination(&self, id: DestinationId) -> Result<(), RelayError> {
        self.destinations().remove(id).await
    }

    /// Asks the relay to stop: the destination is closed cleanly, then [`Self::wait`] returns `Ok`.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Waits for the relay to end: `Ok` after [`Self::stop`], `Err` when it failed for good.
    pub async fn wait(self) -> Result<(), RelayError> {
        match self.join.await {
            Ok(result) => result,
            Err(e) => Err(RelayError::new(
                Side::Internal,
                ErrorKind::Protocol,
                format!("relay task ended abnormally: {e}"),
            )),
        }
    }
}

/// Adds and removes the destinations of a running relay ([`Relay::destinations`]). Once the
/// relay has ended, every call fails (`Side::Internal`, `Unsupported`).
#[derive(Clone, Debug)]
pub struct RelayDestinations {
    control: tokio::sync::mpsc::Sender<runner::Control>,
}

impl RelayDestinations {
    /// Adds a destination to the running relay without disturbing the others: it gets its
    /// own session (opened at once if the source is flowing; media from the next keyframe),
    /// queue, backoff, grace and status. The URL is checked first (same forms as
    /// [`RelayConfig::destination`]).
    pub async fn add(&self, url: &str) -> Result<DestinationId, RelayError> {
        let parsed = parse_destination(url)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let command = runner::Control::Add {
            name: url.to_owned(),
            url: parsed,
            reply,
        };
        self.control.send(command).await.map_err(|_| ended())?;
        answer.await.map_err(|_| ended())
    }

    /// Removes destination `id` from the running relay: its session is closed cleanly, the
    /// others are not disturbed. Refused for an unknown id (`NotFound`) and for the last
    /// destination that has not failed (`Refused`: stop the relay instead).
    pub async fn remove(&self, id: DestinationId) -> Result<(), RelayError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let command = runner::Control::Remove { id, reply };
        self.control.send(command).await.map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

/// A control command reached a relay that has ended.
fn ended() -> RelayError {
    RelayError::new(
        Side::Internal,
        ErrorKind::Unsupported,
        "the relay has ended: its destinations cannot be changed",
    )
}

fn parse_destination(url: &str) -> Result<destination::DestinationUrl, RelayError> {
    destination::DestinationUrl::parse(url)
}
