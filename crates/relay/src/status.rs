//! What a relay reports about itself. The relay task publishes a snapshot once per second
//! (and on every state change); readers never touch the hot path.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use baton_media::timeline::TimelineCounters;
use baton_net::srt_client::{SrtSendStats, SrtStats};
use baton_net::tls::TlsInfo;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::RelayError;

/// The relay's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayState {
    /// Nothing has reached the destination yet: the source and then the destination are being
    /// connected, or the new session waits for the first keyframe. A source that never
    /// appears keeps the relay here until the grace period ends.
    Connecting,
    /// Media reaches the destination: audio/video frames are being written to its session.
    Forwarding,
    /// The source dropped; reconnecting while the destination session is held (grace period).
    SourceReconnecting,
    /// The destination dropped; reconnecting with backoff while the source keeps flowing.
    DestinationReconnecting,
    /// Stopped on request; the destination session was closed cleanly.
    Stopped,
    /// The source finished (a playlist played to its end); the destination session was
    /// closed cleanly.
    Finished,
    /// Ended with an error (see `last_error`).
    Failed,
}

impl RelayState {
    /// Running abnormally: recovering from a failure on one side.
    pub fn is_recovering(self) -> bool {
        matches!(
            self,
            RelayState::SourceReconnecting | RelayState::DestinationReconnecting
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RelayState::Connecting => "connecting",
            RelayState::Forwarding => "forwarding",
            RelayState::SourceReconnecting => "source-reconnecting",
            RelayState::DestinationReconnecting => "destination-reconnecting",
            RelayState::Stopped => "stopped",
            RelayState::Finished => "finished",
            RelayState::Failed => "failed",
        }
    }
}

/// A failure with the wall-clock time it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecord {
    pub error: RelayError,
    pub at: SystemTime,
}

/// How one side of a relay is connected, so an operator can see what a push or pull runs
/// over (issue: "why is this push slow?").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    /// `rtmp`, `rtmps`, `http-flv`, `hls`, `srt` or `playlist`.
    pub protocol: &'static str,
    /// What TLS negotiated (`rtmps`): version, cipher suite, the certificate's names.
    pub tls: Option<TlsInfo>,
}

impl std::fmt::Display for Transport {
    /// `rtmps (TLSv1.3 TLS13_AES_128_GCM_SHA256, live-api-s.facebook.com, issued by
    /// CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US)`, `rtmp`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.protocol)?;
        if let Some(tls) = &self.tls {
            write!(f, " ({} {}", tls.version, tls.cipher)?;
            if !tls.peer_names.is_empty() {
                write!(f, ", {}", tls.peer_names)?;
            } else if !tls.subject.is_empty() {
                write!(f, ", {}", tls.subject)?;
            }
            if !tls.issuer.is_empty() {
                write!(f, ", issued by {}", tls.issuer)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A point-in-time view of a relay.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayStatus {
    pub state: RelayState,
    /// Time since the relay started.
    pub uptime: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Bits per second written to the destination over the last second.
    pub bitrate_out: u64,
    /// Bits per second read from the source over the last second.
    pub bitrate_in: u64,
    /// Video frames per second sent over the last second.
    pub fps: f64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames discarded because the destination was slow or away.
    pub frames_dropped: u64,
    /// Frames a reconnected source replayed (GOP cache) that had already been relayed.
    pub frames_deduplicated: u64,
    /// Destination sessions opened (1 for a healthy relay, whatever the source did).
    pub destination_sessions: u64,
    /// Successful source (re)connections.
    pub source_connections: u64,
    /// When media first reached the destination (time since the relay started); `None` while
    /// nothing has (the relay is connecting).
    pub first_forwarded: Option<Duration>,
    pub timeline: TimelineCounters,
    /// An SRT source's connection statistics (RTT, loss, retransmissions, drops): the
    /// current connection's, or the last one's while the source is away; `None` for other
    /// sources and before the first connection.
    pub srt: Option<SrtStats>,
    /// The source's transport: the current connection's, or the last one's while it is
    /// away; `None` before the first connection.
    pub source_transport: Option<Transport>,
    /// The destination's transport, likewise.
    pub destination_transport: Option<Transport>,
    /// An SRT destination's send statistics (RTT, sent, retransmitted, NAK-reported loss,
    /// too-late drops, send buffer): the current session's, or the last one's while the
    /// destination reconnects; `None` for RTMP destinations and before the first session.
    pub destination_srt: Option<SrtSendStats>,
    pub last_error: Option<ErrorRecord>,
    /// The source in use (or being connected): 0 is `RelayConfig::source`, 1.. the
    /// `backup_sources` in order.
    pub active_source: usize,
    /// Switches from one source to another (failovers and failbacks); 0 without backups.
    pub source_switches: u64,
    /// Each source, primary first, with its last error.
    pub sources: Vec<SourceStatus>,
    /// The slate plays: no source delivers and every destination gets the slate
    /// (`RelayConfig::slate`).
    pub slate_active: bool,
    /// Times the slate started (0 without one, or while sources always delivered).
    pub slate_starts: u64,
    /// Each destination on its own, in the order they were configured or added (a removed
    /// one leaves the list; one failed for good stays, `Failed`). The relay-wide fields
    /// above sum them (`bytes_out`, `frames_out`, `frames_dropped`, `destination_sessions`,
    /// `bitrate_out`) or, for `destination_transport` and `destination_srt`, describe the
    /// first destination of this list.
    pub destinations: Vec<DestinationStatus>,
}

/// A point-in-time view of one source of a relay (the primary or a backup).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceStatus {
    /// The URL as configured, with any password masked.
    pub url: String,
    /// Its last error (also the relay's `last_error` when it was the latest of all).
    pub last_error: Option<ErrorRecord>,
}

/// Names one destination of a relay: 0 is `RelayConfig::destination`, 1.. the
/// `extra_destinations` in order, then each added one (ids are never reused within a relay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestinationId(pub u32);

impl std::fmt::Display for DestinationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One destination's state (the relay's own state says what the whole relay does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DestinationState {
    /// No media reached its current session yet: not connected yet, connecting, or the new
    /// session waits for a keyframe.
    Connecting,
    /// Media reached its current session (it may be idle while the source reconnects: the
    /// relay's state says so).
    Forwarding,
    /// Its session dropped; reconnecting with backoff within the grace period while the
    /// source and the other destinations keep flowing.
    Reconnecting,
    /// Failed for good (refused, or down for the whole grace period); see `last_error`. The
    /// relay goes on while another destination has not failed.
    Failed,
}

impl DestinationState {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationState::Connecting => "connecting",
            DestinationState::Forwarding => "forwarding",
            DestinationState::Reconnecting => "reconnecting",
            DestinationState::Failed => "failed",
        }
    }
}

/// A point-in-time view of one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationStatus {
    pub id: DestinationId,
    /// The URL as configured.
    pub url: String,
    pub state: DestinationState,
    pub bytes_out: u64,
    /// Bits per second written to it over the last second.
    pub bitrate_out: u64,
    pub frames_out: u64,
    /// Frames it lost: its queue dropped them to a keyframe (slow), a new session skipped
    /// them waiting for a keyframe, or its TS muxer could not read them.
    pub frames_dropped: u64,
    /// Sessions opened (1 for a healthy destination).
    pub sessions: u64,
    /// Its transport: the current session's, or the last one's while it is away.
    pub transport: Option<Transport>,
    /// An SRT destination's send statistics (as `RelayStatus::destination_srt`).
    pub srt: Option<SrtSendStats>,
    /// Its last error (also the relay's `last_error` when it was the latest of all).
    pub last_error: Option<ErrorRecord>,
}

/// The shared cell the relay writes and readers snapshot. State changes are also published
/// on a watch channel, so a supervisor can react without polling; so are the changes a task's
/// event log records without the relay's state changing ([`StatusCell::notable_changes`]).
#[derive(Debug, Clone)]
pub struct StatusCell {
    inner: Arc<Mutex<RelayStatus>>,
    state: Arc<watch::Sender<RelayState>>,
    notable: Arc<watch::Sender<u64>>,
    started: Instant,
}

/// What [`StatusCell::notable_changes`] follows: the source switches, the slate on and off
/// (and its starts: on and off again between two looks is another start), and each
/// destination's state and session count (a destination that dropped and came back between
/// two looks has opened another session).
type Notable = (
    u64,
    usize,
    bool,
    u64,
    Vec<(DestinationId, DestinationState, u64)>,
);

fn notable(s: &RelayStatus) -> Notable {
    let dests = s
        .destinations
        .iter()
        .map(|d| (d.id, d.state, d.sessions))
        .collect();
    (
        s.source_switches,
        s.active_source,
        s.slate_active,
        s.slate_starts,
        dests,
    )
}

impl StatusCell {
    pub(crate) fn new() -> StatusCell {
        StatusCell {
            inner: Arc::new(Mutex::new(RelayStatus {
                state: RelayState::Connecting,
                uptime: Duration::ZERO,
                bytes_in: 0,
                bytes_out: 0,
                bitrate_out: 0,
                bitrate_in: 0,
                fps: 0.0,
                frames_in: 0,
                frames_out: 0,
                frames_dropped: 0,
                frames_deduplicated: 0,
                destination_sessions: 0,
                source_connections: 0,
                first_forwarded: None,
                timeline: TimelineCounters::default(),
                srt: None,
                source_transport: None,
                destination_transport: None,
                destination_srt: None,
                last_error: None,
                active_source: 0,
                source_switches: 0,
                sources: Vec::new(),
                slate_active: false,
                slate_starts: 0,
                destinations: Vec::new(),
            })),
            state: Arc::new(watch::Sender::new(RelayState::Connecting)),
            notable: Arc::new(watch::Sender::new(0)),
            started: Instant::now(),
        }
    }

    /// The relay's state, updated on every change (the value is the latest state; changes in
    /// between may be coalesced).
    pub fn state_changes(&self) -> watch::Receiver<RelayState> {
        self.state.subscribe()
    }

    /// A count that grows whenever the status shows a source switch, the slate starting or
    /// ending, or a destination whose state or session count changed — what a task's event
    /// log records while the relay's own state may stay the same (one destination of several
    /// down, a backup taking over, the slate playing).
    /// Read the [`snapshot`](StatusCell::snapshot) for what changed; changes in between two
    /// looks are coalesced, as for [`state_changes`](StatusCell::state_changes).
    pub fn notable_changes(&self) -> watch::Receiver<u64> {
        self.notable.subscribe()
    }

    /// The current status.
    pub fn snapshot(&self) -> RelayStatus {
        let mut s = self.lock().clone();
        if !matches!(s.state, RelayState::Stopped | RelayState::Failed) {
            s.uptime = self.started.elapsed();
        }
        s
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut RelayStatus)) {
        let (state, noted) = {
            let mut s = self.lock();
            let before = notable(&s);
            f(&mut s);
            s.uptime = self.started.elapsed();
            (s.state, notable(&s) != before)
        };
        if noted {
            self.notable.send_modify(|n| *n += 1);
        }
        self.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RelayStatus> {
        // The status is plain data: a panic while holding the lock cannot leave it torn in a
        // way that matters more than losing the status entirely.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slate_on_and_off_are_notable_changes_and_the_byte_counts_are_not() {
        let cell = StatusCell::new();
        let mut notable = cell.notable_changes();
        cell.update(|s| s.bytes_out = 1000);
        assert!(!notable.has_changed().unwrap(), "a counter is not notable");
        cell.update(|s| {
            s.slate_active = true;
            s.slate_starts = 1;
        });
        assert!(notable.has_changed().unwrap(), "the slate on");
        notable.mark_unchanged();
        cell.update(|s| s.slate_active = false);
        assert!(notable.has_changed().unwrap(), "the slate off");
        notable.mark_unchanged();
        // Off, on and off again between two publishes: another start.
        cell.update(|s| s.slate_starts = 2);
        assert!(notable.has_changed().unwrap(), "another start");
    }
}
