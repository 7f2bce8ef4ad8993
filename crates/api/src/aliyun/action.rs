//! The dialect's actions, and each request parsed into an exhaustive [`Call`].

use baton_domain::{
    AccountId, AppSelector, DEFAULT_GROUP, ListFilter, Page, PathPart, Rejection, SourceType,
    StreamPath, TaskId, TaskPatch, TaskSpec, UnixTime,
};

use super::fields::{Fields, MAX_LEN, MAX_NAME_LEN, check_source_urls, check_task_id_chars};
use crate::common::params::Params;
use crate::config::ApiConfig;
use crate::error::ApiError;

/// The API version of the dialect.
pub const VERSION: &str = "2016-11-01";

/// The seven pull-to-push actions and the three ingest-control actions. Names are
/// case-sensitive, as POP's are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    CreateLivePullToPush,
    DescribeLivePullToPush,
    DescribeLivePullToPushList,
    UpdateLivePullToPush,
    StopLivePullToPush,
    RestartLivePullToPush,
    DeleteLivePullToPush,
    ForbidLiveStream,
    ResumeLiveStream,
    DescribeLiveStreamsBlockList,
    DescribeLiveStreamsOnlineList,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 11] = [
        Action::CreateLivePullToPush,
        Action::DescribeLivePullToPush,
        Action::DescribeLivePullToPushList,
        Action::UpdateLivePullToPush,
        Action::StopLivePullToPush,
        Action::RestartLivePullToPush,
        Action::DeleteLivePullToPush,
        Action::ForbidLiveStream,
        Action::ResumeLiveStream,
        Action::DescribeLiveStreamsBlockList,
        Action::DescribeLiveStreamsOnlineList,
    ];

    /// The wire name (`Action` parameter, `x-acs-action` header).
    pub fn name(self) -> &'static str {
        match self {
            Action::CreateLivePullToPush => "CreateLivePullToPush",
            Action::DescribeLivePullToPush => "DescribeLivePullToPush",
            Action::DescribeLivePullToPushList => "DescribeLivePullToPushList",
            Action::UpdateLivePullToPush => "UpdateLivePullToPush",
            Action::StopLivePullToPush => "StopLivePullToPush",
            Action::RestartLivePullToPush => "RestartLivePullToPush",
            Action::DeleteLivePullToPush => "DeleteLivePullToPush",
            Action::ForbidLiveStream => "ForbidLiveStream",
            Action::ResumeLiveStream => "ResumeLiveStream",
            Action::DescribeLiveStreamsBlockList => "DescribeLiveStreamsBlockList",
            Action::DescribeLiveStreamsOnlineList => "DescribeLiveStreamsOnlineList",
        }
    }

    /// The action of a wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The RAM action a key's policy must allow: `live:<Action>`.
    pub fn ram_action(self) -> String {
        format!("live:{}", self.name())
    }
}

/// A request, parsed and validated: what to ask of the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Create {
        spec: TaskSpec,
    },
    /// `region` is the `Region` sent: a task is found only in its own region (see
    /// `handler.rs`), as are those of Stop, Restart and Delete.
    Describe {
        task_id: TaskId,
        region: String,
    },
    List {
        filter: ListFilter,
        page: Page,
    },
    /// `region` is the `Region` sent; a different one than the task's moves a task that has
    /// not started, and does not find one that has (the handler compares, see `handler.rs`).
    /// `patch.region` is `None` here, and `patch.source_urls` are checked for count and
    /// length only (their schemes depend on the task's type, known after a lookup).
    Update {
        task_id: TaskId,
        region: String,
        patch: TaskPatch,
    },
    Stop {
        task_id: TaskId,
        region: String,
    },
    Restart {
        task_id: TaskId,
        region: String,
    },
    Delete {
        task_id: TaskId,
        region: String,
    },
    /// ForbidLiveStream. `resume_at` is in the future when given; `None` leaves the
    /// default (6 calendar months) to the service.
    Forbid {
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    },
    /// ResumeLiveStream (`AppName=*`: every app).
    Resume {
        domain: String,
        app: AppSelector,
        stream: String,
    },
    /// DescribeLiveStreamsBlockList.
    BlockList {
        domain: String,
        page: Page,
    },
    /// DescribeLiveStreamsOnlineList.
    OnlineList(OnlineQuery),
}

/// DescribeLiveStreamsOnlineList's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlineQuery {
    pub domain: String,
    pub app: Option<String>,
    pub stream: Option<String>,
    /// `QueryType`: `fuzzy` (default, `stream` is a substring of the name) or `strict`.
    pub fuzzy: bool,
    /// `OnlyStream=yes`: DomainName, AppName, StreamName and PublishTime alone.
    pub only_stream: bool,
    /// `StreamType=trans`: transcoded streams only — Baton transcodes nothing, so none.
    pub transcoded_only: bool,
    pub page: Page,
}

impl OnlineQuery {
    /// Whether a stream at `app`/`stream` (on the query's domain) is asked for.
    pub fn matches(&self, app: &str, stream: &str) -> bool {
        self.app.as_ref().is_none_or(|a| a == app)
            && self.stream.as_ref().is_none_or(|s| {
                if self.fuzzy {
                    stream.contains(s.as_str())
                } else {
                    s == stream
                }
            })
    }
}

impl Call {
    /// Parses the parameters of `action`. Required parameters are checked in the order of
    /// the provider's reference, so the first missing one is named.
    pub fn parse(action: Action, params: &Params, config: &ApiConfig) -> Result<Call, ApiError> {
        let f = Fields::new(params);
        // Common parameters the SDK models type as integers.
        f.int("OwnerId", i64::MIN, i64::MAX)?;
        let by_id = |f: &Fields| -> Result<(TaskId, String), ApiError> {
            let region = f.region(&config.regions)?;
            Ok((TaskId(f.task_id("TaskId")?), region))
        };
        Ok(match action {
            Action::CreateLivePullToPush => Call::Create {
                spec: parse_spec(&f, config)?,
            },
            Action::DescribeLivePullToPush => {
                let (task_id, region) = by_id(&f)?;
                Call::Describe { task_id, region }
            }
            Action::StopLivePullToPush => {
                let (task_id, region) = by_id(&f)?;
                Call::Stop { task_id, region }
            }
            Action::RestartLivePullToPush => {
                let (task_id, region) = by_id(&f)?;
                Call::Restart { task_id, region }
            }
            Action::DeleteLivePullToPush => {
                let (task_id, region) = by_id(&f)?;
                Call::Delete { task_id, region }
            }
            Action::DescribeLivePullToPushList => parse_list(&f, config)?,
            Action::UpdateLivePullToPush => parse_update(&f, config)?,
            Action::ForbidLiveStream => parse_forbid(&f, config)?,
            // The reference's order: DomainName, LiveStreamType, AppName, StreamName (seed 002).
            Action::ResumeLiveStream => {
                let domain = f.domain()?;
                f.live_stream_type()?;
                Call::Resume {
                    domain,
                    app: f.app_selector()?,
                    stream: f.path_part(PathPart::Stream)?,
                }
            }
            Action::DescribeLiveStreamsBlockList => Call::BlockList {
                domain: f.domain()?,
                page: Page {
                    number: int_or(&f, "PageNum", 1, i64::from(i32::MAX), 1)? as u32,
                    size: int_or(&f, "PageSize", 1, MAX_BLOCK_PAGE_SIZE, 2000)? as u32,
                },
            },
            Action::DescribeLiveStreamsOnlineList => Call::OnlineList(parse_online(&f)?),
        })
    }

    /// The action this call answers.
    pub fn action(&self) -> Action {
        match self {
            Call::Create { .. } => Action::CreateLivePullToPush,
            Call::Describe { .. } => Action::DescribeLivePullToPush,
            Call::List { .. } => Action::DescribeLivePullToPushList,
            Call::Update { .. } => Action::UpdateLivePullToPush,
            Call::Stop { .. } => Action::StopLivePullToPush,
            Call::Restart { .. } => Action::RestartLivePullToPush,
            Call::Delete { .. } => Action::DeleteLivePullToPush,
            Call::Forbid { .. } => Action::ForbidLiveStream,
            Call::Resume { .. } => Action::ResumeLiveStream,
            Call::BlockList { .. } => Action::DescribeLiveStreamsBlockList,
            Call::OnlineList(_) => Action::DescribeLiveStreamsOnlineList,
        }
    }

    /// The RAM resource the call acts on, for the key's resource patterns: the domain's ARN
    /// for ingest control, `None` for the pull-to-push actions (no resource-level
    /// authorization: resource `*`).
    pub fn resource(&self, account: &AccountId) -> Option<String> {
        match self {
            Call::Forbid { path, .. } => Some(domain_arn(account, &path.domain)),
            Call::Resume { domain, .. }
            | Call::BlockList { domain, .. }
            | Call::OnlineList(OnlineQuery { domain, .. }) => Some(domain_arn(account, domain)),
            Call::Create { .. }
            | Call::Describe { .. }
            | Call::List { .. }
            | Call::Update { .. }
            | Call::Stop { .. }
            | Call::Restart { .. }
            | Call::Delete { .. } => None,
        }
    }
}

/// The RAM resource of an ingest domain: `acs:cdn:*:{account}:domain/{domain}` (the provider
/// names the ARN service `cdn` although the actions are `live:`; cloud-apis.md §2.2).
pub fn domain_arn(account: &AccountId, domain: &str) -> String {
    format!("acs:cdn:*:{account}:domain/{domain}")
}

/// Largest `PageSize` of DescribeLiveStreamsBlockList.
pub const MAX_BLOCK_PAGE_SIZE: i64 = 3000;

/// Largest `PageSize` of DescribeLiveStreamsOnlineList (default 2000).
pub const MAX_ONLINE_PAGE_SIZE: i64 = 3000;

/// DescribeLiveStreamsOnlineList, in the reference's order: DomainName (required), AppName,
/// StreamName, OnlyStream (`yes`/`no`), PageSize (1–3000, default 2000), PageNum (default 1),
/// StreamType (`all` default, `raw`, `trans`), QueryType (`fuzzy` default, `strict`).
/// `OrderBy`, which the reference does not define, is refused rather than ignored.
fn parse_online(f: &Fields) -> Result<OnlineQuery, ApiError> {
    let domain = f.domain()?;
    let optional_part = |part: PathPart| -> Result<Option<String>, ApiError> {
        match f.optional(part.param()) {
            Some(_) => f.path_part(part).map(Some),
            None => Ok(None),
        }
    };
    let app = optional_part(PathPart::App)?;
    let stream = optional_part(PathPart::Stream)?;
    let only_stream = f.yes_no("OnlyStream")?.unwrap_or(false);
    let page = Page {
        size: int_or(f, "PageSize", 1, MAX_ONLINE_PAGE_SIZE, 2000)? as u32,
        number: int_or(f, "PageNum", 1, i64::from(i32::MAX), 1)? as u32,
    };
    let transcoded_only = match f.optional("StreamType").unwrap_or("all") {
        "all" | "raw" => false,
        "trans" => true,
        v => {
            return Err(ApiError::invalid(
                "StreamType",
                format!("{v:?} is not one of all, raw, trans"),
            ));
        }
    };
    let fuzzy = match f.optional("QueryType").unwrap_or("fuzzy") {
        "fuzzy" => true,
        "strict" => false,
        v => {
            return Err(ApiError::invalid(
                "QueryType",
                format!("{v:?} is not one of fuzzy, strict"),
            ));
        }
    };
    if f.raw("OrderBy").is_some() {
        return Err(ApiError::invalid(
            "OrderBy",
            "not supported: streams are listed by AppName, then StreamName",
        ));
    }
    Ok(OnlineQuery {
        domain,
        app,
        stream,
        fuzzy,
        only_stream,
        transcoded_only,
        page,
    })
}

/// ForbidLiveStream: DomainName, AppName, StreamName, LiveStreamType (publisher), then the
/// optional ResumeTime (in the future) and Oneshot (`yes` / `no`, default `no`).
fn parse_forbid(f: &Fields, config: &ApiConfig) -> Result<Call, ApiError> {
    let domain = f.domain()?;
    let app = f.path_part(PathPart::App)?;
    let stream = f.path_part(PathPart::Stream)?;
    f.live_stream_type()?;
    let resume_at = f.time("ResumeTime")?;
    if let Some(t) = resume_at
        && t <= config.clock.now()
    {
        return Err(ApiError::invalid(
            "ResumeTime",
            "the time is not in the future",
        ));
    }
    Ok(Call::Forbid {
        path: StreamPath::new(domain, app, stream),
        resume_at,
        oneshot: f.yes_no("Oneshot")?.unwrap_or(false),
    })
}

/// CreateLivePullToPush → a complete spec with the documented defaults (RetryCount 3,
/// RetryInterval 60, RepeatNumber 0, FileIndex 0, Offset 0, TaskName "").
fn parse_spec(f: &Fields, config: &ApiConfig) -> Result<TaskSpec, ApiError> {
    let region = f.region(&config.regions)?;
    let source_type = f
        .source_type()?
        .ok_or_else(|| ApiError::MissingParameter("SourceType".into()))?;
    // Required only for live sources; "invalid" (ignored) for vod and url.
    let source_protocol = match source_type {
        SourceType::Live => Some(
            f.source_protocol()?
                .ok_or_else(|| ApiError::MissingParameter("SourceProtocol".into()))?,
        ),
        SourceType::Vod | SourceType::Url => {
            f.source_protocol()?;
            None
        }
    };
    let source_urls = f
        .source_urls()?
        .ok_or_else(|| ApiError::MissingParameter("SourceUrls".into()))?;
    check_source_urls(source_type, source_protocol, &source_urls)?;
    // The provider documents rtmp:// destinations; rtmps:// (RTMP over TLS, as Facebook Live
    // takes it) and srt:// (MPEG-TS over SRT) are Baton's documented extensions (README,
    // "RTMPS", "SRT destinations").
    let dst_url = f
        .url("DstUrl", baton_domain::DESTINATION_SCHEMES)?
        .ok_or_else(|| ApiError::MissingParameter("DstUrl".into()))?;
    let start_time = f.required_time("StartTime")?;
    let end_time = f.required_time("EndTime")?;
    if end_time <= start_time {
        return Err(ApiError::Rejected(Rejection::IllegalDuration));
    }
    let spec = TaskSpec {
        name: f.text("TaskName", MAX_NAME_LEN)?.unwrap_or_default(),
        group: DEFAULT_GROUP.to_string(),
        region,
        source_type,
        source_protocol,
        source_urls,
        dst_url,
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time,
        end_time,
        callback_url: f.url("CallbackUrl", &["http", "https"])?,
        repeat_number: repeat_number(f)?.unwrap_or(0),
        retry_count: int_or(f, "RetryCount", 0, 100, 3)? as u32,
        retry_interval: int_or(f, "RetryInterval", 60, 300, 60)? as u32,
        file_index: int_or(f, "FileIndex", 0, MAX_SOURCE_INDEX, 0)? as u32,
        offset: int_or(f, "Offset", 0, i64::from(i32::MAX), 0)? as u32,
        auth_key: f.text("AuthKey", MAX_LEN)?,
        req_auth: f.text("ReqAuth", MAX_LEN)?,
        notify_item_switch: f.text("NotifyItemSwitch", MAX_LEN)?,
    };
    if matches!(spec.source_type, SourceType::Vod | SourceType::Url)
        && spec.file_index as usize >= spec.source_urls.len()
    {
        return Err(ApiError::invalid(
            "FileIndex",
            format!(
                "{} is past the last of {} source URLs",
                spec.file_index,
                spec.source_urls.len()
            ),
        ));
    }
    Ok(spec)
}

/// FileIndex upper bound: the last index of a 30-item playlist.
const MAX_SOURCE_INDEX: i64 = 29;

fn parse_list(f: &Fields, config: &ApiConfig) -> Result<Call, ApiError> {
    let region = f.region(&config.regions)?;
    let task_id = f.optional("TaskId").map(str::to_string);
    if let Some(id) = &task_id {
        check_task_id_chars("TaskId", id)?;
    }
    let filter = ListFilter {
        task_id,
        name: f.text("TaskName", MAX_NAME_LEN)?,
        dst_url: f.text("DstUrl", MAX_LEN)?,
        region: Some(region),
        status: None,
        groups: None,
    };
    let page = Page {
        number: int_or(f, "PageNumber", 1, i64::from(i32::MAX), 1)? as u32,
        size: int_or(f, "PageSize", 1, 100, 10)? as u32,
    };
    Ok(Call::List { filter, page })
}

/// UpdateLivePullToPush: every field of Create is accepted as optional (the provider's
/// newest reference: "if a task is stopped, you can update all parameters except Region";
/// older ones also allow SourceType and DstUrl before the start). Which fields the task's
/// state allows is the domain's call. A blank `CallbackUrl`, `AuthKey`, `ReqAuth` or
/// `NotifyItemSwitch` clears the field.
fn parse_update(f: &Fields, config: &ApiConfig) -> Result<Call, ApiError> {
    let task_id = TaskId(f.task_id("TaskId")?);
    let region = f.region(&config.regions)?;
    let start_time = f.time("StartTime")?;
    let end_time = f.time("EndTime")?;
    if let (Some(start), Some(end)) = (start_time, end_time)
        && end <= start
    {
        return Err(ApiError::Rejected(Rejection::IllegalDuration));
    }
    let clearable = |name: &str| -> Result<Option<Option<String>>, ApiError> {
        Ok(match f.raw(name) {
            None => None,
            Some("") => Some(None),
            Some(_) => Some(f.text(name, MAX_LEN)?),
        })
    };
    let callback_url = match f.raw("CallbackUrl") {
        None => None,
        Some("") => Some(None),
        Some(_) => Some(f.url("CallbackUrl", &["http", "https"])?),
    };
    let patch = TaskPatch {
        name: f.text("TaskName", MAX_NAME_LEN)?,
        region: None,
        source_type: f.source_type()?,
        source_protocol: f.source_protocol()?.map(Some),
        source_urls: f.source_urls()?,
        dst_url: f.url("DstUrl", baton_domain::DESTINATION_SCHEMES)?,
        // One destination (Alibaba has no others): a task's extra destinations stay.
        extra_dst_urls: None,
        // No backup sources in this dialect: a task's failover settings stay.
        failover: None,
        // No slate setting in this dialect: a task's stays (the operator's `[slate]` by default).
        slate: None,
        start_time,
        end_time,
        callback_url,
        repeat_number: repeat_number(f)?,
        retry_count: f.int("RetryCount", 0, 100)?.map(|n| n as u32),
        retry_interval: f.int("RetryInterval", 60, 300)?.map(|n| n as u32),
        file_index: f.int("FileIndex", 0, MAX_SOURCE_INDEX)?.map(|n| n as u32),
        offset: f.int("Offset", 0, i64::from(i32::MAX))?.map(|n| n as u32),
        auth_key: clearable("AuthKey")?,
        req_auth: clearable("ReqAuth")?,
        notify_item_switch: clearable("NotifyItemSwitch")?,
    };
    Ok(Call::Update {
        task_id,
        region,
        patch,
    })
}

/// `RepeatNumber`, or `RepeatTime`: the provider's own Update reference (seed 003) names the
/// field `RepeatTime` ("you can update only the CallbackUrl and RepeatTime parameters"), so a
/// client that follows that text sends it. Both name one field: given both, they must agree.
fn repeat_number(f: &Fields) -> Result<Option<i32>, ApiError> {
    let range = (-1, i64::from(i32::MAX));
    let number = f.int("RepeatNumber", range.0, range.1)?;
    let time = f.int("RepeatTime", range.0, range.1)?;
    match (number, time) {
        (Some(n), Some(t)) if n != t => Err(ApiError::invalid(
            "RepeatTime",
            format!(
                "RepeatTime ({t}) is another name of RepeatNumber ({n}); give one, or equal values"
            ),
        )),
        // The range check above bounds the value to i32.
        (n, t) => Ok(n.or(t).map(|v| v as i32)),
    }
}

fn int_or(f: &Fields, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
    Ok(f.int(name, min, max)?.unwrap_or(default))
}
