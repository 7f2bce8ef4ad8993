//! Each request parsed into an exhaustive [`Call`], with the dialect's field mapping
//! (cloud-apis.md §3.3–3.4, §7):
//!
//! * `StartTime` / `EndTime`: Unix seconds; at most 7 days apart.
//! * `Type` 0 (live): `SrcAddr`, its protocol told by the URL (`rtmp(s)://` RTMP, `http(s)://`
//!   HTTP-FLV, `.m3u8` HLS, `srt://`, `rtsp://` — the engine refuses what it cannot run).
//!   `Type` 1 (files): `SrcAddrS` or `VodSrcAddrs` (not both), http(s) URLs or local paths.
//! * Loop count: `CycleMode` -1 forever, 0 → `PlayTimes` passes, N → N passes; the domain's
//!   RepeatNumber counts *extra* passes (N passes = RepeatNumber N − 1).
//! * Destination: `DstAddr`, or `Domain` + `App` + `Stream` → `rtmp://Domain/App/Stream`.
//! * `GroupName`: default `default`; group names are 1–20 letters or digits, as documented.
//! * `Title`: up to 20 characters of any text (the provider documents letters and digits;
//!   Baton has no reason to refuse a space).
//!
//! What Baton does not run is refused with `InvalidParam.Unsupported`, never accepted and
//! ignored: `Watermark` (needs transcoding), `ContinueStrategy` 1 (catch-up by wall time),
//! `VodSrcAddrs[].EndOffset`, and per-file start offsets (`OffsetS`, `StartOffset`) other
//! than on the first file of a list played once. `Offset` (legacy) is the first item's start
//! offset, as Alibaba's; fractions of a second are dropped (playback starts at the keyframe at
//! or before it anyway). `PreDownload` (a CDN pre-warm) is validated and has no effect: Baton
//! reads files from their origin with range requests.

use baton_domain::ingest::{check_domain, check_part};
use baton_domain::{
    AccountId, BlockQuery, DEFAULT_GROUP, GroupStatus, ListFilter, Page, PathError, PathPart,
    SourceProtocol, SourceType, StreamPath, Tag, TaskId, TaskPatch, TaskSpec, UnixTime,
};

use super::action::Action;
use super::input::Input;
use crate::aliyun::action::domain_arn;
use crate::aliyun::fields::{check_len, check_source_urls, check_url};
use crate::error::ApiError;

/// Longest task duration: 7 days.
pub const MAX_DURATION: i64 = 7 * 86_400;
/// Longest `Title` and group `Name`.
pub const MAX_TITLE_CHARS: usize = 20;
/// Longest source address.
pub const MAX_SRC_LEN: usize = 1000;
/// Most `SrcAddrS`.
pub const MAX_SOURCES: usize = 30;
/// Longest `CallbackURL`.
pub const MAX_CALLBACK_LEN: usize = 512;
/// Longest ForbidStream period, and its default: 90 days.
pub const MAX_FORBID: i64 = 90 * 86_400;
/// Largest `Size` of the task lists.
pub const MAX_LIST_SIZE: i64 = 500;
/// Largest page number and size of the group and forbidden-stream lists.
pub const MAX_PAGE: i64 = 1000;

/// A request, parsed and validated: what to ask of the services.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// `spec.group` is the group to create the task in (checked by the handler).
    Create {
        spec: TaskSpec,
    },
    List {
        filter: ListFilter,
        page: Page,
    },
    /// `patch` carries every field the request gives; `group` only validates.
    Update {
        task_id: TaskId,
        group: Option<String>,
        patch: TaskPatch,
    },
    Stop {
        task_id: TaskId,
        group: Option<String>,
    },
    /// Continue / Restart (`from_start` false) and Relaunch (true).
    Enable {
        task_id: TaskId,
        group: Option<String>,
        from_start: bool,
    },
    Delete {
        task_id: TaskId,
        group: Option<String>,
    },
    CreateGroup {
        name: String,
        project: String,
        tags: Vec<Tag>,
    },
    UpdateGroup {
        name: String,
        tags: Vec<Tag>,
    },
    DeleteGroup {
        name: String,
    },
    ListGroups {
        statuses: Vec<GroupStatus>,
        page: Page,
    },
    Forbid {
        path: StreamPath,
        resume_at: UnixTime,
    },
    Resume {
        domain: String,
        app: String,
        stream: String,
    },
    Kill {
        path: StreamPath,
    },
    Forbidden {
        query: BlockQuery,
        page: Page,
    },
}

impl Call {
    /// Parses the parameters of `action` at `now`.
    pub fn parse(action: Action, input: &Input, now: UnixTime) -> Result<Call, ApiError> {
        let task_op = |input: &Input| -> Result<(TaskId, Option<String>), ApiError> {
            Ok((task_id(input)?, group_name(input, "GroupName")?))
        };
        Ok(match action {
            Action::CreatePullToPushTask => Call::Create {
                spec: parse_spec(input)?,
            },
            Action::ListPullToPushTask => parse_list(input, false)?,
            Action::ListPullToPushTaskV2 => parse_list(input, true)?,
            Action::UpdatePullToPushTask => parse_update(input)?,
            Action::StopPullToPushTask => {
                let (task_id, group) = task_op(input)?;
                Call::Stop { task_id, group }
            }
            Action::RestartPullToPushTask | Action::ContinuePullToPushTask => {
                let (task_id, group) = task_op(input)?;
                Call::Enable {
                    task_id,
                    group,
                    from_start: false,
                }
            }
            Action::RelaunchPullToPushTask => {
                let (task_id, group) = task_op(input)?;
                Call::Enable {
                    task_id,
                    group,
                    from_start: true,
                }
            }
            Action::DeletePullToPushTask => {
                let (task_id, group) = task_op(input)?;
                Call::Delete { task_id, group }
            }
            Action::CreatePullToPushGroup => Call::CreateGroup {
                name: required_group_name(input)?,
                project: {
                    let p = input.required_text("ProjectName")?;
                    check_len("ProjectName", &p, 64)?;
                    p
                },
                tags: tags(input, false)?,
            },
            Action::UpdatePullToPushGroup => Call::UpdateGroup {
                name: required_group_name(input)?,
                tags: tags(input, true)?,
            },
            Action::DeletePullToPushGroup => Call::DeleteGroup {
                name: required_group_name(input)?,
            },
            Action::ListPullToPushGroup => {
                let number = input.required_int("PageNum", 1, MAX_PAGE)? as u32;
                let size = input.required_int("PageSize", 1, MAX_PAGE)? as u32;
                let statuses = match input.ints("StatusList")? {
                    None => vec![GroupStatus::Available],
                    Some(codes) => codes
                        .into_iter()
                        .map(|c| {
                            i32::try_from(c)
                                .ok()
                                .and_then(GroupStatus::from_code)
                                .ok_or_else(|| {
                                    ApiError::invalid("StatusList", format!("{c} is not 0 or 1"))
                                })
                        })
                        .collect::<Result<_, _>>()?,
                };
                Call::ListGroups {
                    statuses,
                    page: Page { number, size },
                }
            }
            Action::ForbidStream => {
                let domain = required_domain(input)?;
                let app = part(input, "App", PathPart::App)?;
                let stream = part(input, "Stream", PathPart::Stream)?;
                input.int("Priority", i64::from(i32::MIN), i64::from(i32::MAX))?;
                let resume_at = match input.text("EndTime")? {
                    None => now + MAX_FORBID,
                    Some(v) => {
                        let t = crate::common::time::parse_rfc3339(&v).ok_or_else(|| {
                            ApiError::invalid(
                                "EndTime",
                                format!(
                                    "{v:?} is not an RFC3339 time, e.g. 2021-04-14T00:00:01.000Z"
                                ),
                            )
                        })?;
                        if t <= now {
                            return Err(ApiError::invalid(
                                "EndTime",
                                "the time is not in the future",
                            ));
                        }
                        if t > now + MAX_FORBID {
                            return Err(ApiError::invalid(
                                "EndTime",
                                "a stream can be forbidden for at most 90 days",
                            ));
                        }
                        t
                    }
                };
                Call::Forbid {
                    path: StreamPath::new(domain, app, stream),
                    resume_at,
                }
            }
            Action::ResumeStream => {
                let domain = required_domain(input)?;
                input.int("Priority", i64::from(i32::MIN), i64::from(i32::MAX))?;
                Call::Resume {
                    domain,
                    app: part(input, "App", PathPart::App)?,
                    stream: part(input, "Stream", PathPart::Stream)?,
                }
            }
            Action::KillStream => {
                let domain = required_domain(input)?;
                let app = part(input, "App", PathPart::App)?;
                let stream = part(input, "Stream", PathPart::Stream)?;
                Call::Kill {
                    path: StreamPath::new(domain, app, stream),
                }
            }
            Action::DescribeForbiddenStreamInfoByPage => {
                let number = input.required_int("PageNum", 1, i64::from(i32::MAX))? as u32;
                let size = input.required_int("PageSize", 1, MAX_PAGE)? as u32;
                let domain = vhost_or_domain(input, false)?;
                let app = optional_part(input, "App", PathPart::App)?;
                let stream = optional_part(input, "Stream", PathPart::Stream)?;
                let fuzzy = match input.text("QueryType")?.as_deref() {
                    None | Some("strict") => false,
                    Some("fuzzy") => true,
                    Some(v) => {
                        return Err(ApiError::invalid(
                            "QueryType",
                            format!("{v:?} is not one of fuzzy, strict"),
                        ));
                    }
                };
                let newest_end_first = match input.text("Sort")?.as_deref() {
                    None | Some("desc") => true,
                    Some("asc") => false,
                    Some(v) => {
                        return Err(ApiError::invalid(
                            "Sort",
                            format!("{v:?} is not one of asc, desc"),
                        ));
                    }
                };
                Call::Forbidden {
                    query: BlockQuery {
                        domain,
                        app,
                        stream,
                        fuzzy,
                        newest_end_first,
                    },
                    page: Page { number, size },
                }
            }
        })
    }

    /// The resource the call acts on, for the key's resource patterns: the ingest domain's
    /// name (as the Alibaba dialect names it), every domain (`*`) for a forbidden-stream
    /// search without one, `None` for task and group actions.
    pub fn resource(&self, account: &AccountId) -> Option<String> {
        match self {
            Call::Forbid { path, .. } | Call::Kill { path } => {
                Some(domain_arn(account, &path.domain))
            }
            Call::Resume { domain, .. } => Some(domain_arn(account, domain)),
            Call::Forbidden { query, .. } => {
                Some(domain_arn(account, query.domain.as_deref().unwrap_or("*")))
            }
            _ => None,
        }
    }
}

fn task_id(input: &Input) -> Result<TaskId, ApiError> {
    let v = input.required_text("TaskId")?;
    TaskId::parse(&v).map_err(|_| {
        ApiError::invalid(
            "TaskId",
            "a task ID is at most 55 characters of A-Z, a-z, 0-9, _ and -",
        )
    })
}

/// A name of 1–20 letters (any script) or digits: `Title`, group `Name`.
fn check_name(name: &str, v: &str) -> Result<(), ApiError> {
    let chars = v.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || !v.chars().all(char::is_alphanumeric) {
        return Err(ApiError::invalid(
            name,
            format!("{v:?} is not 1 to {MAX_TITLE_CHARS} letters or digits"),
        ));
    }
    Ok(())
}

/// `Title`: at most 20 characters without control characters. The provider documents
/// letters and digits only; Baton stores any text, so titles that work there work here.
fn check_title(v: &str) -> Result<(), ApiError> {
    if v.chars().count() > MAX_TITLE_CHARS || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "Title",
            format!("{v:?} is not at most {MAX_TITLE_CHARS} characters of text"),
        ));
    }
    Ok(())
}

fn group_name(input: &Input, name: &str) -> Result<Option<String>, ApiError> {
    let v = input.text(name)?;
    if let Some(v) = &v {
        check_name(name, v)?;
    }
    Ok(v)
}

fn required_group_name(input: &Input) -> Result<String, ApiError> {
    group_name(input, "Name")?.ok_or_else(|| ApiError::MissingParameter("Name".into()))
}

/// `Tags`: Create's `{Key, Value}` (Category `Custom`), Update's `{Category, Key, Value}`.
fn tags(input: &Input, category_required: bool) -> Result<Vec<Tag>, ApiError> {
    const NAME: &str = "Tags";
    let Some(items) = input.objects(NAME)? else {
        return Ok(Vec::new());
    };
    if items.len() > 50 {
        return Err(ApiError::invalid(NAME, "at most 50 tags are allowed"));
    }
    items
        .iter()
        .map(|item| {
            let category = match item.text("Category")? {
                None if category_required => {
                    return Err(ApiError::MissingParameter("Tags.Category".into()));
                }
                None => "Custom".to_string(),
                Some(c) if c == "System" || c == "Custom" => c,
                Some(c) => {
                    return Err(ApiError::invalid(
                        "Tags.Category",
                        format!("{c:?} is not one of System, Custom"),
                    ));
                }
            };
            let key = item
                .text("Key")?
                .ok_or_else(|| ApiError::MissingParameter("Tags.Key".into()))?;
            check_len("Tags.Key", &key, 128)?;
            let value = item.string("Value")?.unwrap_or_default();
            check_len("Tags.Value", &value, 256)?;
            Ok(Tag {
                category,
                key,
                value,
            })
        })
        .collect()
}

fn path_error(name: &str, e: PathError) -> ApiError {
    ApiError::invalid(name, e.reason)
}

fn part(input: &Input, name: &str, part: PathPart) -> Result<String, ApiError> {
    let v = input.required_text(name)?;
    check_part(part, &v).map_err(|e| path_error(name, e))?;
    Ok(v)
}

fn optional_part(input: &Input, name: &str, p: PathPart) -> Result<Option<String>, ApiError> {
    match input.text(name)? {
        None => Ok(None),
        Some(_) => part(input, name, p).map(Some),
    }
}

/// `Vhost` or `Domain`, exactly one.
fn required_domain(input: &Input) -> Result<String, ApiError> {
    vhost_or_domain(input, true)?.ok_or_else(|| ApiError::MissingParameter("Domain".into()))
}

/// `Vhost` or `Domain` (exactly one when `required`, at most one otherwise): Baton's ingest
/// domain either way (Baton's vhosts are its domains). Lower-cased.
fn vhost_or_domain(input: &Input, required: bool) -> Result<Option<String>, ApiError> {
    let (vhost, domain) = (input.text("Vhost")?, input.text("Domain")?);
    let (name, v) = match (vhost, domain) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "Domain",
                "give either Domain or Vhost, not both",
            ));
        }
        (Some(v), None) => ("Vhost", v),
        (None, Some(d)) => ("Domain", d),
        (None, None) if required => return Err(ApiError::MissingParameter("Domain".into())),
        (None, None) => return Ok(None),
    };
    check_domain(&v).map_err(|e| path_error(name, e))?;
    Ok(Some(v.to_ascii_lowercase()))
}

fn parse_list(input: &Input, v2: bool) -> Result<Call, ApiError> {
    let number = input.int("Page", 1, i64::from(i32::MAX))?.unwrap_or(1) as u32;
    let size = input.int("Size", 1, MAX_LIST_SIZE)?.unwrap_or(20) as u32;
    let name = input.text("Title")?;
    if let Some(t) = &name {
        check_len("Title", t, MAX_TITLE_CHARS)?;
    }
    let groups = if v2 {
        match input.strings("GroupNames")? {
            Some(names) if !names.is_empty() => {
                for n in &names {
                    check_name("GroupNames", n)?;
                }
                Some(names)
            }
            _ => None,
        }
    } else {
        None
    };
    Ok(Call::List {
        filter: ListFilter {
            name,
            groups,
            ..ListFilter::default()
        },
        page: Page { number, size },
    })
}

/// What Create and Update share: the source, destination, times and loop fields.
struct Common {
    name: Option<String>,
    source_type: SourceType,
    source_protocol: Option<SourceProtocol>,
    source_urls: Vec<String>,
    dst_url: String,
    start_time: UnixTime,
    end_time: UnixTime,
    /// `Some("")` clears (Update).
    callback_url: Option<String>,
    /// `None`: not given (live sources; Update keeps the stored value).
    repeat_number: Option<i32>,
    /// `None`: no offset field given.
    offset: Option<u32>,
}

fn parse_common(input: &Input) -> Result<Common, ApiError> {
    let start_time = input.required_int("StartTime", 0, i64::from(u32::MAX))?;
    let end_time = input.required_int("EndTime", 0, i64::from(u32::MAX))?;
    if end_time <= start_time {
        return Err(ApiError::invalid(
            "EndTime",
            "the end time must be later than the start time",
        ));
    }
    if end_time - start_time > MAX_DURATION {
        return Err(ApiError::invalid(
            "EndTime",
            "a task lasts at most 7 days (EndTime - StartTime <= 604800)",
        ));
    }
    let source_type = match input.required_int("Type", 0, 1)? {
        0 => SourceType::Live,
        _ => SourceType::Url,
    };
    let name = input.string("Title")?;
    if let Some(t) = &name {
        check_title(t)?;
    }
    let callback_url = input.string("CallbackURL")?;
    if let Some(url) = callback_url.as_deref().filter(|u| !u.is_empty()) {
        check_len("CallbackURL", url, MAX_CALLBACK_LEN)?;
        check_url("CallbackURL", url, &["http", "https"])?;
    }
    if input.has("Watermark") {
        return Err(unsupported(
            "Watermark",
            "watermarks need transcoding, which Baton does not do",
        ));
    }
    if let Some(1) = input.int("ContinueStrategy", 0, 1)? {
        return Err(unsupported(
            "ContinueStrategy",
            "1 (resume at the break point plus the time elapsed) is not supported; 0 is",
        ));
    }
    input.int("PreDownload", 0, 1)?;
    let dst_url = destination(input)?;

    let (source_protocol, source_urls, repeat_number, offset) = match source_type {
        SourceType::Live => {
            let url = input.required_text("SrcAddr")?;
            check_len("SrcAddr", &url, MAX_SRC_LEN)?;
            let protocol = live_protocol(&url)?;
            let urls = vec![url];
            check_source_urls(SourceType::Live, Some(protocol), &urls)
                .map_err(|e| rename(e, "SrcAddr"))?;
            (Some(protocol), urls, None, None)
        }
        _ => {
            let (urls, offsets) = vod_sources(input)?;
            let repeat = repeat_number(input)?;
            let offset = first_offset(input, &offsets, urls.len(), repeat)?;
            (None, urls, Some(repeat), offset)
        }
    };
    Ok(Common {
        name,
        source_type,
        source_protocol,
        source_urls,
        dst_url,
        start_time,
        end_time,
        callback_url,
        repeat_number,
        offset,
    })
}

fn parse_spec(input: &Input) -> Result<TaskSpec, ApiError> {
    let c = parse_common(input)?;
    let group = group_name(input, "GroupName")?.unwrap_or_else(|| DEFAULT_GROUP.to_string());
    Ok(TaskSpec {
        name: c.name.unwrap_or_default(),
        group,
        region: String::new(),
        source_type: c.source_type,
        source_protocol: c.source_protocol,
        source_urls: c.source_urls,
        dst_url: c.dst_url,
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: c.start_time,
        end_time: c.end_time,
        callback_url: c.callback_url.filter(|u| !u.is_empty()),
        repeat_number: c.repeat_number.unwrap_or(0),
        retry_count: 3,
        retry_interval: 60,
        file_index: 0,
        offset: c.offset.unwrap_or(0),
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    })
}

/// UpdatePullToPushTask: the provider's full replacement of the fields it knows (TaskId,
/// StartTime, EndTime and Type required). An absent `Title` or `CallbackURL` keeps the stored
/// value and an empty one clears it; fields only other dialects know (retries, FileIndex…)
/// are kept. Which changes the task's state allows is the domain's call.
fn parse_update(input: &Input) -> Result<Call, ApiError> {
    let task_id = task_id(input)?;
    let group = group_name(input, "GroupName")?;
    let c = parse_common(input)?;
    let patch = TaskPatch {
        name: c.name,
        source_type: Some(c.source_type),
        source_protocol: Some(c.source_protocol),
        source_urls: Some(c.source_urls),
        dst_url: Some(c.dst_url),
        start_time: Some(c.start_time),
        end_time: Some(c.end_time),
        callback_url: c.callback_url.map(|u| Some(u).filter(|u| !u.is_empty())),
        repeat_number: c.repeat_number,
        file_index: c.offset.map(|_| 0),
        offset: c.offset,
        ..TaskPatch::default()
    };
    Ok(Call::Update {
        task_id,
        group,
        patch,
    })
}

/// `DstAddr`, or `rtmp://Domain/App/Stream`.
fn destination(input: &Input) -> Result<String, ApiError> {
    if let Some(url) = input.text("DstAddr")? {
        check_len("DstAddr", &url, 2000)?;
        check_url("DstAddr", &url, baton_domain::DESTINATION_SCHEMES)?;
        return Ok(url);
    }
    if !(input.has("Domain") || input.has("App") || input.has("Stream")) {
        return Err(ApiError::MissingParameter("DstAddr".into()));
    }
    let domain = input.required_text("Domain")?;
    check_domain(&domain).map_err(|e| path_error("Domain", e))?;
    let app = part(input, "App", PathPart::App)?;
    let stream = part(input, "Stream", PathPart::Stream)?;
    Ok(format!(
        "rtmp://{}/{app}/{stream}",
        domain.to_ascii_lowercase()
    ))
}

/// The protocol of a live source, told by its URL.
pub(crate) fn live_protocol(url: &str) -> Result<SourceProtocol, ApiError> {
    let parsed = url::Url::parse(url)
        .map_err(|_| ApiError::invalid("SrcAddr", format!("{url:?} is not a URL")))?;
    Ok(match parsed.scheme() {
        "rtmp" | "rtmps" => SourceProtocol::Rtmp,
        "http" | "https" if parsed.path().to_ascii_lowercase().ends_with(".m3u8") => {
            SourceProtocol::Hls
        }
        "http" | "https" => SourceProtocol::HttpFlv,
        "srt" => SourceProtocol::Srt,
        "rtsp" | "rtsps" => SourceProtocol::Rtsp,
        other => {
            return Err(ApiError::invalid(
                "SrcAddr",
                format!("the scheme {other} is not one of rtmp, rtmps, http, https, srt, rtsp"),
            ));
        }
    })
}

/// The file list of a `Type` 1 task and the per-file start offsets given with it.
fn vod_sources(input: &Input) -> Result<(Vec<String>, Vec<f64>), ApiError> {
    let listed = input.strings("SrcAddrS")?;
    let offsets = input.seconds_list("OffsetS")?;
    let vod = input.objects("VodSrcAddrs")?;
    let (urls, offsets, name) = match (listed, vod) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "VodSrcAddrs",
                "give either VodSrcAddrs or SrcAddrS, not both",
            ));
        }
        (None, Some(_)) if offsets.is_some() => {
            return Err(ApiError::invalid(
                "VodSrcAddrs",
                "VodSrcAddrs and OffsetS cannot be given together",
            ));
        }
        (Some(urls), None) => {
            let offsets = offsets.unwrap_or_default();
            if !offsets.is_empty() && offsets.len() != urls.len() {
                return Err(ApiError::invalid(
                    "OffsetS",
                    format!("{} offsets for {} addresses", offsets.len(), urls.len()),
                ));
            }
            (urls, offsets, "SrcAddrS")
        }
        (None, Some(items)) => {
            let mut urls = Vec::with_capacity(items.len());
            let mut offsets = Vec::with_capacity(items.len());
            for item in &items {
                urls.push(
                    item.text("SrcAddr")?
                        .ok_or_else(|| ApiError::MissingParameter("VodSrcAddrs.SrcAddr".into()))?,
                );
                offsets.push(item.seconds("StartOffset")?.unwrap_or(0.0));
                if item.seconds("EndOffset")?.is_some_and(|x| x > 0.0) {
                    return Err(unsupported(
                        "VodSrcAddrs.EndOffset",
                        "ending a file before its end is not supported",
                    ));
                }
            }
            (urls, offsets, "VodSrcAddrs")
        }
        (None, None) => return Err(ApiError::MissingParameter("SrcAddrS".into())),
    };
    if urls.is_empty() || urls.len() > MAX_SOURCES {
        return Err(ApiError::invalid(
            name,
            format!("{} addresses; 1 to {MAX_SOURCES} are allowed", urls.len()),
        ));
    }
    for url in &urls {
        check_len(name, url, MAX_SRC_LEN)?;
    }
    check_source_urls(SourceType::Url, None, &urls).map_err(|e| rename(e, name))?;
    Ok((urls, offsets))
}

/// `CycleMode` (required for files) and `PlayTimes` → RepeatNumber (extra passes).
fn repeat_number(input: &Input) -> Result<i32, ApiError> {
    let mode = input.required_int("CycleMode", -1, i64::from(i32::MAX))?;
    let play_times = input.int("PlayTimes", 0, i64::from(i32::MAX))?;
    let passes = match mode {
        -1 => return Ok(-1),
        0 => match play_times {
            Some(n) if n >= 1 => n,
            _ => {
                return Err(ApiError::invalid(
                    "PlayTimes",
                    "CycleMode 0 plays the list PlayTimes times: give 1 or more",
                ));
            }
        },
        n => n,
    };
    Ok((passes - 1) as i32)
}

/// The start offset of the first item: legacy `Offset` (one address, no `OffsetS`), or the
/// per-file offsets when only the first is non-zero and the list plays once.
fn first_offset(
    input: &Input,
    offsets: &[f64],
    files: usize,
    repeat: i32,
) -> Result<Option<u32>, ApiError> {
    let legacy = input.seconds("Offset")?;
    if offsets.iter().all(|x| *x == 0.0) {
        if let Some(x) = legacy {
            if files != 1 {
                return Err(ApiError::invalid(
                    "Offset",
                    "Offset applies to a single address; use OffsetS for a list",
                ));
            }
            return Ok(Some(x as u32));
        }
        return Ok((!offsets.is_empty()).then_some(0));
    }
    if legacy.is_some() {
        return Err(ApiError::invalid(
            "Offset",
            "Offset cannot be given with per-file offsets",
        ));
    }
    if offsets[1..].iter().any(|x| *x != 0.0) || repeat != 0 {
        return Err(unsupported(
            "OffsetS",
            "per-file start offsets are supported on the first file of a list played once",
        ));
    }
    Ok(Some(offsets[0] as u32))
}

fn unsupported(name: &str, why: &str) -> ApiError {
    ApiError::NotSupported {
        name: name.to_string(),
        reason: why.to_string(),
    }
}

/// Renames the parameter an `InvalidParameter` names (shared checks say `SourceUrls`).
fn rename(e: ApiError, name: &str) -> ApiError {
    match e {
        ApiError::InvalidParameter { reason, .. } => ApiError::invalid(name, reason),
        other => other,
    }
}
