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
use crate::service::LiveStreamView;

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

/// DescribeLiveStreamsOnlineList: one page of the domain's publishing streams.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineListResponse<'a> {
    pub request_id: &'a str,
    pub page_num: u32,
    pub page_size: u32,
    pub total_num: u64,
    /// `ceil(TotalNum / PageSize)`.
    pub total_page: u64,
    pub online_info: OnlineInfo<'a>,
}

/// `{"LiveStreamOnlineInfo": [...]}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineInfo<'a> {
    pub live_stream_online_info: Vec<OnlineStream<'a>>,
}

/// One publishing stream, as the SDK model `LiveStreamOnlineInfo` reads it. With
/// `OnlyStream=yes` only the first four fields are sent. What Baton does not know is left out
/// rather than invented: `ServerIp` always (the API does not know which local address a
/// publisher reached), codec ids for codecs without an FLV CodecID / SoundFormat (AV1, VP9,
/// Opus...), sizes and rates a sequence header did not give.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineStream<'a> {
    pub domain_name: &'a str,
    pub app_name: &'a str,
    pub stream_name: &'a str,
    /// `yyyy-MM-ddTHH:mm:ssZ`.
    pub publish_time: String,
    #[serde(flatten)]
    pub details: Option<OnlineDetails>,
}

/// The fields `OnlyStream=yes` leaves out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineDetails {
    /// `rtmp://domain/app/stream`, or for SRT publishers the `srt://` URL with the access-control
    /// stream id that names the same stream (no port: the API does not know the listeners').
    pub publish_url: String,
    /// The ingest domain (Baton has no separate edge ingest domain).
    pub publish_domain: String,
    /// `edge`: the publisher pushes to this server directly.
    pub publish_type: &'static str,
    /// `no`: Baton transcodes nothing.
    pub transcoded: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// FLV CodecID (7 H.264, 12 H.265 as CDNs extend it, 2 H.263...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_codec_id: Option<u8>,
    /// Bits per second, video tag bodies, over the last 1–2 s.
    pub video_data_rate: u64,
    /// Video frames per second over the last 1–2 s, rounded.
    pub frame_rate: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// FLV SoundFormat (10 AAC, 2 MP3, 11 Speex...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_codec_id: Option<u8>,
    /// Bits per second, audio tag bodies, over the last 1–2 s.
    pub audio_data_rate: u64,
}

impl<'a> OnlineStream<'a> {
    /// A publishing stream's entry; `None` for a stream without a publisher.
    pub fn new(s: &'a LiveStreamView, only_stream: bool) -> Option<OnlineStream<'a>> {
        let p = s.publisher.as_ref()?;
        let (domain, app, stream) = (&s.path.domain, &s.path.app, &s.path.stream);
        let details = (!only_stream).then(|| OnlineDetails {
            publish_url: match p.protocol {
                Some("srt") => {
                    format!("srt://{domain}?streamid=#!::h={domain},r={app}/{stream},m=publish")
                }
                _ => format!("rtmp://{domain}/{app}/{stream}"),
            },
            publish_domain: domain.clone(),
            publish_type: "edge",
            transcoded: "no",
            client_ip: p.remote.map(|a| a.ip().to_string()),
            video_codec_id: p.video.as_ref().and_then(|v| video_codec_id(v.codec)),
            video_data_rate: p.video_bitrate_bps,
            frame_rate: p.fps.round() as u64,
            width: p.video.as_ref().and_then(|v| v.width),
            height: p.video.as_ref().and_then(|v| v.height),
            audio_codec_id: p.audio.as_ref().and_then(|a| audio_codec_id(a.codec)),
            audio_data_rate: p.audio_bitrate_bps,
        });
        Some(OnlineStream {
            domain_name: domain,
            app_name: app,
            stream_name: stream,
            publish_time: format_utc(p.started_at),
            details,
        })
    }
}

/// FLV CodecID (FLV spec E.4.3.1; 12 is the HEVC extension Chinese CDNs use).
fn video_codec_id(codec: &str) -> Option<u8> {
    Some(match codec {
        "h263" => 2,
        "screen" => 3,
        "vp6" => 4,
        "vp6a" => 5,
        "screen2" => 6,
        "h264" => 7,
        "hevc" => 12,
        _ => return None,
    })
}

/// FLV SoundFormat (FLV spec E.4.2.1); Nellymoser's three ids are not told apart, so none.
fn audio_codec_id(codec: &str) -> Option<u8> {
    Some(match codec {
        "pcm" => 0,
        "adpcm" => 1,
        "mp3" => 2,
        "pcm_le" => 3,
        "g711a" => 7,
        "g711u" => 8,
        "aac" => 10,
        "speex" => 11,
        _ => return None,
    })
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
