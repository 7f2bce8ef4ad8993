//! Is a live source back? While a task waits out its RetryInterval after its source failed,
//! the engine watches the source so that the retry can start the moment it is back. A source
//! on another server is probed here; one on Baton's own ingest is watched through the hub.
//!
//! A probe pulls the source exactly as a relay would ([`Source::connect`]: the same dialer and
//! the task's account's [`Egress`], so a probe goes only where the relay may — a host name is
//! resolved and checked again for every probe),
//! waits for the first audio/video frame, and closes. Probes repeat with exponential backoff
//! while the source refuses or cannot be reached. A server that accepts the play and simply
//! has nothing yet (nginx-rtmp, Baton's ingest) keeps the probe's connection for
//! [`ProbeConfig::hold`]: media published meanwhile is seen at once, and the next probe
//! follows after the initial delay — one idle connection, no media, is what that costs.
//!
//! An HLS source is "back" when its playlist lists a segment it did not list when the watch
//! began, and that segment has media: the playlist the failed relay last saw (ended with
//! EXT-X-ENDLIST, or stuck) is still served after the producer stops and proves nothing.

use std::sync::Arc;
use std::time::Duration;

use baton_media::timeline::TimelineConfig;
use baton_net::client::ClientOptions;
use baton_net::egress::Egress;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::debug;

use crate::backoff::{Backoff, BackoffConfig};
use crate::error::{ErrorKind, RelayError, Side};
use crate::hls::Resume;
use crate::resume::is_media;
use crate::source::{Source, SourceEvent, SourceUrl};

/// How a source is probed.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Delays between probes that failed. Default 0.5 s doubling to 4 s: far below the
    /// shortest RetryInterval (60 s), so the retry starts within seconds of the source's
    /// return.
    pub backoff: BackoffConfig,
    /// How long one probe waits for the first media frame once connected. Default 10 s.
    pub hold: Duration,
    /// Time allowed to say goodbye to an RTMP source. Default 1 s.
    pub close_timeout: Duration,
    /// Seed of the backoff jitter (`None`: random).
    pub jitter_seed: Option<u64>,
}

impl Default for ProbeConfig {
    fn default() -> ProbeConfig {
        ProbeConfig {
            backoff: BackoffConfig::new(Duration::from_millis(500), Duration::from_secs(4)),
            hold: Duration::from_secs(10),
            close_timeout: Duration::from_secs(1),
            jitter_seed: None,
        }
    }
}

/// What one probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Media arrived: the source is back.
    Media,
    /// Connected, but no media within the hold time.
    Idle,
    /// Could not connect, or the source refused or ended.
    Failed(RelayError),
}

/// One probe of `url`, only where `egress` allows (see the module documentation). An HLS
/// source plays from where its [`Resume`] says, as a relay's reconnect would.
pub async fn probe(
    url: &SourceUrl,
    options: &ClientOptions,
    egress: &Egress,
    config: &ProbeConfig,
) -> ProbeOutcome {
    if matches!(url, SourceUrl::Playlist(..)) {
        // Files are not "back"; their task retries at its interval.
        return ProbeOutcome::Failed(RelayError::new(
            Side::Source,
            ErrorKind::Unsupported,
            "a playlist is not probed",
        ));
    }
    let mut source = match Source::connect(url, options, egress, &TimelineConfig::default()).await {
        Ok(s) => s,
        Err(e) => return ProbeOutcome::Failed(e),
    };
    let deadline = Instant::now() + config.hold;
    let outcome = loop {
        match timeout_at(deadline, source.next()).await {
            Err(_) => break ProbeOutcome::Idle,
            Ok(Ok(SourceEvent::Frame(frame))) if is_media(&frame) => break ProbeOutcome::Media,
            // Headers, metadata, or an unpublish notice on a connection that stays up.
            Ok(Ok(SourceEvent::Frame(_) | SourceEvent::Ended)) => {}
            Ok(Ok(SourceEvent::Finished)) => {
                break ProbeOutcome::Failed(RelayError::new(
                    Side::Source,
                    ErrorKind::Ended,
                    "the source finished",
                ));
            }
            Ok(Err(e)) => break ProbeOutcome::Failed(e),
        }
    };
    if let Source::Rtmp { conn, .. } = source {
        let _ = (*conn).close(config.close_timeout).await;
    }
    outcome
}

/// Probes `url` until it delivers media, then returns. An HLS source is back only when its
/// playlist lists segments newer than it did at the first probe
/// ([`Resume::new_segments_only`]): a stale playlist, ended or not, still served after the
/// producer stopped is not the source's return. Cancel by dropping the future. A
/// probe the egress policy refuses ends the probing (the future then never completes): the
/// task's retry, at its interval, meets the same refusal and says so.
pub async fn wait_for_source(
    url: &SourceUrl,
    options: &ClientOptions,
    egress: &Egress,
    config: &ProbeConfig,
) {
    let mut backoff = Backoff::new(config.backoff.clone());
    let mut rng = match config.jitter_seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_rng(&mut rand::rng()),
    };
    let url = match url {
        SourceUrl::Hls(u, _) => &SourceUrl::Hls(u.clone(), Arc::new(Resume::new_segments_only())),
        other => other,
    };
    loop {
        match probe(url, options, egress, config).await {
            ProbeOutcome::Media => return,
            ProbeOutcome::Failed(e) if e.kind == ErrorKind::EgressDenied => {
                debug!(error = %e, "source probe refused by the egress policy; probing ends");
                return std::future::pending().await;
            }
            // The server is up and accepts the play: try again soon, the cost is one idle
            // connection.
            ProbeOutcome::Idle => backoff.reset(),
            ProbeOutcome::Failed(e) => debug!(error = %e, "source probe failed"),
        }
        sleep(backoff.next_delay(&mut rng)).await;
    }
}
