//! The `/v1` handlers: authenticate, parse, call the services, answer JSON or a problem.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_domain::ingest::{check_domain, check_part, default_resume_at};
use baton_domain::{
    AppSelector, BlockQuery, Command, GroupStatus, ListFilter, Page, PathPart, StreamPath, Tag,
    Task, TaskId, TaskSpec, check_group_name,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::dto::{
    BlockOut, BlockRequest, Cursor, EventOut, GroupCreate, GroupOut, LiveStreamOut, LiveStreamsOut,
    NodeOut, NodesOut, PageOut, StartOptions, TaskCreate, TaskOut, TaskPatchIn, Whoami, etag,
    parse_body, parse_etag, state_from_name,
};
use super::problem::Problem;
use super::spec::{patch_of, spec_of};
use super::{Caller, NativeState, OPENAPI};
use crate::common::params::Params;
use crate::common::time::parse_rfc3339;
use crate::error::ApiError;
use crate::service::{GroupError, ServiceError};

type S = State<Arc<NativeState>>;
type Answer = Result<Response, Problem>;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

pub async fn not_found() -> Problem {
    Problem::not_found("no such resource; see /v1/openapi.json")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this resource does not take that method; see /v1/openapi.json",
    )
}

pub async fn whoami(State(st): S, headers: HeaderMap) -> Answer {
    let caller = st.caller(&headers).await?;
    Ok(json(
        StatusCode::OK,
        &Whoami {
            account: caller.account.as_str(),
            token: &caller.token,
        },
    ))
}

// --- tasks ---

pub async fn list_tasks(State(st): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    let caller = st.caller(&headers).await?;
    let q = Query::parse(q)?;
    let limit = q.limit()?;
    let after = match q.cursor()? {
        None => None,
        Some(Cursor::Task { at, id }) => Some((at, TaskId(id))),
        Some(_) => return Err(bad_cursor()),
    };
    let status = q
        .get("state")
        .map(|s| {
            state_from_name(s).ok_or_else(|| {
                Problem::invalid(
                    "state",
                    "state: one of not_started, running, recovering, stopped, ended",
                )
            })
        })
        .transpose()?;
    let filter = ListFilter {
        name: q.text("name", 255)?.filter(|s| !s.is_empty()),
        groups: q.text("group", 64)?.map(|g| vec![g]),
        status,
        ..ListFilter::default()
    };
    let tasks = &st.services.tasks;
    let mut items = tasks
        .list_after(&caller.account, filter, after, limit + 1)
        .await
        .map_err(service)?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| {
            Cursor::Task {
                at: last.created_at,
                id: last.id.0.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    let out: Vec<TaskOut> = items
        .iter()
        .map(|t| TaskOut::new(t, tasks.relay(&t.id)))
        .collect();
    Ok(json(
        StatusCode::OK,
        &PageOut {
            items: out,
            next_cursor: next,
        },
    ))
}

pub async fn create_task(
    State(st): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let body = body.map_err(bytes_error)?;
    let request: TaskCreate = parse_body(&body, None).map_err(|e| Problem::invalid("body", e))?;
    let now = st.config.clock.now();
    let spec = spec_of(&request, now)?;
    let key = idempotency_key(&headers)?;
    let tasks = &st.services.tasks;
    ensure_group(&st, &caller, &spec.group).await?;
    let created = match &key {
        None => tasks.create(&caller.account, spec.clone()).await,
        Some(key) => {
            let id = idempotent_id(&caller, key);
            match tasks
                .create_with_id(&caller.account, id.clone(), spec.clone())
                .await
            {
                Err(ServiceError::Exists) => {
                    return replay(&st, &caller, &id, spec, request.start_time.is_none()).await;
                }
                other => other,
            }
        }
    };
    match created {
        Ok(task) => {
            let mut response = task_response(&st, &task, StatusCode::CREATED);
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/tasks/{}", task.id)) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            Ok(response)
        }
        Err(e) => Err(service(e)),
    }
}

/// A keyed create whose id exists: the retry of the create that made it (answered with that
/// task), or the key reused for a different request (409).
async fn replay(
    st: &NativeState,
    caller: &Caller,
    id: &TaskId,
    mut expected: TaskSpec,
    default_start: bool,
) -> Answer {
    let task = match st.services.tasks.get(&caller.account, id).await {
        Ok(task) => task,
        // Deleted: its id stays taken while its event log is kept.
        Err(ServiceError::Rejected(baton_domain::Rejection::NotFound)) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "the task this Idempotency-Key created was deleted; use a new key",
            ));
        }
        Err(e) => return Err(service(e)),
    };
    if default_start {
        expected.start_time = task.spec.start_time;
    }
    if expected != task.spec {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key created a task from a different request",
        ));
    }
    let mut response = task_response(st, &task, StatusCode::OK);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

pub async fn get_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let id = task_id(id)?;
    let task = st
        .services
        .tasks
        .get(&caller.account, &id)
        .await
        .map_err(service)?;
    Ok(task_response(&st, &task, StatusCode::OK))
}

pub async fn update_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let body = body.map_err(bytes_error)?;
    let request: TaskPatchIn = parse_body(&body, None).map_err(|e| Problem::invalid("body", e))?;
    let patch = patch_of(&request)?;
    task_command(
        &st,
        &caller,
        &headers,
        id,
        Command::Update(patch),
        StatusCode::OK,
    )
    .await
    .map_err(|mut problem| {
        // A running task's first destination, sent as the first of `destinations`: that is
        // the field the client gave.
        if request.destinations.is_some() && problem.field.as_deref() == Some("destination") {
            problem.field = Some("destinations".to_string());
        }
        problem
    })
}

pub async fn delete_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    task_command(
        &st,
        &caller,
        &headers,
        id,
        Command::Delete,
        StatusCode::NO_CONTENT,
    )
    .await
}

pub async fn stop_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    task_command(&st, &caller, &headers, id, Command::Disable, StatusCode::OK).await
}

pub async fn start_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let body = body.map_err(bytes_error)?;
    let options: StartOptions = parse_body(&body, Some(StartOptions::default()))
        .map_err(|e| Problem::invalid("body", e))?;
    let from_start = options.from_start;
    task_command(
        &st,
        &caller,
        &headers,
        id,
        Command::Enable { from_start },
        StatusCode::OK,
    )
    .await
}

pub async fn restart_task(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    task_command(&st, &caller, &headers, id, Command::Restart, StatusCode::OK).await
}

pub async fn task_events(
    State(st): S,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let id = task_id(id)?;
    let q = Query::parse(q)?;
    let limit = q.limit()?;
    let before = match q.cursor()? {
        None => None,
        Some(Cursor::Event { seq }) => Some(seq),
        Some(_) => return Err(bad_cursor()),
    };
    let mut records = st
        .services
        .tasks
        .events(&caller.account, &id, before, limit + 1)
        .await
        .map_err(service)?;
    let next = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records.last().map(|last| {
            Cursor::Event {
                seq: last.event.seq,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(json(
        StatusCode::OK,
        &PageOut {
            items: records.iter().map(EventOut::new).collect(),
            next_cursor: next,
        },
    ))
}

/// Applies a user command to the task at `id` for an authenticated caller, honouring
/// `If-Match`; a wrong-state refusal names the state.
async fn task_command(
    st: &NativeState,
    caller: &Caller,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
    c: Command,
    ok: StatusCode,
) -> Answer {
    let id = &task_id(id)?;
    let expected = if_match(headers)?;
    let tasks = &st.services.tasks;
    match tasks.apply(&caller.account, id, c, expected).await {
        Ok(_) if ok == StatusCode::NO_CONTENT => Ok(StatusCode::NO_CONTENT.into_response()),
        Ok(task) => Ok(task_response(st, &task, ok)),
        Err(ServiceError::VersionMismatch { current }) => Err(Problem::precondition_failed(
            current.version,
            current.runtime.status,
        )),
        Err(ServiceError::Rejected(r)) => {
            let status = tasks
                .get(&caller.account, id)
                .await
                .ok()
                .map(|t| t.runtime.status);
            Err(Problem::rejected(&r, status))
        }
        Err(e) => Err(service(e)),
    }
}

fn task_response(st: &NativeState, task: &Task, status: StatusCode) -> Response {
    let relay = st.services.tasks.relay(&task.id);
    let mut response = json(status, &TaskOut::new(task, relay));
    if let Ok(v) = HeaderValue::from_str(&etag(task.version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `If-Match`: absent, or one ETag of ours (`*` matches any version).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| Problem::invalid("If-Match", "If-Match: not text"))?;
    if v.trim() == "*" {
        return Ok(None);
    }
    parse_etag(v)
        .map(Some)
        .ok_or_else(|| Problem::invalid("If-Match", "If-Match: an ETag of this API, e.g. \"v3\""))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .ok()
        .filter(|v| {
            !v.is_empty() && v.len() <= 255 && v.bytes().all(|b| (0x21..=0x7e).contains(&b))
        })
        .ok_or_else(|| {
            Problem::invalid(
                "Idempotency-Key",
                "Idempotency-Key: 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(v.to_string()))
}

/// The task id a keyed create takes: a UUID-shaped digest of the account and the key, so a
/// retry collides with the first attempt's task (atomically, in the store's unique id) and
/// two accounts' keys never meet.
fn idempotent_id(caller: &Caller, key: &str) -> TaskId {
    let mut h = Sha256::new();
    h.update(caller.account.as_str().as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    let x = crate::common::signature::hex(&d[..16]);
    TaskId(format!(
        "{}-{}-8{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[16..20],
        &x[20..32]
    ))
}

/// The group must be available; `default` is created on first use.
async fn ensure_group(st: &NativeState, caller: &Caller, name: &str) -> Result<(), Problem> {
    crate::service::ensure_group(st.services.groups.as_ref(), &caller.account, name)
        .await
        .map_err(Problem::from)
}

fn task_id(id: Result<Path<String>, PathRejection>) -> Result<TaskId, Problem> {
    let Path(id) = id.map_err(|e| Problem::invalid("id", format!("id: {e}")))?;
    TaskId::parse(&id)
        .map_err(|_| Problem::invalid("id", "id: at most 55 characters of A-Z, a-z, 0-9, _ and -"))
}

// --- groups ---

pub async fn list_groups(State(st): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    let caller = st.caller(&headers).await?;
    let q = Query::parse(q)?;
    let limit = q.limit()?;
    let offset = q.offset()?;
    let statuses = match q.get("status").unwrap_or("available") {
        "available" => vec![GroupStatus::Available],
        "deleted" => vec![GroupStatus::Deleted],
        "any" => Vec::new(),
        _ => {
            return Err(Problem::invalid(
                "status",
                "status: one of available, deleted, any",
            ));
        }
    };
    let list = st
        .services
        .groups
        .list_groups(&caller.account, statuses, window(offset, limit))
        .await
        .map_err(|e| group_problem(e, ""))?;
    let (items, next) = page_of(list.groups, offset, limit);
    Ok(json(
        StatusCode::OK,
        &PageOut {
            items: items.iter().map(GroupOut::new).collect(),
            next_cursor: next,
        },
    ))
}

pub async fn create_group(
    State(st): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let body = body.map_err(bytes_error)?;
    let request: GroupCreate = parse_body(&body, None).map_err(|e| Problem::invalid("body", e))?;
    check_group_name(&request.name).map_err(|_| {
        Problem::invalid(
            "name",
            "name: 1 to 64 characters without control characters",
        )
    })?;
    let project = request.project.clone().unwrap_or_else(|| "default".into());
    if project.chars().count() > 64 {
        return Err(Problem::invalid(
            "project",
            "project: at most 64 characters",
        ));
    }
    if request.tags.len() > 50 {
        return Err(Problem::invalid("tags", "tags: at most 50"));
    }
    let mut tags = Vec::new();
    for t in &request.tags {
        let category = t.category.clone().unwrap_or_else(|| "Custom".into());
        if !matches!(category.as_str(), "System" | "Custom")
            || t.key.is_empty()
            || t.key.chars().count() > 128
            || t.value.chars().count() > 256
        {
            return Err(Problem::invalid(
                "tags",
                "tags: category System or Custom, key 1 to 128 characters, value at most 256",
            ));
        }
        tags.push(Tag {
            category,
            key: t.key.clone(),
            value: t.value.clone(),
        });
    }
    let groups = &st.services.groups;
    groups
        .create_group(&caller.account, &request.name, &project, tags)
        .await
        .map_err(|e| group_problem(e, &request.name))?;
    let group = groups
        .get_group(&caller.account, &request.name)
        .await
        .map_err(|e| group_problem(e, &request.name))?
        .ok_or_else(Problem::internal)?;
    Ok(json(StatusCode::CREATED, &GroupOut::new(&group)))
}

pub async fn delete_group(
    State(st): S,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let Path(name) = name.map_err(|e| Problem::invalid("name", format!("name: {e}")))?;
    st.services
        .groups
        .delete_group(&caller.account, &name)
        .await
        .map_err(|e| group_problem(e, &name))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn group_problem(e: GroupError, name: &str) -> Problem {
    Problem::from(match e {
        GroupError::Exists => ApiError::GroupExists(name.into()),
        GroupError::NotFound => ApiError::GroupNotFound(name.into()),
        GroupError::InUse { tasks } => ApiError::GroupNotEmpty {
            name: name.into(),
            tasks,
        },
        GroupError::Internal(why) => ApiError::Internal(why),
    })
}

// --- blocks and kicks ---

pub async fn list_blocks(State(st): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    let caller = st.caller(&headers).await?;
    let q = Query::parse(q)?;
    let limit = q.limit()?;
    let offset = q.offset()?;
    let domain = q
        .text("domain", 253)?
        .as_deref()
        .map(|d| {
            check_domain(d)
                .map(|()| d.to_ascii_lowercase())
                .map_err(|e| Problem::invalid("domain", format!("domain {}", e.reason)))
        })
        .transpose()?;
    let fuzzy = match q.get("match").unwrap_or("exact") {
        "exact" => false,
        "contains" => true,
        _ => return Err(Problem::invalid("match", "match: exact or contains")),
    };
    let query = BlockQuery {
        domain,
        app: q.text("app", 255)?,
        stream: q.text("stream", 255)?,
        fuzzy,
        newest_end_first: true,
    };
    let list = st
        .services
        .streams
        .search(&caller.account, query, window(offset, limit))
        .await
        .map_err(|e| Problem::from(ApiError::from(e)))?;
    let (items, next) = page_of(list.blocks, offset, limit);
    Ok(json(
        StatusCode::OK,
        &PageOut {
            items: items.iter().map(BlockOut::new).collect(),
            next_cursor: next,
        },
    ))
}

pub async fn forbid_stream(
    State(st): S,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let path = stream_path(path)?;
    let body = body.map_err(bytes_error)?;
    let request: BlockRequest = parse_body(&body, Some(BlockRequest::default()))
        .map_err(|e| Problem::invalid("body", e))?;
    let now = st.config.clock.now();
    let resume_at = request
        .resume_at
        .as_deref()
        .map(|t| {
            parse_rfc3339(t).filter(|t| *t > now).ok_or_else(|| {
                Problem::invalid("resume_at", "resume_at: an RFC 3339 time in the future")
            })
        })
        .transpose()?;
    st.services
        .streams
        .forbid(&caller.account, path.clone(), resume_at, false)
        .await
        .map_err(|e| Problem::from(ApiError::from(e)))?;
    let block = baton_domain::Block {
        account: caller.account.clone(),
        path,
        created_at: now,
        resume_at: resume_at.unwrap_or_else(|| default_resume_at(now)),
    };
    Ok(json(StatusCode::OK, &BlockOut::new(&block)))
}

pub async fn resume_stream(
    State(st): S,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let path = stream_path(path)?;
    st.services
        .streams
        .resume(
            &caller.account,
            &path.domain,
            AppSelector::Named(path.app.clone()),
            &path.stream,
        )
        .await
        .map_err(|e| Problem::from(ApiError::from(e)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn kick_stream(
    State(st): S,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Answer {
    let caller = st.caller(&headers).await?;
    let path = stream_path(path)?;
    st.services
        .streams
        .forbid(&caller.account, path, None, true)
        .await
        .map_err(|e| Problem::from(ApiError::from(e)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/streams[?domain=&app=]`: the live streams on the caller's domains (root: all).
pub async fn list_streams(State(st): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    let caller = st.caller(&headers).await?;
    let q = Query::parse(q)?;
    let domain = q
        .text("domain", 253)?
        .map(|d| {
            check_domain(&d)
                .map(|()| d.to_ascii_lowercase())
                .map_err(|e| Problem::invalid("domain", format!("domain {}", e.reason)))
        })
        .transpose()?;
    let app = q.text("app", 255)?;
    let streams: Vec<_> = st
        .services
        .streams
        .live(&caller.account)
        .into_iter()
        .filter(|s| domain.as_ref().is_none_or(|d| *d == s.path.domain))
        .filter(|s| app.as_ref().is_none_or(|a| *a == s.path.app))
        .collect();
    Ok(json(
        StatusCode::OK,
        &LiveStreamsOut {
            items: streams.iter().map(LiveStreamOut::new).collect(),
        },
    ))
}

/// `GET /v1/nodes`: the cluster's nodes, their heartbeats and tasks — every account's tasks,
/// so root's tokens only.
pub async fn list_nodes(State(st): S, headers: HeaderMap) -> Answer {
    let caller = st.caller(&headers).await?;
    if caller.account.0 != crate::common::keys::ROOT_ACCOUNT {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "nodes hold every account's tasks: only a token of the `{}` account may list them",
                crate::common::keys::ROOT_ACCOUNT
            ),
        ));
    }
    let failed = |e: crate::ServiceError| {
        tracing::error!(error = %e, "listing the nodes failed");
        Problem::internal()
    };
    let nodes = st.services.nodes.nodes().await.map_err(failed)?;
    let unowned_tasks = st.services.nodes.unowned_tasks().await.map_err(failed)?;
    Ok(json(
        StatusCode::OK,
        &NodesOut {
            items: nodes.iter().map(NodeOut::new).collect(),
            unowned_tasks,
        },
    ))
}

fn stream_path(
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<StreamPath, Problem> {
    let Path((domain, app, stream)) =
        path.map_err(|e| Problem::invalid("path", format!("path: {e}")))?;
    check_domain(&domain)
        .map_err(|e| Problem::invalid("domain", format!("domain {}", e.reason)))?;
    check_part(PathPart::App, &app)
        .map_err(|e| Problem::invalid("app", format!("app {}", e.reason)))?;
    check_part(PathPart::Stream, &stream)
        .map_err(|e| Problem::invalid("stream", format!("stream {}", e.reason)))?;
    Ok(StreamPath::new(domain, app, stream))
}

// --- shared ---

/// A request's query parameters.
struct Query(Params);

impl Query {
    fn parse(raw: Option<String>) -> Result<Query, Problem> {
        Params::from_query(raw.as_deref().unwrap_or(""))
            .map(Query)
            .map_err(|e| Problem::invalid("query", e.to_string()))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// A text parameter of at most `max` characters.
    fn text(&self, name: &str, max: usize) -> Result<Option<String>, Problem> {
        match self.get(name) {
            Some(v) if v.chars().count() > max => Err(Problem::invalid(
                name,
                format!("{name}: at most {max} characters"),
            )),
            v => Ok(v.map(str::to_string)),
        }
    }

    fn limit(&self) -> Result<u32, Problem> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| Problem::invalid("limit", format!("limit: 1 to {MAX_LIMIT}"))),
        }
    }

    fn cursor(&self) -> Result<Option<Cursor>, Problem> {
        self.get("cursor")
            .map(|c| Cursor::decode(c).ok_or_else(bad_cursor))
            .transpose()
    }

    fn offset(&self) -> Result<u64, Problem> {
        match self.cursor()? {
            None => Ok(0),
            Some(Cursor::Offset { n }) => Ok(n),
            Some(_) => Err(bad_cursor()),
        }
    }
}

fn bad_cursor() -> Problem {
    Problem::invalid("cursor", "cursor: not a next_cursor of this list")
}

/// The page that holds items `offset .. offset + limit + 1` (one more tells whether a next
/// page exists).
fn window(offset: u64, limit: u32) -> Page {
    let size = offset.saturating_add(u64::from(limit) + 1);
    Page {
        number: 1,
        size: u32::try_from(size).unwrap_or(u32::MAX),
    }
}

fn page_of<T>(items: Vec<T>, offset: u64, limit: u32) -> (Vec<T>, Option<String>) {
    let mut items: Vec<T> = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .collect();
    let next = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        Cursor::Offset {
            n: offset + u64::from(limit),
        }
        .encode()
    });
    (items, next)
}

fn service(e: ServiceError) -> Problem {
    Problem::from(ApiError::from(e))
}

fn bytes_error(e: BytesRejection) -> Problem {
    Problem::invalid("body", format!("the body could not be read: {e}"))
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, Json(body)).into_response()
}
