//! The crate's one error type: why a request failed, naming the culprit. No wire codes here:
//! each dialect maps an [`ApiError`] to its code, message and HTTP status
//! (see `aliyun::error`).

use baton_domain::{Field, Rejection};

/// Why an API request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    // --- the request as bytes ---
    /// The body is larger than the configured limit.
    #[error("the request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The query or body cannot be decoded.
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    /// A body of a type other than a form.
    #[error("unsupported Content-Type {0:?}")]
    UnsupportedContentType(String),
    /// A parameter name occurs twice.
    #[error("parameter {0} occurs more than once")]
    DuplicateParameter(String),

    // --- routing ---
    /// No action named (`Action` parameter or `x-acs-action` header).
    #[error("no action given")]
    MissingAction,
    /// An action this API does not have.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// No API version given.
    #[error("no version given")]
    MissingVersion,
    /// A version other than the dialect's.
    #[error("unsupported version {0:?}")]
    InvalidVersion(String),

    // --- authentication ---
    /// Neither a `Signature` parameter nor an `Authorization` header.
    #[error("the request is not signed")]
    MissingSignature,
    /// A signature element is missing or malformed, or the algorithm is not supported.
    #[error("incomplete signature: {0}")]
    IncompleteSignature(String),
    /// The AccessKeyId is not known.
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The signature does not match; carries the server's string-to-sign (clients compare it
    /// with their own to tell a wrong secret from a wrong canonicalisation).
    #[error("signature mismatch")]
    SignatureMismatch { string_to_sign: String },
    /// `x-acs-content-sha256` is not the hash of the body received.
    #[error("the content hash does not match the body")]
    ContentHashMismatch,
    /// The request time is not `yyyy-MM-ddTHH:mm:ssZ`.
    #[error("malformed request time {0:?}")]
    TimestampFormat(String),
    /// The request time is outside the accepted window around now.
    #[error("request time outside the accepted window")]
    TimestampExpired,
    /// The signature nonce was already used within the window (or, Volcengine, a
    /// state-changing request's signature was).
    #[error("signature nonce already used")]
    NonceUsed,
    /// The access key has its whole share of spent requests within the window
    /// ([`ApiConfig::replay_share_per_key`](crate::ApiConfig::replay_share_per_key)); its
    /// oldest expire after `retry_after`. Only this key is refused.
    #[error("the access key's share of spent requests is full for {retry_after:?}")]
    ReplayShareExceeded { retry_after: std::time::Duration },
    /// Replay protection could not record the request durably (the store failed): refused,
    /// not executed.
    #[error("replay protection unavailable: {0}")]
    ReplayUnavailable(String),
    /// A re-send of a state-changing request that was received before, but whose answer was
    /// not kept (the server stopped while it ran): its outcome is unknown, and it is not run
    /// again.
    #[error("the answer of this request's first arrival was not kept")]
    ReplayAnswerLost,

    // --- authorization and throttling ---
    /// The key's policy does not allow the action, or (`resource` set) the key may not act
    /// on the resource the request names.
    #[error("action {action} on resource {resource:?} not allowed for this key")]
    Forbidden {
        action: String,
        resource: Option<String>,
    },
    /// The account exceeded the action's rate; a request would conform after `retry_after`.
    #[error("throttled for {retry_after:?}")]
    Throttled { retry_after: std::time::Duration },

    // --- parameters ---
    /// A required parameter is absent (or blank).
    #[error("missing parameter {0}")]
    MissingParameter(String),
    /// A parameter's value is not acceptable.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: String, reason: String },
    /// A parameter of the wrong JSON type (a string where a number belongs, …), or a body
    /// that is not a JSON object.
    #[error("parameter {name} must be {expected}")]
    WrongType {
        name: String,
        expected: &'static str,
    },

    // --- the service ---
    /// The domain refused the request.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// A parameter whose value asks for something Baton does not do (a watermark, …).
    #[error("{name}: {reason}")]
    NotSupported { name: String, reason: String },
    /// The task's state does not allow the operation; `status` is the state it is in.
    #[error("{rejection} (status {status:?})")]
    WrongState {
        status: baton_domain::TaskStatus,
        rejection: Rejection,
    },
    /// A value this installation cannot run yet.
    #[error("{field:?} {value:?} is not supported")]
    Unsupported { field: Field, value: String },
    /// The ingest domain named is not one of the account's.
    #[error("the domain {0} does not belong to this account")]
    DomainNotOwned(String),
    /// The account has the most forbidden streams it may have.
    #[error("the account has {limit} forbidden streams, the most it may have")]
    BlockQuotaExceeded { limit: u64 },
    /// A task group of this name exists already.
    #[error("the group {0} exists already")]
    GroupExists(String),
    /// No (available) task group of this name.
    #[error("the group {0} does not exist")]
    GroupNotFound(String),
    /// The group still has tasks that have not ended.
    #[error("the group {name} has {tasks} tasks that have not ended")]
    GroupNotEmpty { name: String, tasks: u64 },
    /// The task is not in the group the request names.
    #[error("the task is not in the group {0}")]
    NotInGroup(String),
    /// Something failed inside the server; the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Shorthand for [`ApiError::InvalidParameter`].
    pub fn invalid(name: &str, reason: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    /// The error's class for the API metrics ([`crate::metrics::ErrorClass`]): `throttled`
    /// (a rate limit), `auth` (credentials missing, unknown, mis-signed, replayed or not
    /// allowed), none for the rest.
    pub fn metric_class(&self) -> Option<&'static str> {
        match self {
            ApiError::Throttled { .. } | ApiError::ReplayShareExceeded { .. } => Some("throttled"),
            ApiError::MissingSignature
            | ApiError::IncompleteSignature(_)
            | ApiError::UnknownAccessKey
            | ApiError::SignatureMismatch { .. }
            | ApiError::ContentHashMismatch
            | ApiError::TimestampFormat(_)
            | ApiError::TimestampExpired
            | ApiError::NonceUsed
            | ApiError::Forbidden { .. } => Some("auth"),
            _ => None,
        }
    }
}
