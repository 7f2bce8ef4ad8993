//! The request pipeline of the Alibaba dialect, in POP's order:
//!
//! 1. read the body (bounded), decode query and form parameters;
//! 2. route: signature style, action and version (404 `InvalidAction.NotFound` for an
//!    unknown action, as the gateway answers before authenticating);
//! 3. authenticate ([`super::auth`]), then authorize the action against the key's policy;
//! 4. throttle per account and action, at the action's rate ([`ApiConfig::rate_of`]);
//! 5. spend the signature nonce ([`Replay::spend`]: durable before anything executes; a
//!    refused request above spent nothing);
//! 6. parse the action's parameters into a [`Call`]; if it acts on a resource (an ingest
//!    domain), authorize the resource against the key's resource patterns;
//! 7. call the [`TaskService`] or the [`StreamService`], and write the response DTO — or the
//!    error envelope.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use baton_domain::{AccountId, Command, Rejection, SourceType, Task, TaskId, TaskStatus};
use serde::Serialize;
use tracing::{debug, error};

use super::action::{Action, Call, VERSION};
use super::auth::{Authenticator, Style};
use super::dto::{
    BlockListResponse, CreateResponse, DescribeResponse, ListResponse, OkResponse, OnlineInfo,
    OnlineListResponse, OnlineStream, RequestIdResponse, StreamUrls, TaskEntry, TaskIdResponse,
};
use super::error::{ErrorBody, WireError, recommend};
use super::fields::check_source_urls;
use crate::common::keys::KeyStore;
use crate::common::params::Params;
use crate::common::replay::{Replay, nonce_entry};
use crate::common::request_id;
use crate::common::throttle::ActionThrottle;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::service::{ServiceError, StreamError, StreamService, TaskService};

/// Everything a request needs, shared by all of them.
pub struct AppState {
    tasks: Arc<dyn TaskService>,
    streams: Arc<dyn StreamService>,
    keys: Arc<dyn KeyStore>,
    config: ApiConfig,
    replay: Replay,
    throttle: ActionThrottle<Action>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("replay", &self.replay.len())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        tasks: Arc<dyn TaskService>,
        streams: Arc<dyn StreamService>,
        keys: Arc<dyn KeyStore>,
        replay: Replay,
        config: ApiConfig,
    ) -> AppState {
        AppState {
            tasks,
            streams,
            keys,
            replay,
            throttle: ActionThrottle::new(Action::ALL.map(|a| (a, a.name())), &config),
            config,
        }
    }
}

/// The axum handler for `GET /` and `POST /`.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let mut action = None;
    let mut response = match process(&state, &parts, body, &request_id, &mut action).await {
        Ok(response) => response,
        Err(err) => {
            let mut response = error_response(&state.config, &parts, &err, &request_id);
            if let Some(class) = err.metric_class() {
                response
                    .extensions_mut()
                    .insert(crate::metrics::ErrorClass(class));
            }
            if let ApiError::Throttled { retry_after }
            | ApiError::ReplayShareExceeded { retry_after } = err
            {
                // The new SDK (tea-openapi) reads `x-acs-retry-after` (milliseconds) into a
                // ThrottlingException, whose `retry_after` its retry policy waits for.
                let ms = retry_after.as_millis().max(1);
                if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
                    response.headers_mut().insert("x-acs-retry-after", v);
                }
            }
            response
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-acs-request-id", v);
    }
    if let Some(name) = action {
        response
            .extensions_mut()
            .insert(crate::metrics::ActionName(name));
    }
    response
}

async fn process(
    state: &AppState,
    parts: &Parts,
    body: Body,
    request_id: &str,
    action_out: &mut Option<&'static str>,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let body = read_body(parts, body, config.max_body_bytes).await?;
    let mut params = Params::from_query(parts.uri.query().unwrap_or(""))?;
    if !body.is_empty() {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedContentType(content_type.to_string()));
        }
        params.extend_form(&body)?;
    }

    let style = Style::detect(&parts.headers, &params);
    let (action, version) = style.action_and_version(&parts.headers, &params);
    let action = action.ok_or(ApiError::MissingAction)?;
    let version = version.ok_or(ApiError::MissingVersion)?;
    if version != VERSION {
        return Err(ApiError::InvalidVersion(version.to_string()));
    }
    let action =
        Action::from_name(action).ok_or_else(|| ApiError::UnknownAction(action.to_string()))?;
    *action_out = Some(action.name());

    let now = config.clock.now();
    let authenticator = Authenticator {
        keys: state.keys.as_ref(),
        window: config.request_time_window,
        now,
    };
    let caller = authenticator
        .authenticate(style, &parts.method, &parts.headers, &params, &body)
        .await?;
    let credential = caller.credential;
    let account = credential.account.clone();
    if !credential.policy.allows(&action.ram_action()) {
        return Err(ApiError::Forbidden {
            action: action.ram_action(),
            resource: None,
        });
    }
    state
        .throttle
        .check(&account, action, tokio::time::Instant::now())?;
    // Only now, authenticated, allowed and within its rate, does the request spend its nonce.
    let entry = nonce_entry(
        &caller.access_key_id,
        &caller.nonce,
        caller.signed_at,
        config.request_time_window,
    );
    state.replay.spend(entry, now).await?;
    if let Some(format) = params.get("Format")
        && !format.eq_ignore_ascii_case("json")
    {
        return Err(ApiError::invalid(
            "Format",
            "only JSON responses are supported",
        ));
    }
    let call = Call::parse(action, &params, config)?;
    // Resource-level authorization needs the resource, named by the (validated) parameters.
    if let Some(resource) = call.resource(&account)
        && !credential.covers(&resource)
    {
        return Err(ApiError::Forbidden {
            action: action.ram_action(),
            resource: Some(resource),
        });
    }
    debug!(request_id, action = action.name(), %account, "calling the service");
    execute(state, &account, call, request_id).await
}

async fn execute(
    state: &AppState,
    account: &AccountId,
    call: Call,
    request_id: &str,
) -> Result<Response, ApiError> {
    let service = state.tasks.as_ref();
    let streams = state.streams.as_ref();
    Ok(match call {
        Call::Create { spec } => {
            let task = service.create(account, spec).await?;
            json(&CreateResponse {
                request_id,
                task_id: &task.id.0,
                ret_code: 0,
                description: "OK",
            })
        }
        Call::Describe { task_id, region } => {
            let task = service.get(account, &task_id).await?;
            if !in_region(&task, &region) {
                return Err(ApiError::Rejected(Rejection::NotFound));
            }
            json(&DescribeResponse {
                request_id,
                ret_code: 0,
                description: "OK",
                task: TaskEntry::from_task(&task),
            })
        }
        Call::List { filter, page } => {
            let (tasks, total) = service.list(account, filter, page).await?;
            json(&ListResponse {
                request_id,
                page_number: page.number,
                page_size: page.size,
                total,
                task_list: tasks.iter().map(TaskEntry::from_task).collect(),
            })
        }
        Call::Update {
            task_id,
            region,
            patch,
        } => {
            let command = |task: &Task| -> Result<Command, ApiError> {
                let mut patch = patch.clone();
                // `Region` is required on every call; only a different value is a change,
                // and only before the start ("The Region can be updated only before the
                // task's scheduled start time", seed 003). Once a task has started, Region
                // is what it is on every other action: where to look, and the task is not
                // in another region (see `in_region`).
                if !in_region(task, &region) {
                    if task.runtime.status != TaskStatus::NotStarted {
                        return Err(ApiError::Rejected(Rejection::NotFound));
                    }
                    patch.region = Some(region.clone());
                }
                let source_type = patch.source_type.unwrap_or(task.spec.source_type);
                let protocol = patch.source_protocol.unwrap_or(task.spec.source_protocol);
                if let Some(urls) = &patch.source_urls {
                    check_source_urls(source_type, protocol, urls)?;
                } else if source_type == SourceType::Live
                    && task.spec.source_type != SourceType::Live
                {
                    // Made live with the file list it had: this dialect's live task has
                    // exactly one URL (backups are the native API's).
                    check_source_urls(source_type, protocol, &task.spec.source_urls)?;
                }
                Ok(Command::Update(patch))
            };
            apply_in_region(service, account, &task_id, command).await?;
            ok(request_id)
        }
        Call::Stop { task_id, region } => {
            let task = apply_in_region(service, account, &task_id, |task: &Task| {
                in_region(task, &region)
                    .then_some(Command::Stop)
                    .ok_or(ApiError::Rejected(Rejection::NotFound))
            })
            .await?;
            json(&TaskIdResponse {
                request_id,
                task_id: &task.id.0,
            })
        }
        Call::Restart { task_id, region } => {
            let task = apply_in_region(service, account, &task_id, |task: &Task| {
                in_region(task, &region)
                    .then_some(Command::Restart)
                    .ok_or(ApiError::Rejected(Rejection::NotFound))
            })
            .await?;
            json(&TaskIdResponse {
                request_id,
                task_id: &task.id.0,
            })
        }
        Call::Delete { task_id, region } => {
            apply_in_region(service, account, &task_id, |task: &Task| {
                in_region(task, &region)
                    .then_some(Command::Delete)
                    .ok_or(ApiError::Rejected(Rejection::NotFound))
            })
            .await?;
            ok(request_id)
        }
        Call::Forbid {
            path,
            resume_at,
            oneshot,
        } => {
            streams.forbid(account, path, resume_at, oneshot).await?;
            json(&RequestIdResponse { request_id })
        }
        Call::Resume {
            domain,
            app,
            stream,
        } => {
            streams.resume(account, &domain, app, &stream).await?;
            json(&RequestIdResponse { request_id })
        }
        Call::OnlineList(query) => {
            if streams.domain_owner(&query.domain).as_ref() != Some(account) {
                return Err(ApiError::DomainNotOwned(query.domain));
            }
            let live = streams.live(account);
            let matching: Vec<OnlineStream<'_>> = live
                .iter()
                .filter(|s| {
                    !query.transcoded_only
                        && s.path.domain == query.domain
                        && query.matches(&s.path.app, &s.path.stream)
                })
                .filter_map(|s| OnlineStream::new(s, query.only_stream))
                .collect();
            let total = matching.len() as u64;
            let size = u64::from(query.page.size.max(1));
            let skip = u64::from(query.page.number.saturating_sub(1)) * size;
            json(&OnlineListResponse {
                request_id,
                page_num: query.page.number,
                page_size: query.page.size,
                total_num: total,
                total_page: total.div_ceil(size),
                online_info: OnlineInfo {
                    live_stream_online_info: matching
                        .into_iter()
                        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
                        .take(usize::try_from(size).unwrap_or(usize::MAX))
                        .collect(),
                },
            })
        }
        Call::BlockList { domain, page } => {
            let list = streams.block_list(account, &domain, page).await?;
            json(&BlockListResponse {
                request_id,
                domain_name: &domain,
                page_num: page.number,
                page_size: page.size,
                total_num: list.total,
                total_page: list.total.div_ceil(u64::from(page.size.max(1))),
                stream_urls: StreamUrls {
                    stream_url: list.blocks.iter().map(|b| b.path.to_string()).collect(),
                },
            })
        }
    })
}

/// Whether `task` is in `region`. `Region` names the live center a request goes to (cloud-apis
/// §2.2); a task belongs to the one it was created in, and a request sent to another does not
/// find it (`CodeTaskNotExist`), as DescribeLivePullToPushList lists only the region's tasks.
/// A task created through a dialect without regions (Volcengine, native) is in every region.
fn in_region(task: &Task, region: &str) -> bool {
    task.spec.region.is_empty() || task.spec.region == region
}

/// Times a command is re-decided because the task changed between the read and the write.
const MAX_APPLY_ATTEMPTS: usize = 8;

/// Reads the task, lets `decide` check it (its region) and choose the command, and applies the
/// command only to the task as read (the engine checks the version inside the task's lock): a
/// task moved to another region in between is decided again, never acted on unseen.
async fn apply_in_region(
    service: &dyn TaskService,
    account: &AccountId,
    task_id: &TaskId,
    decide: impl Fn(&Task) -> Result<Command, ApiError>,
) -> Result<Task, ApiError> {
    let mut task = service.get(account, task_id).await?;
    for _ in 0..MAX_APPLY_ATTEMPTS {
        let command = decide(&task)?;
        match service
            .apply(account, task_id, command, Some(task.version))
            .await
        {
            // Progress reports change running tasks every few seconds: decide again.
            Err(ServiceError::VersionMismatch { current }) => task = *current,
            other => return Ok(other?),
        }
    }
    Err(ApiError::Internal(format!(
        "task {} changed {MAX_APPLY_ATTEMPTS} times while a request was decided",
        task_id.0
    )))
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e.clone() {
            ServiceError::Rejected(r) => ApiError::Rejected(r),
            ServiceError::Unsupported { field, value } => ApiError::Unsupported { field, value },
            ServiceError::Internal(why) => ApiError::Internal(why),
            // The dialects neither choose ids nor expect versions.
            ServiceError::Exists | ServiceError::VersionMismatch { .. } => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> ApiError {
        match e {
            StreamError::DomainNotOwned(domain) => ApiError::DomainNotOwned(domain),
            StreamError::QuotaExceeded { limit } => ApiError::BlockQuotaExceeded { limit },
            StreamError::ResumeTimeInPast => {
                ApiError::invalid("ResumeTime", "the time is not in the future")
            }
            StreamError::Internal(why) => ApiError::Internal(why),
        }
    }
}

pub(crate) async fn read_body(
    parts: &Parts,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| match declared {
            // Declared small enough, so the read itself failed (the client went away).
            Some(_) => ApiError::MalformedRequest("the body could not be read".into()),
            // Chunked: the only failure we can attribute is the limit.
            None => ApiError::BodyTooLarge { limit },
        })
}

fn ok(request_id: &str) -> Response {
    json(&OkResponse {
        request_id,
        ret_code: 0,
        description: "OK",
    })
}

fn json<T: Serialize>(body: &T) -> Response {
    Json(body).into_response()
}

fn error_response(config: &ApiConfig, parts: &Parts, err: &ApiError, request_id: &str) -> Response {
    let wire = WireError::from_api(err);
    if wire.status.is_server_error() {
        error!(request_id, error = %err, "request failed");
    } else {
        debug!(request_id, code = %wire.code, error = %err, "request refused");
    }
    let host_id = config.host_id.clone().unwrap_or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost")
            .to_string()
    });
    let body = ErrorBody {
        request_id,
        host_id: &host_id,
        code: &wire.code,
        message: &wire.message,
        recommend: recommend(config.recommend_url.as_deref(), &wire.code, request_id),
    };
    (wire.status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::keys::StaticKeyStore;
    use crate::common::time::ManualClock;
    use crate::testing::{MemoryReplayStore, MemoryStreamService, MemoryTaskService, replay};

    fn state(config: ApiConfig) -> AppState {
        let clock = Arc::new(ManualClock::new(0));
        AppState::new(
            Arc::new(MemoryTaskService::new(clock.clone())),
            Arc::new(MemoryStreamService::new(
                clock,
                Vec::<(String, AccountId)>::new(),
            )),
            Arc::new(StaticKeyStore::new()),
            replay(&MemoryReplayStore::new(), &config),
            config,
        )
    }

    /// How many requests of `action` one account gets through at one instant.
    fn burst(state: &AppState, action: Action) -> usize {
        let now = tokio::time::Instant::now();
        let key = (AccountId("a".into()), action);
        (0..1000)
            .take_while(|_| state.throttle.check(&key.0, action, now).is_ok())
            .count()
    }

    #[tokio::test]
    async fn forbid_allows_twenty_per_second_where_a_task_action_allows_ten() {
        let s = state(ApiConfig::default());
        assert_eq!(burst(&s, Action::ForbidLiveStream), 20);
        assert_eq!(burst(&s, Action::ResumeLiveStream), 30);
        assert_eq!(burst(&s, Action::DescribeLiveStreamsBlockList), 50);
        assert_eq!(burst(&s, Action::DescribeLiveStreamsOnlineList), 166);
        for action in &Action::ALL[..7] {
            assert_eq!(burst(&s, *action), 10, "{action:?}");
        }
        // Overrides and the default are configurable separately.
        let mut config = ApiConfig {
            actions_per_second: 4,
            ..ApiConfig::default()
        };
        config.action_limits.insert("ForbidLiveStream".into(), 2);
        config.action_limits.insert("NoSuchAction".into(), 7);
        let s = state(config);
        assert_eq!(burst(&s, Action::ForbidLiveStream), 2);
        assert_eq!(burst(&s, Action::StopLivePullToPush), 4);
        assert_eq!(burst(&s, Action::ResumeLiveStream), 30);
    }

    #[test]
    fn stream_errors_map_to_api_errors() {
        assert_eq!(
            ApiError::from(StreamError::DomainNotOwned("d".into())),
            ApiError::DomainNotOwned("d".into())
        );
        assert_eq!(
            ApiError::from(StreamError::QuotaExceeded { limit: 5 }),
            ApiError::BlockQuotaExceeded { limit: 5 }
        );
        assert!(matches!(
            ApiError::from(StreamError::ResumeTimeInPast),
            ApiError::InvalidParameter { name, .. } if name == "ResumeTime"
        ));
        assert_eq!(
            ApiError::from(StreamError::Internal("x".into())),
            ApiError::Internal("x".into())
        );
    }
}
