//! What callers ask of tasks — updates, list filters — and why the domain says no.

use crate::task::{SourceProtocol, SourceType, TaskStatus, UnixTime};

/// A partial update: `None` leaves a field as it is. For the optional fields, `Some(None)`
/// clears them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub name: Option<String>,
    pub region: Option<String>,
    pub source_type: Option<SourceType>,
    pub source_protocol: Option<Option<SourceProtocol>>,
    pub source_urls: Option<Vec<String>>,
    pub dst_url: Option<String>,
    pub start_time: Option<UnixTime>,
    pub end_time: Option<UnixTime>,
    pub callback_url: Option<Option<String>>,
    pub repeat_number: Option<i32>,
    pub retry_count: Option<u32>,
    pub retry_interval: Option<u32>,
    pub file_index: Option<u32>,
    pub offset: Option<u32>,
    pub auth_key: Option<Option<String>>,
    pub req_auth: Option<Option<String>>,
    pub notify_item_switch: Option<Option<String>>,
}

/// A field of a task's configuration, to name the culprit of a rejection. Each API dialect
/// knows its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    TaskId,
    Name,
    Region,
    SourceType,
    SourceProtocol,
    SourceUrls,
    DstUrl,
    StartTime,
    EndTime,
    CallbackUrl,
    RepeatNumber,
    RetryCount,
    RetryInterval,
    FileIndex,
    Offset,
    AuthKey,
    ReqAuth,
    NotifyItemSwitch,
}

/// Why the domain refuses a request. No wire codes: dialects map these.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No such task (for this account), or it was deleted.
    #[error("task does not exist")]
    NotFound,
    /// Stop of a task that is not running.
    #[error("the task is not running")]
    TaskHasStopped,
    /// An update of a field that cannot change in the task's current state.
    #[error("the task has already started; {0:?} cannot be updated now")]
    TaskHasStarted(Field),
    /// End time not after start time (or not in the future).
    #[error("the end time must be later than the start time and than now")]
    IllegalDuration,
    /// Restart before the start time.
    #[error("the task's start time has not been reached")]
    NotStartedYet,
    /// The task has exited; nothing more can be done with it.
    #[error("the task has exited")]
    Exited,
    /// A field's value is not acceptable.
    #[error("{field:?}: {reason}")]
    Invalid { field: Field, reason: String },
}

/// List filters: substring matches, all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub task_id: Option<String>,
    pub name: Option<String>,
    pub dst_url: Option<String>,
    pub region: Option<String>,
    pub status: Option<TaskStatus>,
}

/// A page of a list: 1-based page number and page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}
