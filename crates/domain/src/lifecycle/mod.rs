//! The task lifecycle: one pure transition function.
//!
//! [`Task::apply`] takes a [`Command`] (a user request, a timer, or a relay's report) and the
//! current time, and returns either a [`Rejection`] (the task is untouched) or a
//! [`Transition`]: the task's next state and the [`Effect`]s the engine must carry out, in
//! order, *after* storing the new state (and the transition's callback events) in one write.
//!
//! The status model is Alibaba's (cloud-apis.md §2.4):
//!
//! ```text
//!  0 NotStarted ──StartTime──► 1 Running ◄──recovered── 2 Abnormal ◄──failure── 1
//!                                   ▲                    │  retry every RetryInterval (at
//!                         Restart   │                    │  once when a failed source is
//!                                   │                    │  back), up to RetryCount
//!                                   └──── 3 Stopped ◄────┘  exhausted / Stop
//!  any state ──EndTime / Delete──► -1 Exited
//! ```
//!
//! Engine commands carry the `run` they are about (every relay start gets a new run number),
//! so a late report from a relay that was already replaced moves nothing. Engine commands are
//! never rejected: one that does not apply returns the task unchanged. Timers that fire early
//! re-arm themselves. The rules themselves, with the sources they come from, are documented on
//! [`Command`]'s variants.
//!
//! Status 1 is the provider's "running" from StartTime on, whether or not media flows yet; the
//! event log records `Forwarding` when a run's media first reaches the destination
//! ([`Command::RelayForwarding`]), so the two can be told apart without changing what 1 means.

mod engine;
mod owner;
mod user;

pub use owner::OwnerPlan;

use crate::event::{CallbackEvent, CallbackState, ItemEvent};
use crate::note::{RelayNote, Takeover};
use crate::request::{Rejection, TaskPatch};
use crate::task::{
    AccountId, ExitReason, InvalidReason, LastError, Task, TaskId, TaskRuntime, TaskSpec,
    TaskStatus, UnixTime,
};

/// Settings of the lifecycle that are the operator's, not the task's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Seconds a task that exited at its EndTime stays describable before it is purged
    /// ("Tasks that exited at EndTime stay describable for a retention period"). Deleted tasks
    /// are gone at once.
    pub retention: u64,
}

impl Policy {
    /// Default retention: 7 days.
    pub const DEFAULT_RETENTION: u64 = 7 * 24 * 3600;
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            retention: Policy::DEFAULT_RETENTION,
        }
    }
}

/// Something that happens to a task.
// Commands are built, applied once and dropped, never queued in bulk: boxing the patch would
// only make callers' code noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// User (UpdateLivePullToPush, seed 003): "The `Region` can be updated only before the
    /// task's scheduled start time. While a task is running (including during retry attempts
    /// for exceptions), you can update only the `CallbackUrl` and `RepeatTime` parameters. The
    /// changes take effect immediately. If a task is stopped, you can update all parameters
    /// except for `Region`." Baton's reading:
    /// * 0 (not started): every field, Region included — nothing has run yet. New start and
    ///   end times re-arm the timers.
    /// * 1, 2: only CallbackUrl, RepeatNumber and the extra destinations (`extra_dst_urls`,
    ///   which only the native API sets: the dialects' rule holds for all they can set); any
    ///   other change, the first destination included → `TaskHasStarted(field)`. A
    ///   RepeatNumber or extra-destination change reaches the live relay at once
    ///   ([`Effect::UpdateRelay`]).
    /// * 3: everything but Region (→ `TaskHasStarted(Region)`), effective at the next start.
    /// * -1: nothing (→ `Exited`).
    ///
    /// A field set to the value it already has is no change. EndTime ≤ StartTime →
    /// `IllegalDuration`; a changed start or end time also needs EndTime > now.
    Update(TaskPatch),
    /// User (StopLivePullToPush, seed 004): "You can stop a task that is running (even if the
    /// task is in an abnormal retry state). You cannot stop a task that is not running." 1 or 2
    /// → 3 (callback `Offline`); 0, 3 and -1 → `TaskHasStopped`.
    Stop,
    /// User (RestartLivePullToPush, seed 000): "For a task that is running, this operation
    /// stops and then restarts it. For a task that is stopped, this operation directly starts
    /// it. You cannot restart a task if the start time specified for the task has not been
    /// reached. [...] the task runs based on the latest configuration." Before StartTime →
    /// `NotStartedYet`; at or after EndTime → `IllegalDuration` (Restart's documented error
    /// table lists `InvalidParam.CodeIllegalDuration`); exited → `Exited`. Otherwise a new run
    /// starts with retries cleared and playlist progress reset to FileIndex / Offset ("the
    /// list plays from the beginning based on the latest configuration"). A not-started task
    /// past its StartTime starts, as its timer would.
    Restart,
    /// User (Volcengine StopPullToPushTask: "disables tasks whose status is 未开始 or 生效中"):
    /// 0, 1 or 2 → 3 (callback `Offline`). A running task's relay stops; a task that had not
    /// started simply never starts (its Start timer finds it stopped). 3 → `TaskHasStopped`,
    /// -1 → `Exited`. Playlist progress is kept for [`Command::Enable`].
    Disable,
    /// User (Volcengine ContinuePullToPushTask / RestartPullToPushTask with `from_start`
    /// false, RelaunchPullToPushTask with `from_start` true): only a stopped (3) task is
    /// enabled, anything else → `NotStopped` (-1 → `Exited`). Before StartTime it becomes 0
    /// and waits for its Start timer; otherwise a new run starts (status 1, retries and reason
    /// cleared, callback `Running`). `from_start` plays a playlist from FileIndex / Offset;
    /// otherwise it continues at the item and second where it stopped (a list that had
    /// played to its end starts over).
    Enable { from_start: bool },
    /// User (DeleteLivePullToPush): "deleting a running task stops it immediately". Any state →
    /// -1 with `TriggerByUser` (callback `Exit`), then the task is purged at once
    /// ([`Effect::Purge`] at now). Deleting a task that already exited purges it.
    Delete,
    /// Timer: the task "starts at StartTime" (0 → 1, callback `Running`). Only a not-started
    /// task starts; at or after EndTime it exits instead (nothing starts past its end).
    StartTimeReached,
    /// Timer: the task "automatically stops and is deleted at EndTime" — from any state to -1
    /// with `OverEndTime`; it stays describable for [`Policy::retention`].
    EndTimeReached,
    /// Timer: a retry of the failed run `run` is due: a new run starts; the task stays 2 until
    /// the relay reports [`Command::RelayRunning`].
    RetryDue { run: u64 },
    /// Watch: the source of run `run` is back while the task waits for its retry
    /// ([`Task::watched_run`]; [`Effect::WatchSource`] asked the engine to watch it). The policy
    /// says "retry RetryCount× every RetryInterval s" (cloud-apis §2.4); Baton reads the
    /// interval as the longest a task waits, not a pause it must sit out while its source is
    /// there again: the retry starts now, as [`Command::RetryDue`] would start it at its due
    /// time. It is the retry [`Command::RelayFailed`] already counted (RetryCount is not
    /// charged twice), with no event of its own: the task stays 2 until the relay reports
    /// media at the destination. Past EndTime the task exits instead. A report for any other
    /// run, or for a task no longer waiting, changes nothing.
    SourceBack { run: u64 },
    /// Relay: run `run` is up again after a side recovered. A task that was abnormal has
    /// recovered: 2 → 1 (callback `Running`), reason and retries cleared — a later failure gets
    /// the full RetryCount again.
    RelayRunning { run: u64 },
    /// Relay: run `run`'s media reached the destination for the first time (until now the
    /// relay was connecting). Recorded as event `Forwarding` in the task's event log, so that
    /// a task at 1 that is still connecting (a restart, a source that never existed) can be
    /// told from one whose media flows. Never delivered as a callback: 1 is the provider's
    /// "running" from StartTime on, and its callbacks name only `Running`, `Recovering`,
    /// `Offline` and `Exit` (cloud-apis §2.7) — receivers written for them get nothing new.
    /// A task that was abnormal (a retry's run) has recovered, as with
    /// [`Command::RelayRunning`]; its `Running` comes first.
    RelayForwarding { run: u64 },
    /// Relay: run `run` lost a side and is inside its own grace period (its fast reconnects,
    /// destination session held): 1 → 2 with the reason (callback `Recovering`). `error`, when
    /// the relay said what happened, becomes the task's [`TaskRuntime::last_error`].
    RelayRecovering {
        run: u64,
        reason: InvalidReason,
        error: Option<LastError>,
    },
    /// Relay: run `run` gave up. The documented policy takes over ("retry RetryCount× every
    /// RetryInterval s", cloud-apis §2.4): while retries remain → 2 with the reason and a
    /// retry scheduled RetryInterval from now; exhausted (or RetryCount 0) → 3 with the reason
    /// (callback `Offline`). `retryable` does not change the policy: the providers' tasks retry
    /// every failure; it is carried for logs. `error`, when given, becomes the task's
    /// [`TaskRuntime::last_error`] (never cleared: a later error replaces it).
    RelayFailed {
        run: u64,
        reason: InvalidReason,
        retryable: bool,
        error: Option<LastError>,
    },
    /// Relay: run `run` played its whole playlist (RepeatNumber included): → 3, no reason.
    PlaylistFinished { run: u64 },
    /// Relay: run `run` is playing item `file_index` at `offset` seconds (CurrentFileIndex /
    /// CurrentOffset) in pass `loops` (0-based) over the list.
    Progress {
        run: u64,
        file_index: u32,
        offset: u32,
        loops: u32,
    },
    /// Relay: something happened to an item of run `run`'s playlist. Skipped items always
    /// make a callback event; started / finished ones when the task asks (NotifyItemSwitch).
    Item { run: u64, event: ItemEvent },
    /// Relay: run `run` switched sources, or one of its destinations went down or came back
    /// up (issue 16). Recorded as a log-only event ([`RelayNote::state`], its
    /// [`RelayNote::detail`]); the task's status, reason and retries do not change — the relay
    /// says how the whole task fares through the other reports. Like `Forwarding`, never a
    /// callback: the providers' receivers get their own vocabulary only. A note from a run
    /// that is not the current live one changes nothing.
    RelayNote { run: u64, note: RelayNote },
    /// Lease: this node took the task over from another node (issue 15's leases; the engine
    /// applies it when it acquires a task whose previous lease had another owner, before
    /// recovering it). Recorded as a log-only `TakenOver` event naming the previous owner
    /// and epoch; nothing else changes. An exited task records nothing.
    TakenOver(Takeover),
    /// Engine restart: the task was loaded from the store and no relay or timer of it exists.
    /// Re-arms its timers; a task that was running (1, or 2 inside the relay's grace period)
    /// starts a new run in the same status; one past its EndTime exits; an exited one gets
    /// its purge.
    Recover,
}

/// What the engine must do after storing a transition.
// A transition's few effects are built, carried out once and dropped, never kept in bulk:
// boxing the event of `Notify` would only make every producer and consumer noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start a relay for the task's current spec, as run `run`.
    StartRelay { run: u64 },
    /// Stop the relay of run `run` (always one a previous `StartRelay` started). Interrupts
    /// the ingest at the destination.
    StopRelay { run: u64 },
    /// Bring the live relay of run `run` in line with the task's new spec: its RepeatNumber,
    /// and its destinations (those of the spec the relay lacks are added, those it has that
    /// the spec lacks are removed, the others are left alone; a destination is known by its
    /// URL, so a re-ordered list changes nothing). Emitted when one of them changed while
    /// the relay is alive.
    UpdateRelay { run: u64 },
    /// Watch the source of run `run`, whose retry the task waits for, and apply
    /// [`Command::SourceBack`] when it is back. Emitted whenever the task starts waiting with
    /// [`Task::watched_run`] (also after an engine restart); at most one watch per task.
    WatchSource { run: u64 },
    /// Stop watching the source of run `run`: the task no longer waits for that retry (it
    /// started, or the task was stopped, restarted, deleted or ended).
    UnwatchSource { run: u64 },
    /// Fire `timer` at `at` (at once if `at` has passed). Replaces any pending timer of the
    /// same kind for this task.
    Schedule { at: UnixTime, timer: Timer },
    /// An event happened. It is already part of the transition's write (outbox, event log):
    /// this effect only says delivery has work, when the event
    /// [is deliverable](CallbackEvent::is_deliverable).
    Notify(CallbackEvent),
    /// Delete the task's record at `at`. At `now` (Delete) the transition is written with
    /// `TaskStore::delete` instead of `TaskStore::update`.
    Purge { at: UnixTime },
}

/// The kinds of per-task timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Fires [`Command::StartTimeReached`].
    Start,
    /// Fires [`Command::RetryDue`] for the task's current run.
    Retry,
    /// Fires [`Command::EndTimeReached`].
    End,
}

/// The outcome of a command: the task's next state and the effects to carry out.
///
/// `task.version` is one more than before iff the task changed (then `updated_at` is `now`);
/// an unchanged task needs no write unless an effect is [`Effect::Purge`] at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The task's next state (the whole task, to store).
    pub task: Task,
    /// What to do once it is stored, in order.
    pub effects: Vec<Effect>,
}

impl Transition {
    /// The events to store with this transition (the outbox rows, the task's event log), in
    /// order, deliverable or not.
    pub fn events(&self) -> Vec<CallbackEvent> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notify(event) => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    /// The events of this transition that are to be delivered (the task has a callback URL),
    /// in order.
    pub fn deliverable_events(&self) -> Vec<CallbackEvent> {
        let mut events = self.events();
        events.retain(CallbackEvent::is_deliverable);
        events
    }

    /// When the task's record is to be deleted, if it is.
    pub fn purge_at(&self) -> Option<UnixTime> {
        self.effects.iter().find_map(|e| match e {
            Effect::Purge { at } => Some(*at),
            _ => None,
        })
    }
}

impl Task {
    /// Creates a task (CreateLivePullToPush): checks the ID and the spec
    /// ([`TaskSpec::validate`]), and schedules the start and end. The task is 0 (not started)
    /// at version 1; a start time in the past starts it as soon as the engine fires the timer.
    /// No callback: "`Idle` never produces a callback" (cloud-apis §2.7).
    pub fn create(
        id: TaskId,
        account: AccountId,
        spec: TaskSpec,
        now: UnixTime,
    ) -> Result<Transition, Rejection> {
        TaskId::parse(id.as_str())?;
        spec.validate(now)?;
        let effects = vec![
            Effect::Schedule {
                at: spec.start_time,
                timer: Timer::Start,
            },
            Effect::Schedule {
                at: spec.end_time,
                timer: Timer::End,
            },
        ];
        let task = Task {
            id,
            account,
            spec,
            runtime: TaskRuntime::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Ok(Transition { task, effects })
    }

    /// Applies `cmd` at `now`. Pure: the same task, command, time and policy give the same
    /// result. See [`Command`] for the rules.
    pub fn apply(
        &self,
        cmd: Command,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<Transition, Rejection> {
        let mut step = Step::new(self, now, policy);
        match cmd {
            Command::Update(patch) => step.update(&patch)?,
            Command::Stop => step.stop()?,
            Command::Restart => step.restart()?,
            Command::Disable => step.disable()?,
            Command::Enable { from_start } => step.enable(from_start)?,
            Command::Delete => step.delete(),
            Command::StartTimeReached => step.start_time_reached(),
            Command::EndTimeReached => step.end_time_reached(),
            Command::RetryDue { run } => step.retry_due(run),
            Command::SourceBack { run } => step.source_back(run),
            Command::RelayRunning { run } => step.relay_running(run),
            Command::RelayForwarding { run } => step.relay_forwarding(run),
            Command::RelayRecovering { run, reason, error } => {
                step.relay_recovering(run, reason, error)
            }
            Command::RelayFailed {
                run, reason, error, ..
            } => step.relay_failed(run, reason, error),
            Command::PlaylistFinished { run } => step.playlist_finished(run),
            Command::Progress {
                run,
                file_index,
                offset,
                loops,
            } => step.progress(run, file_index, offset, loops),
            Command::Item { run, event } => step.item(run, event),
            Command::RelayNote { run, note } => step.relay_note(run, &note),
            Command::TakenOver(takeover) => step.taken_over(&takeover),
            Command::Recover => step.recover(),
        }
        Ok(step.finish())
    }
}

/// A transition being built: the task as it becomes, and the effects so far.
struct Step<'a> {
    before: &'a Task,
    task: Task,
    effects: Vec<Effect>,
    now: UnixTime,
    policy: &'a Policy,
    /// The engine restarted: whatever the task's state says, no relay of it exists.
    relays_lost: bool,
}

impl<'a> Step<'a> {
    fn new(before: &'a Task, now: UnixTime, policy: &'a Policy) -> Step<'a> {
        Step {
            before,
            task: before.clone(),
            effects: Vec::new(),
            now,
            policy,
            relays_lost: false,
        }
    }

    fn rt(&mut self) -> &mut TaskRuntime {
        &mut self.task.runtime
    }

    fn schedule(&mut self, at: UnixTime, timer: Timer) {
        self.effects.push(Effect::Schedule { at, timer });
    }

    /// Stops the current run's relay, if one is alive. Call before changing the status.
    fn stop_relay(&mut self) {
        if self.task.relay_alive() && !self.relays_lost {
            let run = self.task.runtime.run;
            self.effects.push(Effect::StopRelay { run });
        }
    }

    /// Starts a new run of the current spec. The caller stopped the previous one.
    fn start_relay(&mut self) {
        let rt = self.rt();
        rt.run += 1;
        rt.next_retry_at = None;
        let run = rt.run;
        self.effects.push(Effect::StartRelay { run });
    }

    /// A (re)start from the top: new run, status 1, retries and reason cleared, playlist
    /// progress from FileIndex / Offset; callback `Running`.
    fn start_fresh(&mut self) {
        self.stop_relay();
        self.start_relay();
        let (file_index, offset) = (self.task.spec.file_index, self.task.spec.offset);
        let rt = self.rt();
        rt.status = TaskStatus::Running;
        rt.invalid_reason = None;
        rt.retries = 0;
        rt.current_file_index = file_index;
        rt.current_offset = offset;
        rt.current_loop = 0;
        self.notify(CallbackState::Running, None, None);
    }

    /// → -1 with `reason`: relay stopped, callback `Exit`, purge scheduled.
    fn exit(&mut self, reason: ExitReason) {
        self.stop_relay();
        let now = self.now;
        let rt = self.rt();
        rt.status = TaskStatus::Exited;
        rt.exit_reason = Some(reason);
        rt.exit_time = Some(now);
        rt.invalid_reason = None;
        rt.next_retry_at = None;
        self.notify(CallbackState::Exit, None, Some(reason));
        let at = match reason {
            ExitReason::TriggerByUser => now,
            ExitReason::OverEndTime => retained_until(now, self.policy),
        };
        self.effects.push(Effect::Purge { at });
    }

    /// Emits an event (see [`Step::notify_item`]).
    fn notify(
        &mut self,
        state: CallbackState,
        reason: Option<InvalidReason>,
        exit_reason: Option<ExitReason>,
    ) {
        self.notify_item(state, reason, exit_reason, None);
    }

    /// Emits an event, carrying a playlist item event when given. Every task's events are
    /// numbered and recorded (its event log); one without a callback URL gets an empty URL,
    /// which the stores keep as delivered: recorded, never sent. So does an event that is not
    /// a provider callback ([`CallbackState::is_callback`]).
    fn notify_item(
        &mut self,
        state: CallbackState,
        reason: Option<InvalidReason>,
        exit_reason: Option<ExitReason>,
        item: Option<ItemEvent>,
    ) {
        self.notify_full(state, reason, exit_reason, item, None);
    }

    /// Emits a log-only event with its detail (never a callback: see
    /// [`CallbackState::is_callback`]).
    fn notify_detail(&mut self, state: CallbackState, detail: String) {
        debug_assert!(!state.is_callback(), "{state:?} with a detail");
        self.notify_full(state, None, None, None, Some(detail));
    }

    fn notify_full(
        &mut self,
        state: CallbackState,
        reason: Option<InvalidReason>,
        exit_reason: Option<ExitReason>,
        item: Option<ItemEvent>,
        detail: Option<String>,
    ) {
        let url = match self.task.spec.callback_url.clone() {
            Some(url) if state.is_callback() => url,
            _ => String::new(),
        };
        self.task.runtime.event_seq += 1;
        let seq = self.task.runtime.event_seq;
        let event = CallbackEvent {
            id: CallbackEvent::id_for(&self.task.id, seq),
            seq,
            account: self.task.account.clone(),
            task_id: self.task.id.clone(),
            task_name: self.task.spec.name.clone(),
            url,
            state,
            reason,
            exit_reason,
            item,
            detail,
            time: self.now,
            auth_key: spec_auth_key(&self.task.spec),
        };
        self.effects.push(Effect::Notify(event));
    }

    fn finish(mut self) -> Transition {
        // The source watch follows the task's state: one per wait for a retry, ended when the
        // wait is. After an engine restart no watch exists, whatever the task says.
        let watched = (!self.relays_lost)
            .then(|| self.before.watched_run())
            .flatten();
        let watching = self.task.watched_run();
        if watched != watching {
            if let Some(run) = watched {
                self.effects.insert(0, Effect::UnwatchSource { run });
            }
            if let Some(run) = watching {
                self.effects.push(Effect::WatchSource { run });
            }
        }
        if self.task != *self.before {
            self.task.version = self.before.version + 1;
            self.task.updated_at = self.now;
        }
        Transition {
            task: self.task,
            effects: self.effects,
        }
    }
}

/// When a task that exited at `exit_time` is purged.
fn retained_until(exit_time: UnixTime, policy: &Policy) -> UnixTime {
    let retention = UnixTime::try_from(policy.retention).unwrap_or(UnixTime::MAX);
    exit_time.saturating_add(retention)
}

#[cfg(test)]
mod tests;

/// The key a task's callbacks are signed with in the provider's way, when it asks for that.
fn spec_auth_key(spec: &TaskSpec) -> Option<String> {
    spec.signs_callbacks()
        .then(|| spec.auth_key.clone())
        .flatten()
}
