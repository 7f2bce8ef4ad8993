//! The ports the API calls: task operations ([`TaskService`]) and ingest control
//! ([`StreamService`]) on behalf of an account. The engine implements them;
//! [`crate::testing`] has small stand-ins for tests.

use baton_domain::{
    AccountId, AppSelector, BlockList, BlockQuery, Command, EventRecord, Field, GroupList,
    GroupStatus, ListFilter, NodeStatus, Page, Rejection, StreamPath, Tag, Task, TaskGroup, TaskId,
    TaskPatch, TaskSpec, UnixTime,
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
    /// Stops a running task, or keeps a task that has not started from starting (Volcengine's
    /// Stop).
    fn disable(
        &self,
        account: &AccountId,
        id: &TaskId,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Starts a stopped task again (Volcengine's Continue, `from_start` false: a playlist
    /// continues where it stopped; Relaunch, true: it starts over).
    fn enable(
        &self,
        account: &AccountId,
        id: &TaskId,
        from_start: bool,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Stops the task at once and removes it.
    fn delete(&self, account: &AccountId, id: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>>;
    /// Creates a task with a caller-chosen id ([`ServiceError::Exists`] if it is taken): the
    /// native API derives it from an `Idempotency-Key`.
    fn create_with_id(
        &self,
        account: &AccountId,
        id: TaskId,
        spec: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Applies a user command (Update, Stop, Restart, Disable, Enable, Delete), only if the
    /// task is at `expected_version` when given ([`ServiceError::VersionMismatch`] otherwise).
    fn apply(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
        expected_version: Option<u64>,
    ) -> BoxFuture<'_, Result<Task, ServiceError>>;
    /// Tasks in list order (newest first, then by id) strictly after `after`, at most `limit`.
    fn list_after(
        &self,
        account: &AccountId,
        filter: ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Task>, ServiceError>>;
    /// A task's recorded events, newest first, those before `before_seq` when given.
    fn events(
        &self,
        account: &AccountId,
        id: &TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<EventRecord>, ServiceError>>;
    /// The live relay of a task, while one runs.
    fn relay(&self, id: &TaskId) -> Option<RelayView>;
}

/// What a task's relay is doing. The task's status stays the provider's (1 from StartTime on,
/// whether media flows or not); this says whether it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayPhase {
    /// Nothing has reached the destination yet (the source or the destination is being
    /// connected, or the first keyframe is awaited).
    Connecting,
    /// Media reaches the destination.
    Forwarding,
    /// The source dropped; it is reconnected while the destination session is held.
    SourceReconnecting,
    /// The destination dropped; it is reconnected while the source keeps flowing.
    DestinationReconnecting,
    /// Stopped on request.
    Stopped,
    /// A playlist played to its end.
    Finished,
    /// Gave up (the task's retry policy takes over).
    Failed,
}

impl RelayPhase {
    pub const ALL: [RelayPhase; 7] = [
        RelayPhase::Connecting,
        RelayPhase::Forwarding,
        RelayPhase::SourceReconnecting,
        RelayPhase::DestinationReconnecting,
        RelayPhase::Stopped,
        RelayPhase::Finished,
        RelayPhase::Failed,
    ];
}

/// A task's running relay, as the native API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayView {
    pub state: RelayPhase,
    pub uptime_seconds: f64,
    pub bitrate_in_bps: u64,
    pub bitrate_out_bps: u64,
    pub fps: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub source_connections: u64,
    pub destination_sessions: u64,
    /// An SRT source's connection statistics; `None` for other sources.
    pub srt: Option<SrtView>,
    /// What the source runs over; `None` before its first connection.
    pub source_transport: Option<TransportView>,
    /// What the destination runs over; `None` before its first connection.
    pub destination_transport: Option<TransportView>,
    /// An SRT destination's send statistics; `None` for RTMP(S) destinations.
    pub destination_srt: Option<SrtSendView>,
    /// Each destination on its own, `destination` first (the fields above sum them or, for
    /// the transport and SRT statistics, describe the first).
    pub destinations: Vec<DestinationView>,
    /// The source in use: 0 the task's first source URL, 1.. its backups.
    pub active_source: usize,
    /// Failovers and failbacks between the task's sources so far.
    pub source_switches: u64,
    /// Each source URL of the task, in order, with its last error (code, message).
    pub sources: Vec<Option<(&'static str, String)>>,
    /// The slate plays: no source delivers and every destination gets the slate.
    pub slate_active: bool,
    /// Times the slate started in this run of the relay.
    pub slate_starts: u64,
}

/// One destination of a relay.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationView {
    /// The relay's id for it: 0 for the first destination, then 1, 2, … for the others in
    /// the order the relay started with; one added while the task runs gets the next id
    /// (never reused within a run), so after a change the id is no longer its index in
    /// `destinations`: `url` says which one it is.
    pub id: u32,
    /// The destination's URL, as in the task's `destinations`.
    pub url: String,
    /// `connecting`, `forwarding`, `reconnecting` or `failed` (for good: the task goes on
    /// while another destination has not failed).
    pub state: &'static str,
    pub bitrate_out_bps: u64,
    pub bytes_out: u64,
    pub frames_out: u64,
    pub frames_dropped: u64,
    pub sessions: u64,
    pub transport: Option<TransportView>,
    /// Its last error: the stable code of the relay's error kind and the message.
    pub last_error: Option<(&'static str, String)>,
}

/// How one side of a relay is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportView {
    /// `rtmp`, `rtmps`, `http-flv`, `hls`, `srt` or `playlist`.
    pub protocol: &'static str,
    /// `rtmps`: what TLS negotiated.
    pub tls: Option<TlsView>,
}

/// A TLS connection's negotiated parameters and the server certificate's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsView {
    pub version: String,
    pub cipher: String,
    /// The DNS names (subjectAltName) of the server's certificate.
    pub peer_names: Vec<String>,
    /// The certificate's subject and issuer, `CN=…,O=…,C=…` (RFC 4514 order).
    pub subject: String,
    pub issuer: String,
}

/// An SRT source connection's receive statistics (cumulative over the connection).
#[derive(Clone, Debug, PartialEq)]
pub struct SrtView {
    pub rtt_ms: f64,
    pub latency_ms: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub packets_retransmitted: u64,
    pub packets_dropped: u64,
    pub decrypt_errors: u64,
    pub bytes_received: u64,
}

/// An SRT destination session's send statistics (cumulative over the session).
#[derive(Clone, Debug, PartialEq)]
pub struct SrtSendView {
    pub rtt_ms: f64,
    pub latency_ms: u64,
    pub packets_sent: u64,
    pub packets_retransmitted: u64,
    /// Packets the receiver reported lost (NAKs).
    pub packets_lost: u64,
    /// Packets dropped as too late to play (`TLPKTDROP`).
    pub packets_dropped: u64,
    pub bytes_sent: u64,
    /// Packets, bytes and milliseconds in the send buffer.
    pub send_buffer_packets: u64,
    pub send_buffer_bytes: u64,
    pub send_buffer_ms: u64,
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
    /// A task with the requested id exists.
    #[error("a task with this id exists")]
    Exists,
    /// The task is not at the expected version (someone changed it).
    #[error("the task is at version {}", current.version)]
    VersionMismatch { current: Box<Task> },
    /// Storage or another internal failure; the text is logged, never sent to the client.
    #[error("internal: {0}")]
    Internal(String),
}

/// The cluster's nodes, for operators (`GET /v1/nodes`, root's tokens only): the nodes sharing
/// the database, their heartbeats and the tasks each holds.
pub trait NodeService: Send + Sync + 'static {
    /// Every node, by name then ID, with at most [`MAX_NODE_TASK_IDS`] task IDs each.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeStatus>, ServiceError>>;

    /// How many tasks that have not exited no node holds (see
    /// [`ClusterStore::unowned_tasks`](baton_domain::ClusterStore::unowned_tasks)).
    fn unowned_tasks(&self) -> BoxFuture<'_, Result<u64, ServiceError>>;
}

/// The most task IDs `/v1/nodes` lists per node (their count is always complete).
pub const MAX_NODE_TASK_IDS: u32 = 100;

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
    /// The account that owns the ingest domain `domain` (any case), if any: whether a push
    /// destination is one of an account's own domains (Volcengine `DstAddrType`).
    fn domain_owner(&self, domain: &str) -> Option<AccountId>;
    /// One page of the account's forbidden streams matching `query` (any of its domains when
    /// the query names none), and their total.
    fn search(
        &self,
        account: &AccountId,
        query: BlockQuery,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>>;
    /// One page of the domain's forbidden streams (ordered by app, then stream) and their
    /// total.
    fn block_list(
        &self,
        account: &AccountId,
        domain: &str,
        page: Page,
    ) -> BoxFuture<'_, Result<BlockList, StreamError>>;
    /// The live streams `account` may see — published or played now on ingest domains it owns;
    /// the operator's root account sees every stream — sorted by domain, app and stream.
    fn live(&self, account: &AccountId) -> Vec<LiveStreamView>;
}

/// One stream being published or played now, as "what is live" shows it (native
/// `/v1/streams`, Alibaba DescribeLiveStreamsOnlineList). Codec names are Baton's own
/// (`h264`, `aac`...); each dialect spells them its way.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveStreamView {
    pub path: StreamPath,
    /// The current publish, `None` when only players are attached.
    pub publisher: Option<PublisherView>,
    pub players: u64,
    /// What a new player receives at once (metadata and sequence headers included).
    pub gop_cache_frames: u64,
    pub gop_cache_bytes: u64,
    /// Frames received from publishers of this stream (since it appeared).
    pub frames_in: u64,
    /// Frames players lost to the drop-to-keyframe policy.
    pub frames_dropped: u64,
    /// When the stream may be published again, if it is forbidden now.
    pub forbidden_until: Option<UnixTime>,
}

/// A stream's current publish.
#[derive(Clone, Debug, PartialEq)]
pub struct PublisherView {
    /// `"rtmp"` or `"srt"`; `None` for a publisher inside the server.
    pub protocol: Option<&'static str>,
    /// The publisher's address.
    pub remote: Option<std::net::SocketAddr>,
    pub started_at: UnixTime,
    pub uptime_seconds: f64,
    pub video: Option<VideoView>,
    pub audio: Option<AudioView>,
    /// Video frames per second over the last 1–2 s.
    pub fps: f64,
    /// Input bits per second (all tracks) over the last 1–2 s.
    pub bitrate_in_bps: u64,
    /// The video track's share of it.
    pub video_bitrate_bps: u64,
    /// The audio track's share of it.
    pub audio_bitrate_bps: u64,
}

/// A publish's video track, from its sequence header.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoView {
    /// `h264`, `hevc`, `av1`, `vp9`... or `unknown`.
    pub codec: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub profile: Option<String>,
    pub level: Option<String>,
    /// The frame rate the parameter sets declare, if they do.
    pub declared_fps: Option<f64>,
}

/// A publish's audio track, from its sequence header (or legacy flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioView {
    /// `aac`, `mp3`, `opus`... or `unknown`.
    pub codec: &'static str,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    pub profile: Option<String>,
}

/// Task groups (Volcengine's pull-to-push groups) on behalf of an account. Changes are
/// durable before the future resolves.
pub trait GroupService: Send + Sync + 'static {
    /// Creates an available group; [`GroupError::Exists`] if one of that name exists (a
    /// deleted one is revived with the new project and tags).
    fn create_group(
        &self,
        account: &AccountId,
        name: &str,
        project: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>>;
    /// Replaces an available group's tags.
    fn update_group(
        &self,
        account: &AccountId,
        name: &str,
        tags: Vec<Tag>,
    ) -> BoxFuture<'_, Result<(), GroupError>>;
    /// Marks a group deleted, unless tasks that have not ended are in it.
    fn delete_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<(), GroupError>>;
    /// A group in any status, `None` if it was never created.
    fn get_group(
        &self,
        account: &AccountId,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<TaskGroup>, GroupError>>;
    /// A page of the account's groups in one of `statuses` (empty: any), by name.
    fn list_groups(
        &self,
        account: &AccountId,
        statuses: Vec<GroupStatus>,
        page: Page,
    ) -> BoxFuture<'_, Result<GroupList, GroupError>>;
}

/// The group a new task goes into must be available; the default group is created on first
/// use (Volcengine: "default 群组不存在时会默认创建"). Both the Volcengine dialect and the native
/// API create tasks in groups.
pub(crate) async fn ensure_group(
    groups: &dyn GroupService,
    account: &AccountId,
    name: &str,
) -> Result<(), crate::ApiError> {
    use crate::ApiError;
    let internal = |e: GroupError| ApiError::Internal(e.to_string());
    let group = groups.get_group(account, name).await.map_err(internal)?;
    if group.is_some_and(|g| g.status == GroupStatus::Available) {
        return Ok(());
    }
    if name != baton_domain::DEFAULT_GROUP {
        return Err(ApiError::GroupNotFound(name.to_string()));
    }
    match groups
        .create_group(account, name, "default", Vec::new())
        .await
    {
        Ok(()) | Err(GroupError::Exists) => Ok(()),
        Err(e) => Err(internal(e)),
    }
}

/// Why a group operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the group exists already")]
    Exists,
    #[error("no such group")]
    NotFound,
    #[error("the group has {tasks} tasks that have not ended")]
    InUse { tasks: u64 },
    /// Storage or another internal failure; logged, never sent to the client.
    #[error("internal: {0}")]
    Internal(String),
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
