//! Runs each task's relay and turns what the relay does into domain commands.
//!
//! A relay's state changes become `RelayForwarding` (once per run: its media first reached the
//! destination — the status says so even when the state change that showed it was coalesced
//! away), `RelayRunning` (forwarding again after a side recovered) and `RelayRecovering`; its
//! end with an error
//! becomes `RelayFailed` (its side mapped to the provider's reason). Both carry what went
//! wrong as the task's [`LastError`] (side, the error kind's stable name, the relay's message,
//! the engine clock's time): the error the relay failed with, or the last one its status
//! recorded when a side is reconnecting. A playlist's position
//! becomes `Progress` (every [`PROGRESS_EVERY`] while it moves) and its end
//! `PlaylistFinished`. A source switch and, with several destinations, one of them down or up
//! again become `RelayNote`s (bounded: [`super::notes`]). Every report carries the run, so reports from a relay that was already
//! replaced move nothing. Reports are queued to one applier per relay, which applies them in
//! the order they were made: the watcher never waits on a task's lock, so stopping a relay
//! while holding that lock cannot deadlock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_domain::{
    AccountId, Command, ErrorSide, InvalidReason, ItemEvent, ItemEventKind, LastError, TaskId,
    UnixTime,
};
use baton_relay::{
    DestinationId, ItemNoteKind, Playlist, PlaylistProgress, Relay, RelayConfig, RelayDestinations,
    RelayError, RelayPool, RelayState, RelayStatus, Side, StatusCell,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::error_code::error_code;
use super::notes::NoteTracker;
use crate::Clock;

/// Starts relays: on a [`RelayPool`] in production, on the current runtime in tests.
pub trait RelayLauncher: Send + Sync + fmt::Debug + 'static {
    fn launch(&self, config: RelayConfig) -> Result<Relay, RelayError>;
}

impl RelayLauncher for RelayPool {
    fn launch(&self, config: RelayConfig) -> Result<Relay, RelayError> {
        self.spawn(config)
    }
}

/// Runs relays on the current tokio runtime (tests, paused time).
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalLauncher;

impl RelayLauncher for LocalLauncher {
    fn launch(&self, config: RelayConfig) -> Result<Relay, RelayError> {
        Relay::spawn(config)
    }
}

/// Applies a relay's (or a source watch's) report to its task (the engine's apply, which
/// waits for the task).
pub(super) type Report = Arc<
    dyn Fn(AccountId, TaskId, Command) -> futures_util::future::BoxFuture<'static, ()>
        + Send
        + Sync,
>;

/// Reports of one relay waiting for its task at most (see `watch`).
const REPORT_QUEUE: usize = 64;

/// How often a playing list's position is reported (and so persisted) while it moves.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

struct Running {
    run: u64,
    stop: CancellationToken,
    status: StatusCell,
    playlist: Option<Arc<Playlist>>,
    /// Adds and removes the relay's destinations.
    control: RelayDestinations,
    /// The relay's destinations by URL (their identity: see [`Supervisor::sync_destinations`]).
    destinations: Vec<(String, DestinationId)>,
    watcher: Option<JoinHandle<()>>,
}

pub(super) struct Supervisor {
    launcher: Arc<dyn RelayLauncher>,
    /// Times the errors reports carry.
    clock: Arc<dyn Clock>,
    report: Report,
    relays: Arc<Mutex<HashMap<TaskId, Running>>>,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("launcher", &self.launcher)
            .field("relays", &self.lock().len())
            .finish()
    }
}

impl Supervisor {
    pub(super) fn new(
        launcher: Arc<dyn RelayLauncher>,
        clock: Arc<dyn Clock>,
        report: Report,
    ) -> Supervisor {
        Supervisor {
            launcher,
            clock,
            report,
            relays: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Starts run `run` of a task's relay (`config` is the error when the task's
    /// configuration could not become a relay).
    pub(super) fn start(
        &self,
        account: &AccountId,
        id: &TaskId,
        run: u64,
        config: Result<RelayConfig, RelayError>,
    ) {
        let playlist = config
            .as_ref()
            .ok()
            .and_then(crate::capability::playlist_of);
        // Ids 0, 1, … in the config's order (`DestinationId`).
        let destinations: Vec<(String, DestinationId)> = config
            .as_ref()
            .map(|c| {
                std::iter::once(&c.destination)
                    .chain(&c.extra_destinations)
                    .zip(0..)
                    .map(|(url, i)| (url.clone(), DestinationId(i)))
                    .collect()
            })
            .unwrap_or_default();
        let relay = match config.and_then(|c| self.launcher.launch(c)) {
            Ok(relay) => relay,
            Err(e) => {
                warn!(task = %id, run, error = %e, "relay did not start");
                let command = failed(run, &e, self.clock.now());
                tokio::spawn((self.report)(account.clone(), id.clone(), command));
                return;
            }
        };
        info!(task = %id, run, "relay started");
        let status = relay.status_cell();
        let stop = relay.stop_handle();
        let control = relay.destinations();
        let watcher = tokio::spawn(watch(
            relay,
            playlist.clone(),
            Arc::clone(&self.clock),
            Arc::clone(&self.report),
            Arc::clone(&self.relays),
            account.clone(),
            id.clone(),
            run,
        ));
        let previous = self.lock().insert(
            id.clone(),
            Running {
                run,
                stop,
                status,
                playlist,
                control,
                destinations,
                watcher: Some(watcher),
            },
        );
        if let Some(old) = previous {
            // The domain stops a run before starting the next; this is a safety net.
            old.stop.cancel();
        }
    }

    /// Stops run `run` of a task's relay (its destination closed cleanly) and waits for it to
    /// finish, at most `timeout`, so that a restart's new relay does not find the destination
    /// still taken by the old one.
    pub(super) async fn stop(&self, id: &TaskId, run: u64, timeout: Duration) {
        let running = {
            let mut relays = self.lock();
            match relays.get(id) {
                Some(r) if r.run == run => relays.remove(id),
                _ => None,
            }
        };
        let Some(mut running) = running else { return };
        running.stop.cancel();
        if let Some(watcher) = running.watcher.take()
            && tokio::time::timeout(timeout, watcher).await.is_err()
        {
            warn!(task = %id, run, ?timeout, "relay did not stop in time");
        }
        info!(task = %id, run, "relay stopped");
    }

    /// Stops a task's relay, whatever its run, without waiting: the node lost the task's lease
    /// (its fence deadline is near, or another node owns the task). Its reports after this
    /// are not applied (the engine refuses an owner's command without the lease).
    pub(super) fn abort(&self, id: &TaskId) -> bool {
        let running = self.lock().remove(id);
        match running {
            Some(running) => {
                running.stop.cancel();
                true
            }
            None => false,
        }
    }

    /// The run of the task's relay running here, if one runs.
    pub(super) fn run_of(&self, id: &TaskId) -> Option<u64> {
        self.lock().get(id).map(|r| r.run)
    }

    /// RepeatNumber changed while run `run` plays its list.
    pub(super) fn set_repeat(&self, id: &TaskId, run: u64, repeat: i32) {
        if let Some(playlist) = self
            .lock()
            .get(id)
            .filter(|r| r.run == run)
            .and_then(|r| r.playlist.as_ref())
        {
            playlist.set_repeat(repeat);
        }
    }

    /// Brings the destinations of run `run`'s relay in line with `wanted` (the task's first
    /// destination, then its extra ones): each URL the relay lacks is added, each it has that
    /// `wanted` lacks is removed (its session closed cleanly), and the others are not touched —
    /// their sessions go on. A destination is known by its URL, so a re-ordered list changes
    /// nothing, and a destination that failed for good stays failed until a patch removes it
    /// and a later one adds it again. A change the relay refuses (it ended meanwhile; the last destination that has
    /// not failed) is logged: the relay's end is reported as usual, and the next change syncs
    /// from what the relay has.
    pub(super) async fn sync_destinations(&self, id: &TaskId, run: u64, wanted: &[String]) {
        let Some((control, mut have)) = self
            .lock()
            .get(id)
            .filter(|r| r.run == run)
            .map(|r| (r.control.clone(), r.destinations.clone()))
        else {
            return;
        };
        for url in wanted {
            if have.iter().any(|(u, _)| u == url) {
                continue;
            }
            match control.add(url).await {
                Ok(dst) => {
                    info!(task = %id, run, destination = %dst, "destination added to the running relay");
                    have.push((url.clone(), dst));
                }
                Err(e) => warn!(task = %id, run, error = %e, "destination not added"),
            }
        }
        let mut kept = Vec::with_capacity(have.len());
        for (url, dst) in have {
            if wanted.contains(&url) {
                kept.push((url, dst));
                continue;
            }
            match control.remove(dst).await {
                Ok(()) => {
                    info!(task = %id, run, destination = %dst, "destination removed from the running relay")
                }
                Err(e) if e.kind == baton_relay::ErrorKind::NotFound => {}
                Err(e) => {
                    warn!(task = %id, run, destination = %dst, error = %e, "destination not removed");
                    kept.push((url, dst));
                }
            }
        }
        if let Some(running) = self.lock().get_mut(id).filter(|r| r.run == run) {
            running.destinations = kept;
        }
    }

    /// Where run `run`'s playlist is now, if that run plays one.
    pub(super) fn playlist_progress(&self, id: &TaskId, run: u64) -> Option<PlaylistProgress> {
        let relays = self.lock();
        let running = relays.get(id).filter(|r| r.run == run)?;
        running.playlist.as_ref().map(|p| p.progress())
    }

    /// The status of a task's relay, if one runs.
    pub(super) fn status(&self, id: &TaskId) -> Option<RelayStatus> {
        self.lock().get(id).map(|r| r.status.snapshot())
    }

    /// Stops every relay and waits for them, at most `timeout` in all.
    pub(super) async fn stop_all(&self, timeout: Duration) {
        let watchers: Vec<JoinHandle<()>> = {
            let mut relays = self.lock();
            relays
                .drain()
                .filter_map(|(_, mut r)| {
                    r.stop.cancel();
                    r.watcher.take()
                })
                .collect()
        };
        let all = async {
            for w in watchers {
                let _ = w.await;
            }
        };
        let _ = tokio::time::timeout(timeout, all).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Running>> {
        self.relays.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Follows one relay until it ends, reporting its state changes, its playlist's progress,
/// and how it ended.
#[allow(clippy::too_many_arguments)] // one watcher per relay, spawned from one place
async fn watch(
    relay: Relay,
    playlist: Option<Arc<Playlist>>,
    clock: Arc<dyn Clock>,
    report: Report,
    relays: Arc<Mutex<HashMap<TaskId, Running>>>,
    account: AccountId,
    id: TaskId,
    run: u64,
) {
    // Reports are applied in the order the relay made them (progress before the end of its
    // list, an item's start before its finish) by one applier per relay. The queue is bounded;
    // the watcher waits only when REPORT_QUEUE reports are pending, i.e. while the applier
    // waits for the task's lock — at most the stop timeout when a stop holds it — so stopping
    // a relay while holding the task cannot deadlock.
    let (queue, mut queued) = tokio::sync::mpsc::channel::<Command>(REPORT_QUEUE);
    {
        let (account, id) = (account.clone(), id.clone());
        tokio::spawn(async move {
            while let Some(command) = queued.recv().await {
                report(account.clone(), id.clone(), command).await;
            }
        });
    }
    let mut states = relay.state_changes();
    let status = relay.status_cell();
    let mut notable = status.notable_changes();
    let mut notes = NoteTracker::default();
    let mut notes_due: Option<tokio::time::Instant> = None;
    let ended = relay.wait();
    tokio::pin!(ended);
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_position = None;
    let mut forwarded = false;
    let outcome = loop {
        let commands: Vec<Command> = tokio::select! {
            outcome = &mut ended => break outcome,
            _ = ticks.tick(), if playlist.is_some() => playlist
                .iter()
                .filter_map(|p| progress_report(p, run, &mut last_position))
                .collect(),
            () = async { playlist.as_ref().expect("guarded").noted().await }, if playlist.is_some() => {
                playlist.iter().flat_map(|p| item_reports(p, run)).collect()
            }
            changed = states.changed() => {
                if changed.is_err() {
                    continue;
                }
                let state = *states.borrow_and_update();
                let snapshot = status.snapshot();
                let first = !forwarded && snapshot.first_forwarded.is_some();
                forwarded |= first;
                let error = snapshot.last_error.map(|r| last_error(&r.error, clock.now()));
                state_reports(state, run, error, first)
            }
            changed = notable.changed() => {
                if changed.is_err() {
                    continue;
                }
                notable.borrow_and_update();
                note_reports(&mut notes, &status, run, &mut notes_due)
            }
            () = async { tokio::time::sleep_until(notes_due.expect("guarded")).await }, if notes_due.is_some() => {
                note_reports(&mut notes, &status, run, &mut notes_due)
            }
        };
        for command in commands {
            let _ = queue.send(command).await;
        }
    };
    let mut last = Vec::new();
    if let Some(playlist) = &playlist {
        last.extend(item_reports(playlist, run));
        last.extend(progress_report(playlist, run, &mut last_position));
    }
    match outcome {
        Err(e) => {
            warn!(task = %id, run, side = %e.side, retryable = e.retryable, error = %e, "relay failed");
            last.push(failed(run, &e, clock.now()));
        }
        Ok(()) if status.snapshot().state == RelayState::Finished => {
            info!(task = %id, run, "playlist finished");
            last.push(Command::PlaylistFinished { run });
        }
        Ok(()) => {}
    }
    for command in last {
        let _ = queue.send(command).await;
    }
    let mut relays = relays.lock().unwrap_or_else(|e| e.into_inner());
    if relays.get(&id).is_some_and(|r| r.run == run) {
        relays.remove(&id);
    }
}

/// The notes the relay's status calls for now (see [`NoteTracker`]), and when to look again
/// for one held back.
fn note_reports(
    notes: &mut NoteTracker,
    status: &StatusCell,
    run: u64,
    due: &mut Option<tokio::time::Instant>,
) -> Vec<Command> {
    let found = notes.observe(&status.snapshot(), tokio::time::Instant::now());
    *due = notes.due();
    found
        .into_iter()
        .map(|note| Command::RelayNote { run, note })
        .collect()
}

/// What a relay state change tells the task. `first`: the relay's media reached the
/// destination for the first time since the last change (`RelayForwarding`, which also
/// recovers a task, so a `RelayRunning` for the same change would say nothing more).
fn state_reports(
    state: RelayState,
    run: u64,
    error: Option<LastError>,
    first: bool,
) -> Vec<Command> {
    let mut out = Vec::new();
    if first {
        out.push(Command::RelayForwarding { run });
    }
    match state_report(state, run, error) {
        Some(Command::RelayRunning { .. }) if first => {}
        Some(report) => out.push(report),
        None => {}
    }
    out
}

/// What a relay state change tells the task, if anything. `error` is the relay's last
/// recorded error: it records the error that took a side down before it reports the side
/// reconnecting.
fn state_report(state: RelayState, run: u64, error: Option<LastError>) -> Option<Command> {
    match state {
        RelayState::Forwarding => Some(Command::RelayRunning { run }),
        RelayState::SourceReconnecting => Some(Command::RelayRecovering {
            run,
            reason: InvalidReason::PullStreamFailed,
            error,
        }),
        RelayState::DestinationReconnecting => Some(Command::RelayRecovering {
            run,
            reason: InvalidReason::PushStreamFailed,
            error,
        }),
        RelayState::Connecting
        | RelayState::Stopped
        | RelayState::Finished
        | RelayState::Failed => None,
    }
}

/// The list's position, when it moved since `last` (whole seconds).
fn progress_report(
    playlist: &Playlist,
    run: u64,
    last: &mut Option<(u32, u32, u32)>,
) -> Option<Command> {
    let p = playlist.progress();
    let offset = u32::try_from(p.offset_ms / 1000).unwrap_or(u32::MAX);
    let position = (p.file_index, offset, p.loops_done);
    if *last == Some(position) {
        return None;
    }
    *last = Some(position);
    Some(Command::Progress {
        run,
        file_index: p.file_index,
        offset,
        loops: p.loops_done,
    })
}

/// The playlist's item notes since the last call, as commands.
fn item_reports(playlist: &Playlist, run: u64) -> impl Iterator<Item = Command> + use<> {
    playlist.take_notes().into_iter().map(move |note| {
        let kind = match note.kind {
            ItemNoteKind::Started => ItemEventKind::Started,
            ItemNoteKind::Finished => ItemEventKind::Finished,
            ItemNoteKind::Skipped => ItemEventKind::Skipped,
            ItemNoteKind::TrackDropped => ItemEventKind::TrackDropped,
        };
        let event = ItemEvent {
            kind,
            file_index: note.file_index,
            source: String::new(),
            detail: note.detail,
        };
        Command::Item { run, event }
    })
}

/// The report of a relay that ended with `e`, learnt of at `now`.
fn failed(run: u64, e: &RelayError, now: UnixTime) -> Command {
    Command::RelayFailed {
        run,
        reason: match e.side {
            Side::Source => InvalidReason::PullStreamFailed,
            Side::Destination => InvalidReason::PushStreamFailed,
            Side::Internal => InvalidReason::UnknownError,
        },
        retryable: e.retryable,
        error: Some(last_error(e, now)),
    }
}

/// A relay error as a task keeps it. `at` is the engine clock's time, not the relay's record:
/// task times all come from that one clock (paused in tests), and the report follows the
/// error at once.
fn last_error(e: &RelayError, at: UnixTime) -> LastError {
    LastError {
        side: match e.side {
            Side::Source => ErrorSide::Source,
            Side::Destination => ErrorSide::Destination,
            Side::Internal => ErrorSide::Internal,
        },
        code: error_code(e.kind).to_string(),
        message: e.to_string(),
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_relay::ErrorKind;

    #[test]
    fn failures_carry_the_error_as_the_task_keeps_it() {
        let e = RelayError::new(Side::Destination, ErrorKind::Refused, "publish denied");
        let Command::RelayFailed {
            run,
            reason,
            retryable,
            error,
        } = failed(4, &e, 1_000)
        else {
            panic!("a failure report");
        };
        assert_eq!(
            (run, reason, retryable),
            (4, InvalidReason::PushStreamFailed, false)
        );
        assert_eq!(
            error,
            Some(LastError {
                side: ErrorSide::Destination,
                code: "Refused".into(),
                message: "destination: publish denied".into(),
                at: 1_000,
            })
        );
        let internal = RelayError::new(Side::Internal, ErrorKind::InvalidUrl, "bad url");
        let Command::RelayFailed { error, .. } = failed(1, &internal, 5) else {
            panic!("a failure report");
        };
        let error = error.expect("an error");
        assert_eq!(
            (error.side, error.code.as_str()),
            (ErrorSide::Internal, "InvalidUrl")
        );
    }

    #[test]
    fn reconnecting_reports_carry_the_last_recorded_error() {
        let e = LastError {
            side: ErrorSide::Source,
            code: "Disconnected".into(),
            message: "source: gone".into(),
            at: 7,
        };
        assert_eq!(
            state_report(RelayState::SourceReconnecting, 2, Some(e.clone())),
            Some(Command::RelayRecovering {
                run: 2,
                reason: InvalidReason::PullStreamFailed,
                error: Some(e.clone()),
            })
        );
        assert_eq!(
            state_report(RelayState::DestinationReconnecting, 2, None),
            Some(Command::RelayRecovering {
                run: 2,
                reason: InvalidReason::PushStreamFailed,
                error: None,
            })
        );
        assert_eq!(
            state_report(RelayState::Forwarding, 2, Some(e)),
            Some(Command::RelayRunning { run: 2 })
        );
    }

    #[test]
    fn the_first_forwarding_of_a_run_is_reported_once_before_what_followed() {
        // Connecting → Forwarding.
        assert_eq!(
            state_reports(RelayState::Forwarding, 3, None, true),
            vec![Command::RelayForwarding { run: 3 }]
        );
        // Forwarding again after a recovery.
        assert_eq!(
            state_reports(RelayState::Forwarding, 3, None, false),
            vec![Command::RelayRunning { run: 3 }]
        );
        // Connecting → Forwarding → SourceReconnecting, seen only as the last.
        assert_eq!(
            state_reports(RelayState::SourceReconnecting, 3, None, true),
            vec![
                Command::RelayForwarding { run: 3 },
                Command::RelayRecovering {
                    run: 3,
                    reason: InvalidReason::PullStreamFailed,
                    error: None,
                }
            ]
        );
        assert_eq!(
            state_reports(RelayState::Connecting, 3, None, false),
            vec![]
        );
    }
}
