//! The task model: what a pull-to-push task is (its configuration, [`TaskSpec`]) and where it
//! is in its life ([`TaskRuntime`]). Domain types, not wire types: each API dialect converts.
//!
//! Times are [`UnixTime`] (seconds since the Unix epoch, UTC): the providers' APIs have
//! second resolution, and the domain never reads a clock — `now` is passed in.

use std::fmt;

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;

/// A task identifier: a lower-case UUID-like string (`fb0d4ac7-c7e3-4978-9743-0bf2f6e8a1b2`),
/// as the providers issue them. At most 55 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub String);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The account that owns a task (and its API keys, domains, callbacks key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub String);

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

/// The protocol of a live source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceProtocol {
    Rtmp,
    HttpFlv,
    Hls,
    Srt,
    Rtsp,
}

/// A task's configuration: everything the user sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    pub name: String,
    /// The "live center" the task runs in (Alibaba `Region`). Stored and echoed; Baton runs
    /// every task on this installation.
    pub region: String,
    pub source_type: SourceType,
    /// Required for `Live`, absent for `Vod` / `Url`.
    pub source_protocol: Option<SourceProtocol>,
    /// 1 URL for `Live`, 1–30 for `Vod` / `Url`.
    pub source_urls: Vec<String>,
    pub dst_url: String,
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
}

/// Why a task is abnormal or stopped (Alibaba `TaskInvalidReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    PullStreamFailed,
    PushStreamFailed,
    UnknownError,
}

/// Why a task exited (Alibaba `TaskExitReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    TriggerByUser,
    OverEndTime,
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
    /// Playlist progress (issue 5): item index and seconds into it.
    pub current_file_index: u32,
    pub current_offset: u32,
    /// Incremented every time a relay is started: effects and relay reports carry it, so a
    /// late report from an old run cannot move the task.
    pub run: u64,
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
