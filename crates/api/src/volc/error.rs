//! Errors on the wire: [`ApiError`] → HTTP status, `Code`, `CodeN` and `Message`, carried in
//! `ResponseMetadata.Error` (sdk-wire.md: the SDK raises on any non-200 status, so every
//! error has one).
//!
//! Gateway errors use the provider's common codes and their documented `CodeN`
//! (MissingParameter 100002, MissingAuthenticationToken 100003, MissingRequestInfo 100004,
//! InvalidTimestamp 100006, InvalidActionOrVersion 100008, InvalidAccessKey 100009,
//! SignatureDoesNotMatch 100010, AccessDenied 100013). Seed 001's business codes
//! (`InvalidParam`, `InvalidParam.BindError`, `RequestForbidden`, `ResourceNotFound`,
//! `RequestLimitExceeded`, `InternalError`) have no documented `CodeN`; Baton's are stable
//! numbers in the 2xxxxx range, one per code. Wrong-state operations, which the provider
//! answers with a bare `InvalidParam`, get the specific `InvalidParam.TaskStatus`.

use axum::http::StatusCode;
use baton_domain::{Field, Rejection, TaskStatus};

use super::dto::status_name;

use crate::error::ApiError;

/// The wire form of an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub status: StatusCode,
    pub code: &'static str,
    pub code_n: u32,
    pub message: String,
}

fn wire(status: StatusCode, code: &'static str, code_n: u32, message: String) -> WireError {
    WireError {
        status,
        code,
        code_n,
        message,
    }
}

const BIND: &str = "Request parameter error, please check input data";

impl WireError {
    pub fn from_api(err: &ApiError, action: &str, version: &str) -> WireError {
        use StatusCode as S;
        let invalid = |m: String| wire(S::BAD_REQUEST, "InvalidParam", 200_001, m);
        let bind = |m: String| wire(S::BAD_REQUEST, "InvalidParam.BindError", 200_002, m);
        let unsupported = |m: String| wire(S::BAD_REQUEST, "InvalidParam.Unsupported", 200_003, m);
        let not_found = |m: String| wire(S::NOT_FOUND, "ResourceNotFound", 200_404, m);
        match err {
            ApiError::BodyTooLarge { limit } => wire(
                S::PAYLOAD_TOO_LARGE,
                "InvalidParam",
                200_001,
                format!("The request body exceeds {limit} bytes."),
            ),
            ApiError::MalformedRequest(why) => bind(format!("{BIND}: {why}")),
            ApiError::UnsupportedContentType(ct) => bind(format!(
                "{BIND}: Content-Type {ct} is not supported; send application/json"
            )),
            ApiError::DuplicateParameter(name) => {
                invalid(format!("The parameter {name} is given more than once."))
            }
            ApiError::WrongType { name, expected } => {
                bind(format!("{BIND}: {name} must be {expected}"))
            }
            ApiError::MissingAction => wire(
                S::BAD_REQUEST,
                "MissingParameter",
                100_002,
                "The request is missing Action parameter.".into(),
            ),
            ApiError::MissingVersion => wire(
                S::BAD_REQUEST,
                "MissingParameter",
                100_002,
                "The request is missing Version parameter.".into(),
            ),
            ApiError::UnknownAction(_) | ApiError::InvalidVersion(_) => wire(
                S::NOT_FOUND,
                "InvalidActionOrVersion",
                100_008,
                format!("Could not find operation {action} for version {version}."),
            ),
            ApiError::MissingSignature => wire(
                S::UNAUTHORIZED,
                "MissingAuthenticationToken",
                100_003,
                "Request is missing Authentication Token.".into(),
            ),
            ApiError::IncompleteSignature(why) => wire(
                S::BAD_REQUEST,
                "MissingRequestInfo",
                100_004,
                format!("The request is missing signing information: {why}."),
            ),
            ApiError::UnknownAccessKey => wire(
                S::UNAUTHORIZED,
                "InvalidAccessKey",
                100_009,
                "The accesskey included in the request is invalid.".into(),
            ),
            ApiError::SignatureMismatch { .. } | ApiError::ContentHashMismatch => wire(
                S::UNAUTHORIZED,
                "SignatureDoesNotMatch",
                100_010,
                "The request signature we calculated does not match the signature you \
                 provided. Check your Secret Access Key and signing method."
                    .into(),
            ),
            ApiError::TimestampFormat(_) | ApiError::TimestampExpired => wire(
                S::BAD_REQUEST,
                "InvalidTimestamp",
                100_006,
                "The signature of the request is expired (X-Date must be within 15 minutes \
                 of the server's time)."
                    .into(),
            ),
            ApiError::NonceUsed => wire(
                S::BAD_REQUEST,
                "InvalidTimestamp",
                100_006,
                "This signed request was already received; sign every request anew.".into(),
            ),
            ApiError::ReplayAnswerLost => wire(
                S::BAD_REQUEST,
                "InvalidTimestamp",
                100_006,
                "This signed request was already received, and its answer was not kept (the \
                 server stopped while it ran); check the resource's state and sign a new request."
                    .into(),
            ),
            ApiError::ReplayUnavailable(_) => wire(
                S::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                200_503,
                "The service is temporarily unavailable; retry later.".into(),
            ),
            ApiError::ReplayShareExceeded { .. } => wire(
                S::TOO_MANY_REQUESTS,
                "FlowLimitExceeded",
                200_429,
                "This access key sent more state-changing requests within 15 minutes than it \
                 may; retry later."
                    .into(),
            ),
            ApiError::Forbidden { action, resource } => wire(
                S::FORBIDDEN,
                "AccessDenied",
                100_013,
                format!(
                    "User is not authorized to perform: {action} on resource: {}.",
                    resource.as_deref().unwrap_or("*")
                ),
            ),
            ApiError::Throttled { .. } => wire(
                S::TOO_MANY_REQUESTS,
                "AccountFlowLimitExceeded",
                100_018,
                "Request has reached the account's rate limit for this action (10 per second)."
                    .into(),
            ),
            ApiError::MissingParameter(name) => invalid(format!("{name} is required.")),
            ApiError::InvalidParameter { name, reason } => {
                invalid(format!("The parameter {name} is invalid: {reason}."))
            }
            ApiError::NotSupported { name, reason } => {
                unsupported(format!("{name} is not supported by this server: {reason}."))
            }
            ApiError::Unsupported { field, value } => unsupported(format!(
                "{} {value:?} is not supported by this server yet.",
                field_name(*field)
            )),
            ApiError::Rejected(r) => rejected(r),
            ApiError::WrongState { status, rejection } => {
                let mut w = rejected(rejection);
                if w.code == "InvalidParam.TaskStatus" {
                    w.message = format!(
                        "The task is {} ({}). {}",
                        status_name(*status),
                        english(*status),
                        w.message
                    );
                }
                w
            }
            ApiError::DomainNotOwned(domain) => wire(
                S::FORBIDDEN,
                "RequestForbidden",
                200_403,
                format!("The domain {domain} is not one of this account's domains."),
            ),
            ApiError::BlockQuotaExceeded { limit } => wire(
                S::TOO_MANY_REQUESTS,
                "RequestLimitExceeded",
                200_429,
                format!("The account has {limit} forbidden streams, the most it may have."),
            ),
            ApiError::GroupExists(name) => wire(
                S::BAD_REQUEST,
                "InvalidParam.GroupAlreadyExists",
                200_004,
                format!("The group {name} exists already."),
            ),
            ApiError::GroupNotFound(name) => not_found(format!("The group {name} does not exist.")),
            ApiError::GroupNotEmpty { name, tasks } => wire(
                S::BAD_REQUEST,
                "InvalidParam.GroupNotEmpty",
                200_005,
                format!(
                    "The group {name} has {tasks} tasks that have not ended; delete them first."
                ),
            ),
            ApiError::NotInGroup(group) => {
                not_found(format!("The task is not in the group {group}."))
            }
            ApiError::Internal(_) => wire(
                S::INTERNAL_SERVER_ERROR,
                "InternalError",
                200_500,
                "an internal error occurred, please contact the administrator.".into(),
            ),
        }
    }
}

fn rejected(r: &Rejection) -> WireError {
    let status = |m: &str| {
        wire(
            StatusCode::BAD_REQUEST,
            "InvalidParam.TaskStatus",
            200_006,
            m.to_string(),
        )
    };
    match r {
        Rejection::NotFound => wire(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            200_404,
            "The task does not exist.".into(),
        ),
        Rejection::TaskHasStopped => {
            status("Only 未开始 (not started) and 生效中 (running) tasks can be stopped.")
        }
        Rejection::NotStopped => {
            status("Only 停用 (stopped) tasks can be continued, restarted or relaunched.")
        }
        Rejection::Exited => status("An ended task can only be deleted."),
        Rejection::NotStartedYet => status("The task's start time has not been reached."),
        Rejection::TaskHasStarted(field) => status(&format!(
            "While a task runs only CallbackURL and the loop count can change; {} cannot \
             change now: stop the task first.",
            field_name(*field)
        )),
        Rejection::IllegalDuration => wire(
            StatusCode::BAD_REQUEST,
            "InvalidParam",
            200_001,
            "The end time must be later than the start time and than now.".into(),
        ),
        Rejection::Invalid { field, reason } => wire(
            StatusCode::BAD_REQUEST,
            "InvalidParam",
            200_001,
            format!("The parameter {} is invalid: {reason}.", field_name(*field)),
        ),
    }
}

/// The dialect's name of a task field (the Alibaba name for fields it does not have).
fn field_name(field: Field) -> &'static str {
    match field {
        Field::TaskId => "TaskId",
        Field::Name => "Title",
        Field::Group => "GroupName",
        Field::Region => "Region",
        // No slate setting in this dialect: a native task's slate (live only) refuses a change
        // of its Type.
        Field::SourceType | Field::Slate => "Type",
        Field::SourceProtocol => "SrcAddr",
        Field::SourceUrls | Field::Failover => "SrcAddr/SrcAddrS",
        Field::DstUrl | Field::ExtraDstUrls => "DstAddr",
        Field::StartTime => "StartTime",
        Field::EndTime => "EndTime",
        Field::CallbackUrl => "CallbackURL",
        Field::RepeatNumber => "CycleMode",
        Field::RetryCount => "RetryCount",
        Field::RetryInterval => "RetryInterval",
        Field::FileIndex => "FileIndex",
        Field::Offset => "OffsetS",
        Field::AuthKey => "AuthKey",
        Field::ReqAuth => "ReqAuth",
        Field::NotifyItemSwitch => "NotifyItemSwitch",
    }
}

fn english(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::NotStarted => "not started",
        TaskStatus::Running => "running",
        TaskStatus::Abnormal => "running, recovering",
        TaskStatus::Stopped => "stopped",
        TaskStatus::Exited => "ended",
    }
}
