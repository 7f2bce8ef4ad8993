//! Errors as RFC 7807 problem documents (`application/problem+json`) with a stable `code`:
//! the only place that knows the native API's statuses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_domain::{Field, Rejection, TaskStatus};
use serde::Serialize;

use super::dto::{etag, state_name};
use crate::error::ApiError;

/// A problem document (boxed: it travels in every handler's `Err`).
#[derive(Clone, Debug)]
pub struct Problem(Box<ProblemBody>);

impl std::ops::Deref for Problem {
    type Target = ProblemBody;
    fn deref(&self) -> &ProblemBody {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemBody {
        &mut self.0
    }
}

/// The fields of a [`Problem`].
#[derive(Clone, Debug, Serialize)]
pub struct ProblemBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
    /// Seconds to wait (rate limits), sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem(Box::new(ProblemBody {
            kind: format!("https://baton.invalid/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code,
            detail: detail.into(),
            field: None,
            current_state: None,
            current_etag: None,
            retry_after: None,
        }))
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(StatusCode::BAD_REQUEST, "invalid_parameter", detail);
        p.field = Some(field.to_string());
        p
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// The operation does not fit the task's state (`status` before the operation).
    pub fn wrong_state(status: TaskStatus, detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(StatusCode::CONFLICT, "wrong_state", detail);
        p.current_state = Some(state_name(status));
        p
    }

    pub fn precondition_failed(version: u64, status: TaskStatus) -> Problem {
        let mut p = Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the task changed: If-Match does not match its current ETag",
        );
        p.current_etag = Some(etag(version));
        p.current_state = Some(state_name(status));
        p
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed inside the server; the details are in its log",
        )
    }

    /// A rejection by the domain, for a task whose status was `status`.
    pub fn rejected(r: &Rejection, status: Option<TaskStatus>) -> Problem {
        let wrong = |detail: &str| match status {
            Some(s) => Problem::wrong_state(s, detail),
            None => Problem::new(StatusCode::CONFLICT, "wrong_state", detail),
        };
        match r {
            Rejection::NotFound => Problem::not_found("no such task"),
            Rejection::TaskHasStopped => wrong("the task is not running or waiting to start"),
            Rejection::NotStopped => wrong("only a stopped task can be started"),
            Rejection::Exited => wrong("the task has ended; it can only be read or deleted"),
            Rejection::NotStartedYet => wrong("the task's start time has not been reached"),
            // Named: the request may have sent it inside `destinations` (see `update_task`).
            Rejection::TaskHasStarted(Field::DstUrl) => {
                let mut p = wrong(
                    "while a task runs its first destination cannot change (the ones after it \
                     can: keep the first as it is); stop the task first",
                );
                p.field = Some(field_name(Field::DstUrl).to_string());
                p
            }
            Rejection::TaskHasStarted(field) => wrong(&format!(
                "while a task runs only callback_url, repeat and the destinations after the \
                 first can change, not {}; stop it first",
                field_name(*field)
            )),
            Rejection::IllegalDuration => Problem::invalid(
                "end_time",
                "end_time must be later than start_time and than now",
            ),
            Rejection::Invalid { field, reason } => Problem::invalid(
                field_name(*field),
                format!("{}: {reason}", field_name(*field)),
            ),
        }
    }

    /// The problem of an [`ApiError`] from shared parsing and services.
    pub fn from_api(e: &ApiError) -> Problem {
        use StatusCode as S;
        match e {
            ApiError::InvalidParameter { name, reason } => {
                Problem::invalid(name, format!("{name}: {reason}"))
            }
            ApiError::MissingParameter(name) => {
                Problem::invalid(name, format!("{name} is required"))
            }
            ApiError::WrongType { name, expected } => {
                Problem::invalid(name, format!("{name} must be {expected}"))
            }
            ApiError::MalformedRequest(why) => {
                Problem::new(S::BAD_REQUEST, "invalid_parameter", why.clone())
            }
            ApiError::BodyTooLarge { limit } => Problem::new(
                S::BAD_REQUEST,
                "invalid_parameter",
                format!("the body exceeds {limit} bytes"),
            ),
            ApiError::Rejected(r) => Problem::rejected(r, None),
            ApiError::WrongState { status, rejection } => {
                Problem::rejected(rejection, Some(*status))
            }
            ApiError::NotSupported { name, reason } => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "unsupported",
                    format!("{name}: {reason}"),
                );
                p.field = Some(name.clone());
                p
            }
            ApiError::Unsupported { field, value } => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "unsupported",
                    format!(
                        "{} {value:?} cannot run on this server yet",
                        field_name(*field)
                    ),
                );
                p.field = Some(field_name(*field).to_string());
                p
            }
            ApiError::DomainNotOwned(d) => Problem::new(
                S::FORBIDDEN,
                "domain_not_owned",
                format!("the domain {d} is not one of this account's"),
            ),
            ApiError::BlockQuotaExceeded { limit } => Problem::new(
                S::CONFLICT,
                "quota_exceeded",
                format!("the account has {limit} forbidden streams, the most it may have"),
            ),
            ApiError::GroupExists(name) => Problem::new(
                S::CONFLICT,
                "group_exists",
                format!("the group {name} exists"),
            ),
            ApiError::GroupNotFound(name) => {
                Problem::not_found(format!("the group {name} does not exist"))
            }
            ApiError::GroupNotEmpty { name, tasks } => Problem::new(
                S::CONFLICT,
                "group_not_empty",
                format!("the group {name} has {tasks} tasks that have not ended"),
            ),
            ApiError::Throttled { retry_after } => {
                let mut p = Problem::new(
                    S::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests for this account; retry later",
                );
                p.retry_after = Some(retry_after.as_secs().max(1));
                p
            }
            _ => Problem::internal(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if self.status >= 500 {
            tracing::error!(code = self.code, detail = %self.detail, "native API request failed");
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, Json(*self.0)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Problem {
        if matches!(e, ApiError::Internal(_)) {
            tracing::error!(error = %e, "native API request failed");
        }
        Problem::from_api(&e)
    }
}

/// The native name of a task field.
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::TaskId => "id",
        Field::Name => "name",
        Field::Group => "group",
        Field::Region => "region",
        Field::SourceType => "source.type",
        Field::SourceProtocol => "source.protocol",
        Field::SourceUrls => "source.urls",
        // The native parse names `failover_after_seconds` / `failback_after_seconds` itself.
        Field::Failover => "source",
        Field::Slate => "slate",
        Field::DstUrl => "destination",
        Field::ExtraDstUrls => "destinations",
        Field::StartTime => "start_time",
        Field::EndTime => "end_time",
        Field::CallbackUrl => "callback_url",
        Field::RepeatNumber => "repeat",
        Field::RetryCount => "retry.count",
        Field::RetryInterval => "retry.interval_seconds",
        Field::FileIndex => "playlist_start.file_index",
        Field::Offset => "playlist_start.offset_seconds",
        Field::AuthKey => "auth_key",
        Field::ReqAuth => "req_auth",
        Field::NotifyItemSwitch => "notify_item_switch",
    }
}
