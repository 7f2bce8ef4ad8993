//! Task events: what the state machine tells a task's `CallbackUrl` about, and the task's
//! event log.
//!
//! cloud-apis.md §2.7: callbacks fire "when the task transitions to `Running` (started at
//! StartTime or restarted), `Recovering` (runtime error, retrying), or `Offline` (stopped by API
//! or retries exhausted/timed out)", and `Exit` "when the task is cleared: at EndTime or after
//! DeleteLivePullToPush". `Idle` never produces a callback.
//!
//! Every task emits its events, callback URL or not: they are its durable history (the store
//! keeps them, after the task is deleted too, until purged), listed newest first by
//! [`TaskStore::task_events`](crate::TaskStore::task_events). Only those with a URL are
//! delivered; one without ([`CallbackEvent::is_deliverable`] false) is stored as delivered
//! when it happened, so delivery never sees it and purge treats it like a delivered one.
//!
//! Identity and order: the state machine numbers each task's events 1, 2, 3 ... (`seq`, kept in
//! [`TaskRuntime::event_seq`](crate::TaskRuntime::event_seq) and stored in the same write as
//! the change that produced it) and names each `<task id>.<seq>` — unique because task IDs are
//! unique, contain no `.`, and are not reused while any event of their task is stored (the
//! store refuses such an ID, [`TaskStore::insert`](crate::TaskStore::insert)). Receivers deduplicate on the ID (delivery is at
//! least once) and order on `seq`.
//!
//! One numbering for the log and the callbacks: a callback's `seq` and ID are those of its log
//! entry. Events that are not provider callbacks (`Forwarding`, the relay's notes
//! `SourceSwitched`, `DestinationDown`, `DestinationUp`, `SlateOn`, `SlateOff`, and
//! `TakenOver`: [`CallbackState::is_callback`]) are only logged, so the callbacks of a task
//! with a `CallbackUrl` skip their numbers; what was skipped is in the log. Contiguous callback numbers would need a second numbering whose
//! IDs no longer name log entries; the providers' vocabulary (`Running`, `Recovering`,
//! `Offline`, `Exit`) stays what callback receivers get.

use crate::task::{AccountId, ExitReason, InvalidReason, TaskId, UnixTime};

/// The provider's state names in callbacks (cloud-apis §2.4, "Callback state name"), and
/// Baton's additions to the event log (`Forwarding`, the relay's notes, `TakenOver`), which are
/// never callbacks: receivers written for the providers' vocabulary never see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackState {
    /// Started at StartTime, restarted, or recovered.
    Running,
    /// A runtime failure; the relay or the retry policy is recovering.
    Recovering,
    /// Stopped by the API, retries exhausted, or playlist finished.
    Offline,
    /// Exited at EndTime, or deleted.
    Exit,
    /// Baton's: the run's media reached the destination (until then the relay was
    /// connecting). Recorded in the event log, never delivered (not a provider state).
    Forwarding,
    /// Baton's: the relay switched to another of the task's sources (a failover to a backup,
    /// or a failback to the primary); the event's `detail` says from which to which, and why.
    /// Logged only.
    SourceSwitched,
    /// Baton's: one destination of a task with several lost its session (or failed for good)
    /// while the task goes on; `detail` names it and its error. Logged only.
    DestinationDown,
    /// Baton's: a destination recorded down forwards again; `detail` names it. Logged only.
    DestinationUp,
    /// Baton's: no source delivers and the slate plays to every destination (a live task with
    /// a slate); `detail` says how many times it started in the run, and why. Logged only.
    SlateOn,
    /// Baton's: the slate recorded on ended, a source delivers again; `detail` names it.
    /// Logged only.
    SlateOff,
    /// Baton's: this node took the task over from another (issue 15's leases); `detail` names
    /// the previous owner and its lease epoch. Logged only.
    TakenOver,
}

impl CallbackState {
    /// Every state.
    pub const ALL: [CallbackState; 11] = [
        CallbackState::Running,
        CallbackState::Recovering,
        CallbackState::Offline,
        CallbackState::Exit,
        CallbackState::Forwarding,
        CallbackState::SourceSwitched,
        CallbackState::DestinationDown,
        CallbackState::DestinationUp,
        CallbackState::SlateOn,
        CallbackState::SlateOff,
        CallbackState::TakenOver,
    ];

    /// The name (`Running`, `Recovering`, `Offline`, `Exit`: the provider's; Baton's are
    /// spelled like their variants).
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Running => "Running",
            CallbackState::Recovering => "Recovering",
            CallbackState::Offline => "Offline",
            CallbackState::Exit => "Exit",
            CallbackState::Forwarding => "Forwarding",
            CallbackState::SourceSwitched => "SourceSwitched",
            CallbackState::DestinationDown => "DestinationDown",
            CallbackState::DestinationUp => "DestinationUp",
            CallbackState::SlateOn => "SlateOn",
            CallbackState::SlateOff => "SlateOff",
            CallbackState::TakenOver => "TakenOver",
        }
    }

    /// Whether an event in this state is a provider callback, delivered to the task's
    /// `CallbackUrl`: only the provider's four. Baton's are only recorded (the dialects'
    /// receivers get exactly the provider's vocabulary).
    pub fn is_callback(self) -> bool {
        matches!(
            self,
            CallbackState::Running
                | CallbackState::Recovering
                | CallbackState::Offline
                | CallbackState::Exit
        )
    }

    /// The state named exactly `name`, if any.
    pub fn from_name(name: &str) -> Option<CallbackState> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One callback event, complete: everything delivery needs, as it was when it happened (a
/// later change of the task's name or callback URL does not rewrite queued events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackEvent {
    /// `<task id>.<seq>`: unique, stable across redeliveries.
    pub id: String,
    /// 1-based, gap-free per task in its log (callbacks skip the log-only events' numbers).
    pub seq: u64,
    /// The task's owner (whose key signs the callback).
    pub account: AccountId,
    /// The task the event is about.
    pub task_id: TaskId,
    /// The task's name (`TaskName`) when the event happened.
    pub task_name: String,
    /// Where to POST it: the task's `CallbackUrl` when the event happened. Empty when the
    /// task had none: the event is recorded (the task's history), never delivered.
    pub url: String,
    /// The state the task entered.
    pub state: CallbackState,
    /// Why the task is recovering or offline, when a failure caused it.
    pub reason: Option<InvalidReason>,
    /// Why the task exited (`Exit` only).
    pub exit_reason: Option<ExitReason>,
    /// What happened to a playlist item, for item events and the end of a playlist.
    pub item: Option<ItemEvent>,
    /// What a log-only event is about, for a person (at most [`MAX_DETAIL`] bytes, any URL's
    /// password masked): the sources of a switch, the destination and its error, the previous
    /// owner. `None` for the provider's callbacks, which carry only their own fields.
    pub detail: Option<String>,
    /// When it happened.
    pub time: UnixTime,
    /// The task's `AuthKey` when its `ReqAuth` was `yes` as the event happened: delivery adds
    /// the provider's callback signature (`ALI-LIVE-TIMESTAMP`, `ALI-LIVE-SIGNATURE`) made
    /// with it. `None`: only Baton's own signature.
    pub auth_key: Option<String>,
}

/// What happened to one item of a playlist — Baton's addition to the provider's callbacks
/// (the `NotifyItemSwitch` request field asks for item start/finish events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemEventKind {
    /// An item started playing (with NotifyItemSwitch).
    Started,
    /// An item played to its end (with NotifyItemSwitch).
    Finished,
    /// An item could not be played (missing, unsupported codec, corrupt) and was skipped.
    Skipped,
    /// An item plays without one of its audio/video tracks, whose codec Baton cannot carry
    /// (an MP4's Opus, MP3 or AV1 track, a second video track); `detail` names the track,
    /// its codec and the reason. Once per item per run.
    TrackDropped,
    /// The whole list played, RepeatNumber included: the task stops.
    PlaylistFinished,
}

impl ItemEventKind {
    pub const ALL: [ItemEventKind; 5] = [
        ItemEventKind::Started,
        ItemEventKind::Finished,
        ItemEventKind::Skipped,
        ItemEventKind::TrackDropped,
        ItemEventKind::PlaylistFinished,
    ];

    /// The name in callbacks (`Event`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemEventKind::Started => "ItemStarted",
            ItemEventKind::Finished => "ItemFinished",
            ItemEventKind::Skipped => "ItemSkipped",
            ItemEventKind::TrackDropped => "ItemTrackDropped",
            ItemEventKind::PlaylistFinished => "PlaylistFinished",
        }
    }

    /// Whether the event is recorded (and delivered to a CallbackUrl) whatever
    /// NotifyItemSwitch says: what the list plays differs from what it names. Started and
    /// Finished are switch notifications, only on request.
    pub fn always_notified(self) -> bool {
        matches!(
            self,
            ItemEventKind::Skipped | ItemEventKind::TrackDropped | ItemEventKind::PlaylistFinished
        )
    }

    pub fn from_name(name: &str) -> Option<ItemEventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A playlist item event: which item, and why when it was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemEvent {
    pub kind: ItemEventKind,
    /// The item (0-based), or the last one played for `PlaylistFinished`.
    pub file_index: u32,
    /// The item's source as the task names it (URL, path or media ID).
    pub source: String,
    /// Why it was skipped.
    pub detail: Option<String>,
}

impl CallbackEvent {
    /// The event ID of a task's event number `seq`.
    pub fn id_for(task: &TaskId, seq: u64) -> String {
        format!("{task}.{seq}")
    }

    /// Whether the event is to be delivered: it has a URL. One without is only recorded.
    pub fn is_deliverable(&self) -> bool {
        !self.url.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in CallbackState::ALL {
            assert_eq!(CallbackState::from_name(s.as_str()), Some(s));
        }
        assert_eq!(CallbackState::from_name("Idle"), None);
    }

    #[test]
    fn only_the_providers_four_are_callbacks() {
        let callbacks: Vec<&str> = CallbackState::ALL
            .into_iter()
            .filter(|s| s.is_callback())
            .map(CallbackState::as_str)
            .collect();
        assert_eq!(callbacks, ["Running", "Recovering", "Offline", "Exit"]);
        for s in [CallbackState::SlateOn, CallbackState::SlateOff] {
            assert!(!s.is_callback(), "{s:?} is logged only");
            assert_eq!(CallbackState::from_name(s.as_str()), Some(s));
        }
    }

    #[test]
    fn item_names_round_trip() {
        for k in ItemEventKind::ALL {
            assert_eq!(ItemEventKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(ItemEventKind::from_name("Running"), None);
    }

    #[test]
    fn ids_are_unambiguous() {
        // Task IDs cannot contain '.', so the last '.' always separates the sequence number.
        assert_eq!(CallbackEvent::id_for(&TaskId("a-1".into()), 12), "a-1.12");
        assert_ne!(
            CallbackEvent::id_for(&TaskId("a-1".into()), 1),
            CallbackEvent::id_for(&TaskId("a".into()), 11)
        );
    }
}
