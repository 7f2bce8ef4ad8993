//! The ports the API calls: task operations ([`TaskService`]) and ingest control
//! ([`StreamService`]) on behalf of an account. The engine implements them;
//! [`crate::testing`] has small stand-ins for tests.

use baton_domain::{
    AccountId, AppSelector, BlockList, Field, ListFilter, Page, Rejection, StreamPath, Task,
    TaskId, TaskPatch, TaskSpec, UnixTime,
};
use futures_util::future::BoxFuture;

/// Task operations. Every call is scoped to `account`: a task of another account does not
/// exist for it ([`Rejection::NotFound`]). A change is durable before the future resolves.
pub trait TaskService: Send + Sync + 'static {
    /// Creates a task (the service assigns its id) and returns it.
    fn create(
        &self,
        account: &AccountId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// One task.
    fn get(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// A page of the account's tasks matching `filter`, and the total number that match.
    fn list(
        &self,
        account: &AccountId,
        filter: ListFilter,
        page: Page,
    ) -> BoxFuture<'_, Result<(Vec<Task>, u64), ServiceError>>;
    /// Applies a partial update; returns the task as updated.
    fn update(
        &self,
        account: &AccountId,
        id: &TaskId,
        patch: TaskPatch,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Stops a running task.
    fn stop(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Restarts a running or stopped task with its latest configuration.
    fn restart(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Stops the task at once and removes it.
    fn delete(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>>;
}

/// Why the service did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The domain's rules say no.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A value this installation cannot run yet (e.g. `SourceType` vod): refused at Create,
    /// never accepted and faked.
    #[error("{field:?} {value:?} is not supported yet")]
    Unsupported { field: Field, value: String },
    /// Storage or another internal failure; the text is logged, never sent to the client.
    #[error("internal: {0}")]
    Internal(String),
}

/// Ingest control on behalf of an account: ForbidLiveStream, ResumeLiveStream and
/// DescribeLiveStreamsBlockList (and the Volcengine dialect's ForbidStream / ResumeStream).
/// Every call names an ingest domain, which must belong to `account`
/// ([`StreamError::DomainNotOwned`] otherwise). Changes are durable before the future resolves.
pub trait StreamService: Send + Sync + 'static {
    /// Disconnects the current publisher of `path` (within a second), and unless `oneshot`
    /// forbids publishing it until `resume_at` (`None`: 6 calendar months from now). A stream
    /// forbidden again gets the new ResumeTime.
    fn forbid(
        &self,
        account: &AccountId,
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    ) -> BoxFuture<'_, Result<(), StreamError>>;
    /// Lifts the block of `stream` on `domain` in the selected apps; publishing works again at
    /// once. Resuming a stream that is not forbidden succeeds.
    fn resume(
        &self,
        account: &AccountId,
        domain: &str,
        app: AppSelector,
        stream: &str,
    ) -> BoxFuture<'_, Result<(), StreamError>>;
    /// One page of the domain's forbidden streams (ordered by app, then stream) and their
    /// total.
    fn block_list(
        &self,
        account: &AccountId,
        domain: &str,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>>;
}

/// Why ingest control did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The domain is not one of the account's ingest domains.
    #[error("the domain {0} does not belong to this account")]
    DomainNotOwned(String),
    /// The account has the maximum number of forbidden streams already.
    #[error("the account has {limit} forbidden streams, the most it may have")]
    QuotaExceeded { limit: u64 },
    /// `resume_at` is not in the future.
    #[error("ResumeTime is not in the future")]
    ResumeTimeInPast,
    /// Storage or another internal failure; the text is logged, never sent to the client.
    #[error("internal: {0}")]
    Internal(String),
}
