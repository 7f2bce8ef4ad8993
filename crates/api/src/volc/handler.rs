//! The request pipeline of the Volcengine dialect, in the gateway's order:
//!
//! 1. read the body (bounded); decode the query; route by `Action` (404
//!    `InvalidActionOrVersion` before authenticating, as the gateway answers);
//! 2. authenticate (HMAC-SHA256, [`crate::common::signature::volc`]): X-Date within the
//!    window, key known, signature over the query, the signed headers and the body received;
//! 3. authorize the action against the key's policy; throttle per account and action;
//! 4. a state-changing action runs at most once per signature ([`Replay::once`]: an identical
//!    re-send within the window gets the first answer, status and body, without running);
//! 5. parse the parameters into a [`Call`]; authorize the resource (ingest domains);
//! 6. call the services and write `{ResponseMetadata, Result}` — or the error envelope.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_domain::{AccountId, AppSelector, Rejection, ReplayAnswer, Task, TaskId, UnixTime};
use serde::Serialize;
use tracing::{debug, error};

use super::action::{Action, SERVICE, VERSION};
use super::call::Call;
use super::dto::{
    Created, Envelope, ErrorObj, ForbiddenItem, ForbiddenList, GroupItem, GroupList, Metadata,
    Pagination, TaskItem, TaskList,
};
use super::error::WireError;
use super::input::Input;
use crate::aliyun::handler::read_body;
use crate::common::keys::{Credential, KeyStore};
use crate::common::params::Params;
use crate::common::replay::{Replay, signature_entry};
use crate::common::signature::{self, volc};
use crate::common::throttle::ActionThrottle;
use crate::config::ApiConfig;
use crate::error::ApiError;
use crate::service::{GroupError, GroupService, StreamService, TaskService};

/// The region answered when the request names none (the SDK's default).
pub const DEFAULT_REGION: &str = "cn-north-1";

/// Everything a request needs, shared by all of them.
pub struct VolcState {
    tasks: Arc<dyn TaskService>,
    streams: Arc<dyn StreamService>,
    groups: Arc<dyn GroupService>,
    keys: Arc<dyn KeyStore>,
    config: ApiConfig,
    replay: Replay,
    throttle: ActionThrottle<Action>,
}

impl std::fmt::Debug for VolcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolcState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl VolcState {
    pub fn new(
        tasks: Arc<dyn TaskService>,
        streams: Arc<dyn StreamService>,
        groups: Arc<dyn GroupService>,
        keys: Arc<dyn KeyStore>,
        replay: Replay,
        config: ApiConfig,
    ) -> VolcState {
        VolcState {
            tasks,
            streams,
            groups,
            keys,
            replay,
            throttle: ActionThrottle::new(Action::ALL.map(|a| (a, a.name())), &config),
            config,
        }
    }
}

/// What the response metadata names.
#[derive(Clone)]
struct Meta {
    request_id: String,
    action: String,
    version: String,
    region: String,
}

/// The handler for requests of the dialect (the router sends those whose `Version` query
/// parameter is [`VERSION`]).
pub async fn handle(state: Arc<VolcState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Params::from_query(parts.uri.query().unwrap_or(""));
    let mut meta = Meta {
        request_id: request_id(state.config.clock.now()),
        action: query
            .as_ref()
            .ok()
            .and_then(|q| q.get("Action"))
            .unwrap_or("")
            .to_string(),
        version: VERSION.to_string(),
        region: scope_region(&parts.headers).unwrap_or_else(|| DEFAULT_REGION.to_string()),
    };
    let result = match query {
        Ok(query) => process(&state, &parts, body, query, &mut meta).await,
        Err(e) => Err(e),
    };
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            let mut response = error_response(&err, &meta);
            if let Some(class) = err.metric_class() {
                response
                    .extensions_mut()
                    .insert(crate::metrics::ErrorClass(class));
            }
            response
        }
    };
    if let Some(action) = Action::from_name(&meta.action) {
        response
            .extensions_mut()
            .insert(crate::metrics::ActionName(action.name()));
    }
    response
}

async fn process(
    state: &Arc<VolcState>,
    parts: &Parts,
    body: Body,
    query: Params,
    meta: &mut Meta,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let body = read_body(parts, body, config.max_body_bytes).await?;
    let name = query
        .get("Action")
        .filter(|a| !a.is_empty())
        .ok_or(ApiError::MissingAction)?;
    let action = Action::from_name(name).ok_or_else(|| ApiError::UnknownAction(name.into()))?;

    let now = config.clock.now();
    let (credential, access_key_id, signature) =
        authenticate(state, parts, &query, &body, now).await?;
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
    let request = Received {
        action,
        method: parts.method.clone(),
        headers: parts.headers.clone(),
        query,
        body,
        now,
        credential,
    };
    if !action.replay_protected() {
        return respond(state, request, meta).await;
    }
    // The signature covers X-Date, the query, the signed headers and the body: an identical
    // signature is the same request sent again. (X-Date parsed in `authenticate`.)
    let x_date = parse_x_date(header(&parts.headers, "x-date").unwrap_or("")).unwrap_or(now);
    let entry = signature_entry(
        &access_key_id,
        &signature,
        x_date,
        config.request_time_window,
    );
    let (state, first) = (Arc::clone(state), meta.clone());
    let answer = state
        .replay
        .clone()
        .once(entry, now, async move {
            let response = match respond(&state, request, &first).await {
                Ok(response) => response,
                Err(err) => error_response(&err, &first),
            };
            answer_of(response).await
        })
        .await?;
    Ok(response_of(answer))
}

/// An authenticated, allowed, unthrottled request, owned (a state-changing one runs in a task
/// of its own, see [`Replay::once`]).
struct Received {
    action: Action,
    method: Method,
    headers: HeaderMap,
    query: Params,
    body: bytes::Bytes,
    now: UnixTime,
    credential: Credential,
}

/// Parses, authorizes the resource, executes.
async fn respond(state: &VolcState, r: Received, meta: &Meta) -> Result<Response, ApiError> {
    let account = r.credential.account.clone();
    let input = input_of(r.action, &r.method, &r.headers, &r.query, &r.body)?;
    let call = Call::parse(r.action, &input, r.now)?;
    if let Some(resource) = call.resource(&account)
        && !r.credential.covers(&resource)
    {
        return Err(ApiError::Forbidden {
            action: r.action.ram_action(),
            resource: Some(resource),
        });
    }
    debug!(request_id = meta.request_id, action = r.action.name(), %account, "calling the service");
    execute(state, &account, call, meta).await
}

/// A response as the answer kept for re-sends: status and body (every answer is JSON).
async fn answer_of(response: Response) -> ReplayAnswer {
    let status = response.status().as_u16();
    match axum::body::to_bytes(response.into_body(), usize::MAX).await {
        Ok(body) => ReplayAnswer {
            status,
            body: body.to_vec(),
        },
        // The bodies are built in memory (Json): reading them does not fail.
        Err(e) => ReplayAnswer {
            status: 500,
            body: format!("{{\"error\":\"{e}\"}}").into_bytes(),
        },
    }
}

/// The response of a kept answer.
fn response_of(answer: ReplayAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}

/// The parameters: the query of a GET (the actions that allow it), else the JSON body.
fn input_of(
    action: Action,
    method: &Method,
    headers: &HeaderMap,
    query: &Params,
    body: &[u8],
) -> Result<Input, ApiError> {
    if *method == Method::GET {
        if !action.allows_get() {
            return Err(ApiError::invalid(
                "Action",
                format!("{} is sent as a POST with a JSON body", action.name()),
            ));
        }
        return Ok(Input::from_query(query));
    }
    if *method != Method::POST {
        return Err(ApiError::MalformedRequest(format!(
            "the method {method} is not supported; use POST (or GET for the list actions)"
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) && action.allows_get() {
        // A POST of a GET action with its parameters in the query.
        return Ok(Input::from_query(query));
    }
    if !body.is_empty() {
        let content_type = header(headers, "content-type").unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedContentType(content_type.to_string()));
        }
    }
    Input::from_json(body)
}

/// Checks the signature; returns the caller's credential, access key id and signature.
async fn authenticate(
    state: &VolcState,
    parts: &Parts,
    query: &Params,
    body: &[u8],
    now: UnixTime,
) -> Result<(Credential, String, String), ApiError> {
    let headers = &parts.headers;
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::MissingSignature);
    };
    let authorization = authorization.to_str().map_err(|_| {
        ApiError::IncompleteSignature("the Authorization header is not ASCII".into())
    })?;
    let auth = volc::Authorization::parse(authorization)?;
    if auth.service != SERVICE {
        return Err(ApiError::IncompleteSignature(format!(
            "the credential scope's service is {:?}, not {SERVICE}",
            auth.service
        )));
    }
    volc::check_signed_headers(headers, &auth.signed_headers)?;
    let x_date = header(headers, "x-date")
        .ok_or_else(|| ApiError::IncompleteSignature("X-Date is missing".into()))?;
    let t = parse_x_date(x_date).ok_or_else(|| ApiError::TimestampFormat(x_date.into()))?;
    if !x_date.starts_with(&auth.date) {
        return Err(ApiError::IncompleteSignature(
            "the credential scope's date is not X-Date's".into(),
        ));
    }
    if (t - now).abs() > state.config.request_time_window {
        return Err(ApiError::TimestampExpired);
    }
    let credential = state
        .keys
        .lookup(&auth.access_key_id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::UnknownAccessKey)?;
    let canonical = volc::canonical_request(
        parts.method.as_str(),
        query.iter(),
        headers,
        &auth.signed_headers,
        &signature::sha256_hex(body),
    );
    let string_to_sign = volc::string_to_sign(x_date, &auth.scope(), &canonical);
    let key = volc::signing_key(&credential.secret, &auth.date, &auth.region, &auth.service);
    if !volc::verify(&key, &string_to_sign, &auth.signature) {
        return Err(ApiError::SignatureMismatch { string_to_sign });
    }
    Ok((credential, auth.access_key_id, auth.signature))
}

async fn execute(
    state: &VolcState,
    account: &AccountId,
    call: Call,
    meta: &Meta,
) -> Result<Response, ApiError> {
    let tasks = state.tasks.as_ref();
    let streams = state.streams.as_ref();
    let groups = state.groups.as_ref();
    Ok(match call {
        Call::Create { spec } => {
            crate::service::ensure_group(groups, account, &spec.group).await?;
            let task = tasks.create(account, spec).await?;
            ok(
                meta,
                Some(Created {
                    task_id: task.id.as_str(),
                }),
            )
        }
        Call::List { filter, page } => {
            let (list, total) = tasks.list(account, filter, page).await?;
            ok(
                meta,
                Some(TaskList {
                    list: list
                        .iter()
                        .map(|t| TaskItem::from_task(t, own_destination(streams, account, t)))
                        .collect(),
                    pagination: Pagination {
                        page_cur: page.number,
                        page_size: page.size,
                        page_total: total.div_ceil(u64::from(page.size.max(1))),
                        total_count: total,
                    },
                }),
            )
        }
        Call::Update {
            task_id,
            group,
            patch,
        } => {
            let task = in_group(tasks, account, &task_id, group.as_deref()).await?;
            let result = tasks.update(account, &task_id, patch).await;
            with_state(result, &task)?;
            done(meta)
        }
        Call::Stop { task_id, group } => {
            let task = in_group(tasks, account, &task_id, group.as_deref()).await?;
            with_state(tasks.disable(account, &task_id).await, &task)?;
            done(meta)
        }
        Call::Enable {
            task_id,
            group,
            from_start,
        } => {
            let task = in_group(tasks, account, &task_id, group.as_deref()).await?;
            with_state(tasks.enable(account, &task_id, from_start).await, &task)?;
            done(meta)
        }
        Call::Delete { task_id, group } => {
            in_group(tasks, account, &task_id, group.as_deref()).await?;
            tasks.delete(account, &task_id).await?;
            done(meta)
        }
        Call::CreateGroup {
            name,
            project,
            tags,
        } => {
            groups
                .create_group(account, &name, &project, tags)
                .await
                .map_err(|e| group_error(e, &name))?;
            done(meta)
        }
        Call::UpdateGroup { name, tags } => {
            groups
                .update_group(account, &name, tags)
                .await
                .map_err(|e| group_error(e, &name))?;
            done(meta)
        }
        Call::DeleteGroup { name } => {
            groups
                .delete_group(account, &name)
                .await
                .map_err(|e| group_error(e, &name))?;
            done(meta)
        }
        Call::ListGroups { statuses, page } => {
            let list = groups
                .list_groups(account, statuses, page)
                .await
                .map_err(|e| group_error(e, ""))?;
            ok(
                meta,
                Some(GroupList {
                    list: list.groups.iter().map(GroupItem::from_group).collect(),
                    total: list.total,
                }),
            )
        }
        Call::Forbid { path, resume_at } => {
            streams
                .forbid(account, path, Some(resume_at), false)
                .await?;
            done(meta)
        }
        Call::Resume {
            domain,
            app,
            stream,
        } => {
            streams
                .resume(account, &domain, AppSelector::Named(app), &stream)
                .await?;
            done(meta)
        }
        Call::Kill { path } => {
            streams.forbid(account, path, None, true).await?;
            done(meta)
        }
        Call::Forbidden { query, page } => {
            let list = streams.search(account, query, page).await?;
            ok(
                meta,
                Some(ForbiddenList {
                    rough_count: list.total,
                    stream_info_list: list.blocks.iter().map(ForbiddenItem::from_block).collect(),
                }),
            )
        }
    })
}

/// Whether a task pushes to one of its account's own ingest domains.
fn own_destination(streams: &dyn StreamService, account: &AccountId, task: &Task) -> bool {
    url::Url::parse(&task.spec.dst_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .and_then(|host| streams.domain_owner(&host))
        .is_some_and(|owner| &owner == account)
}

/// The task, which must be in `group` when the request names one.
async fn in_group(
    tasks: &dyn TaskService,
    account: &AccountId,
    id: &TaskId,
    group: Option<&str>,
) -> Result<Task, ApiError> {
    let task = tasks.get(account, id).await?;
    if let Some(group) = group
        && group != task.spec.group
    {
        return Err(ApiError::NotInGroup(group.to_string()));
    }
    Ok(task)
}

/// A state refusal names the state the task was in (read just before).
fn with_state(
    result: Result<Task, crate::service::ServiceError>,
    task: &Task,
) -> Result<Task, ApiError> {
    result.map_err(|e| match ApiError::from(e) {
        ApiError::Rejected(r)
            if r != Rejection::NotFound
                && !matches!(r, Rejection::Invalid { .. } | Rejection::IllegalDuration) =>
        {
            ApiError::WrongState {
                status: task.runtime.status,
                rejection: r,
            }
        }
        other => other,
    })
}

fn group_error(e: GroupError, name: &str) -> ApiError {
    match e {
        GroupError::Exists => ApiError::GroupExists(name.to_string()),
        GroupError::NotFound => ApiError::GroupNotFound(name.to_string()),
        GroupError::InUse { tasks } => ApiError::GroupNotEmpty {
            name: name.to_string(),
            tasks,
        },
        GroupError::Internal(why) => ApiError::Internal(why),
    }
}

fn metadata<'a>(meta: &'a Meta, error: Option<ErrorObj<'a>>) -> Metadata<'a> {
    Metadata {
        request_id: &meta.request_id,
        action: &meta.action,
        version: &meta.version,
        service: SERVICE,
        region: &meta.region,
        error,
    }
}

fn ok<R: Serialize>(meta: &Meta, result: Option<R>) -> Response {
    Json(Envelope {
        response_metadata: metadata(meta, None),
        result,
    })
    .into_response()
}

/// A success without return parameters: `ResponseMetadata` alone.
fn done(meta: &Meta) -> Response {
    ok::<()>(meta, None)
}

fn error_response(err: &ApiError, meta: &Meta) -> Response {
    let wire = WireError::from_api(err, &meta.action, &meta.version);
    if wire.status.is_server_error() {
        error!(request_id = meta.request_id, error = %err, "request failed");
    } else {
        debug!(request_id = meta.request_id, code = wire.code, error = %err, "request refused");
    }
    let body = Envelope::<()> {
        response_metadata: metadata(
            meta,
            Some(ErrorObj {
                code_n: wire.code_n,
                code: wire.code,
                message: &wire.message,
            }),
        ),
        result: None,
    };
    let status = if wire.status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        wire.status
    };
    (status, Json(body)).into_response()
}

/// A request id as the provider's look: the time `yyyyMMddHHmmss` then 20 upper-case hex
/// digits (`20211231152846010225099008082A0F4D`).
fn request_id(now: UnixTime) -> String {
    let t = baton_domain::time::rfc3339(now);
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let random = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    format!("{digits}{}", &random[..20])
}

/// The region of the request's credential scope, if it carries a parsable one.
fn scope_region(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, "authorization")?;
    volc::Authorization::parse(value).ok().map(|a| a.region)
}

/// `X-Date`: `yyyyMMddTHHmmssZ`.
fn parse_x_date(v: &str) -> Option<UnixTime> {
    let b = v.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &v[0..4],
        &v[4..6],
        &v[6..8],
        &v[9..11],
        &v[11..13],
        &v[13..15]
    );
    crate::common::time::parse_utc(&iso)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_dates_parse() {
        assert_eq!(parse_x_date("19700101T000001Z"), Some(1));
        assert_eq!(parse_x_date("20201103T104027Z"), Some(1_604_400_027));
        for bad in [
            "20201103T104027",
            "2020-11-03T10:40:27Z",
            "20201303T104027Z",
            "",
        ] {
            assert_eq!(parse_x_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn request_ids_look_like_the_providers() {
        let id = request_id(1_640_964_526);
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("20211231152846"), "{id}");
        assert_ne!(id, request_id(1_640_964_526));
    }
}
