//! Response bodies, exactly as the SDK models read them (cloud-apis.md §2.3 "Response
//! shapes", sdk-wire.md "How the SDKs read responses"): PascalCase keys, `CallbackURL` (not
//! the request's `CallbackUrl`) in `TaskInfo`, `SourceUrls` as a real array, times as
//! `yyyy-MM-ddTHH:mm:ssZ` strings except `TaskExitTime` (Unix seconds), and
//! `RetCode: 0, Description: "OK"` on Create, Describe, Update and Delete only. Forbid and
//! Resume answer `{RequestId}` alone.

use baton_domain::{ExitReason, InvalidReason, Task, TaskStatus};
use serde::Serialize;

use super::fields::{protocol_name, source_type_name};
use crate::common::time::format_utc;

/// `{RequestId, TaskId, RetCode, Description}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse<'a> {
    pub request_id: &'a str,
    pub task_id: &'a str,
    pub ret_code: i32,
    pub description: &'static str,
}

/// `{RequestId, RetCode, Description}` (Update, Delete).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OkResponse<'a> {
    pub request_id: &'a str,
    pub ret_code: i32,
    pub description: &'static str,
}

/// `{RequestId, TaskId}` (Stop, Restart: no RetCode/Description).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskIdResponse<'a> {
    pub request_id: &'a str,
    pub task_id: &'a str,
}

/// `{RequestId}` (ForbidLiveStream, ResumeLiveStream).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestIdResponse<'a> {
    pub request_id: &'a str,
}

/// DescribeLiveStreamsBlockList, with the XML-heritage wrapper
/// `"StreamUrls": {"StreamUrl": ["domain/app/stream", …]}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockListResponse<'a> {
    pub request_id: &'a str,
    pub domain_name: &'a str,
    pub page_num: u32,
    pub page_size: u32,
    pub total_num: u64,
    /// `ceil(TotalNum / PageSize)`.
    pub total_page: u64,
    pub stream_urls: StreamUrls,
}

/// `{"StreamUrl": [...]}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamUrls {
    pub stream_url: Vec<String>,
}

/// DescribeLivePullToPush.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeResponse<'a> {
    pub request_id: &'a str,
    pub ret_code: i32,
    pub description: &'static str,
    #[serde(flatten)]
    pub task: TaskEntry<'a>,
}

/// DescribeLivePullToPushList.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResponse<'a> {
    pub request_id: &'a str,
    pub page_number: u32,
    pub page_size: u32,
    pub total: u64,
    pub task_list: Vec<TaskEntry<'a>>,
}

/// A task's state and configuration (Describe's body, an item of the list).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEntry<'a> {
    pub task_id: &'a str,
    pub task_status: i32,
    /// Why the task is abnormal or stopped; only in states 2 and 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_invalid_reason: Option<&'static str>,
    /// Only when exited (-1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_exit_reason: Option<&'static str>,
    /// Unix seconds; only when exited (-1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_exit_time: Option<i64>,
    pub current_file_index: u32,
    pub current_offset: u32,
    pub task_info: TaskInfo<'a>,
}

/// `TaskInfo`: the configuration.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskInfo<'a> {
    pub task_id: &'a str,
    pub task_name: &'a str,
    pub source_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_protocol: Option<&'static str>,
    pub source_urls: &'a [String],
    pub dst_url: &'a str,
    pub start_time: String,
    pub end_time: String,
    #[serde(rename = "CallbackURL", skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<&'a str>,
    pub retry_count: u32,
    pub retry_interval: u32,
    pub repeat_number: i32,
    pub file_index: u32,
    pub offset: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req_auth: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_item_switch: Option<&'a str>,
}

impl<'a> TaskEntry<'a> {
    /// The wire view of a task.
    pub fn from_task(task: &'a Task) -> TaskEntry<'a> {
        let rt = &task.runtime;
        let spec = &task.spec;
        let status = rt.status;
        let (exit_reason, exit_time) = match status {
            TaskStatus::Exited => (rt.exit_reason.map(exit_reason_name), rt.exit_time),
            _ => (None, None),
        };
        TaskEntry {
            task_id: &task.id.0,
            task_status: status.code(),
            task_invalid_reason: match status {
                TaskStatus::Abnormal | TaskStatus::Stopped => {
                    rt.invalid_reason.map(invalid_reason_name)
                }
                _ => None,
            },
            task_exit_reason: exit_reason,
            task_exit_time: exit_time,
            current_file_index: rt.current_file_index,
            current_offset: rt.current_offset,
            task_info: TaskInfo {
                task_id: &task.id.0,
                task_name: &spec.name,
                source_type: source_type_name(spec.source_type),
                source_protocol: spec.source_protocol.map(protocol_name),
                source_urls: &spec.source_urls,
                dst_url: &spec.dst_url,
                start_time: format_utc(spec.start_time),
                end_time: format_utc(spec.end_time),
                callback_url: spec.callback_url.as_deref(),
                retry_count: spec.retry_count,
                retry_interval: spec.retry_interval,
                repeat_number: spec.repeat_number,
                file_index: spec.file_index,
                offset: spec.offset,
                auth_key: spec.auth_key.as_deref(),
                req_auth: spec.req_auth.as_deref(),
                notify_item_switch: spec.notify_item_switch.as_deref(),
            },
        }
    }
}

fn invalid_reason_name(r: InvalidReason) -> &'static str {
    match r {
        InvalidReason::PullStreamFailed => "PullStreamFailed",
        InvalidReason::PushStreamFailed => "PushStreamFailed",
        InvalidReason::UnknownError => "UnknownError",
    }
}

fn exit_reason_name(r: ExitReason) -> &'static str {
    match r {
        ExitReason::TriggerByUser => "TriggerByUser",
        ExitReason::OverEndTime => "OverEndTime",
    }
}
