//! The engine behind the API's ports: [`TaskService`] over the task [`Engine`],
//! [`StreamService`] over ingest control ([`StreamControl`]).

use std::sync::Arc;

use baton_api::{
    AudioView, GroupError, GroupService, LiveStreamView, NodeService, PublisherView, RelayPhase,
    RelayView, ServiceError, SrtView, StreamError, StreamService, TaskService, VideoView,
    WallClock,
};
use baton_domain::{
    AccountId, AppSelector, BlockList, BlockQuery, ClusterStore, Command, CreateGroup, DeleteGroup,
    EventRecord, GroupList, GroupStatus, GroupStore, ListFilter, NodeStatus, Page, StoreError,
    StreamPath, Tag, Task, TaskGroup, TaskId, TaskPatch, TaskSpec, UnixTime,
};
use baton_engine::{ControlError, Engine, EngineError, LiveStream, StreamControl};
use baton_relay::RelayState;
use futures_util::future::BoxFuture;
use tracing::error;

use crate::credentials::ROOT_ACCOUNT;

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
        EngineError::Store(StoreError::Duplicate { .. }) => ServiceError::Exists,
        EngineError::VersionMismatch { current } => ServiceError::VersionMismatch { current },
        // Only relay reports, timers and recovery need the lease; the API sends none of them.
        e @ EngineError::NotOwner { .. } => ServiceError::Internal(e.to_string()),
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

    fn disable(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.disable(&account, &id).await.map_err(service_error) })
    }

    fn enable(
        &self,
        account: &AccountId,
        id: &TaskId,
        from_start: bool,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move {
            self.0
                .enable(&account, &id, from_start)
                .await
                .map_err(service_error)
        })
    }

    fn delete(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move { self.0.delete(&account, &id).await.map_err(service_error) })
    }
    fn create_with_id(
        &self,
        account: &AccountId,
        id: TaskId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let account = account.clone();
        Box::pin(async move {
            self.0
                .create_with_id(&account, id, spec)
                .await
                .map_err(service_error)
        })
    }

    fn apply(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
        expected_version: Option<u64>,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move {
            match expected_version {
                Some(v) => self.0.apply_if(&account, &id, command, v).await,
                None => self.0.apply(&account, &id, command).await,
            }
            .map_err(service_error)
        })
    }

    fn list_after(
        &self,
        account: &AccountId,
        filter: ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Task>, ServiceError>> {
        let account = account.clone();
        Box::pin(async move {
            self.0
                .list_after(&account, &filter, after, limit)
                .await
                .map_err(service_error)
        })
    }

    fn events(
        &self,
        account: &AccountId,
        id: &TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<EventRecord>, ServiceError>> {
        let (account, id) = (account.clone(), id.clone());
        Box::pin(async move {
            self.0
                .task_events(&account, &id, before_seq, limit)
                .await
                .map_err(service_error)
        })
    }

    fn relay(&self, id: &TaskId) -> Option<RelayView> {
        let s = self.0.relay_status(id)?;
        Some(RelayView {
            state: match s.state {
                RelayState::Connecting => RelayPhase::Connecting,
                RelayState::Forwarding => RelayPhase::Forwarding,
                RelayState::SourceReconnecting => RelayPhase::SourceReconnecting,
                RelayState::DestinationReconnecting => RelayPhase::DestinationReconnecting,
                RelayState::Stopped => RelayPhase::Stopped,
                RelayState::Finished => RelayPhase::Finished,
                RelayState::Failed => RelayPhase::Failed,
            },
            uptime_seconds: s.uptime.as_secs_f64(),
            bitrate_in_bps: s.bitrate_in,
            bitrate_out_bps: s.bitrate_out,
            fps: s.fps,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            frames_out: s.frames_out,
            frames_dropped: s.frames_dropped,
            source_connections: s.source_connections,
            destination_sessions: s.destination_sessions,
            srt: s.srt.map(|t| SrtView {
                rtt_ms: t.rtt.as_secs_f64() * 1000.0,
                latency_ms: t.latency.as_millis() as u64,
                packets_received: t.packets_received,
                packets_lost: t.packets_lost,
                packets_retransmitted: t.packets_retransmitted,
                packets_dropped: t.packets_dropped,
                decrypt_errors: t.decrypt_errors,
                bytes_received: t.bytes_received,
            }),
            source_transport: s.source_transport.as_ref().map(transport_view),
            destination_transport: s.destination_transport.as_ref().map(transport_view),
            destination_srt: s.destination_srt.map(|t| baton_api::SrtSendView {
                rtt_ms: t.rtt.as_secs_f64() * 1000.0,
                latency_ms: t.latency.as_millis() as u64,
                packets_sent: t.packets_sent,
                packets_retransmitted: t.packets_retransmitted,
                packets_lost: t.packets_lost,
                packets_dropped: t.packets_dropped,
                bytes_sent: t.bytes_sent,
                send_buffer_packets: t.send_buffer_packets,
                send_buffer_bytes: t.send_buffer_bytes,
                send_buffer_ms: t.send_buffer_time.as_millis() as u64,
            }),
            destinations: s
                .destinations
                .iter()
                .map(|d| baton_api::DestinationView {
                    id: d.id.0,
                    url: d.url.clone(),
                    state: d.state.as_str(),
                    bitrate_out_bps: d.bitrate_out,
                    bytes_out: d.bytes_out,
                    frames_out: d.frames_out,
                    frames_dropped: d.frames_dropped,
                    sessions: d.sessions,
                    transport: d.transport.as_ref().map(transport_view),
                    last_error: d
                        .last_error
                        .as_ref()
                        .map(|r| (baton_engine::error_code(r.error.kind), r.error.to_string())),
                })
                .collect(),
            active_source: s.active_source,
            source_switches: s.source_switches,
            slate_active: s.slate_active,
            slate_starts: s.slate_starts,
            sources: s
                .sources
                .iter()
                .map(|src| {
                    src.last_error
                        .as_ref()
                        .map(|r| (baton_engine::error_code(r.error.kind), r.error.to_string()))
                })
                .collect(),
        })
    }
}

fn transport_view(t: &baton_relay::Transport) -> baton_api::TransportView {
    baton_api::TransportView {
        protocol: t.protocol,
        tls: t.tls.as_ref().map(|tls| baton_api::TlsView {
            version: tls.version.clone(),
            cipher: tls.cipher.clone(),
            peer_names: tls
                .peer_names
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
            subject: tls.subject.clone(),
            issuer: tls.issuer.clone(),
        }),
    }
}

/// The API's view of one of the engine's live streams.
fn live_view(s: LiveStream) -> LiveStreamView {
    let publisher = s.info.publish.map(|p| PublisherView {
        protocol: p.origin.map(|o| o.protocol.as_str()),
        remote: p.origin.map(|o| o.remote),
        started_at: s.started_at.unwrap_or_default(),
        uptime_seconds: p.uptime.as_secs_f64(),
        video: p.video.map(|v| VideoView {
            codec: v.codec,
            width: v.width,
            height: v.height,
            profile: v.profile,
            level: v.level,
            declared_fps: v.frame_rate,
        }),
        audio: p.audio.map(|a| AudioView {
            codec: a.codec,
            sample_rate: a.sample_rate,
            channels: a.channels,
            profile: a.profile,
        }),
        fps: p.fps,
        bitrate_in_bps: p.bitrate_bps,
        video_bitrate_bps: p.video_bitrate_bps,
        audio_bitrate_bps: p.audio_bitrate_bps,
    });
    LiveStreamView {
        path: s.path,
        publisher,
        players: s.info.subscribers as u64,
        gop_cache_frames: s.info.gop_cache_frames as u64,
        gop_cache_bytes: s.info.gop_cache_bytes as u64,
        frames_in: s.info.frames_in,
        frames_dropped: s.info.frames_dropped,
        forbidden_until: s.forbidden_until,
    }
}

/// [`StreamService`] over [`StreamControl`]. The root account sees every live stream.
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
    fn live(&self, account: &AccountId) -> Vec<LiveStreamView> {
        let viewer = (account.0 != ROOT_ACCOUNT).then_some(account);
        self.0.live(viewer).into_iter().map(live_view).collect()
    }

    fn domain_owner(&self, domain: &str) -> Option<AccountId> {
        self.0.domain_owner(domain)
    }

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

    fn search(
        &self,
        account: &AccountId,
        query: BlockQuery,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>> {
        let account = account.clone();
        Box::pin(async move {
            self.0
                .search(&account, &query, page)
                .await
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

/// [`NodeService`] over the store's [`ClusterStore`]: a node is alive while its heartbeat is
/// at most `alive_within` (the lease time) old.
#[derive(Debug, Clone)]
pub struct StoreNodeService {
    pub store: Arc<dyn ClusterStore>,
    pub alive_within: std::time::Duration,
}

impl NodeService for StoreNodeService {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeStatus>, ServiceError>> {
        Box::pin(async move {
            self.store
                .nodes(self.alive_within, baton_api::MAX_NODE_TASK_IDS)
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))
        })
    }

    fn unowned_tasks(&self) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move {
            self.store
                .unowned_tasks()
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))
        })
    }
}

/// [`GroupService`] over the store's [`GroupStore`]: groups need no engine, only durable rows.
#[derive(Debug, Clone)]
pub struct StoreGroupService {
    pub store: Arc<dyn GroupStore>,
    pub clock: Arc<dyn WallClock>,
}

fn group_error(e: StoreError) -> GroupError {
    error!(error = %e, "group storage failed");
    GroupError::Internal(e.to_string())
}

impl GroupService for StoreGroupService {
    fn create_group(
        &self,
        account: &AccountId,
        name: &str,
        project: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let now = self.clock.now();
        let group = TaskGroup {
            account: account.clone(),
            name: name.to_string(),
            project: project.to_string(),
            tags,
            status: GroupStatus::Available,
            created_at: now,
            updated_at: now,
        };
        Box::pin(async move {
            match self.store.create_group(&group).await.map_err(group_error)? {
                CreateGroup::Created => Ok(()),
                CreateGroup::Exists => Err(GroupError::Exists),
            }
        })
    }

    fn update_group(
        &self,
        account: &AccountId,
        name: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let (account, name, now) = (account.clone(), name.to_string(), self.clock.now());
        Box::pin(async move {
            let updated = self
                .store
                .update_group_tags(&account, &name, &tags, now)
                .await
                .map_err(group_error)?;
            if updated {
                Ok(())
            } else {
                Err(GroupError::NotFound)
            }
        })
    }

    fn delete_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<(), GroupError>> {
        let (account, name, now) = (account.clone(), name.to_string(), self.clock.now());
        Box::pin(async move {
            match self
                .store
                .delete_group(&account, &name, now)
                .await
                .map_err(group_error)?
            {
                DeleteGroup::Deleted => Ok(()),
                DeleteGroup::NotFound => Err(GroupError::NotFound),
                DeleteGroup::InUse { tasks } => Err(GroupError::InUse { tasks }),
            }
        })
    }

    fn get_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<TaskGroup>, GroupError>> {
        let (account, name) = (account.clone(), name.to_string());
        Box::pin(async move {
            self.store
                .get_group(&account, &name)
                .await
                .map_err(group_error)
        })
    }

    fn list_groups(
        &self,
        account: &AccountId,
        statuses: Vec<GroupStatus>,
        page: Page,
    ) -> BoxFuture<'_, Result<GroupList, GroupError>> {
        let account = account.clone();
        Box::pin(async move {
            self.store
                .list_groups(&account, &statuses, page)
                .await
                .map_err(group_error)
        })
    }
}
