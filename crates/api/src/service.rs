//! The port the API calls: task operations on behalf of an account. The engine implements it;
//! [`crate::testing::MemoryTaskService`] is a small stand-in for tests.

use baton_domain::{
    AccountId, Field, ListFilter, Page, Rejection, Task, TaskId, TaskPatch, TaskSpec,
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
