//! What callers ask of tasks — updates, list filters — and why the domain says no.

use crate::task::{
    SourceFailover, SourceProtocol, SourceType, TaskSlate, TaskSpec, TaskStatus, UnixTime,
};

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
    pub extra_dst_urls: Option<Vec<String>>,
    pub failover: Option<SourceFailover>,
    pub slate: Option<TaskSlate>,
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

impl TaskPatch {
    /// Whether the patch sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == TaskPatch::default()
    }

    /// `spec` with the patch applied.
    pub fn apply_to(&self, spec: &TaskSpec) -> TaskSpec {
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                slot.clone_from(v);
            }
        }
        let mut s = spec.clone();
        set(&mut s.name, &self.name);
        set(&mut s.region, &self.region);
        set(&mut s.source_type, &self.source_type);
        set(&mut s.source_protocol, &self.source_protocol);
        set(&mut s.source_urls, &self.source_urls);
        set(&mut s.dst_url, &self.dst_url);
        set(&mut s.extra_dst_urls, &self.extra_dst_urls);
        set(&mut s.failover, &self.failover);
        set(&mut s.slate, &self.slate);
        set(&mut s.start_time, &self.start_time);
        set(&mut s.end_time, &self.end_time);
        set(&mut s.callback_url, &self.callback_url);
        set(&mut s.repeat_number, &self.repeat_number);
        set(&mut s.retry_count, &self.retry_count);
        set(&mut s.retry_interval, &self.retry_interval);
        set(&mut s.file_index, &self.file_index);
        set(&mut s.offset, &self.offset);
        set(&mut s.auth_key, &self.auth_key);
        set(&mut s.req_auth, &self.req_auth);
        set(&mut s.notify_item_switch, &self.notify_item_switch);
        s
    }

    /// The fields whose value the patch would change in `spec`, in [`Field`] order. A field
    /// set to the value it already has is not a change: clients that resend unchanged values
    /// (the Alibaba SDK requires `Region` on every call) are not refused for them.
    pub fn changes(&self, spec: &TaskSpec) -> Vec<Field> {
        fn differs<T: PartialEq>(value: &Option<T>, current: &T) -> bool {
            value.as_ref().is_some_and(|v| v != current)
        }
        let candidates = [
            (Field::Name, differs(&self.name, &spec.name)),
            (Field::Region, differs(&self.region, &spec.region)),
            (
                Field::SourceType,
                differs(&self.source_type, &spec.source_type),
            ),
            (
                Field::SourceProtocol,
                differs(&self.source_protocol, &spec.source_protocol),
            ),
            (
                Field::SourceUrls,
                differs(&self.source_urls, &spec.source_urls),
            ),
            (Field::DstUrl, differs(&self.dst_url, &spec.dst_url)),
            (
                Field::ExtraDstUrls,
                differs(&self.extra_dst_urls, &spec.extra_dst_urls),
            ),
            (Field::Failover, differs(&self.failover, &spec.failover)),
            (Field::Slate, differs(&self.slate, &spec.slate)),
            (
                Field::StartTime,
                differs(&self.start_time, &spec.start_time),
            ),
            (Field::EndTime, differs(&self.end_time, &spec.end_time)),
            (
                Field::CallbackUrl,
                differs(&self.callback_url, &spec.callback_url),
            ),
            (
                Field::RepeatNumber,
                differs(&self.repeat_number, &spec.repeat_number),
            ),
            (
                Field::RetryCount,
                differs(&self.retry_count, &spec.retry_count),
            ),
            (
                Field::RetryInterval,
                differs(&self.retry_interval, &spec.retry_interval),
            ),
            (
                Field::FileIndex,
                differs(&self.file_index, &spec.file_index),
            ),
            (Field::Offset, differs(&self.offset, &spec.offset)),
            (Field::AuthKey, differs(&self.auth_key, &spec.auth_key)),
            (Field::ReqAuth, differs(&self.req_auth, &spec.req_auth)),
            (
                Field::NotifyItemSwitch,
                differs(&self.notify_item_switch, &spec.notify_item_switch),
            ),
        ];
        candidates
            .into_iter()
            .filter_map(|(field, changed)| changed.then_some(field))
            .collect()
    }
}

/// A field of a task's configuration, to name the culprit of a rejection. Each API dialect
/// knows its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    TaskId,
    Name,
    /// The task's group (Volcengine `GroupName`).
    Group,
    Region,
    SourceType,
    SourceProtocol,
    SourceUrls,
    DstUrl,
    /// The destinations after the first (`TaskSpec::extra_dst_urls`).
    ExtraDstUrls,
    /// The failover settings of a live task with backup sources (`TaskSpec::failover`).
    Failover,
    /// A live task's slate (`TaskSpec::slate`).
    Slate,
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
    /// Continue / relaunch of a task that is not stopped.
    #[error("the task is not stopped")]
    NotStopped,
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

/// List filters, all optional (`None` filters nothing). `task_id`, `name` and `dst_url` are
/// "fuzzy": an ASCII case-insensitive substring match, `%` and `_` taken literally (cloud-apis
/// §2.3 DescribeLivePullToPushList). `status` matches exactly; `region` and `groups` as their
/// fields say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub task_id: Option<String>,
    pub name: Option<String>,
    pub dst_url: Option<String>,
    /// Exact match on the task's region — except that a task without a region (`""`, created
    /// through a dialect that has none) matches every region filter: a dialect with regions
    /// always sends one, and must still see the tasks another dialect created.
    pub region: Option<String>,
    pub status: Option<TaskStatus>,
    /// Tasks whose group is exactly (case-sensitively) one of these names. `Some(vec![])`
    /// matches no task (a caller that asked for groups and named none gets none, rather
    /// than every task).
    pub groups: Option<Vec<String>>,
}

/// A page of a list: 1-based page number and page size. Stores order tasks newest first
/// (creation time, then ID), so pages are stable while no task is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// How many tasks precede this page (page 0 is treated as page 1).
    pub fn offset(self) -> u64 {
        u64::from(self.number.saturating_sub(1)) * u64::from(self.size)
    }

    /// This page of `items` (in list order) and how many items there are in all: what a
    /// list answers, for in-memory stores.
    pub fn of<T>(self, items: impl IntoIterator<Item = T>) -> (Vec<T>, u64) {
        let skip = self.offset();
        let mut page = Vec::new();
        let mut total = 0u64;
        for item in items {
            if total >= skip && page.len() < self.size as usize {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn a_page_of_items_and_their_total() {
        let page = |number, size| Page { number, size };
        assert_eq!(page(1, 2).of(1..=5), (vec![1, 2], 5));
        assert_eq!(page(3, 2).of(1..=5), (vec![5], 5));
        assert_eq!(page(4, 2).of(1..=5), (vec![], 5));
        assert_eq!(page(0, 2).of(1..=5), (vec![1, 2], 5));
        assert_eq!(page(1, 0).of(1..=5), (vec![], 5));
    }
}
