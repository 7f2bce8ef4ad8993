//! The task model: what a pull-to-push task is (its configuration, [`TaskSpec`]) and where it
//! is in its life ([`TaskRuntime`]). Domain types, not wire types: each API dialect converts.
//!
//! Times are [`UnixTime`] (seconds since the Unix epoch, UTC): the providers' APIs have
//! second resolution, and the domain never reads a clock — `now` is passed in.

use std::fmt;

use crate::request::{Field, Rejection};

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;

/// A task identifier: a lower-case UUID-like string (`fb0d4ac7-c7e3-4978-9743-0bf2f6e8a1b2`),
/// as the providers issue them. At most 55 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub String);

impl TaskId {
    /// The longest task ID (Alibaba: "a maximum of 55 characters", cloud-apis §2.3).
    pub const MAX_LEN: usize = 55;

    /// Checks an ID a caller supplied: 1–55 characters of `[A-Za-z0-9_-]` (cloud-apis §2.3,
    /// DescribeLivePullToPushList `TaskId`).
    pub fn parse(s: &str) -> Result<TaskId, Rejection> {
        let invalid = |reason: &str| Rejection::Invalid {
            field: Field::TaskId,
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(invalid("longer than 55 characters"));
        }
        if !s.bytes().all(is_id_byte) {
            return Err(invalid("only letters, digits, '_' and '-' are allowed"));
        }
        Ok(TaskId(s.to_owned()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[A-Za-z0-9_-]`: the task ID charset (also used for media IDs).
pub(crate) fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The account that owns a task (and its API keys, domains, callbacks key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub String);

impl AccountId {
    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the task pulls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceType {
    /// One live stream URL.
    Live,
    /// Up to 30 media IDs of the media library.
    Vod,
    /// Up to 30 video file URLs.
    Url,
}

impl SourceType {
    /// Every source type.
    pub const ALL: [SourceType; 3] = [SourceType::Live, SourceType::Vod, SourceType::Url];

    /// The canonical name (`live`, `vod`, `url`): Alibaba's values, and how stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Live => "live",
            SourceType::Vod => "vod",
            SourceType::Url => "url",
        }
    }

    /// The type named `name` (ASCII case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<SourceType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

/// The protocol of a live source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceProtocol {
    Rtmp,
    HttpFlv,
    Hls,
    Srt,
    Rtsp,
}

impl SourceProtocol {
    /// Every protocol.
    pub const ALL: [SourceProtocol; 5] = [
        SourceProtocol::Rtmp,
        SourceProtocol::HttpFlv,
        SourceProtocol::Hls,
        SourceProtocol::Srt,
        SourceProtocol::Rtsp,
    ];

    /// The canonical name (`rtmp`, `http-flv`, `hls`, `srt`, `rtsp`): Alibaba's request values
    /// (cloud-apis §2.3 `SourceProtocol`), and how stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceProtocol::Rtmp => "rtmp",
            SourceProtocol::HttpFlv => "http-flv",
            SourceProtocol::Hls => "hls",
            SourceProtocol::Srt => "srt",
            SourceProtocol::Rtsp => "rtsp",
        }
    }

    /// The protocol named `name` (ASCII case-insensitive: Alibaba's own examples echo `RTMP`).
    pub fn from_name(name: &str) -> Option<SourceProtocol> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }
}

/// A task's configuration: everything the user sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    pub name: String,
    /// The task group the task belongs to (Volcengine `GroupName`); dialects without groups
    /// (Alibaba) put every task in [`DEFAULT_GROUP`](crate::DEFAULT_GROUP). Set at creation
    /// and never changed (a [`TaskPatch`](crate::TaskPatch) has no group), so lists filtered
    /// by group and the "group in use" count of a group's deletion can rely on it.
    pub group: String,
    /// The "live center" the task runs in (Alibaba `Region`). Stored and echoed; Baton runs
    /// every task on this installation. Empty when the task was created through a dialect
    /// without regions (Volcengine): such a task matches every region filter
    /// ([`ListFilter::region`](crate::ListFilter::region)).
    pub region: String,
    pub source_type: SourceType,
    /// Required for `Live`, absent for `Vod` / `Url`.
    pub source_protocol: Option<SourceProtocol>,
    /// 1–30 for `Vod` / `Url`. `Live`: the source, then up to
    /// [`MAX_BACKUP_SOURCES`](crate::validate::MAX_BACKUP_SOURCES) backup sources in the order
    /// they are tried (see [`SourceFailover`]). Only the native API sets backups; the Alibaba
    /// and Volcengine dialects take exactly one live URL.
    pub source_urls: Vec<String>,
    pub dst_url: String,
    /// More destinations fed by the same pull, after `dst_url` (at most
    /// [`MAX_EXTRA_DESTINATIONS`](crate::validate::MAX_EXTRA_DESTINATIONS)), each with its own
    /// session, reconnects and status: a task fails only when every destination has. Only
    /// the native API sets them; the Alibaba and Volcengine dialects have one destination and
    /// always leave this empty.
    pub extra_dst_urls: Vec<String>,
    /// How a live task with backup sources moves between them. Only the native API sets it.
    pub failover: SourceFailover,
    /// What the destinations of a live task get while no source delivers. Only the native
    /// API sets it; the Alibaba and Volcengine dialects' tasks follow the operator's
    /// `[slate]` ([`TaskSlate::Inherit`]).
    pub slate: TaskSlate,
    pub start_time: UnixTime,
    pub end_time: UnixTime,
    pub callback_url: Option<String>,
    /// 0 plays the list once, -1 loops forever, N repeats it N more times.
    pub repeat_number: i32,
    /// Retries after the relay's own reconnects gave up. Default 3.
    pub retry_count: u32,
    /// Seconds between retries, 60–300. Default 60.
    pub retry_interval: u32,
    /// 0-based index of the first playlist item.
    pub file_index: u32,
    /// Seconds into the first item played.
    pub offset: u32,
    /// Opaque provider fields, stored and echoed.
    pub auth_key: Option<String>,
    pub req_auth: Option<String>,
    pub notify_item_switch: Option<String>,
}

/// A live task's failover settings (used when it has backup sources): after how long
/// without media the active source gives way to the next, and whether and when the relay
/// goes back to the primary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourceFailover {
    /// Seconds the active source may deliver no media before the next one is used
    /// (1–[`MAX_FAILOVER_AFTER`](crate::validate::MAX_FAILOVER_AFTER)). `None`: the relay's
    /// default (5 s).
    pub after: Option<u32>,
    /// Failback: while a backup is active, the primary is tried again every this many
    /// seconds, and used again once it has delivered this long without a gap
    /// (1–[`MAX_FAILBACK_AFTER`](crate::validate::MAX_FAILBACK_AFTER)). `None` (the default):
    /// no failback; the primary is used again only when the sources wrap around.
    pub failback_after: Option<u32>,
}

/// A live task's own slate setting: the clip its destinations get, looped, while no source
/// delivers (the relay's `SlateConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum TaskSlate {
    /// The operator's `[slate]` configuration: a slate for every live task if it names a
    /// file, none otherwise.
    #[default]
    Inherit,
    /// No slate, whatever `[slate]` says.
    Off,
    /// A slate, whatever `[slate]` says.
    On {
        /// `default` (Baton's built-in card of the live stream's resolution) or an http(s)
        /// URL of a clip, fetched through the account's egress when the relay starts
        /// ([`MAX_SLATE_FILE_LEN`](crate::validate::MAX_SLATE_FILE_LEN) bytes at most). `None`:
        /// the operator's `[slate]` file, else the built-in default.
        file: Option<String>,
        /// Seconds without source media before the slate starts
        /// (1–[`MAX_SLATE_AFTER`](crate::validate::MAX_SLATE_AFTER)). `None`: the operator's,
        /// else 1 s.
        after: Option<u32>,
        /// Seconds the slate may play before the relay gives up
        /// (1–[`MAX_SLATE_HOLD`](crate::validate::MAX_SLATE_HOLD)). `None`: the operator's,
        /// else 300 s.
        hold: Option<u32>,
    },
}

/// Where a task is in its life. The numbers are Alibaba's `TaskStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// 0: the start time has not been reached.
    NotStarted,
    /// 1: pulling and pushing.
    Running,
    /// 2: running abnormally: recovering (the relay's reconnects, then the retry policy).
    Abnormal,
    /// 3: stopped by the API, or retries exhausted.
    Stopped,
    /// -1: exited (end time reached, or deleted).
    Exited,
}

impl TaskStatus {
    /// Alibaba's integer code.
    pub fn code(self) -> i32 {
        match self {
            TaskStatus::NotStarted => 0,
            TaskStatus::Running => 1,
            TaskStatus::Abnormal => 2,
            TaskStatus::Stopped => 3,
            TaskStatus::Exited => -1,
        }
    }

    /// Running or recovering: a relay exists (or is being retried).
    pub fn is_running(self) -> bool {
        matches!(self, TaskStatus::Running | TaskStatus::Abnormal)
    }

    /// The status with Alibaba's integer code `code`, if any.
    pub fn from_code(code: i32) -> Option<TaskStatus> {
        match code {
            0 => Some(TaskStatus::NotStarted),
            1 => Some(TaskStatus::Running),
            2 => Some(TaskStatus::Abnormal),
            3 => Some(TaskStatus::Stopped),
            -1 => Some(TaskStatus::Exited),
            _ => None,
        }
    }
}

/// Why a task is abnormal or stopped (Alibaba `TaskInvalidReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    PullStreamFailed,
    PushStreamFailed,
    UnknownError,
}

impl InvalidReason {
    /// Every reason.
    pub const ALL: [InvalidReason; 3] = [
        InvalidReason::PullStreamFailed,
        InvalidReason::PushStreamFailed,
        InvalidReason::UnknownError,
    ];

    /// The canonical name (Alibaba's value, e.g. `PullStreamFailed`).
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidReason::PullStreamFailed => "PullStreamFailed",
            InvalidReason::PushStreamFailed => "PushStreamFailed",
            InvalidReason::UnknownError => "UnknownError",
        }
    }

    /// The reason named exactly `name`, if any.
    pub fn from_name(name: &str) -> Option<InvalidReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Why a task exited (Alibaba `TaskExitReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    TriggerByUser,
    OverEndTime,
}

impl ExitReason {
    /// Every reason.
    pub const ALL: [ExitReason; 2] = [ExitReason::TriggerByUser, ExitReason::OverEndTime];

    /// The canonical name (Alibaba's value, e.g. `OverEndTime`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::TriggerByUser => "TriggerByUser",
            ExitReason::OverEndTime => "OverEndTime",
        }
    }

    /// The reason named exactly `name`, if any.
    pub fn from_name(name: &str) -> Option<ExitReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Which side of a relay an error came from (the relay's `Side`, as tasks keep it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorSide {
    /// Pulling the source.
    Source,
    /// Pushing to the destination.
    Destination,
    /// Baton itself (a configuration that cannot become a relay, a bug).
    Internal,
}

impl ErrorSide {
    /// Every side.
    pub const ALL: [ErrorSide; 3] = [
        ErrorSide::Source,
        ErrorSide::Destination,
        ErrorSide::Internal,
    ];

    /// The canonical name (`source`, `destination`, `internal`): the relay's own spelling,
    /// and how stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSide::Source => "source",
            ErrorSide::Destination => "destination",
            ErrorSide::Internal => "internal",
        }
    }

    /// The side named exactly `name`, if any.
    pub fn from_name(name: &str) -> Option<ErrorSide> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The last error a task's relay reported, with its time. The providers' reasons
/// ([`InvalidReason`]) only say which side failed, and are cleared when the task recovers;
/// this says what happened and is kept — through recovery, Stop and Restart — until a later
/// error replaces it, so "why was it abnormal an hour ago" has an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    pub side: ErrorSide,
    /// A stable PascalCase name of what happened (`Connect`, `Refused`, `Timeout`, ...): the
    /// relay's error kind. For programs to match on.
    pub code: String,
    /// The error as the relay describes it, for people.
    pub message: String,
    /// When the engine learnt of it.
    pub at: UnixTime,
}

/// A task's run-time state: owned by the state machine, persisted with the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRuntime {
    pub status: TaskStatus,
    pub invalid_reason: Option<InvalidReason>,
    pub exit_reason: Option<ExitReason>,
    pub exit_time: Option<UnixTime>,
    /// Retries used since the last (re)start.
    pub retries: u32,
    /// When the next retry starts, while waiting for one.
    pub next_retry_at: Option<UnixTime>,
    /// Playlist progress: item index and seconds into it (CurrentFileIndex / CurrentOffset),
    /// and the passes over the list completed so far (RepeatNumber counts against it).
    pub current_file_index: u32,
    pub current_offset: u32,
    pub current_loop: u32,
    /// Incremented every time a relay is started: effects and relay reports carry it, so a
    /// late report from an old run cannot move the task.
    pub run: u64,
    /// Sequence number of the task's last callback event (0: none yet). The state machine
    /// assigns the next one to each event it emits, so numbers are gap-free per task and are
    /// stored in the same write as the state change that produced them.
    pub event_seq: u64,
    /// The last error its relay reported, if any ever did (see [`LastError`]).
    pub last_error: Option<LastError>,
}

impl Default for TaskRuntime {
    /// A task just created: not started, nothing run, no reasons.
    fn default() -> TaskRuntime {
        TaskRuntime {
            status: TaskStatus::NotStarted,
            invalid_reason: None,
            exit_reason: None,
            exit_time: None,
            retries: 0,
            next_retry_at: None,
            current_file_index: 0,
            current_offset: 0,
            current_loop: 0,
            run: 0,
            event_seq: 0,
            last_error: None,
        }
    }
}

/// One task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub account: AccountId,
    pub spec: TaskSpec,
    pub runtime: TaskRuntime,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// Incremented on every stored change (optimistic concurrency, ETags).
    pub version: u64,
}

impl Task {
    /// Whether a relay of the current run is alive (started and not reported gone): running,
    /// or abnormal while the relay's own reconnects are under way. An abnormal task waiting
    /// for a retry (`next_retry_at` set) has no relay.
    pub fn relay_alive(&self) -> bool {
        match self.runtime.status {
            TaskStatus::Running => true,
            TaskStatus::Abnormal => self.runtime.next_retry_at.is_none(),
            _ => false,
        }
    }

    /// The run whose source is watched while the task waits for its retry, if it is: a live
    /// task whose relay failed on the source side (`PullStreamFailed`) with a retry scheduled.
    /// A source that comes back starts the retry at once ([`Command::SourceBack`]). A relay
    /// that failed on the destination side waits out its RetryInterval: its source was never
    /// gone, and retrying at once would only spend RetryCount faster.
    ///
    /// [`Command::SourceBack`]: crate::Command::SourceBack
    pub fn watched_run(&self) -> Option<u64> {
        let rt = &self.runtime;
        let waiting = rt.status == TaskStatus::Abnormal && rt.next_retry_at.is_some();
        let source = rt.invalid_reason == Some(InvalidReason::PullStreamFailed)
            && self.spec.source_type == SourceType::Live;
        (waiting && source).then_some(rt.run)
    }

    /// The passes a playlist plays in all (RepeatNumber + 1), None for a list repeated
    /// forever (RepeatNumber -1).
    pub fn playlist_passes(&self) -> Option<u32> {
        u32::try_from(self.spec.repeat_number)
            .ok()
            .map(|n| n.saturating_add(1))
    }

    /// The pass over the list playing now, counted from 1 — or, once every pass is done, the
    /// last one played: a finished list of N passes is at pass N of N, never N + 1.
    /// (`current_loop` counts completed passes, so it equals the total once finished.)
    pub fn playlist_pass(&self) -> u32 {
        let done = self.runtime.current_loop;
        match self.playlist_passes() {
            Some(total) if done >= total => done.max(1),
            _ => done.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_side_names_round_trip() {
        for s in ErrorSide::ALL {
            assert_eq!(ErrorSide::from_name(s.as_str()), Some(s));
        }
        assert_eq!(
            ErrorSide::ALL.map(ErrorSide::as_str),
            ["source", "destination", "internal"]
        );
        assert_eq!(ErrorSide::from_name("Source"), None, "names are exact");
    }
}
