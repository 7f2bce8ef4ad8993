//! The engine behind the API's [`TaskService`] port.

use baton_api::{ServiceError, TaskService};
use baton_domain::{AccountId, ListFilter, Page, Task, TaskId, TaskPatch, TaskSpec};
use baton_engine::{Engine, EngineError};
use futures_util::future::BoxFuture;
use tracing::error;

/// [`TaskService`] over the [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineService(pub Engine);

fn service_error(e: EngineError) -> ServiceError {
    match e {
        EngineError::Rejected(r) => ServiceError::Rejected(r),
        EngineError::Unsupported(u) => ServiceError::Unsupported {
            field: u.field,
            value: u.value,
        },
        EngineError::Store(e) => {
            error!(error = %e, "task storage failed");
            ServiceError::Internal(e.to_string())
        }
    }
}

impl TaskService for EngineService {
    fn create(
        &self,
        account: &AccountId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let account = account.clone();
        Box::pin(async move { self.0.create(&account, spec).await.map_err(service_error) })
    }

    fn get(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.get(&account, &id).await.map_err(service_error) })
    }

    fn list(
        &self,
        account: &AccountId,
        filter: ListFilter,
        page: Page,
    ) -> BoxFuture<'_, Result<(Vec<Task>, u64), ServiceError>> {
        let account = account.clone();
        Box::pin(async move {
            self.0
                .list(&account, &filter, page)
                .await
                .map(|l| (l.tasks, l.total))
                .map_err(service_error)
        })
    }

    fn update(
        &self,
        account: &AccountId,
        id: &TaskId,
        patch: TaskPatch,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move {
            self.0
                .update(&account, &id, patch)
                .await
                .map_err(service_error)
        })
    }

    fn stop(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.stop(&account, &id).await.map_err(service_error) })
    }

    fn restart(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.restart(&account, &id).await.map_err(service_error) })
    }

    fn delete(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.delete(&account, &id).await.map_err(service_error) })
    }
}
