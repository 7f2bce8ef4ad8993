//! The engine behind the API's ports: [`TaskService`] over the task [`Engine`],
//! [`StreamService`] over ingest control ([`StreamControl`]).

use baton_api::{ServiceError, StreamError, StreamService, TaskService};
use baton_domain::{
    AccountId, AppSelector, BlockList, ListFilter, Page, StreamPath, Task, TaskId, TaskPatch,
    TaskSpec, UnixTime,
};
use baton_engine::{ControlError, Engine, EngineError, StreamControl};
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

/// [`StreamService`] over [`StreamControl`].
#[derive(Debug, Clone)]
pub struct ControlService(pub StreamControl);

fn stream_error(e: ControlError) -> StreamError {
    match e {
        ControlError::DomainNotOwned(domain) => StreamError::DomainNotOwned(domain),
        ControlError::QuotaExceeded { limit } => StreamError::QuotaExceeded { limit },
        ControlError::ResumeTimeInPast => StreamError::ResumeTimeInPast,
        ControlError::Store(e) => {
            error!(error = %e, "block list storage failed");
            StreamError::Internal(e.to_string())
        }
    }
}

impl StreamService for ControlService {
    fn forbid(
        &self,
        account: &AccountId,
        path: StreamPath,
        resume_at: Option<UnixTime>,
        oneshot: bool,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let account = account.clone();
        Box::pin(async move {
            self.0
                .forbid(&account, path, resume_at, oneshot)
                .await
                .map_err(stream_error)
        })
    }

    fn resume(
        &self,
        account: &AccountId,
        domain: &str,
        app: AppSelector,
        stream: &str,
    ) -> BoxFuture<'_, Result<(), StreamError>> {
        let (account, domain, stream) = (account.clone(), domain.to_string(), stream.to_string());
        Box::pin(async move {
            self.0
                .resume(&account, &domain, &app, &stream)
                .await
                .map(drop)
                .map_err(stream_error)
        })
    }

    fn block_list(
        &self,
        account: &AccountId,
        domain: &str,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let (account, domain) = (account.clone(), domain.to_string());
        Box::pin(async move {
            self.0
                .block_list(&account, &domain, page)
                .await
                .map_err(stream_error)
        })
    }
}
