//! Errors on the wire: [`ApiError`] → HTTP status, POP code and message, in the envelope
//! `{RequestId, HostId, Code, Message, Recommend}`.
//!
//! Statuses: 400 for bad input and business refusals, 403 for a policy denial, 404 for an
//! unknown access key or action (as POP answers them), 413 for an oversized body, 500 only for
//! internal failures, 503 when the replay cache is full. The SDKs raise on any 4xx/5xx with
//! these capitalised keys (sdk-wire.md "How the SDKs raise errors").

use axum::http::StatusCode;
use baton_domain::{Field, Rejection};
use serde::Serialize;

use crate::error::ApiError;

/// The wire form of an error: status, code, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

/// The JSON body of an error response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    pub request_id: &'a str,
    pub host_id: &'a str,
    pub code: &'a str,
    pub message: &'a str,
    pub recommend: String,
}

impl WireError {
    /// The provider's code, status and message for `err`.
    pub fn from_api(err: &ApiError) -> WireError {
        use StatusCode as S;
        let (status, code, message): (StatusCode, &str, String) = match err {
            ApiError::BodyTooLarge { limit } => (
                S::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("The request body exceeds {limit} bytes."),
            ),
            ApiError::MalformedRequest(why) => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The request is malformed: {why}."),
            ),
            ApiError::UnsupportedContentType(ct) => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!(
                    "Content-Type {ct} is not supported: send parameters in the query or as \
                     application/x-www-form-urlencoded."
                ),
            ),
            ApiError::DuplicateParameter(name) => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The parameter {name} is given more than once."),
            ),
            ApiError::MissingAction => return missing("Action"),
            ApiError::UnknownAction(_) => (
                S::NOT_FOUND,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.".into(),
            ),
            ApiError::MissingVersion => return missing("Version"),
            ApiError::InvalidVersion(_) => (
                S::BAD_REQUEST,
                "InvalidVersion",
                "Specified parameter Version is not valid.".into(),
            ),
            ApiError::MissingSignature => return missing("Signature"),
            ApiError::IncompleteSignature(why) => (
                S::BAD_REQUEST,
                "IncompleteSignature",
                format!("The request signature does not conform to Aliyun standards: {why}."),
            ),
            ApiError::UnknownAccessKey => (
                S::NOT_FOUND,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.".into(),
            ),
            // The old Python SDK takes the text after the first ':' and compares it with its
            // own string-to-sign (it crashes on a message without ':'), signatures.md §1.
            ApiError::SignatureMismatch { string_to_sign } => (
                S::BAD_REQUEST,
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature does not match our calculation. server string to sign \
                     is:{string_to_sign}"
                ),
            ),
            ApiError::ContentHashMismatch => (
                S::BAD_REQUEST,
                "SignatureDoesNotMatch",
                "Specified signature does not match our calculation. reason:the \
                 x-acs-content-sha256 header is not the SHA-256 of the body"
                    .into(),
            ),
            ApiError::TimestampFormat(_) => (
                S::BAD_REQUEST,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.".into(),
            ),
            ApiError::TimestampExpired => (
                S::BAD_REQUEST,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.".into(),
            ),
            ApiError::NonceUsed | ApiError::ReplayAnswerLost => (
                S::BAD_REQUEST,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.".into(),
            ),
            ApiError::ReplayUnavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.".into(),
            ),
            ApiError::Forbidden {
                action,
                resource: None,
            } => (
                S::FORBIDDEN,
                "Forbidden.RAM",
                format!("User not authorized to operate on the specified resource: {action}."),
            ),
            ApiError::Forbidden {
                action,
                resource: Some(resource),
            } => (
                S::FORBIDDEN,
                "Forbidden.RAM",
                format!(
                    "User not authorized to operate on the specified resource: {action} on \
                     {resource}."
                ),
            ),
            // A key over its share of spent nonces is a caller over its flow control: the
            // provider's answer to that, which SDKs handle (x-acs-retry-after, see handler).
            ApiError::Throttled { .. } | ApiError::ReplayShareExceeded { .. } => (
                S::BAD_REQUEST,
                "Throttling.User",
                "Request was denied due to user flow control.".into(),
            ),
            ApiError::MissingParameter(name) => return missing(name),
            ApiError::InvalidParameter { name, reason } => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The parameter {name} is invalid: {reason}."),
            ),
            ApiError::Unsupported { field, value } => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!(
                    "The parameter {} is invalid: {value:?} is not supported by this server yet.",
                    field_name(*field)
                ),
            ),
            ApiError::WrongType { name, expected } => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The parameter {name} is invalid: it must be {expected}."),
            ),
            ApiError::NotSupported { name, reason } => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The parameter {name} is invalid: {reason}."),
            ),
            // Groups are a Volcengine concept; this dialect's actions never name one.
            ApiError::GroupExists(_)
            | ApiError::GroupNotFound(_)
            | ApiError::GroupNotEmpty { .. }
            | ApiError::NotInGroup(_) => (
                S::BAD_REQUEST,
                "InvalidParameter",
                format!("The request is invalid: {err}."),
            ),
            ApiError::Rejected(rejection) | ApiError::WrongState { rejection, .. } => {
                return rejected(rejection);
            }
            // The provider's code for a domain that is not the caller's (its CDN/Live domain
            // actions answer it the same way).
            ApiError::DomainNotOwned(_) => (
                S::BAD_REQUEST,
                "InvalidDomain.NotFound",
                "The domain provided does not belong to you.".into(),
            ),
            ApiError::BlockQuotaExceeded { limit } => (
                S::BAD_REQUEST,
                "QuotaExceeded.BlockList",
                format!(
                    "The account has {limit} forbidden streams, the most it may have; resume \
                     some before forbidding more."
                ),
            ),
            ApiError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The request processing has failed due to some unknown error.".into(),
            ),
        };
        WireError {
            status,
            code: code.to_string(),
            message,
        }
    }
}

/// The wire name of a task field.
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::TaskId => "TaskId",
        Field::Name => "TaskName",
        Field::Group => "GroupName",
        Field::Region => "Region",
        // No slate setting in this dialect: a native task's slate (live only) refuses a change
        // of its SourceType.
        Field::SourceType | Field::Slate => "SourceType",
        Field::SourceProtocol => "SourceProtocol",
        // No failover settings in this dialect: a task's are about its SourceUrls.
        Field::SourceUrls | Field::Failover => "SourceUrls",
        Field::DstUrl | Field::ExtraDstUrls => "DstUrl",
        Field::StartTime => "StartTime",
        Field::EndTime => "EndTime",
        Field::CallbackUrl => "CallbackUrl",
        Field::RepeatNumber => "RepeatNumber",
        Field::RetryCount => "RetryCount",
        Field::RetryInterval => "RetryInterval",
        Field::FileIndex => "FileIndex",
        Field::Offset => "Offset",
        Field::AuthKey => "AuthKey",
        Field::ReqAuth => "ReqAuth",
        Field::NotifyItemSwitch => "NotifyItemSwitch",
    }
}

/// POP's scheme for absent parameters: `Missing{Name}`, "{Name} is mandatory for this action."
fn missing(name: &str) -> WireError {
    WireError {
        status: StatusCode::BAD_REQUEST,
        code: format!("Missing{name}"),
        message: format!("{name} is mandatory for this action."),
    }
}

/// The documented pull-to-push codes (all HTTP 400).
fn rejected(rejection: &Rejection) -> WireError {
    let (code, message) = match rejection {
        Rejection::NotFound => ("CodeTaskNotExist", "Task does not exist.".to_string()),
        Rejection::TaskHasStopped => (
            "CodeTaskHasStopped",
            "The task has been stopped.".to_string(),
        ),
        Rejection::TaskHasStarted(field) => (
            "CodeTaskHasStarted",
            format!(
                "The task has already started. {} cannot be updated in its current state.",
                field_name(*field)
            ),
        ),
        Rejection::IllegalDuration => (
            "InvalidParam.CodeIllegalDuration",
            "The value of start time should be less than the value of end time, and the end \
             time must be in the future."
                .to_string(),
        ),
        // Restart before StartTime. The Restart reference lists no state code for it; its
        // only time-related code is this one, so a client that branches on codes sees a
        // scheduling problem.
        Rejection::NotStartedYet => (
            "InvalidParam.CodeIllegalDuration",
            "The start time of the task has not been reached.".to_string(),
        ),
        // A task that exited at its end time stays describable for a while; anything else
        // finds it not running.
        Rejection::Exited => (
            "CodeTaskHasStopped",
            "The task has exited; it can only be described or deleted.".to_string(),
        ),
        // Never answered by this dialect's actions (Restart starts any stopped or running
        // task); a task enabled through another dialect meanwhile is simply running.
        Rejection::NotStopped => ("InvalidParameter", "The task is not stopped.".to_string()),
        Rejection::Invalid { field, reason } => (
            "InvalidParameter",
            format!("The parameter {} is invalid: {reason}.", field_name(*field)),
        ),
    };
    WireError {
        status: StatusCode::BAD_REQUEST,
        code: code.to_string(),
        message,
    }
}

/// `Recommend`: the configured template with `{code}` and `{request_id}` replaced, or empty.
pub fn recommend(template: Option<&str>, code: &str, request_id: &str) -> String {
    template
        .map(|t| {
            t.replace("{code}", code)
                .replace("{request_id}", request_id)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parameters_follow_pops_scheme() {
        let w = WireError::from_api(&ApiError::MissingParameter("TaskId".into()));
        assert_eq!(w.status, StatusCode::BAD_REQUEST);
        assert_eq!(w.code, "MissingTaskId");
        assert_eq!(w.message, "TaskId is mandatory for this action.");
    }

    #[test]
    fn signature_mismatch_message_has_the_string_to_sign_after_a_colon() {
        let w = WireError::from_api(&ApiError::SignatureMismatch {
            string_to_sign: "GET&%2F&a%3Db".into(),
        });
        assert_eq!(w.code, "SignatureDoesNotMatch");
        assert_eq!(w.message.split_once(':').unwrap().1, "GET&%2F&a%3Db");
    }

    #[test]
    fn ingest_control_codes() {
        let w = WireError::from_api(&ApiError::DomainNotOwned("x.example.com".into()));
        assert_eq!(
            (w.status, w.code.as_str(), w.message.as_str()),
            (
                StatusCode::BAD_REQUEST,
                "InvalidDomain.NotFound",
                "The domain provided does not belong to you."
            )
        );
        let w = WireError::from_api(&ApiError::BlockQuotaExceeded { limit: 10_000 });
        assert_eq!(w.status, StatusCode::BAD_REQUEST);
        assert_eq!(w.code, "QuotaExceeded.BlockList");
        assert!(w.message.contains("10000"), "{}", w.message);
        let w = WireError::from_api(&ApiError::Forbidden {
            action: "live:ForbidLiveStream".into(),
            resource: Some("acs:cdn:*:a:domain/d".into()),
        });
        assert_eq!(
            (w.status, w.code.as_str()),
            (StatusCode::FORBIDDEN, "Forbidden.RAM")
        );
        assert!(
            w.message
                .contains("live:ForbidLiveStream on acs:cdn:*:a:domain/d")
        );
    }

    #[test]
    fn internal_details_are_not_sent() {
        let w = WireError::from_api(&ApiError::Internal("db at /secret/path".into()));
        assert_eq!(w.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!w.message.contains("secret"));
    }

    #[test]
    fn recommend_template() {
        assert_eq!(recommend(None, "X", "R"), "");
        assert_eq!(
            recommend(Some("https://h/t?q={code}&r={request_id}"), "X", "R"),
            "https://h/t?q=X&r=R"
        );
    }
}
