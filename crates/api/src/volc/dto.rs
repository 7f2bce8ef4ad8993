//! Response bodies: `{ResponseMetadata{RequestId, Action, Version, Service, Region}, Result}`,
//! PascalCase keys as the provider's Go models spell them (`CallbackURL`, `SrcAddrS`,
//! `TaskId`), times as RFC3339 UTC strings, `Status` as the four Chinese literals.

use baton_domain::time::rfc3339;
use baton_domain::{Block, SourceType, Task, TaskGroup, TaskStatus};
use serde::Serialize;

/// `ResponseMetadata`, with `Error` on failures.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata<'a> {
    pub request_id: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub service: &'static str,
    pub region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObj<'a>>,
}

/// `ResponseMetadata.Error`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorObj<'a> {
    pub code_n: u32,
    pub code: &'a str,
    pub message: &'a str,
}

/// The envelope; `Result` is left out for actions without return parameters.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope<'a, R: Serialize> {
    pub response_metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<R>,
}

/// CreatePullToPushTask.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created<'a> {
    pub task_id: &'a str,
}

/// The list actions' `Result`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskList<'a> {
    pub list: Vec<TaskItem<'a>>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pagination {
    pub page_cur: u32,
    pub page_size: u32,
    pub page_total: u64,
    pub total_count: u64,
}

/// One task of a list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskItem<'a> {
    pub task_id: &'a str,
    pub title: &'a str,
    pub start_time: String,
    pub end_time: String,
    #[serde(rename = "CallbackURL", skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<&'a str>,
    pub r#type: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_addr: Option<&'a str>,
    #[serde(rename = "SrcAddrS", skip_serializing_if = "Option::is_none")]
    pub src_addr_s: Option<&'a [String]>,
    /// The first file's start offset, when one is set (`OffsetS` of the same length).
    #[serde(rename = "OffsetS", skip_serializing_if = "Option::is_none")]
    pub offset_s: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle_mode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play_times: Option<i64>,
    pub dst_addr: &'a str,
    /// 1: the destination's host is one of the account's ingest domains; 2: a third party.
    pub dst_addr_type: i32,
    pub status: &'static str,
    pub group_name: &'a str,
}

impl<'a> TaskItem<'a> {
    /// `own_destination`: whether the destination's host is one of the owner's domains.
    pub fn from_task(task: &'a Task, own_destination: bool) -> TaskItem<'a> {
        let s = &task.spec;
        let files = s.source_type != SourceType::Live;
        TaskItem {
            task_id: task.id.as_str(),
            title: &s.name,
            start_time: rfc3339(s.start_time),
            end_time: rfc3339(s.end_time),
            callback_url: s.callback_url.as_deref(),
            r#type: i32::from(files),
            src_addr: (!files)
                .then(|| s.source_urls.first().map(String::as_str))
                .flatten(),
            src_addr_s: files.then_some(s.source_urls.as_slice()),
            offset_s: (files && s.offset > 0 && s.file_index == 0).then(|| {
                let mut v = vec![0.0; s.source_urls.len()];
                v[0] = f64::from(s.offset);
                v
            }),
            cycle_mode: files.then_some(match s.repeat_number {
                n if n < 0 => -1,
                n => i64::from(n) + 1,
            }),
            play_times: files.then_some(0),
            dst_addr: &s.dst_url,
            dst_addr_type: if own_destination { 1 } else { 2 },
            status: status_name(task.runtime.status),
            group_name: &s.group,
        }
    }
}

/// The provider's status literal: 未开始 (not started), 生效中 (running or recovering),
/// 停用 (stopped), 已结束 (ended).
pub fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::NotStarted => "未开始",
        TaskStatus::Running | TaskStatus::Abnormal => "生效中",
        TaskStatus::Stopped => "停用",
        TaskStatus::Exited => "已结束",
    }
}

/// ListPullToPushGroup's `Result`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupList<'a> {
    pub list: Vec<GroupItem<'a>>,
    pub total: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupItem<'a> {
    pub name: &'a str,
    pub project_name: &'a str,
    pub status: i32,
    pub tags: Vec<TagItem<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagItem<'a> {
    pub category: &'a str,
    pub key: &'a str,
    pub value: &'a str,
}

impl<'a> GroupItem<'a> {
    pub fn from_group(g: &'a TaskGroup) -> GroupItem<'a> {
        GroupItem {
            name: &g.name,
            project_name: &g.project,
            status: g.status.code(),
            tags: g
                .tags
                .iter()
                .map(|t| TagItem {
                    category: &t.category,
                    key: &t.key,
                    value: &t.value,
                })
                .collect(),
        }
    }
}

/// DescribeForbiddenStreamInfoByPage's `Result`. `RoughCount` is exact here.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForbiddenList<'a> {
    pub rough_count: u64,
    pub stream_info_list: Vec<ForbiddenItem<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForbiddenItem<'a> {
    pub vhost: &'a str,
    pub domain: &'a str,
    pub app: &'a str,
    pub stream: &'a str,
    pub create_time: String,
    pub end_time: String,
    pub status: bool,
}

impl<'a> ForbiddenItem<'a> {
    pub fn from_block(b: &'a Block) -> ForbiddenItem<'a> {
        ForbiddenItem {
            vhost: &b.path.domain,
            domain: &b.path.domain,
            app: &b.path.app,
            stream: &b.path.stream,
            create_time: rfc3339(b.created_at),
            end_time: rfc3339(b.resume_at),
            status: true,
        }
    }
}
